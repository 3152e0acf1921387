# Sportello: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres pass-sqlite pass-postgres lint-imports demo-smoke install install-dev translations system-deps bench bench-scale clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed translations
install-dev: $(VENV)/.installed-dev translations

## Compile the message catalogues (Italian first, English second).
translations: $(VENV)/.installed
	@$(VENV)/bin/pybabel -q compile -d translations

## Start the whole system with demo data: billing simulator, database, alignment, scheduler, web.
run: install
	@scripts/run-demo.sh

# Install the Debian packages listed in $$missing, if any (as root, or through sudo).
APT_INSTALL = if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

## Debian packages the tests need (pdftotext for PDF checks, Chromium for browser tests, pg_dump and
## pg_restore for backups, nginx for the multi-node test).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	command -v pg_dump >/dev/null || missing="$$missing postgresql-client"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	$(APT_INSTALL)

## Every test, on SQLite and on PostgreSQL (when one answers at TEST_DATABASE_URL), after the
## import contract, and the demo smoke (once): the two passes and the smoke run side by side
## (scripts/test-passes.sh); `make test-sqlite`, `make test-postgres` and `make demo-smoke` run one.
test: install-dev system-deps lint-imports
	@scripts/test-passes.sh

## The import contract (.importlinter): service areas depend downwards only, services import no
## views, forms or security manager.
lint-imports: install-dev
	@echo "=== import contract ==="
	$(VENV)/bin/lint-imports --no-cache

# pytest at its default verbosity prints the collected test count; the 25 slowest tests at the end.
# Sweeps (marker `sweep`: axe-core over every page, long property runs) and tests that need no
# second database pass (marker `one_pass`: the gateway contract suite, SAP-flavour repeats) run
# in the SQLite pass only.
test-sqlite: install-dev
	@$(MAKE) --no-print-directory pass-sqlite

test-postgres: install-dev
	@$(MAKE) --no-print-directory pass-postgres

# The passes themselves, with nothing to install first (scripts/test-passes.sh runs them at once).
pass-sqlite:
	@echo "=== test suite on SQLite ==="
	env -u TEST_DATABASE_URL $(VENV)/bin/pytest --durations=25

pass-postgres:
	@if $(PY) scripts/db-answers.py "$(TEST_DATABASE_URL)"; then \
	  echo "=== test suite on PostgreSQL ($(TEST_DATABASE_URL)) ==="; \
	  TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(VENV)/bin/pytest --durations=25 -m "not sweep and not one_pass"; \
	else \
	  echo "=== PostgreSQL does not answer at $(TEST_DATABASE_URL): PostgreSQL run SKIPPED ==="; \
	fi

## The demo on a fresh machine: a clean clone of HEAD, `make run` there (new .venv from
## requirements.txt alone) on free ports, every process checked, one e-mail from a portal
## registration found in the mail catcher, everything stopped. About a minute with a warm pip cache.
# The CI's smoke runs the demo on the SAP IS-U flavour (BILLING_SYSTEM=sap; `make run` is NAV).
DEMO_SMOKE_BILLING ?= sap
demo-smoke:
	@echo "=== demo smoke: BILLING_SYSTEM=$(DEMO_SMOKE_BILLING) make run in a clean clone of HEAD ==="
	@py=$$(command -v $(PYTHON) || command -v python3); BILLING_SYSTEM=$(DEMO_SMOKE_BILLING) $$py scripts/demo-smoke.py

## Every benchmark, figures appended to docs/benchmarks.md. The alignment benchmark leaves the
## aligned 100,000-customer database the portal benchmark starts from; wrk (Debian) loads the portal.
bench: install-dev
	@missing=""; command -v wrk >/dev/null || missing=" wrk"; $(APT_INSTALL)
	$(PY) bench/alignment.py
	$(PY) bench/portal.py
	$(PY) bench/backoffice.py
	$(PY) bench/mixed.py
	$(PY) bench/mixed.py --staff
	$(PY) bench/mailing.py --pdfs 200

## The alignment and the hot reads at scale on PostgreSQL (bench/scale.py): SCALE_CUSTOMERS
## customers (300,000) generated once under var/bench/ and kept, aligned into a fresh database,
## a 1 % incremental alignment, invoice list and call-center search timed against 10,000, and
## 1,000,000 projected. Hours, not minutes: never part of `make test` or `make bench`.
SCALE_CUSTOMERS ?= 300000
SCALE_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale
bench-scale: install-dev
	$(PY) bench/scale.py --customers $(SCALE_CUSTOMERS) --database-url $(SCALE_DATABASE_URL) $(SCALE_ARGS)

clean:
	rm -rf var/ .pytest_cache
