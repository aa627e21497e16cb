#!/bin/sh
# Runs every *.test.ts beside the code through Node's own test runner; Node strips the types itself.
# Arguments narrow the run to folders or files: scripts/test.sh protocol runtime/journal
# (or npm test -- protocol runtime/journal).
set -ef   # -f: the globs below are for node --test, not for the shell
cd "$(dirname "$0")/.."
# The Node the project pins (the `node` dev dependency), also when this runs outside npm.
PATH="$PWD/node_modules/.bin:$PATH"
[ $# -gt 0 ] || set -- protocol kernel drivers gateway models runtime cloud-sink bench app deploy docs test
patterns=""
for arg in "$@"; do
  case "$arg" in
    *.ts) [ -f "$arg" ] || { echo "no such test file: $arg" >&2; exit 2; }; patterns="$patterns $arg" ;;
    *) [ -d "$arg" ] || { echo "no such folder: $arg" >&2; exit 2; }; patterns="$patterns ${arg%/}/**/*.test.ts" ;;
  esac
done
# A test that hangs (a peer that never answers, a promise never settled) fails by name after five
# minutes instead of holding the run; tests that need longer say so themselves.
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=300000 $patterns
