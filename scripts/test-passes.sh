#!/usr/bin/env bash
# The SQLite pass, the PostgreSQL pass and the demo smoke, side by side: the test processes
# spend much of their time waiting for Chromium, the billing simulator and subprocesses, so two
# cores carry the three at once in little more than the time of the longest. The SQLite pass
# prints as it goes; the other two are printed whole when they end. The exit code is the first
# failure's, in that order.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
make --no-print-directory pass-postgres > "$logs/postgres.log" 2>&1 &
postgres=$!
make --no-print-directory demo-smoke > "$logs/demo-smoke.log" 2>&1 &
smoke=$!
make --no-print-directory pass-sqlite
sqlite_rc=$?
wait "$postgres"; postgres_rc=$?
cat "$logs/postgres.log"
wait "$smoke"; smoke_rc=$?
cat "$logs/demo-smoke.log"
rm -rf "$logs"
echo "=== results: SQLite pass exit $sqlite_rc, PostgreSQL pass exit $postgres_rc, demo smoke exit $smoke_rc ==="
for rc in "$sqlite_rc" "$postgres_rc" "$smoke_rc"; do
  [ "$rc" = 0 ] || exit "$rc"
done
