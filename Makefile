# Lotline: two commands do all set-up on a fresh Debian/Ubuntu machine.
#   make run   install, migrate, seed demo data (SQLite), serve with gunicorn on :8000
#   make test  install everything (Debian's chromium too) and pass every test
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# gunicorn's sync workers. SQLite takes one writer at a time: 2 (one per core). PostgreSQL:
# 3, so a worker waiting on the database leaves both cores to the others (500 stations on 2
# cores: p99 68 ms with 2, 35 ms with 3; bench/RESULTS.md, issue 16).
WORKERS ?= $(if $(filter postgres%,$(DATABASE_URL)),3,2)
export FLASK_APP = app

.PHONY: run test test-only install install-test browser lint clean workers

$(BIN)/python:
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

browser:
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

run: install
	$(BIN)/flask db upgrade
	@$(BIN)/flask seed-demo || echo "(demo data already present)"
	$(BIN)/gunicorn --no-control-socket -w $(WORKERS) -b $(HOST):$(PORT) 'app:create_app()'

workers:  # what make run serves with here (bench/stations.py asks)
	@echo $(WORKERS)

lint:
	$(BIN)/ruff check .

test-only:
	$(BIN)/ruff check .
	$(BIN)/pytest

test: install-test browser test-only

clean:
	rm -rf $(VENV) *.egg-info
