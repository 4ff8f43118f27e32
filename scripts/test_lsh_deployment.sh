#!/bin/bash
# The deployment guide's check: /health, /status and /jobs answer.
# LSH_API_URL (default http://localhost:3030); LSH_API_KEY is sent when set.

LSH_URL=${LSH_API_URL:-"http://localhost:3030"}
AUTH=()
[ -n "${LSH_API_KEY:-}" ] && AUTH=(-H "X-API-Key: $LSH_API_KEY")

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
curl -sf "${AUTH[@]}" "$LSH_URL/jobs" || { echo "❌ Jobs endpoint failed"; exit 1; }
echo
echo "✅ Jobs endpoint passed"

echo "🎉 All tests passed!"
