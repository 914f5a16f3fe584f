-- GET the live preview with the queries people type, one after the other.
-- Arguments: HOST
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

local host
local queries = {
   "attention", "ti%3Aagents", "abs%3A%22large+language+model%22", "cat%3Acs.CL+AND+reasoning",
   "diffus*", "au%3Alecun", "%28vision+OR+image%29+ANDNOT+video", "reinforcement+learning",
   "ti%3A%28%28broken", "benchmark+AND+-survey",
}
local n = 0

function init(args)
   host = args[1]
end

function request()
   n = n + 1
   return wrk.format("GET", "/preview/?q=" .. queries[n % #queries + 1], {
      ["Host"] = host,
      ["X-Forwarded-Proto"] = "https",
      ["X-Real-IP"] = client_address(),
   })
end

function response(status, headers, body)
   count(status)
end
