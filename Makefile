# The README's two commands: `make lab` opens the lab (`make lab-fr` in French, README.fr.md), `make test` runs the whole test suite.
# Both create .venv and install requirements.txt plus labqueue itself into it first.
# `make html` renders every notebook, executed, to static pages with their outputs in html/ (the French ones in html/fr/).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install lab lab-fr test test-unit test-notebooks html

# JupyterLab refuses to run as root unless told: containers and classroom VMs often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
HTML ?= html

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -e .
	touch $@

install: $(BIN)/.installed

lab: install
	$(BIN)/jupyter lab notebooks/ --LabApp.default_url=/lab/tree/index.ipynb $(ALLOW_ROOT)

# Le lab en français: the same lab opened on the French landing page (README.fr.md).
lab-fr: install
	$(BIN)/jupyter lab notebooks/ --LabApp.default_url=/lab/tree/fr/index.ipynb $(ALLOW_ROOT)

test: install
	$(BIN)/python -m tests.run_all

html: install
	MPLBACKEND=Agg $(BIN)/python -m labqueue.lab.render --out $(HTML) --jobs 2
