/**
 * The Lua scripts behind the transport's compare-and-act steps (a lease's renew, release and
 * fenced write): Redis runs a script as one command, so nothing can come between its check and
 * its write. Each answers 1 when it acted, 0 when the key held something else (or nothing).
 * They are a few dozen bytes: sent whole with `EVAL`, with no script cache to lose on a restart.
 */

/** KEYS[1] = lease key; ARGV[1] = holder's value, ARGV[2] = TTL in ms. */
export const RENEW_IF_HELD = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`

/** KEYS[1] = lease key; ARGV[1] = holder's value. */
export const RELEASE_IF_HELD = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

/** KEYS[1] = lease key, KEYS[2] = key written; ARGV[1] = holder's value, ARGV[2] = value, ARGV[3] = TTL in ms. */
export const PUT_IF_HELD = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`
