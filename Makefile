# The README's two commands: `make demo` and `make test`. Each sets up everything it
# needs (Debian packages, virtualenv, Python extras) and is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := libzbar0 libusb-1.0-0 mosquitto mosquitto-clients fonts-wqy-microhei systemd chromium chromium-driver poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench system-deps node-deps test-miniprogram setup clean

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[kiosk,cloud,tui,dev]'
	@touch $(STAMP)

# Node for the mini-program (miniprogram/): its page tests run under jest with Tencent's
# miniprogram-simulate, and tests/miniprogram reads its API client. Installed only when
# the commands are missing (a NodeSource nodejs already carries npm).
node-deps:
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "installing Debian packages: nodejs npm"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; }

setup: system-deps node-deps $(STAMP)

demo: setup
	$(PY) -m demo $(DEMO_ARGS)

# The type checker: strict on the shared packages and the drivers, clean on the kiosk
# agent and the TUI (the cloud bridge is not yet: see the README's development notes).
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy --strict contract common drivers
	$(PY) -m mypy kiosk_agent tui cloud_bridge

# The mini-program's packages exactly as the lockfile says, again only when it changed.
miniprogram/node_modules/.installed: miniprogram/package-lock.json
	cd miniprogram && npm ci --no-audit --no-fund
	@touch $@

test-miniprogram: node-deps miniprogram/node_modules/.installed
	cd miniprogram && npm test

# The suite in two worker processes (pytest-xdist): each starts its own brokers and its own
# PostgreSQL database, and much of a test's time is waiting on them, so two workers on
# two cores take about half the time of one. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: setup lint test-miniprogram
	$(PY) -m pytest -n $(TEST_WORKERS)

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
