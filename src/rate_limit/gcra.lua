-- GCRA in one atomic step, so every instance sharing this Redis sees one budget.
-- KEYS[1]: the limit key. ARGV[1]: emission interval (ms). ARGV[2]: burst tolerance (ms).
-- ARGV[3]: 1 takes the request from the budget, 0 only looks.
-- Returns 0 when allowed, else the milliseconds until the next request would be.
-- The clock is Redis's own: instances with skewed clocks still agree.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local allow_at = tat - tolerance
if now < allow_at then
  return allow_at - now
end
if ARGV[3] == '0' then
  return 0
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
