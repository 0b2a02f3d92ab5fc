# Kundenkommunikation — the handful of commands you need.
# `make run` sets everything up and starts the inbox; `make test` runs the whole suite.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# make run HOST=0.0.0.0 PORT=8101: where the web server listens (HOST=127.0.0.1:8101 works too)
HOST   ?= 127.0.0.1
PORT   ?= 8000
ifneq ($(findstring :,$(HOST)),)
override PORT := $(lastword $(subst :, ,$(HOST)))
override HOST := $(firstword $(subst :, ,$(HOST)))
endif
# links in mails (unsubscribe, preferences, tracking) point where we serve, unless SITE_URL is set
SITE_URL ?= http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT)
DEV    := DEBUG=true SITE_URL=$(SITE_URL) EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend

.PHONY: install run test lint format bench clean

## install: .venv with every dependency (dev ones included) and the Debian packages; no-op when done
install: $(STAMP)
$(STAMP): pyproject.toml
	@bash .ci/system-packages
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

## run: migrate, seed demo data when empty, print the login, start web server + one django-q2 cluster
##      (config/run.py supervises both; Ctrl-C stops both). Variables: HOST, PORT, SITE_URL, Q2_WORKERS
run: install
	$(DEV) $(PY) manage.py migrate --no-input
	$(DEV) $(PY) manage.py createcachetable
	$(DEV) $(PY) manage.py sync_schedules
	$(DEV) $(PY) manage.py load_templates
	$(DEV) $(PY) manage.py load_rules kommunikation/automation/library/default_rules.yaml
	$(DEV) $(PY) manage.py demo_setup
	@$(DEV) $(PY) -m config.run --host $(HOST) --port $(PORT)

## test: ruff (lint + format check), then the whole pytest suite, browser tests included
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

## lint / format: ruff only
lint: install
	$(VENV)/bin/ruff check .
format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the benchmarks, printed as a table and as JSON (DATABASE_URL picks the database)
bench: install
	$(DEV) $(PY) manage.py bench $(BENCH_ARGS)

clean:
	rm -rf var db.sqlite3*
