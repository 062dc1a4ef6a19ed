-- One page view per request, for wrk:  wrk ... -s view.lua URL -- PATH [COOKIE]
--   with COOKIE ("SESSION=<id>"): the returning visitor, every request
--     increments that one session;
--   without: the new visitor, every request creates a session.
-- No request() or response() function: wrk then sends one prebuilt request
-- and never calls Lua per response, so the script costs the client nothing.
-- done() prints one machine-readable line that bench/run parses.

function init(args)
    wrk.path = args[1] or "/"
    if args[2] and args[2] ~= "" then
        wrk.headers["Cookie"] = args[2]
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d " ..
        "max_us=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
        summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
