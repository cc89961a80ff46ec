# Lanterne: `make run` serves everything on embedded defaults; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MODEL := $(VENV)/.model
# Marseille's quartiers for the demo, when ../shared/reference sits beside the project;
# a city sets DEMO_AREAS to its own GeoJSON (or leaves it empty: H3 cells are the areas).
DEMO_AREAS ?= $(wildcard ../shared/reference/marseille/quartiers.geojson)
# Their parents, the arrondissements, with their own names (the quartiers' DEPCO is their code).
DEMO_DISTRICTS ?= $(wildcard ../shared/reference/marseille/arrondissements.geojson)
# Their streets (names at a point) for the public maps and typed addresses, and the
# arrondissements' population for the rates per 1,000 residents.
DEMO_STREETS ?= $(wildcard ../shared/reference/marseille/streets.json)
DEMO_POPULATION ?= $(wildcard ../shared/reference/marseille/population_arrondissements.csv)
# `PORT=5200 make run` (or `make run PORT=5200`) serves on another port.
PORT ?= 5000
MODEL_INPUTS := nlp/project.yml $(wildcard nlp/corpus/*.jsonl nlp/corpus/seeds/* nlp/configs/*.cfg) nlp/training.py

.PHONY: install model translations browser run test lint format clean

install: $(INSTALLED) translations

$(INSTALLED): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

# The classifier is a build artefact: spaCy's own project runs convert → train → calibrate →
# evaluate → package → install (seeded; nothing is downloaded).
model: $(MODEL)

$(MODEL): $(INSTALLED) $(MODEL_INPUTS)
	cd nlp && PATH="$(CURDIR)/$(BIN):$$PATH" python -m spacy project run all
	touch $(MODEL)

translations: $(INSTALLED)
	$(BIN)/pybabel compile -d public_site/translations
	$(BIN)/pybabel compile -d backend/translations
	$(BIN)/pybabel compile -d workers/translations

# Debian's Chromium for the real-browser tests (Playwright drives it; it never downloads one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "The browser tests need Chromium: sudo apt-get install chromium"; exit 1; fi; }

run: install model
	$(BIN)/lanterne db upgrade
ifneq ($(DEMO_DISTRICTS),)
	$(BIN)/lanterne areas import $(DEMO_DISTRICTS) --level arrondissement --code-field code_insee --name-field nom
endif
ifneq ($(DEMO_AREAS),)
	$(BIN)/lanterne areas import $(DEMO_AREAS) --level quartier --code-field code_qua --name-field nom --parent-field DEPCO
endif
ifneq ($(DEMO_POPULATION),)
	$(BIN)/lanterne areas population $(DEMO_POPULATION) --code-field code_insee --population-field pop_estimate_2010
endif
ifneq ($(DEMO_STREETS),)
	$(BIN)/lanterne streets import $(DEMO_STREETS)
endif
	$(BIN)/lanterne demo --if-empty
	$(BIN)/lanterne run --port $(PORT)

test: install model browser
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance nlp/build .pytest_cache .mypy_cache .ruff_cache
