-- wrk script for bench/scan_roundtrip.py: one scan step's confirm per request, each with a
-- fresh idempotency key (run prefix - thread - counter), so every request commits.
--
--   BENCH_MODE   put   POST <path> location, sku, lot, qty=1, idem, csrf_token (Put confirm;
--                      the floor takes the same form and ignores csrf_token)
--                pack  POST <path> order, sku, lot, qty=1, idem, csrf_token (a pack line)
--   BENCH_PATH   /put or /pack
--   BENCH_COOKIE the signed-in packer's Cookie header (empty for the floor)
--   BENCH_CSRF   the CSRF token that goes with that session
--   BENCH_RUN    a prefix unique to this run (keys are 8..64 of [A-Za-z0-9_.:-])
--   BENCH_ORDERS how many orders RT-0001 .. RT-nnnn to spread pack lines over
--
-- At the end it prints one line "WRKJSON {...}" with latency percentiles (microseconds),
-- request counts, wrk's socket errors and the response statuses seen.

local threads = {}

-- The lot-tracked stock Lotline's seed-demo puts (location, sku, lot); the floor has the same.
local TUPLES = {
  {"A-01-01", "VIT-C-500", "VC24A01"}, {"A-01-02", "VIT-C-500", "VC24B07"},
  {"A-01-03", "VIT-D3-1000", "VD3-2407"}, {"A-01-04", "OMEGA-3-90", "OM-5521"},
  {"A-02-01", "PROBIO-30", "PB-0915"}, {"A-02-02", "ZINC-50", "ZN-7781"},
  {"A-02-03", "MAG-400", "MG-4410"}, {"A-02-04", "BAND-STRIP-100", "BS-100-19"},
  {"A-03-01", "GAUZE-10X10", "GZ-3302"}, {"A-03-02", "SAL-SPRAY-30", "SS-8840"},
  {"A-03-03", "HAND-GEL-500", "HG-5005"}, {"B-01-01", "GLUC-MTR-04", "GM-1101"},
  {"B-01-02", "ELECTRO-SALTS", "ES-2020"}, {"B-01-03", "IBU-200-24", "IB-6612"},
  {"B-01-04", "PARA-500-16", "PA-1187"}, {"B-02-01", "ANTIH-10-30", "AH-3301"},
  {"B-02-02", "SUNSCR-50-200", "SC-5050"}, {"B-02-03", "EYE-DROP-10", "ED-1010"},
  {"B-02-04", "FIRST-AID-KIT", "FA-4040"},
}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function enc(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function init(args)
  mode = os.getenv("BENCH_MODE") or "put"
  path = os.getenv("BENCH_PATH") or "/put"
  run = os.getenv("BENCH_RUN") or "run"
  norders = tonumber(os.getenv("BENCH_ORDERS") or "40")
  csrf = os.getenv("BENCH_CSRF") or ""
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["HX-Request"] = "true",
    ["User-Agent"] = "lotline-bench",
  }
  local cookie = os.getenv("BENCH_COOKIE") or ""
  if cookie ~= "" then headers["Cookie"] = cookie end
  if csrf ~= "" then headers["X-CSRFToken"] = csrf end
  counter = 0
  ok, s422, s4xx, s5xx, other = 0, 0, 0, 0, 0
end

function request()
  counter = counter + 1
  local key = run .. "-" .. tid .. "-" .. counter
  local body
  if mode == "pack" then
    local order = string.format("RT-%04d", ((counter * 7 + tid * 13) % norders) + 1)
    body = "order=" .. order .. "&sku=VIT-C-500&lot=VC24A01&qty=1"
  else
    local t = TUPLES[((counter + tid * 5) % #TUPLES) + 1]
    body = "location=" .. t[1] .. "&sku=" .. t[2] .. "&lot=" .. t[3] .. "&qty=1"
  end
  body = body .. "&idem=" .. enc(key) .. "&csrf_token=" .. enc(csrf)
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  if status >= 200 and status < 300 then ok = ok + 1
  elseif status == 422 then s422 = s422 + 1
  elseif status >= 500 then s5xx = s5xx + 1
  elseif status >= 400 then s4xx = s4xx + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local t = {ok = 0, s422 = 0, s4xx = 0, s5xx = 0, other = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "ok": %d, "s422": %d, "s4xx": %d, "s5xx": %d, ' ..
    '"other": %d, "err_connect": %d, "err_read": %d, "err_write": %d, "err_status": %d, ' ..
    '"err_timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, t.ok, t.s422, t.s4xx, t.s5xx, t.other,
    e.connect, e.read, e.write, e.status, e.timeout))
end
