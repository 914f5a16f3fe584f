-- POST the sign-up form: most addresses new, one in four from a small shared pool that
-- every thread signs up again and again at once (concurrent sign-ups of one address).
-- Arguments: CSRF_TOKEN CSRF_COOKIE HOST OUT_DIR RUN_ID
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

local token, cookie, host, out_dir, run_id
local sent_log, accepted_log
local n = 0

-- Every address sent, and every address the site answered "Check your inbox" for: the
-- difference is what was still in flight when wrk stopped.
function init(args)
   token, cookie, host, out_dir, run_id = args[1], args[2], args[3], args[4], args[5]
   sent_log = io.open(string.format("%s/sent-%d.txt", out_dir, tid), "a")
   accepted_log = io.open(string.format("%s/accepted-%d.txt", out_dir, tid), "a")
   sent_log:setvbuf("line")
   accepted_log:setvbuf("line")
end

local function form(email)
   local fields = {
      "csrfmiddlewaretoken=" .. token, "action=subscribe", "email=" .. email:gsub("@", "%%40"),
      "frequency=daily", "send_hour=7", "timezone=UTC", "max_papers=20",
      "filters-TOTAL_FORMS=1", "filters-INITIAL_FORMS=0", "filters-MIN_NUM_FORMS=0", "filters-MAX_NUM_FORMS=10",
      "filters-0-name=Attention", "filters-0-query=ti%3Aattention",
   }
   return table.concat(fields, "&")
end

function request()
   n = n + 1
   local email
   if n % 4 == 0 then
      email = string.format("shared-%s-%d@example.org", run_id, n % 10)
   else
      email = string.format("load-%s-%d-%d@example.org", run_id, tid, n)
   end
   sent_log:write(email, "\n")
   return wrk.format("POST", "/", {
      ["Host"] = host,
      ["X-Forwarded-Proto"] = "https",
      ["Origin"] = "https://" .. host,
      ["Referer"] = "https://" .. host .. "/",
      ["Cookie"] = "csrftoken=" .. cookie,
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Real-IP"] = client_address(),
   }, form(email))
end

function response(status, headers, body)
   count(status)
   if status == 200 then
      local email = body:match("<strong>([^<]+)</strong>")
      if email then accepted_log:write(email, "\n") end
   end
end
