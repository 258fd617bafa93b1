# The README's two commands: `make demo` and `make test`. Each sets up everything it
# needs (Debian packages, virtualenv, Python extras) and is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := libzbar0 libusb-1.0-0 mosquitto mosquitto-clients fonts-wqy-microhei systemd chromium chromium-driver poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench system-deps setup clean

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

setup: system-deps $(STAMP)

demo: setup
	$(PY) -m demo $(DEMO_ARGS)

# The type checker: strict on the shared packages and the drivers, clean on the kiosk
# agent and the TUI (the cloud bridge is not yet: see the README's development notes).
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy --strict contract common drivers
	$(PY) -m mypy kiosk_agent tui

test: setup lint
	$(PY) -m pytest

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
