# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run demo test lint format bench bench-compare load preview-bench lock clean screenshots

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "Python 3.11 or newer is needed; found %d.%d. Run: make PYTHON=python3.11 ..." % v[:2])'
	$(PYTHON) -m venv $(VENV)

# Installs are recorded by stamp files, so a second `make` does not reinstall.
$(VENV)/.installed-base: requirements/base.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements/base.txt
	@touch $@

$(VENV)/.installed-dev: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements/dev.txt
	@touch $@ $(VENV)/.installed-base

# Web, Celery worker and beat under one supervisor (config/run.py; Procfile).
# `make run PORT=8001` picks another port; `make run DEMO=1` (or `make demo`) loads the demo papers.
run: $(VENV)/.installed-base
	$(BIN)/python -m config.run $(if $(PORT),--port $(PORT)) $(if $(DEMO),--demo)

demo: DEMO = 1
demo: run

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Benchmarks (not tests): results land in bench/results/, headline figures in the README.
# BENCH_QUICK=1: small sizes, a smoke run that writes nothing.
BENCH_ARGS := $(if $(BENCH_QUICK),--quick,)
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.match $(BENCH_ARGS)
	$(BIN)/python -m bench.render $(BENCH_ARGS)
	$(BIN)/python -m bench.pipeline $(BENCH_ARGS)
	$(BIN)/python -m bench.pipeline --workers-compare $(BENCH_ARGS)
	$(BIN)/python -m bench.pipeline --models 20 $(if $(BENCH_QUICK),--subscribers 2000,--runs 2) $(BENCH_ARGS)
	$(BIN)/python -m bench.pipeline --million $(BENCH_ARGS)
	$(BIN)/python -m bench.ranking $(BENCH_ARGS)
	$(if $(BENCH_QUICK),,$(BIN)/python -m bench.ranking --ceiling)
	$(BIN)/python -m bench.reader_training $(BENCH_ARGS)
	$(if $(BENCH_QUICK),,$(BIN)/python -m bench.summary)

# Before and after a change: the quick benchmarks run in BEFORE (another checkout) and here,
# interleaved, RUNS times each: `make bench-compare BEFORE=../old RUNS=5`.
bench-compare: $(VENV)/.installed-dev
	$(BIN)/python -m bench.compare --before $(BEFORE) $(if $(RUNS),--runs $(RUNS))

# Sign-up and live preview under wrk for 60 s (gunicorn, PostgreSQL, Redis started for the
# run; needs wrk, redis-server and postgresql): bench/results/load.md.
load: $(VENV)/.installed-dev
	$(BIN)/python -m bench.load

# The live preview under 200 hostile queries and ten-filter sign-up previews (gunicorn,
# PostgreSQL, Redis started for the run): bench/results/preview.md. BASELINE=DIR runs the
# same against another checkout too (e.g. `git archive` of an older commit).
preview-bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.preview $(BENCH_ARGS) $(if $(BASELINE),--baseline $(BASELINE),)

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-resolve the pinned requirements from the .in files.
lock: | $(BIN)/python
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install -q -r requirements/base.in
	(echo "# Generated from base.in by 'make lock'; do not edit by hand."; $(VENV)-lock/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)==') > requirements/base.txt
	$(VENV)-lock/bin/pip install -q -r requirements/dev.in
	(echo "# Generated from dev.in by 'make lock'; do not edit by hand."; echo "-r base.txt"; $(VENV)-lock/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)==' | grep -v -x -F -f requirements/base.txt) > requirements/dev.txt
	rm -rf $(VENV)-lock

# The README's pictures, taken from the real pages (needs Chromium).
screenshots: $(VENV)/.installed-dev
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
