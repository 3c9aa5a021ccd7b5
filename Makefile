# Entry points: `make run` (the main job), `make test` (the whole suite) and `make lint` (ruff).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint venv bench-kafka bench-access bench-pipeline clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	BKM_WEB_PORT=$(PORT) $(BIN)/python manage.py run_embedded -- $(BIN)/honcho start -f Procfile

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then mypy (pyproject.toml [tool.mypy]: alarm_backends/core, service/detect, service/trigger, bkmonitor/alerts)
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

bench-kafka: venv
	$(BIN)/python benchmarks/kafka_bench.py $(BENCH_ARGS)

bench-access: venv
	$(BIN)/python benchmarks/access_bench.py $(BENCH_ARGS)

bench-pipeline: venv
	$(BIN)/python benchmarks/pipeline_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
