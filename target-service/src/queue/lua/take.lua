-- Delivers the first takeable task of the streams in ARGV[4..6] to the
-- consumer ARGV[2] and starts its attempt: {entry id, task fields}.
-- Entries whose task is no longer waiting (done, or gone) are dropped on
-- the way. With nothing to take: {false, last ids}, the streams' last
-- generated ids, for the worker to block until an entry newer than them.
-- ARGV: prefix, consumer, now_ms, priority 1, priority 2, priority 3
local p = ARGV[1]
for i = 4, 6 do
  local stream = p .. 'tasks:ready:' .. ARGV[i]
  while true do
    local got = redis.call('XREADGROUP', 'GROUP', 'workers', ARGV[2], 'COUNT', 1,
      'STREAMS', stream, '>')
    if not got then break end
    local entry = got[1][2][1]
    local id = entry[2][2]
    local key = p .. 'task:' .. id
    local state = redis.call('HGET', key, 'state')
    if state == 'queued' or state == 'retrying' then
      redis.call('HINCRBY', key, 'attempts', 1)
      redis.call('HSET', key, 'state', 'running', 'updated', ARGV[3], 'delivery', entry[1])
      redis.call('HDEL', key, 'next')
      return {entry[1], redis.call('HGETALL', key)}
    end
    redis.call('XACK', stream, 'workers', entry[1])
    redis.call('XDEL', stream, entry[1])
  end
end
local last = {}
for i = 4, 6 do
  local info = redis.call('XINFO', 'STREAM', p .. 'tasks:ready:' .. ARGV[i])
  for j = 1, #info, 2 do
    if info[j] == 'last-generated-id' then last[i - 3] = info[j + 1] end
  end
end
return {false, last}
