# Two commands do all set-up on a fresh machine:
#   make serve   creates .venv, builds the demo catalogue index on first run, serves the API on 127.0.0.1:8000
#   make test    creates .venv if missing, installs Debian chromium for the browser test, runs pytest
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: serve test test-all bench lint chromium

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml: pip takes the CPU wheel, never a CUDA build
	$(VENV)/bin/pip install --quiet -e '.[train,test]'
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/preloved -v serve

# Debian's chromium for the end-to-end page test (never a downloaded browser); skipped if not root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium not installed: the browser test will be skipped"; }

test: $(STAMP) chromium
	$(VENV)/bin/python -m pytest -q

# the slow tests too (the bigger kill -9 durability case, long concurrency and schema-fuzzing runs)
test-all: $(STAMP) chromium
	$(VENV)/bin/python -m pytest -q -m "not external"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
