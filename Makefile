# Lanterne: `make run` serves everything on embedded defaults; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Marseille's quartiers for the demo, when ../shared/reference sits beside the project;
# a city sets DEMO_AREAS to its own GeoJSON (or leaves it empty: H3 cells are the areas).
DEMO_AREAS ?= $(wildcard ../shared/reference/marseille/quartiers.geojson)

.PHONY: install run test lint format model clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

run: install
	$(BIN)/lanterne db upgrade
ifneq ($(DEMO_AREAS),)
	$(BIN)/lanterne areas import $(DEMO_AREAS) --level quartier --code-field code_qua --name-field nom --parent-field DEPCO
endif
	$(BIN)/lanterne demo --if-empty
	$(BIN)/lanterne run

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
