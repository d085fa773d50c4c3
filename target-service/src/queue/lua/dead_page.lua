-- One page of a user's dead tasks, newest first: {total, fields, fields, ...}.
-- ARGV: prefix, user, first index, last index
local p = ARGV[1]
local dead = p .. 'tasks:dead:' .. ARGV[2]
local out = {redis.call('ZCARD', dead)}
for _, id in ipairs(redis.call('ZREVRANGE', dead, ARGV[3], ARGV[4])) do
  table.insert(out, redis.call('HGETALL', p .. 'task:' .. id))
end
return out
