# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint unit docs snapshots bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/forgea demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(VENV)/.installed-test
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

docs: $(VENV)/.installed-test
	$(BIN)/python -m forgea_cli.cli.reference > docs/cli-reference.md
	$(BIN)/python -m forgea_cli.db.er_diagram --write docs/schema.md

snapshots: $(VENV)/.installed-test
	$(BIN)/forgea db start >/dev/null
	$(BIN)/python -m forgea_cli.db.snapshots.build "$$($(BIN)/forgea db url | sed 's#/forgea?#/postgres?#')"

clean:
	rm -rf $(VENV) build dist
