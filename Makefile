# The two commands of the README: `make run` (install, migrate, seed the demo, serve) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi.py
# `make run` is a local demo: development settings unless told otherwise.
db demo serve run: export TRACKER_ENV ?= development

.PHONY: audit run test install system-packages db demo serve test-pg bench clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests use: Chromium for the browser tests, LibreOffice to open exported returns.
system-packages:
	@if [ ! -x /usr/bin/chromium ] || ! command -v soffice >/dev/null || ! command -v pdftoppm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium libreoffice-calc-nogui poppler-utils >/dev/null; \
	  else echo "Chromium, LibreOffice or poppler-utils missing; install them with: sudo apt-get install chromium libreoffice-calc-nogui poppler-utils"; fi; \
	fi

db: install
	$(VENV)/bin/flask db upgrade

demo: db
	$(VENV)/bin/flask seed-demo

serve:
	$(VENV)/bin/flask run --host 127.0.0.1 --port 5000

run: demo serve

# PYTEST_ARGS narrows a run, e.g. make test PYTEST_ARGS='-m "not browser"'.
test: install system-packages
	$(PY) scripts/audit_dependencies.py
	$(PY) -m pytest $(PYTEST_ARGS)

test-pg: install system-packages
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(PY) -m pytest $(PYTEST_ARGS)

# Rewrite the browser tests' reference screenshots after an intended change of layout (look at them, then commit).
screenshots: install system-packages
	UPDATE_SCREENSHOTS=1 $(PY) -m pytest tests/browser/test_daily_screens.py -k screens_match

# Known vulnerabilities in the installed dependencies (fails on one with a fix available).
audit: install
	$(PY) scripts/audit_dependencies.py

clean:
	rm -rf $(VENV) instance *.egg-info
