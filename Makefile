# Two commands do everything on a fresh clone: `make demo` and `make test`.
# Each sets up .venv with only what it needs (again only when pyproject.toml or constraints.txt changes):
# the demo scores with the core install, the tests need every extra. MNIST is fetched when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.installed-core
FULL := $(VENV)/.installed-full
EXTRAS ?= train,dev,ray,s3,gcs,azure

.PHONY: demo test lint data clean-venv

$(CORE): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $(CORE)

# The full install includes the core one: it stamps both, so `make demo` after it installs nothing.
$(FULL): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(FULL) $(CORE)

data: $(CORE)
	$(BIN)/mnist-toolkit data fetch

demo: $(CORE)
	$(BIN)/mnist-toolkit predict artifacts/samples --out artifacts/runs/demo/predictions.csv --table

test: $(FULL) data
	sh scripts/install_browser.sh  # Debian's chromium for the review-page tests (they skip, saying why, without it)
	sh scripts/install_azurite.sh  # the Azure Storage emulator from npm, for the az:// tests (they skip without it)
	$(BIN)/ruff check toolkit tests scripts
	$(BIN)/ruff format --check toolkit tests scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(FULL)
	$(BIN)/ruff check toolkit tests scripts
	$(BIN)/ruff format --check toolkit tests scripts
	$(BIN)/mypy

clean-venv:
	rm -rf $(VENV)
