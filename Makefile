# neurocodec: `make sim` (RTL against the golden model) and `make test` (everything).
# Every target installs what is missing first (scripts/install.sh).

SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export AMARANTH_USE_YOSYS := builtin
# FuseSoC keeps its generator cache under build/ too.
export XDG_CACHE_HOME := $(CURDIR)/build/cache
PYTHON := $(VENV)/bin/python

INPUT ?=
JOBS ?= 2
PYTEST_ARGS ?=
FUSESOC := fusesoc --cores-root $(CURDIR)
CORE := neurocodec:neurocodec:gateware

.DEFAULT_GOAL := help
.PHONY: help install verilog sim test lint bench clean fusesoc synth

help: ## list the targets
	@echo "neurocodec. New here? Run 'make test', then 'make sim' (what CI runs)."
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

install: ## install system tools (apt), .venv and the pinned Python packages
	@scripts/install.sh

verilog: install ## generate every core's Verilog into build/amaranth/
	@$(PYTHON) -m neurocodec_gateware.verilog --all -o build/amaranth

sim: install ## run every core's testbench against the golden model (INPUT=recording optional)
	@$(PYTHON) scripts/sim.py $(if $(INPUT),--input "$(INPUT)")

test: install ## run the whole test suite (model, CLI, RTL on both simulators, FuseSoC)
	@$(PYTHON) -m pytest -n $(JOBS) $(PYTEST_ARGS)

lint: verilog ## Verilator -Wall on every generated core, and the FuseSoC lint target
	@for f in build/amaranth/*.v; do \
	    echo "verilator --lint-only -Wall $$f"; \
	    verilator --lint-only -Wall hdl/lint/amaranth.vlt $$f || exit 1; \
	done
	@$(FUSESOC) run --target=lint $(CORE) >/dev/null && echo "fusesoc lint: clean"

bench: install ## measure ratios and model speed on the synthetic and the real recordings; headstage link capacity
	@$(PYTHON) scripts/bench.py
	@$(PYTHON) scripts/headstage_capacity.py

synth: install ## iCE40 UP5K/HX8K place-and-route reports of every core into build/reports/ (SYNTH_ARGS="--core maestro --require-timing")
	@$(PYTHON) scripts/synth.py --jobs $(JOBS) $(SYNTH_ARGS)

fusesoc: install ## run a FuseSoC target: make fusesoc TARGET=sim|sim_verilator|lint|ice40_up5k|ice40_hx8k|igloo_nano|...
	@GPI_USERS="$$(cocotb-config --libpython);$$(cocotb-config --pygpi-entry-point)" \
	    $(FUSESOC) run --target=$(or $(TARGET),sim) $(CORE)

clean: ## remove build/ and Python caches (keeps .venv)
	rm -rf build .pytest_cache
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
