#!/usr/bin/env bash
# Start the whole Sportello demo: billing simulator, database, alignment, scheduler, web app.
# Everything lives under var/; Ctrl-C stops every process this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
FLASK=".venv/bin/flask --app app.py"
CUSTOMERS=${DEMO_CUSTOMERS:-300}
SEED=${DEMO_SEED:-42}
SIM_PORT=${SIMULATOR_PORT:-7047}
WEB_PORT=${PORT:-5000}
export SPORTELLO_DEMO=1
export BILLING_URL=${BILLING_URL:-http://127.0.0.1:${SIM_PORT}/NAV/WS/DEMO}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:${WEB_PORT}}
mkdir -p var/log

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ ! -f var/simulator.db ]; then
  echo "Generating billing data for $CUSTOMERS customers (seed $SEED)..."
  $PY -m simulator generate --customers "$CUSTOMERS" --seed "$SEED" --db var/simulator.db
fi

echo "Starting the billing simulator on port $SIM_PORT..."
$PY -m simulator serve --db var/simulator.db --port "$SIM_PORT" >var/log/simulator.log 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  curl -fsS "$BILLING_URL/Page/Customer?wsdl" >/dev/null 2>&1 && break
  sleep 0.2
done

MAIL_PORT=${MAIL_PORT:-8025}
export MAIL_SERVER=${MAIL_SERVER:-127.0.0.1} MAIL_PORT
echo "Starting the mail catcher on port $MAIL_PORT (messages in var/mailcatcher/)..."
$PY -m app.mailcatcher --host 127.0.0.1 --port "$MAIL_PORT" --dir "${SPORTELLO_VAR_DIR:-var}/mailcatcher" >var/log/mailcatcher.log 2>&1 &
pids+=($!)

echo "Preparing the database..."
export SPORTELLO_ADMIN_USERNAME=admin SPORTELLO_ADMIN_EMAIL=admin@sportello.localhost
export SPORTELLO_ADMIN_PASSWORD=${SPORTELLO_ADMIN_PASSWORD:-$($PY -c 'import secrets; print(secrets.token_urlsafe(12))')}
$FLASK sportello init 2>&1 | grep -v ' INFO ' || true
echo "Aligning with billing..."
$FLASK sportello align 2>&1 | grep -v ' INFO '

echo "Starting the scheduler..."
$FLASK sportello scheduler >var/log/scheduler.log 2>&1 &
pids+=($!)

accounts=$($FLASK sportello demo-users 2>&1 | grep -v ' INFO ')
cat <<TXT

  Sportello is running:  $PUBLIC_BASE_URL/
  Back office login:     $PUBLIC_BASE_URL/login/
$accounts
  Billing simulator:     $BILLING_URL/services
  Mail catcher:          $PUBLIC_BASE_URL/mailcatcher/ (admin; SMTP on 127.0.0.1:$MAIL_PORT)
  Logs:                  var/log/

TXT
.venv/bin/gunicorn --bind "127.0.0.1:${WEB_PORT}" --workers 2 --access-logfile - 'app:create_app()'
