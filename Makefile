# Two commands for a newcomer: `make demo` and `make test`. Everything runs from .venv/ in this folder.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

export ANONYMIZED_TELEMETRY := False

.PHONY: demo test lint format docs notebooks bench bench-vectors reliability clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes (the stamp is older than it).
$(VENV)/.installed-base: pyproject.toml | $(PY)
	$(PIP) -e '.[embed]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.installed-base

$(VENV)/.installed-bench: pyproject.toml | $(PY)
	$(PIP) -e '.[bench]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(PY) scripts/demo.py

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) scripts/check_notebooks.py
	$(PY) scripts/gen_api_docs.py --check

# docs/api.md from the code's docstrings (offline; `make lint` fails when it is out of date).
docs: $(VENV)/.installed-dev
	$(PY) scripts/gen_api_docs.py

# Execute the demo notebooks top to bottom (headless, offline, each in a scratch folder; 04 only plots
# `make bench` output, see tests/test_notebooks.py), failing on the first cell that raises.
notebooks: $(VENV)/.installed-dev
	$(PY) -m pytest tests/test_notebooks.py $(PYTEST_ARGS)

format: $(VENV)/.installed-dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The reliability suite with larger counts (200 kills, 10x the operations); `make test` runs it at CI size.
reliability: $(VENV)/.installed-dev
	MEMSTORE_RELIABILITY_SCALE=10 $(PY) -m pytest tests/reliability tests/core/test_kv_race.py $(PYTEST_ARGS)

bench: $(VENV)/.installed-bench
	$(PY) benchmarks/bench_bridge.py
	$(PY) benchmarks/bench_buffer.py
	$(PY) benchmarks/bench_llamaindex_buffer.py
	$(PY) benchmarks/bench_vectors.py
	$(PY) benchmarks/bench_langchain_turn.py
	$(PY) benchmarks/bench_checkpoint.py
	$(PY) benchmarks/bench_graph_search.py
	$(PY) benchmarks/bench_graph_filter.py

# The vector benchmark alone (10k and 100k vectors); BENCH_ARGS="--sizes 10000" for the quick 10k run.
bench-vectors: $(VENV)/.installed-bench
	$(PY) benchmarks/bench_vectors.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) memstore_data .pytest_cache .mypy_cache .ruff_cache
