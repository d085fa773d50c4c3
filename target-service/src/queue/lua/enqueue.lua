-- Creates a task and queues it, in one step.
-- ARGV: prefix, user, server, action, priority, now_ms
local p = ARGV[1]
local id = redis.call('INCR', p .. 'tasks:next')
local key = p .. 'task:' .. id
redis.call('HSET', key, 'id', id, 'user', ARGV[2], 'server', ARGV[3], 'action', ARGV[4],
  'priority', ARGV[5], 'state', 'queued', 'attempts', 0,
  'enqueued', ARGV[6], 'updated', ARGV[6])
redis.call('XADD', p .. 'tasks:ready:' .. ARGV[5], '*', 'task', id)
return redis.call('HGETALL', key)
