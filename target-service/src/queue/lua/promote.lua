-- Queues again the retries due by ARGV[2], at most ARGV[3] per priority.
-- ARGV: prefix, now_ms, limit
local p = ARGV[1]
local moved = 0
for _, priority in ipairs({'high', 'normal', 'low'}) do
  local delayed = p .. 'tasks:delayed:' .. priority
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
  for _, id in ipairs(due) do
    redis.call('ZREM', delayed, id)
    redis.call('XADD', p .. 'tasks:ready:' .. priority, '*', 'task', id)
    moved = moved + 1
  end
end
return moved
