# `make test` and `make demo` work on a fresh clone with only Python 3.11+.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CG := $(VENV)/bin/cg
STAMP := $(VENV)/.installed-stamp
# The interpreter .venv was built with: a different PYTHON rebuilds it instead of silently reusing it.
PYTHON_ID := $(VENV)/.python-$(shell $(PYTHON) -c 'import sys; print(sys.implementation.cache_tag + "-" + sys.executable.replace("/", "_"))' 2>/dev/null || echo missing)

help:
	@echo "make setup   create .venv and install cg with its development tools"
	@echo "make test    set up .venv and run the test suite"
	@echo "make demo    set up, start the sandbox, push a record through cg, show what arrived"
	@echo "make lint    ruff and mypy"
	@echo "make bench   benchmarks against the sandbox, side by side with HTTPie and curl"
	@echo "make bench-adaptive   only the pace rows: --workers auto beside fixed levels on limited sandboxes"
	@echo "make soak    the delivery model's random sequences for 10 minutes (SOAK_SECONDS to change)"
	@echo "make dist    build the sdist and wheel from the tracked files, check them (twine, check-wheel-contents)"
	@echo "make mutation  mutmut over the rule modules, a score per module (slow; see docs/testing.md)"
	@echo "make test-random  the suite in a random order (pytest-random-order; SEED=N repeats an order)"

$(STAMP): pyproject.toml $(PYTHON_ID)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(PYTHON_ID):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	touch $(PYTHON_ID)

setup: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

# The suite in a random order; the seed is printed, SEED=N repeats an order (every xdist worker needs the same one).
test-random: $(STAMP)
	seed=$${SEED:-$$RANDOM}
	echo "make test-random SEED=$$seed"
	$(PY) -m pytest -n 2 -q --random-order-bucket=global --random-order-seed=$$seed

$(VENV)/.mutation-stamp: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,mutation]'
	touch $@

# Not in .ci/run (minutes per module); MUTATION_ARGS="--only scrubber --budget 300" narrows a run.
mutation: $(VENV)/.mutation-stamp
	$(PY) tools/mutation.py $(MUTATION_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check cg_cli tests bench tools
	$(VENV)/bin/ruff format --check cg_cli tests bench tools
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix cg_cli tests bench tools
	$(VENV)/bin/ruff format cg_cli tests bench tools

# Built from what git tracks (in a clone), through pyproject.toml's include list: an export, a journal or a
# .env lying in the clone never ships (`git add` a new file first). Offline: the dev environment's hatchling.
dist: $(STAMP)
	rm -rf dist
	source=.
	if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
	  source=$$(mktemp -d)
	  trap 'rm -rf "$$source"' EXIT
	  git ls-files -z | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$$source"
	fi
	$(PY) -m build --no-isolation --outdir "$(CURDIR)/dist" "$$source" > /dev/null
	$(VENV)/bin/twine check --strict dist/*
	$(VENV)/bin/check-wheel-contents dist/*.whl

bench: $(STAMP)
	$(PY) -m compileall -q cg_cli   # measure what an installed cg runs: compiled bytecode
	$(PY) bench/run.py

bench-adaptive: $(STAMP)
	$(PY) -m compileall -q cg_cli
	$(PY) bench/run.py adaptive

soak: $(STAMP)
	SOAK_SECONDS=$${SOAK_SECONDS:-600} $(PY) -m pytest -q -s -p no:randomly -p no:cacheprovider tests/test_delivery_model.py

demo: $(STAMP)
	@workdir=$$(mktemp -d)
	trap 'kill $$sandbox_pid 2>/dev/null || true; rm -rf "$$workdir"' EXIT
	export CG_CONFIG_DIR="$$workdir/config" CG_PROFILE=demo
	unset CG_REGION CG_CONFIGURATION CG_MAPPINGS_FILE CG_OUTPUT
	echo "== starting the sandbox on a free loopback port"
	$(CG) sandbox --port 0 > "$$workdir/sandbox.env" 2> "$$workdir/sandbox.log" &
	sandbox_pid=$$!
	for _ in $$(seq 50); do grep -q CG_CLIENT_SECRET "$$workdir/sandbox.env" 2>/dev/null && break; sleep 0.1; done
	source "$$workdir/sandbox.env"
	cat "$$workdir/sandbox.log"
	echo
	echo "== cg auth login (secret piped on stdin, never on the command line)"
	printf '%s\n' "$$CG_CLIENT_SECRET" | $(CG) auth login --client-id "$$CG_CLIENT_ID" --client-secret-stdin
	unset CG_CLIENT_SECRET
	echo
	echo '== cg records put --config 53505294-… -f "Account Name=ACME" -f "First Name=Joe" -f "Email=joe.doe@example.com"'
	$(CG) records put --config 53505294-0b20-2509-b15d-c8e377701d66 \
	  -f "Account Name=ACME" -f "First Name=Joe" -f "Email=joe.doe@example.com"
	echo
	echo "== the same account without its required field: the API's 422, exit code 4"
	$(CG) records put --config 53505294-0b20-2509-b15d-c8e377701d66 -f "Email=joe.doe@example.com" \
	  && echo "unexpected success" || echo "(exit code $$?)"
	echo
	echo "== a typo the API would drop silently (200, field lost), caught before sending: exit code 4"
	printf '[accounts]\nreference = "53505294-0b20-2509-b15d-c8e377701d66"\ntype = "account"\nfields = ["Account Name", "First Name", "Last Name", "Email"]\n' > "$$workdir/cg-mappings.toml"
	CG_MAPPINGS_FILE="$$workdir/cg-mappings.toml" $(CG) records put --mapping accounts -f "Account Name=ACME" -f "Frist Name=Joe" \
	  && echo "unexpected success" || echo "(exit code $$?; nothing was sent)"
	echo
	echo "== what the sandbox received"
	$(PY) -c 'import json, sys, urllib.request; \
	  data = json.load(urllib.request.urlopen(sys.argv[1] + "/_sandbox/records")); \
	  print(json.dumps([{k: r[k] for k in ("configuration", "record", "content_type")} for r in data["records"]], indent=2))' \
	  "$$CG_API_URL"
	echo
	echo "== demo done; the sandbox is stopped"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info

.PHONY: help setup test test-random mutation lint format bench bench-adaptive soak demo dist clean
