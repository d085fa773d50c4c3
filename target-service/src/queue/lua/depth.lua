-- Tasks waiting per priority, highest first: entries not yet delivered
-- (the stream's length less those pending with a worker) plus retries
-- waiting for their backoff.
-- ARGV: prefix
local p = ARGV[1]
local out = {}
for _, priority in ipairs({'high', 'normal', 'low'}) do
  local stream = p .. 'tasks:ready:' .. priority
  local pending = redis.call('XPENDING', stream, 'workers')[1]
  local waiting = redis.call('XLEN', stream) - pending
  table.insert(out, waiting + redis.call('ZCARD', p .. 'tasks:delayed:' .. priority))
end
return out
