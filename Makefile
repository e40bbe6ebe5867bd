# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENRICHMENT_SHARED_DATA ?=
export ENRICHMENT_SHARED_DATA

.PHONY: install demo dev dev-postgres test lint data-dictionary clean
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_HOME

# uv, pinned, bootstraps everything else from uv.lock (a fresh machine has only Python + pip).
UV_VERSION := 0.13.9
UV_HOME := .tools/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
# The machine's interpreter, never a downloaded one; the lock is never re-resolved here.
export UV_PYTHON := $(shell command -v $(PYTHON))
export UV_PYTHON_DOWNLOADS := never

.PHONY: lock upgrade
$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Exactly the locked closure (runtime + test extras); fails if uv.lock and pyproject.toml disagree.
# Compiled to bytecode once here: where PYTHONDONTWRITEBYTECODE is set (CI images often set
# it) every process would otherwise compile every module it imports, Dagster's ~2 s of them
# included, in each run worker, code server and test subprocess (`import
# enrichment_dagster.definitions`: 4.9 s without, 2.3-3.2 s with).
$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra test --compile-bytecode
	touch $(STAMP)

install: $(STAMP)

# Re-resolve uv.lock after editing pyproject.toml (keeps every other version as locked).
lock: $(UV)
	$(UV) lock

# Move every package to the newest version the pins in pyproject.toml allow; review, test, commit.
upgrade: $(UV)
	$(UV) lock --upgrade

demo: $(STAMP)
	$(BIN)/python -m enrichment_dagster.demo

# UI + daemon on 127.0.0.1:3000 with the Silver sensor running.
dev: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	ENRICHMENT_SENSORS_RUNNING=1 $(BIN)/dagster dev -m enrichment_dagster.definitions -h 127.0.0.1 -p 3000

# The same, on the production-like instance: Postgres on 127.0.0.1 (database `enrichment`,
# created if missing), queued runs and the bedrock pool of deploy/dagster.local.yaml.
dev-postgres: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml
	psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='enrichment'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE enrichment"
	DAGSTER_PG_HOST=127.0.0.1 DAGSTER_PG_PORT=5432 DAGSTER_PG_USERNAME=postgres DAGSTER_PG_PASSWORD= \
	  DAGSTER_PG_DB=enrichment ENRICHMENT_SENSORS_RUNNING=1 \
	  $(BIN)/dagster dev -m enrichment_dagster.definitions -h 127.0.0.1 -p 3000

test: $(STAMP)
	$(BIN)/ruff check enrichment_dagster enrichment_dagster_tests
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check enrichment_dagster enrichment_dagster_tests

data-dictionary: $(STAMP)
	$(BIN)/enrichment data-dictionary --out docs/data_dictionary.md

clean:
	rm -rf $(VENV) .tools data .dagster_home
