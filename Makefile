# Two commands on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3
export NO_MKDOCS_2_WARNING := 1

.PHONY: test test-fast test-slow lint demo docs docs-check chromium serve bench clean

# MathJax is served with the site (no CDN: the docs must render offline). It comes
# from the npm registry into docs/_static/mathjax/ (git-ignored), with its licence.
MATHJAX_VERSION := 3.2.2
MATHJAX_DIR     := docs/_static/mathjax
MATHJAX         := $(MATHJAX_DIR)/.version-$(MATHJAX_VERSION)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check scoresde tests benchmarks docs
	$(VENV)/bin/ruff format --check scoresde tests benchmarks docs

test: $(STAMP) lint chromium
	$(VENV)/bin/pytest -q -n 2 --dist loadfile
	@$(MAKE) --no-print-directory docs-check

test-slow: $(STAMP)
	$(VENV)/bin/pytest -q -m slow -n 2 --dist loadfile

demo: $(STAMP)
	$(VENV)/bin/scoresde demo --out out/demo

docs: $(STAMP) $(MATHJAX)
	$(VENV)/bin/mkdocs build --strict --site-dir site

$(MATHJAX):
	@command -v npm >/dev/null || { echo "make: npm is needed to fetch MathJax $(MATHJAX_VERSION) for the docs (Debian: apt-get install npm)" >&2; exit 1; }
	rm -rf $(MATHJAX_DIR) .cache/mathjax && mkdir -p .cache/mathjax $(MATHJAX_DIR)
	cd .cache/mathjax && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null && tar -xzf mathjax-$(MATHJAX_VERSION).tgz
	cp .cache/mathjax/package/LICENSE .cache/mathjax/package/package.json $(MATHJAX_DIR)/
	cd .cache/mathjax/package/es5 && cp -r --parents tex-chtml.js input/tex/extensions output/chtml \
	  ui a11y sre $(CURDIR)/$(MATHJAX_DIR)/
	rm -rf .cache/mathjax
	touch $@

# The site as a reader sees it: built, served on 127.0.0.1 and every page loaded in
# headless Chromium (docs/scripts/check_site.py). Chromium is Debian's package,
# installed here when missing and we may (root with apt-get); otherwise skipped.
docs-check: $(STAMP) $(MATHJAX) chromium
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site
	$(PY) docs/scripts/check_site.py site --screenshots site-check

chromium:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null \
	  || { echo "docs-check: installing Debian's chromium"; apt-get update -qq \
	       && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	       || echo "docs-check: could not install chromium"; }

serve: $(STAMP) $(MATHJAX)
	$(VENV)/bin/mkdocs serve

clean:
	rm -rf site site-check out .pytest_cache
