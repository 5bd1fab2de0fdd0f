"""Gateware generation: the core registry, parameters and the Verilog writer."""

import gc
import subprocess
import sys
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable

from neurocodec_gateware.cores import CORES, to_verilog
from neurocodec_gateware.maestro import MaestroEncoder


def test_every_core_generates_reproducible_verilog():
    for name, core in CORES.items():
        first, second = to_verilog(name), to_verilog(name)
        assert first == second and f"module {core.toplevel}(" in first


def test_maestro_ports_are_the_documented_ones():
    text = to_verilog("maestro", channels=4)
    for port in ["input [11:0] i__payload", "output [17:0] o__payload", "input i__valid",
                 "output i__ready", "output o__valid", "input o__ready", "input clk", "input rst"]:
        assert port in text, port


@pytest.mark.parametrize("channels", [0, 17])
def test_maestro_channel_count_is_checked(channels):
    with warnings.catch_warnings():
        # The half-built component is collected here, not during some later test.
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match="channels must be in 1..16") as error:
            MaestroEncoder(channels)
        del error
        gc.collect()


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match="has no parameter width; it takes channels"):
        to_verilog("maestro", width=3)


def test_verilog_command(tmp_path):
    run = [sys.executable, "-m", "neurocodec_gateware.verilog"]
    ok = subprocess.run(run + ["--all", "-o", tmp_path], capture_output=True, text=True)
    assert ok.returncode == 0 and (tmp_path / "maestro_encoder.v").is_file()
    bad = subprocess.run(run + ["maestro", "-p", "channels=x", "-o", tmp_path / "m.v"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "'x' is not an integer" in bad.stderr
