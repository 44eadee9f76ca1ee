# `make run` and `make test` set up .venv, build the Cython core and go.
# Make rebuilds only when a source changed, so a second `make run` starts at once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SOURCES := pyproject.toml setup.py $(shell find src core services -type f \
	\( -name '*.py' -o -name '*.pxd' -o -name '*.pyi' \) 2>/dev/null)
PYTEST_ARGS ?=
# Passed to `chargebus run`, e.g. make run ARGS="--edge-port 9100 --data-dir /srv/cb".
ARGS ?=

.PHONY: run test clean

run: $(VENV)/.installed
	$(BIN)/chargebus run $(ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite with the clock moved (libfaketime): no test may depend on the date it runs.
# The set-up runs on the true clock; only pytest and what it starts are moved.
CLOCK_OFFSET ?= +3d
.PHONY: test-moved-clock
test-moved-clock: $(VENV)/.installed-dev
	scripts/moved-clock.sh $(CLOCK_OFFSET) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Cython < 3.3: 3.3 compiles str == str to PyUnicode_Compare on Python < 3.14, which
# makes the generated validators' action and enum matching a third slower.
$(BIN)/python:
	scripts/debian-prerequisites.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools>=77' 'wheel>=0.43' 'Cython>=3.0.10,<3.3'

# --no-build-isolation: build with the venv's Cython and setuptools, offline once set up.
$(VENV)/.installed: $(BIN)/python $(SOURCES)
	$(BIN)/pip install --quiet --no-build-isolation .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python $(SOURCES)
	$(BIN)/pip install --quiet --no-build-isolation '.[dev]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build *.egg-info

# ruff with the rules chosen in pyproject.toml ([tool.ruff]); tests/test__sourcecode.py
# runs the same check inside `make test`.
LINTED := src services codegen tests benchmarks scripts
.PHONY: lint
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(LINTED)

# The compiled core's generated modules (validators and scanners) from the OCA schemas of
# the ocpp version pinned in the generate extra; tests/test_generated.py fails when the
# committed ones are not what this writes.
.PHONY: generate
generate: $(VENV)/.installed-dev
	$(BIN)/python -m codegen

.PHONY: bench instructions
bench: $(VENV)/.installed-dev
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=min,median,mean,ops --benchmark-json=benchmarks/last-run.json \
		--benchmark-sort=mean $(PYTEST_ARGS)

instructions: $(VENV)/.installed-dev
	cd benchmarks && ../$(BIN)/python instructions.py

# chargebus against the ocpp-library baseline, same simulator, same machine, one run
# (about 10 minutes); COMPARE_ARGS="--duration 10 --idle-stations 2000" for a shorter one.
COMPARE_ARGS ?=
.PHONY: compare
compare: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/compare.py $(COMPARE_ARGS)
