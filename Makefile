# The README's two commands: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install demo test lint bench bench-robustness bench-ablation shipped-models clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) app/main.py

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: install
	$(PY) benchmarks/bench_anchors.py
	$(PY) benchmarks/bench_app.py

# Long runs (tens of minutes on 2 cores): retrain the shipped models, then the headline robustness table.
shipped-models: install
	bash benchmarks/train_shipped_models.sh

bench-robustness: install
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_robustness.py --model laat & \
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_robustness.py --model anchor-at & \
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_robustness.py --model standard; wait
	$(PY) benchmarks/bench_robustness.py --combine --curves

# The LAAT ablation (methods x anchor regimes x 3 training seeds), resumable: re-run to continue. Hours on 2 cores.
bench-ablation: install
	PY=$(PY) bash benchmarks/run_ablation.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
