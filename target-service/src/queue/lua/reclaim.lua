-- Takes over attempts whose worker has not answered for ARGV[3] ms (it
-- crashed, or lost Redis) and counts each as failed: retried after the
-- backoff ARGV[5 + attempt], or dead after the last retry.
-- Returns {task id, new state, enqueued_ms, priority} for each.
-- ARGV: prefix, consumer, min_idle_ms, now_ms, max_retries, delay 1 .. delay max_retries
local p = ARGV[1]
local now = tonumber(ARGV[4])
local max_retries = tonumber(ARGV[5])
local reclaimed = {}
for _, priority in ipairs({'high', 'normal', 'low'}) do
  local stream = p .. 'tasks:ready:' .. priority
  local claimed = redis.call('XAUTOCLAIM', stream, 'workers', ARGV[2], ARGV[3], '0-0',
    'COUNT', 100)
  for _, entry in ipairs(claimed[2]) do
    redis.call('XACK', stream, 'workers', entry[1])
    redis.call('XDEL', stream, entry[1])
    local id = entry[2][2]
    local key = p .. 'task:' .. id
    local t = redis.call('HMGET', key, 'state', 'delivery', 'attempts', 'user', 'enqueued')
    if t[1] == 'running' and t[2] == entry[1] then
      local attempts = tonumber(t[3])
      local error = 'attempt ' .. attempts .. ' was cut off: its worker stopped answering'
      redis.call('HDEL', key, 'delivery')
      if attempts <= max_retries then
        local due = now + tonumber(ARGV[5 + attempts])
        redis.call('HSET', key, 'state', 'retrying', 'updated', now, 'error', error,
          'next', due)
        redis.call('ZADD', p .. 'tasks:delayed:' .. priority, due, id)
        table.insert(reclaimed, {id, 'retrying', t[5], priority})
      else
        redis.call('HSET', key, 'state', 'dead', 'updated', now, 'error', error)
        redis.call('ZADD', p .. 'tasks:dead:' .. t[4], now, id)
        table.insert(reclaimed, {id, 'dead', t[5], priority})
      end
    end
  end
end
return reclaimed
