#!/usr/bin/env bash
# Install Sportello from a source tree into PREFIX: PREFIX/app (the code, left read-only),
# PREFIX/venv (Python packages from requirements.txt), compiled translations.
# Used by the Dockerfile and on systemd hosts:  sudo deploy/install.sh /opt/sportello
# then copy deploy/sportello.env to /etc/sportello/, deploy/systemd/*.service to /etc/systemd/system/,
# run `flask --app app.py db upgrade` once per release, and enable the units.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${1:-/opt/sportello}
PYTHON=${PYTHON:-python3}

mkdir -p "$PREFIX/app"
# The code only: no virtualenv, var/ or VCS data of the source tree.
tar -C "$SRC" --exclude=.git --exclude=.venv --exclude=var --exclude='__pycache__' \
    --exclude=tests --exclude=bench -cf - . | tar -C "$PREFIX/app" -xf -
"$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --no-cache-dir --quiet -r "$PREFIX/app/requirements.txt"
(cd "$PREFIX/app" && "$PREFIX/venv/bin/python" scripts/translations.py \
    && "$PREFIX/venv/bin/pybabel" -q compile -d translations)
"$PREFIX/venv/bin/python" -m compileall -q "$PREFIX/app" >/dev/null
chmod -R a-w "$PREFIX/app"
echo "Sportello installed in $PREFIX"
