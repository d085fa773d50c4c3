-- Puts a user's dead task back in its queue with its attempts reset:
-- {'ok', fields}, {'not_found'}, or {'not_dead', state}.
-- ARGV: prefix, user, task id, now_ms
local p = ARGV[1]
local key = p .. 'task:' .. ARGV[3]
local t = redis.call('HMGET', key, 'state', 'user', 'priority')
if not t[1] or t[2] ~= ARGV[2] then return {'not_found'} end
if t[1] ~= 'dead' then return {'not_dead', t[1]} end
redis.call('HSET', key, 'state', 'queued', 'attempts', 0, 'enqueued', ARGV[4],
  'updated', ARGV[4])
redis.call('ZREM', p .. 'tasks:dead:' .. ARGV[2], ARGV[3])
redis.call('XADD', p .. 'tasks:ready:' .. t[3], '*', 'task', ARGV[3])
return {'ok', redis.call('HGETALL', key)}
