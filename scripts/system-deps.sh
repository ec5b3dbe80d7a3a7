#!/usr/bin/env bash
# Makes sure the system tools the daemon and its tests need are present: tmux (>= 3.2),
# redis-server, promtool + prometheus (the metrics test validates /metrics with promtool and
# has a real Prometheus scrape it), and chromium (the web dashboard's browser tests drive it with
# playwright-core). Installs missing ones with apt-get when running as root on
# Debian/Ubuntu; otherwise says how to install them and fails.
set -euo pipefail

# command, then the Debian package that provides it
needed=(
  tmux tmux
  redis-server redis-server
  promtool prometheus
  prometheus prometheus
  chromium chromium
)
missing=()
for ((i = 0; i < ${#needed[@]}; i += 2)); do
  command -v "${needed[i]}" >/dev/null 2>&1 && continue
  package=${needed[i + 1]}
  [[ " ${missing[*]-} " == *" $package "* ]] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # without recommends: prometheus would pull in prometheus-node-exporter, a service the tests never use
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "missing: ${missing[*]}. Install them, e.g. 'sudo apt-get install -y ${missing[*]}' or 'brew install ${missing[*]}'." >&2
exit 1
