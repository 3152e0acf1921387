#!/usr/bin/env bash
# Start the whole Sportello demo: billing simulator, mail catcher, database, alignment,
# scheduler, web app. Each background process is checked after its start (alive and answering);
# if one does not start, or stops later, the script names it, shows its log and stops the others.
# Everything lives under var/ (SPORTELLO_VAR_DIR moves it); ports: SIMULATOR_PORT, MAIL_PORT, PORT.
# Ctrl-C (or SIGTERM) stops every process this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
FLASK=".venv/bin/flask --app app.py"
CUSTOMERS=${DEMO_CUSTOMERS:-300}
SEED=${DEMO_SEED:-42}
SIM_PORT=${SIMULATOR_PORT:-7047}
MAIL_PORT=${MAIL_PORT:-8025}
WEB_PORT=${PORT:-5000}

VAR=${SPORTELLO_VAR_DIR:-var}
mkdir -p "$VAR/log"
VAR=$(cd "$VAR" && pwd)
LOG=$VAR/log
show() { case $1 in "$PWD"/*) echo "${1#"$PWD"/}" ;; *) echo "$1" ;; esac; }  # paths as typed

export SPORTELLO_VAR_DIR=$VAR SPORTELLO_DEMO=1
# BILLING_SYSTEM=sap serves the same data as SAP IS-U function modules and uses the SAP adapter.
export BILLING_SYSTEM=${BILLING_SYSTEM:-nav}
if [ "$BILLING_SYSTEM" = sap ]; then
  export BILLING_URL=${BILLING_URL:-http://127.0.0.1:${SIM_PORT}/sap/bc/srt/rfc/sap/zisu_portal/100/zisu_portal/zisu_portal}
  WSDL_URL="$BILLING_URL?wsdl"
else
  export BILLING_URL=${BILLING_URL:-http://127.0.0.1:${SIM_PORT}/NAV/WS/DEMO}
  WSDL_URL="$BILLING_URL/Page/Customer?wsdl"
fi
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:${WEB_PORT}}
export MAIL_SERVER=${MAIL_SERVER:-127.0.0.1} MAIL_PORT

pids=()
declare -A name_of log_of

cleanup() {
  trap - EXIT INT TERM
  local pid alive
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 75); do  # up to 15 s for a clean stop
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; echo "Stopping the demo..."; exit 130' INT
trap 'exit 143' TERM

# Print why a process is not running, with the end of its log, and stop (the EXIT trap stops the rest).
die_process() {  # name log reason
  {
    echo
    echo "ERROR: The $1 $3: see $(show "$2")"
    echo "----- last lines of $(show "$2") -----"
    tail -n 25 "$2" 2>/dev/null || true
    echo "-----"
  } >&2
  exit 1
}

# Start a background process with its output in $LOG/<log>.
start() {  # name log command...
  local name=$1 log=$LOG/$2
  shift 2
  "$@" >"$log" 2>&1 &
  pids+=($!)
  name_of[$!]=$name
  log_of[$!]=$log
  last_pid=$!
}

# Wait until `check` succeeds while the process stays alive; otherwise stop with its log.
wait_ready() {  # pid seconds check...
  local pid=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die_process "${name_of[$pid]}" "${log_of[$pid]}" "did not start"
    [ "$SECONDS" -lt "$deadline" ] ||
      die_process "${name_of[$pid]}" "${log_of[$pid]}" "did not start (no answer within ${limit} s)"
    sleep 0.3
  done
  kill -0 "$pid" 2>/dev/null || die_process "${name_of[$pid]}" "${log_of[$pid]}" "did not start"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for spec in "SIMULATOR_PORT:$SIM_PORT" "MAIL_PORT:$MAIL_PORT" "PORT:$WEB_PORT"; do
  if ! port_free "${spec#*:}"; then
    echo "ERROR: port ${spec#*:} is in use (another demo?): free it or choose another port, e.g. ${spec%%:*}=$((${spec#*:} + 100)) make run" >&2
    exit 1
  fi
done

smtp_answers() { $PY -c 'import smtplib, sys; s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=3); s.ehlo(); s.quit()' "$MAIL_PORT"; }
scheduler_started() { grep -q "Scheduler started with jobs" "$LOG/scheduler.log"; }

if [ ! -f "$VAR/simulator.db" ]; then
  echo "Generating billing data for $CUSTOMERS customers (seed $SEED)..."
  $PY -m simulator generate --customers "$CUSTOMERS" --seed "$SEED" --db "$VAR/simulator.db" >/dev/null
fi

echo "Starting the billing simulator on port $SIM_PORT..."
start "billing simulator" simulator.log $PY -m simulator serve --db "$VAR/simulator.db" --port "$SIM_PORT" --flavour "$BILLING_SYSTEM"
wait_ready "$last_pid" 60 curl -fsS --max-time 5 "$WSDL_URL"

echo "Starting the mail catcher on port $MAIL_PORT (messages in $(show "$VAR/mailcatcher")/)..."
start "mail catcher" mailcatcher.log $PY -m app.mailcatcher --host 127.0.0.1 --port "$MAIL_PORT" --dir "$VAR/mailcatcher"
wait_ready "$last_pid" 30 smtp_answers

echo "Preparing the database..."
export SPORTELLO_ADMIN_USERNAME=admin SPORTELLO_ADMIN_EMAIL=admin@sportello.localhost
export SPORTELLO_ADMIN_PASSWORD=${SPORTELLO_ADMIN_PASSWORD:-$($PY -c 'import secrets; print(secrets.token_urlsafe(12))')}
$FLASK sportello init || { echo "ERROR: flask sportello init failed (output above)" >&2; exit 1; }
echo "Aligning with billing..."
$FLASK sportello align || { echo "ERROR: flask sportello align failed (output above)" >&2; exit 1; }

echo "Starting the scheduler..."
start "scheduler" scheduler.log $FLASK sportello scheduler
wait_ready "$last_pid" 60 scheduler_started
sleep 2  # a scheduler failing on its first jobs' set-up stops within this
kill -0 "$last_pid" 2>/dev/null || die_process scheduler "$LOG/scheduler.log" "stopped just after starting"

accounts=$($FLASK sportello demo-users 2>&1 | grep -v ' INFO ') ||
  { echo "ERROR: flask sportello demo-users failed: $accounts" >&2; exit 1; }

echo "Starting the web app on port $WEB_PORT..."
# Sign-in counters and rate limits must be shared by every worker: with Redis configured
# (RATELIMIT_STORAGE_URI=redis://...) two worker processes, otherwise one process with threads.
case "${RATELIMIT_STORAGE_URI:-memory://}" in
  memory://*) WORKERS=(--workers 1 --threads 4) ;;
  *) WORKERS=(--workers 2) ;;
esac
start "web app" web.log .venv/bin/gunicorn --bind "127.0.0.1:${WEB_PORT}" "${WORKERS[@]}" \
  --no-control-socket -c deploy/gunicorn.conf.py --access-logfile - 'app:create_app()'
wait_ready "$last_pid" 90 curl -fsS --max-time 10 -o /dev/null "http://127.0.0.1:${WEB_PORT}/login/"

cat <<TXT

  Sportello is running:  $PUBLIC_BASE_URL/
  Back office login:     $PUBLIC_BASE_URL/login/
$accounts
  Billing simulator:     $BILLING_URL ($BILLING_SYSTEM)
  Mail catcher:          $PUBLIC_BASE_URL/mailcatcher/ (admin; SMTP on 127.0.0.1:$MAIL_PORT)
  Logs:                  $(show "$LOG")/ (web.log, scheduler.log, simulator.log, mailcatcher.log)
  Ctrl-C stops everything.

TXT

# Stay up while every process runs; a process that stops takes the demo down, loudly.
while :; do
  set +e
  wait -n "${pids[@]}"
  status=$?
  set -e
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      die_process "${name_of[$pid]}" "${log_of[$pid]}" "stopped (exit status $status)"
    fi
  done
done
