-- Shared by the load scripts (bench/load.py runs them): per-thread status counts, one
-- client address per request (the site counts rate limits per client, as behind a proxy
-- that sets X-Real-IP), and a JSON summary on the last line of the output.

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

statuses = {}
sent = 0

function count(status)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function client_address()
   sent = sent + 1
   return string.format("10.%d.%d.%d", tid % 256, math.floor(sent / 256) % 256, sent % 256)
end

function done(summary, latency, requests)
   local merged = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         merged[status] = (merged[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(merged) do
      table.insert(parts, string.format('"%s": %d', status, n))
   end
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "statuses": {%s}, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.0f}}\n',
      summary.requests, summary.duration, table.concat(parts, ", "),
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
