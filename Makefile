# welfare_eval — the two commands are `make run` and `make test` (see README.md).
# Everything installs into .venv from requirements.lock (exact versions with hashes).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: run test test-fast install lint typecheck bench lock clean-generated

run: install
	$(VENV)/bin/welfare-eval run

# Lint, then the type check beside the test suite (pytest-xdist: one worker per core, at most 4; a test module
# stays on one worker, so its module fixtures are built once; the modules are handed out in the order
# tests/conftest.py sorts them (the costly shared builds first), hence --no-loadscope-reorder. `--dist loadgroup`
# does not group with pytest 9.2 and pytest-xdist 3.8: the group suffix never reaches the scheduler). mypy runs
# at a lower priority: it takes the cores the tests leave idle (waits, the last module) before theirs.
test: install
	@start=$$(date +%s); \
	$(VENV)/bin/ruff check . || exit 1; \
	nice -n 10 $(VENV)/bin/mypy > $(VENV)/mypy.log 2>&1 & mypy_pid=$$!; \
	$(VENV)/bin/pytest -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder --durations=15; rc=$$?; \
	wait $$mypy_pid; mrc=$$?; cat $(VENV)/mypy.log; [ $$rc -ne 0 ] || rc=$$mrc; \
	echo "make test: lint, types and the whole suite in $$(( $$(date +%s) - start )) s (exit $$rc)"; exit $$rc

# The inner loop: lint and the library's tests: no rendered or analysed demo study, no whole-stage integration
# module, no Spark, notebook or Monte Carlo (all of them run in `make test`).
test-fast: install
	@start=$$(date +%s); \
	$(VENV)/bin/ruff check . && $(VENV)/bin/pytest -q -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder -m "not (slow or notebook or e2e or demo or spark or integration)" --durations=10; rc=$$?; \
	echo "make test-fast: $$(( $$(date +%s) - start )) s (exit $$rc)"; exit $$rc

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "welfare_eval needs Python >= 3.11 (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check welfare_eval tests || true

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/run_all.py

# Refresh the lock on purpose (needs network to PyPI): exact versions + hashes for Python 3.11.
lock:
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean-generated:
	rm -rf data/raw/*.csv data/raw/*.xlsx data/processed/*.parquet data/processed/*.json data/processed/*.csv reports/*.html
