-- wrk script: POST one AdmissionReview over and over, as the API server does, and check every
-- answer against the expected body (the one the same server gave before the load started).
--
--   wrk -s admission.lua https://127.0.0.1:PORT/validate/POLICY -- REVIEW.json EXPECTED.json
--
-- done() prints one JSON line on stdout: requests, seconds, p50/p99 latency (microseconds),
-- wrk's socket errors, non-200 answers and answers whose body is not the expected one.

local threads = {}

local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local text = f:read("*a")
  f:close()
  return text
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.body = slurp(args[1])
  wrk.headers["Content-Type"] = "application/json"
  expected = slurp(args[2]):gsub("%s+$", "")
  answers, non200, wrong = 0, 0, 0
  first_wrong = ""
end

function response(status, headers, body)
  answers = answers + 1
  if status ~= 200 then
    non200 = non200 + 1
  elseif body ~= expected then
    wrong = wrong + 1
    if first_wrong == "" then first_wrong = body:sub(1, 300) end
  end
end

function done(summary, latency, requests)
  local answers_, non200_, wrong_, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    answers_ = answers_ + t:get("answers")
    non200_ = non200_ + t:get("non200")
    wrong_ = wrong_ + t:get("wrong")
    if first == "" then first = t:get("first_wrong") end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"answers":%d,"seconds":%.3f,"p50_us":%d,"p99_us":%d,"socket_errors":%d,"non200":%d,"wrong":%d,"first_wrong":%s}\n',
    summary.requests, answers_, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, non200_, wrong_, json_string(first)))
end
