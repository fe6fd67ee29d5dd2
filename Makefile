# DealerCRM: `make demo` to try it, `make test` to run the whole suite.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python
DEMO_CUSTOMERS ?= 20000
DEMO_SEED ?= 42
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install uv assets messages lint serve worker chromium clean

uv:
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv

install: uv
	@$$(command -v uv || echo $(HOME)/.local/bin/uv) sync --frozen --quiet
	@npm ci --no-audit --no-fund --loglevel=error
	@node scripts/build_assets.mjs
	@$(PY) scripts/compile_messages.py

demo: install
	@$(PY) -m dealercrm migrate --no-input -v 0
	@$(PY) -m dealercrm demo --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED) --if-empty
	@$(PY) -m dealercrm demo_logins
	@echo "DealerCRM is starting at http://$(HOST):$(PORT)/ with its job worker  (Ctrl-C stops both)"
	@mkdir -p var; $(PY) -m dealercrm worker > var/worker.log 2>&1 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(PY) -m dealercrm runserver $(HOST):$(PORT)

test: install
	@bash scripts/ensure_chromium.sh
	@$(PY) -m pytest -p no:cacheprovider -n 2 --dist loadfile

lint:
	@.venv/bin/ruff check .
	@.venv/bin/lint-imports

messages:
	@$(PY) -m dealercrm makemessages -l zh_Hans -l en --ignore=.venv --ignore=node_modules --ignore=var --no-obsolete
	@$(PY) scripts/compile_messages.py

worker:
	@$(PY) -m dealercrm run_huey

clean:
	rm -rf var .venv node_modules dealercrm/static/vendor
