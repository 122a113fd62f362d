# The README's two commands: `make lab` opens the lab, `make test` runs the whole test suite.
# Both create .venv and install requirements.txt plus labqueue itself into it first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install lab test test-unit test-notebooks

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -e .
	touch $@

install: $(BIN)/.installed

lab: install
	$(BIN)/jupyter lab notebooks/

test: install
	$(BIN)/python -m tests.run_all
