# Two commands on a fresh Debian 12 machine: `make setup`, then `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROTOS := $(shell find protos -name '*.proto' | sort)
DEB_PACKAGES := python3 python3-venv python3-dev gcc libc6-dev make docker-registry busybox-static \
	skopeo ca-certificates openssl hyperfine tini libseccomp2 nftables libnftables1 iproute2
# The per-container monitor is C: a Python process alone costs more memory (PSS) than a
# container may add (see services/executor/monitor.c).
MONITOR := $(VENV)/bin/caisson-monitor

.PHONY: setup test gen check-gen lint unit integration bench clean monitor compile

setup:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $(DEB_PACKAGES); \
	else echo "not root: skipping apt-get (needs: $(DEB_PACKAGES))"; fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m caisson.cli.launcher $(VENV)/bin/caisson
	$(MAKE) monitor
	$(MAKE) compile

# Bytecode for every module, written even under PYTHONDONTWRITEBYTECODE: each CLI command and
# each container's init is a new interpreter, and compiling sources costs it tens of ms.
compile:
	$(PY) -m compileall -q services cli gen

monitor: $(MONITOR)

$(MONITOR): services/executor/monitor.c
	cc -O2 -Wall -Wextra -Werror -o $@ $<

# Regenerates gen/ from protos/ (generated code is committed and kept apart from ours).
gen:
	rm -rf gen/caisson_api
	$(PY) -m grpc_tools.protoc -I protos --python_out=gen --grpc_python_out=gen --pyi_out=gen $(PROTOS)
	find gen/caisson_api -type d -exec touch {}/__init__.py \;

# Fails when gen/ is not what protos/ produce.
check-gen:
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(PY) -m grpc_tools.protoc -I protos --python_out=$$tmp --grpc_python_out=$$tmp --pyi_out=$$tmp $(PROTOS) && \
	find $$tmp/caisson_api -type d -exec touch {}/__init__.py \; && \
	diff -r -x __pycache__ $$tmp/caisson_api gen/caisson_api >/dev/null || \
	{ echo "gen/ is out of date with protos/: run 'make gen' and commit"; exit 1; }

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: check-gen lint monitor
	$(PY) -m pytest -p no:cacheprovider -ra tests

bench: compile
	$(PY) bench/run
	$(PY) bench/pull
