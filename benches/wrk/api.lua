-- wrk script for benches/service.sh: one endpoint of the reference service
-- per run, chosen by the ENDPOINT environment variable, rotating through
-- the seeded api-tier keys (users FIRST_USER..LAST_USER) so that no key's
-- rate limit (10 000/min) is what gets measured.
--
-- Seeded user u owns servers (u-1)*SERVERS_PER_USER+1 .. u*SERVERS_PER_USER
-- on a freshly seeded database; service.sh checks that before loading.

local endpoint = os.getenv("ENDPOINT") or "health"
local first_user = tonumber(os.getenv("FIRST_USER") or "21")
local last_user = tonumber(os.getenv("LAST_USER") or "1000")
local servers_per_user = tonumber(os.getenv("SERVERS_PER_USER") or "10")

local users = last_user - first_user + 1
local counter = 0
local thread_tag = tostring(math.random(1, 1e9))

local function next_user()
  counter = counter + 1
  return first_user + (counter % users)
end

local function auth(user)
  return { ["Authorization"] = "Bearer demo-key-" .. user }
end

local function owned_server(user)
  return (user - 1) * servers_per_user + 1 + (counter % servers_per_user)
end

request = function()
  if endpoint == "health" then
    return wrk.format("GET", "/health")
  end
  local user = next_user()
  local headers = auth(user)
  if endpoint == "list" then
    return wrk.format("GET", "/api/v1/servers", headers)
  elseif endpoint == "get" then
    return wrk.format("GET", "/api/v1/servers/" .. owned_server(user), headers)
  elseif endpoint == "metrics" then
    return wrk.format("GET", "/api/v1/metrics?server_id=" .. owned_server(user) .. "&metric_type=cpu&limit=10", headers)
  elseif endpoint == "create" then
    headers["Content-Type"] = "application/json"
    local body = '{"name":"bench-' .. thread_tag .. '-' .. counter .. '","transport":"http","config":{"bench":true}}'
    return wrk.format("POST", "/api/v1/servers", headers, body)
  elseif endpoint == "hello" then
    return wrk.format("GET", "/")
  end
  error("unknown ENDPOINT " .. endpoint)
end

-- One machine-readable line: rps, latency percentiles in microseconds,
-- and the count of non-2xx/3xx answers and socket errors.
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_us=%d p95_us=%d p99_us=%d requests=%d errors=%d\n",
    summary.requests / seconds, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.requests, errors))
end
