# Two commands do everything on a fresh clone: `make demo` and `make test`.
# Each bootstraps .venv (once; again only when pyproject.toml changes) and fetches MNIST when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= train,dev,ray

.PHONY: demo test lint data clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

data: $(STAMP)
	$(BIN)/mnist-toolkit data fetch

demo: $(STAMP)
	$(BIN)/mnist-toolkit predict artifacts/samples --out artifacts/runs/demo/predictions.csv --table

test: $(STAMP) data
	$(BIN)/ruff check toolkit tests scripts
	$(BIN)/ruff format --check toolkit tests scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check toolkit tests scripts
	$(BIN)/ruff format --check toolkit tests scripts
	$(BIN)/mypy

clean-venv:
	rm -rf $(VENV)
