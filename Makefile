# Two commands on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3
export NO_MKDOCS_2_WARNING := 1

.PHONY: test test-fast test-slow lint demo docs serve bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check scoresde tests benchmarks docs
	$(VENV)/bin/ruff format --check scoresde tests benchmarks docs

test: $(STAMP) lint
	$(VENV)/bin/pytest -q -n 2 --dist loadfile
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

test-slow: $(STAMP)
	$(VENV)/bin/pytest -q -m slow -n 2 --dist loadfile

demo: $(STAMP)
	$(VENV)/bin/scoresde demo --out out/demo

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

serve: $(STAMP)
	$(VENV)/bin/mkdocs serve

clean:
	rm -rf site out .pytest_cache
