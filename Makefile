# `make run` and `make test` set up .venv, build the Cython core and go.
# Make rebuilds only when a source changed, so a second `make run` starts at once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SOURCES := pyproject.toml setup.py $(shell find src -type f \
	\( -name '*.py' -o -name '*.pxd' -o -name '*.pyi' \) 2>/dev/null)
PYTEST_ARGS ?=
# Passed to `chargebus run`, e.g. make run ARGS="--edge-port 9100 --data-dir /srv/cb".
ARGS ?=

.PHONY: run test clean

## run: start chargebus (nats-server, edge, workers, sink); ARGS="..." for chargebus run
run: $(VENV)/.installed
	$(BIN)/chargebus run $(ARGS)

## test: the full suite (installs clickhouse-server and chromium first); PYTEST_ARGS="..."
test: $(VENV)/.installed-dev clickhouse-server chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit tests: no nats-server, no chargebus processes, no ClickHouse server; markers
# and the guard that holds tests to them in tests/markers.py.
## test-fast: the unit tests alone: no chargebus processes, no ClickHouse server
.PHONY: test-fast
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m unit $(PYTEST_ARGS)

## clickhouse-server: install Debian's clickhouse-server for the full suite, if missing
.PHONY: clickhouse-server
clickhouse-server:
	scripts/clickhouse-server.sh

## chromium: install Debian's chromium for the test of the API's docs page, if missing
.PHONY: chromium
chromium:
	scripts/chromium.sh

# The suite with the clock moved (libfaketime): no test may depend on the date it runs.
# The set-up runs on the true clock; only pytest and what it starts are moved.
CLOCK_OFFSET ?= +3d
## test-moved-clock: the full suite with the clock moved by CLOCK_OFFSET (+3d)
.PHONY: test-moved-clock
test-moved-clock: $(VENV)/.installed-dev clickhouse-server chromium
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

## clean: remove the venv and the build
clean:
	rm -rf $(VENV) build *.egg-info

## lint: ruff, then mypy, over the sources (mypy: the library and its core)
# ruff with the rules chosen in pyproject.toml ([tool.ruff]), then mypy over the files and
# with the settings of [tool.mypy]; tests/test__sourcecode.py runs both inside `make test`.
LINTED := src codegen tests benchmarks scripts
.PHONY: lint
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/mypy

## generate: regenerate the compiled core's validators and scanners (python -m codegen)
# The compiled core's generated modules (validators and scanners) from the OCA schemas of
# the ocpp version pinned in the generate extra; tests/test_generated.py fails when the
# committed ones are not what this writes.
.PHONY: generate
generate: $(VENV)/.installed-dev
	$(BIN)/python -m codegen

.PHONY: bench instructions
## bench: the pytest-benchmark benchmarks, into benchmarks/last-run.json
bench: $(VENV)/.installed-dev
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=min,median,mean,ops --benchmark-json=benchmarks/last-run.json \
		--benchmark-sort=mean $(PYTEST_ARGS)

## instructions: instructions per frame of the compiled core (benchmarks/instructions.py)
instructions: $(VENV)/.installed-dev
	cd benchmarks && ../$(BIN)/python instructions.py

# chargebus against the ocpp-library baseline, same simulator, same machine, one run
# (about 10 minutes); COMPARE_ARGS="--duration 10 --idle-stations 2000" for a shorter one.
COMPARE_ARGS ?=
## compare: chargebus against the ocpp-library baseline; COMPARE_ARGS="..." to shorten
.PHONY: compare
compare: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/compare.py $(COMPARE_ARGS)

# One line per target, from the `## target: text` line above its rule.
## help: this list
.PHONY: help
help:
	@awk '/^## [a-z-]+: / { name = $$2; sub(/:$$/, "", name); sub(/^## [a-z-]+: /, ""); \
		printf "  %-18s %s\n", name, $$0 }' $(MAKEFILE_LIST)
