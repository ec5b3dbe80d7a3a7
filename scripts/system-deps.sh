#!/usr/bin/env bash
# Makes sure the system tools the daemon and its tests need are present: tmux (>= 3.2) and
# redis-server. Installs missing ones with apt-get when running as root on Debian/Ubuntu;
# otherwise says how to install them and fails.
set -euo pipefail

missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi

echo "missing: ${missing[*]}. Install them, e.g. 'sudo apt-get install -y ${missing[*]}' or 'brew install ${missing[*]}'." >&2
exit 1
