-- wrk: POST one body, read once from the file named by BENCH_BODY, with the
-- token header from BENCH_TOKEN, as Chat Dealer sends it.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Chathooks-Token"] = os.getenv("BENCH_TOKEN")
