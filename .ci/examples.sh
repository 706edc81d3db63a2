#!/usr/bin/env bash
# Smoke tests of the worked examples: each runs for a few seconds (a
# built-in --for flag), and its output must show what it is about.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --examples
ex=target/debug/examples

fail() { echo "example check failed: $*"; exit 1; }
# The first line number of a fixed string in a file, or nothing when it is
# absent (then `before` names the check that failed, instead of `set -e`
# ending the script in silence).
line() { grep -n -F -- "$2" "$1" | head -1 | cut -d: -f1 || true; }
# The first occurrence of $2 comes before the first of $3.
before() {
  local a b
  a=$(line "$1" "$2"); b=$(line "$1" "$3")
  [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || fail "$1: '$2' should come before '$3'"
}
has() { grep -q -F -- "$2" "$1" || fail "$1: no '$2'"; }

out=$(mktemp -d)

"$ex/trading_engine" --for 5 > "$out/trading.txt" 2>&1 || fail "trading_engine exited non-zero"
has "$out/trading.txt" "engine/execution/venue-b   GIVEN UP: circuit open"
has "$out/trading.txt" "restarted (attempt 2)"
has "$out/trading.txt" '"path": "engine/feed"'
# Reverse start order: execution (started last) ends before risk. Not the
# feed: its connection drops at random times, and when the stop comes while
# it waits for its restart, there is no run of it left to exit.
before "$out/trading.txt" "engine/execution/venue-a   exited: shut down" "engine/risk                exited: shut down"
before "$out/trading.txt" "engine/execution           exited: shut down" "engine/risk                exited: shut down"
echo "trading_engine: the circuit opened, a restart happened, the stop was ordered"

"$ex/telemetry_agent" --for 4 > "$out/telemetry.txt" 2>&1 || fail "telemetry_agent exited non-zero"
has "$out/telemetry.txt" "agent/transforms/enrich     exited: panicked"
has "$out/telemetry.txt" "agent/transforms/batch      restarted (attempt 2)"
before "$out/telemetry.txt" "agent/sources               stopped" "agent/transforms            stopped"
before "$out/telemetry.txt" "agent/transforms            stopped" "agent/sinks                 stopped"
if "$ex/telemetry_agent" --fail-init > "$out/telemetry-fail.txt" 2>&1; then
  fail "telemetry_agent --fail-init should exit non-zero"
fi
has "$out/telemetry-fail.txt" 'start-up failed: failed to start `agent/sinks/http-out`'
echo "telemetry_agent: one-for-all restart, ordered stop, an init failure with its path"

"$ex/agent" --for 5 > "$out/agent.txt" 2>&1 || fail "agent exited non-zero"
has "$out/agent.txt" "agent/conn-search GIVEN UP: circuit open: more than 3 restarts"
has "$out/agent.txt" "task summarize-1 -> document 1: 100 words"
has "$out/agent.txt" "embeddings for document 1 done"
has "$out/agent.txt" "status: "
echo "agent: bounded restarts on panic, typed task results, blocking work, status lines"
