# The two commands of README.md: `make demo` and `make test`. Both create .venv with the
# Python on PATH and (re)install the project when pyproject.toml changed.

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The demo runs embedded: a SQLite file and no Redis, whatever the shell exports.
DEMO_DATABASE_URL ?= sqlite+aiosqlite:///var/guahao.sqlite3

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help demo test lint install migrate serve worker bench bench-reports screenshots clean

help:
	@echo "make demo     seed the demo city 示例市 and serve it at http://$(HOST):$(PORT) (PORT=8123 to change)"
	@echo "make test     run the whole test suite (PYTEST_ARGS='-k booking -x' to narrow it)"
	@echo "make lint     ruff, the import contracts (import-linter) and mypy on the plugin API and tenants/"
	@echo "make install  create $(VENV) and install the project with its test tools"
	@echo "make migrate  create or upgrade the tables of DATABASE_URL"
	@echo "make serve    serve the app on DATABASE_URL / REDIS_URL from the environment"
	@echo "make worker   run the arq job worker (needs REDIS_URL)"
	@echo "make bench    run the benchmarks in bench/ (needs DATABASE_URL on PostgreSQL)"
	@echo "make bench-reports  generate a year of 2M bookings and time every report (needs DATABASE_URL on PostgreSQL)"
	@echo "make screenshots  PNGs of the main pages at phone and desktop size in screenshots/ (needs chromium)"
	@echo "make clean    remove $(VENV), var/ and caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The example external plugin (examples/guahao-his-example) is installed beside the platform, as a
# third party's would be: the demo offers it and the tests run it end to end.
EXAMPLE_PLUGIN := examples/guahao-his-example

$(STAMP): pyproject.toml $(EXAMPLE_PLUGIN)/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]' -e $(EXAMPLE_PLUGIN)
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	DATABASE_URL='$(DEMO_DATABASE_URL)' REDIS_URL= $(BIN)/guahao demo --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

migrate: $(STAMP)
	$(BIN)/guahao migrate

serve: $(STAMP)
	$(BIN)/guahao serve --host $(HOST) --port $(PORT)

worker: $(STAMP)
	$(BIN)/guahao worker

bench: $(STAMP)
	$(BIN)/python -m bench.storm
	$(BIN)/python -m bench.availability
	$(BIN)/python -m bench.pages

bench-reports: $(STAMP)
	$(BIN)/python -m bench.gen_year --bookings $(or $(BOOKINGS),2000000)
	$(BIN)/python -m bench.reports

screenshots: $(STAMP)
	$(BIN)/python -m tests.browser.screenshots --out screenshots
	$(BIN)/python -m tests.browser.console_screenshots --out screenshots

clean:
	rm -rf $(VENV) var build .pytest_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
