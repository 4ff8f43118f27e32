#!/bin/bash
# The deployment guide's check (seed: "Testing the Deployment"): /health,
# /status and /jobs answer; then a real round trip: create a job, trigger
# it, wait for its completion event, and clean up.
# LSH_API_URL (default http://localhost:3030); LSH_API_KEY is sent when set.
# LSH_DEPLOY_CHECK_TIMEOUT: seconds to wait for the job to complete (30).

LSH_URL=${LSH_API_URL:-"http://localhost:3030"}
LSH_URL=${LSH_URL%/}
AUTH=()
[ -n "${LSH_API_KEY:-}" ] && AUTH=(-H "X-API-Key: $LSH_API_KEY")
TIMEOUT=${LSH_DEPLOY_CHECK_TIMEOUT:-30}

echo "Testing LSH Daemon at $LSH_URL"

# Test health endpoint
echo "1. Testing /health endpoint..."
curl -sf "$LSH_URL/health" || { echo "❌ Health check failed"; exit 1; }
echo
echo "✅ Health check passed"

# Test status endpoint
echo "2. Testing /status endpoint..."
curl -sf "${AUTH[@]}" "$LSH_URL/status" || { echo "❌ Status check failed"; exit 1; }
echo
echo "✅ Status check passed"

# Test jobs endpoint
echo "3. Testing /jobs endpoint..."
curl -sf "${AUTH[@]}" "$LSH_URL/jobs?limit=5" >/dev/null || { echo "❌ Jobs endpoint failed"; exit 1; }
echo "✅ Jobs endpoint passed"

# A job that runs once: created, triggered, completed, deleted. Every call
# uses the job's name (routes accept a name wherever they take an id).
NAME="lsh-deployment-check-$(date +%s)-$$"
MARK="lsh-deployment-ok-$$"
cleanup() {  # on failure: force stops a run that is still active
  curl -s "${AUTH[@]}" -X DELETE "$LSH_URL/jobs/$NAME?force=true" >/dev/null 2>&1
}
trap cleanup EXIT

echo "4. Creating job $NAME..."
curl -sf "${AUTH[@]}" -H "Content-Type: application/json" \
  -d "{\"name\":\"$NAME\",\"command\":\"echo $MARK\",\"description\":\"scripts/test_lsh_deployment.sh\",\"databaseSync\":false}" \
  "$LSH_URL/jobs" >/dev/null || { echo "❌ Creating a job failed"; exit 1; }
echo "✅ Job created"

echo "5. Triggering it..."
curl -sf "${AUTH[@]}" -X POST -H "Content-Length: 0" "$LSH_URL/jobs/$NAME/trigger" >/dev/null ||
  { echo "❌ Trigger failed"; exit 1; }
echo "✅ Job triggered"

# The job's completion (or failure) event in the durable log; polled with a deadline.
echo "6. Waiting for its completion event (up to ${TIMEOUT}s)..."
deadline=$(( $(date +%s) + TIMEOUT ))
outcome=""
while [ -z "$outcome" ]; do
  events=$(curl -sf "${AUTH[@]}" "$LSH_URL/events.json?job=$NAME&types=job:completed,job:failed&limit=1") ||
    { echo "❌ Reading events failed"; exit 1; }
  outcome=$(printf '%s' "$events" | grep -o '"type":"job:\(completed\|failed\)"' | head -1)
  if [ -z "$outcome" ]; then
    [ "$(date +%s)" -ge "$deadline" ] && { echo "❌ No completion event within ${TIMEOUT}s"; exit 1; }
    sleep 0.2
  fi
done
case "$outcome" in
  *job:completed*) ;;
  *) echo "❌ The job failed: $events"; exit 1 ;;
esac
printf '%s' "$events" | grep -q "\"stdout\":\"$MARK" || { echo "❌ The completion event lacks the job's output"; exit 1; }
echo "✅ Completion event received (output: $MARK)"

echo "7. Cleaning up..."
curl -sf "${AUTH[@]}" -X DELETE "$LSH_URL/jobs/$NAME" >/dev/null ||
  { echo "❌ Deleting the job failed"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$LSH_URL/jobs/$NAME")
[ "$code" = 404 ] || { echo "❌ The job is still there (HTTP $code)"; exit 1; }
trap - EXIT
echo "✅ Job deleted"

echo "🎉 All tests passed!"
