-- Records the outcome of the attempt delivered as entry ARGV[3]: nil when
-- that attempt is no longer the task's (the reclaimer took it over).
-- ARGV: prefix, task id, entry id, outcome (succeeded | retry | dead),
--       now_ms, error, due_ms (retry), finished_ttl_ms
local p = ARGV[1]
local key = p .. 'task:' .. ARGV[2]
local t = redis.call('HMGET', key, 'state', 'delivery', 'priority', 'user')
if not t[3] then return false end
local stream = p .. 'tasks:ready:' .. t[3]
redis.call('XACK', stream, 'workers', ARGV[3])
redis.call('XDEL', stream, ARGV[3])
if t[1] ~= 'running' or t[2] ~= ARGV[3] then return false end
redis.call('HDEL', key, 'delivery')
if ARGV[4] == 'succeeded' then
  redis.call('HSET', key, 'state', 'succeeded', 'updated', ARGV[5])
  redis.call('HDEL', key, 'error')
  redis.call('PEXPIRE', key, ARGV[8])
elseif ARGV[4] == 'retry' then
  redis.call('HSET', key, 'state', 'retrying', 'updated', ARGV[5], 'error', ARGV[6],
    'next', ARGV[7])
  redis.call('ZADD', p .. 'tasks:delayed:' .. t[3], ARGV[7], ARGV[2])
else
  redis.call('HSET', key, 'state', 'dead', 'updated', ARGV[5], 'error', ARGV[6])
  redis.call('ZADD', p .. 'tasks:dead:' .. t[4], ARGV[5], ARGV[2])
end
return redis.call('HGETALL', key)
