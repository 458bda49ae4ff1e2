#!/usr/bin/env bash
# Runs examples/parallel on the crate's test child and checks what a user would see: every
# job's lines with its prefix, a failure, timeout kills (also of a job that prints a line
# every 10 ms, which keeps the runner busy), and the worst status (124).
# Usage: bash ci/parallel.sh [--target TRIPLE]   (the test child must be built: cargo test)
set -euo pipefail
cd "$(dirname "$0")/.."
target_args=()
dir=target/debug
if [ "${1:-}" = "--target" ]; then
    target_args=(--target "$2")
    dir="target/$2/debug"
fi
child="$dir/procpump-test-child"
[ -e "$child" ] || child="$child.exe"
out=$(mktemp)
status=0
cargo run -q --example parallel "${target_args[@]}" -- -j 3 --timeout 3 \
    "$child lines 5 20" "$child chatter 20" "$child exit 3" "$child sleep 60000" \
    "$child print no-newline" "$child lines 100000 10" >"$out" 2>&1 || status=$?
cat "$out"
fail() { echo "ci/parallel.sh: $*"; rm -f "$out"; exit 1; }
[ "$status" = 124 ] || fail "exit status $status, expected 124 (a job timed out)"
grep -q '^\[1:procpump-test-child[^]]*\] line 4' "$out" || fail "job 1's last line is missing"
[ "$(grep -c '^\[2:procpump-test-child[^]]*\] o' "$out")" = 20 ] || fail "job 2's 20 stdout lines"
[ "$(grep -c '^\[2:procpump-test-child[^]]*\] e' "$out")" = 7 ] || fail "job 2's 7 stderr lines"
grep -q '^\[3:.*failed: exit' "$out" || fail "job 3's failure is not reported"
grep -q '^\[4:.*timed out after' "$out" || fail "job 4's timeout is not reported"
grep -q '^\[5:procpump-test-child[^]]*\] no-newline' "$out" || fail "job 5's partial line"
grep -q '^\[6:.*timed out after' "$out" || fail "job 6 (steady output) was not killed"
grep -q '^6 jobs, 3 failed' "$out" || fail "the summary"
rm -f "$out"
echo "ci/parallel.sh: ok"
