# Lotline: two commands do all set-up on a fresh Debian/Ubuntu machine.
#   make run   install, migrate, seed demo data (SQLite), serve with gunicorn on :8000
#   make test  install everything (Debian's chromium too) and pass every test
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
export FLASK_APP = app

.PHONY: run test test-only install install-test browser lint clean

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

lint:
	$(BIN)/ruff check .

test-only:
	$(BIN)/ruff check .
	$(BIN)/pytest

test: install-test browser test-only

clean:
	rm -rf $(VENV) *.egg-info
