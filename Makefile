# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENRICHMENT_SHARED_DATA ?=
export ENRICHMENT_SHARED_DATA

.PHONY: install demo dev test lint data-dictionary clean
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_HOME

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m enrichment_dagster.demo

# UI + daemon on 127.0.0.1:3000 with the Silver sensor running.
dev: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	ENRICHMENT_SENSORS_RUNNING=1 $(BIN)/dagster dev -m enrichment_dagster.definitions -h 127.0.0.1 -p 3000

test: $(STAMP)
	$(BIN)/ruff check enrichment_dagster enrichment_dagster_tests
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check enrichment_dagster enrichment_dagster_tests

data-dictionary: $(STAMP)
	$(BIN)/enrichment data-dictionary --out docs/data_dictionary.md

clean:
	rm -rf $(VENV) data .dagster_home
