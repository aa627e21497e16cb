#!/bin/sh
# Runs every *.test.ts beside the code through node's own test runner (Node 20 has no test globs).
# Extra arguments narrow the run: scripts/test.sh protocol runtime/journal
set -e
cd "$(dirname "$0")/.."
roots="${*:-protocol runtime drivers gateway models cloud-sink deploy docs test}"
files=$(find $roots -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [ -z "$files" ]; then echo "no test files under: $roots" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" $files
