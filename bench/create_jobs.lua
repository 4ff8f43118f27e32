-- wrk script: POST /jobs with a unique name per request.
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
function init(args)
  counter = 0
  run = args[1] or "0"
end
function request()
  counter = counter + 1
  local body = string.format('{"name":"bench-%s-%d-%d","command":"true"}', run, tid, counter)
  return wrk.format("POST", "/jobs", {["Content-Type"] = "application/json"}, body)
end
