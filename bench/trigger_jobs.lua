-- wrk script: POST /jobs/<name>/trigger (a durable queued run per request).
-- The job is given as the first argument after "--"; bench/suite.sh creates it.
function init(args)
  path = "/jobs/" .. (args[1] or "bench-trigger") .. "/trigger"
end
function request()
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, "")
end
