"""The LFSR spike encoder: its parameters and ports, and the live event stream of the model
(``neurocodec.spikes.live``) that the RTL is checked against in tb/lfsr."""

import gc
import re
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable

from neurocodec.errors import FormatError, ParameterError
from neurocodec.spikes import AERCodec, detect
from neurocodec.spikes.aer import id_bits
from neurocodec.spikes.live import decode_live_lfsr, encode_live_lfsr, live_words
from neurocodec.spikes.predictive import LFSR_SEED, lfsr_step as model_lfsr_step, run_predictor
from neurocodec_gateware.cores import CORES, to_verilog
from neurocodec_gateware.lfsr import (DEFAULT_SEED, LfsrSpikeEncoder, MAX_CHANNELS, csd_digits,
                                      lfsr_step)

SEED = 20241121  # every random raster below comes from this seed (printed by the tests using it)


# --------------------------------------------------------------------------------------------
# Gateware: parameters, registry, ports


@pytest.mark.parametrize("kwargs, message", [
    ({"channels": 0}, "channels must be an integer in 1..1024, not 0"),
    ({"channels": 1025}, "channels must be an integer in 1..1024, not 1025"),
    ({"channels": True}, "channels must be an integer in 1..1024, not True"),
    ({"channels": 4.0}, "channels must be an integer in 1..1024, not 4.0"),
    ({"alpha_q8": 0}, "alpha_q8 must be an integer in 1..256, not 0"),
    ({"alpha_q8": 257}, "alpha_q8 must be an integer in 1..256, not 257"),
    ({"seed": 0}, "seed must be an integer in 1..65535, not 0"),
    ({"seed": 0x10000}, "seed must be an integer in 1..65535, not 65536"),
])
def test_parameters_are_checked(kwargs, message):
    with warnings.catch_warnings():
        # The half-built component is collected here, not during some later test.
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=message.replace("(", r"\(")) as error:
            LfsrSpikeEncoder(**kwargs)
        del error
        gc.collect()


def test_registry_defaults_match_the_model():
    core = CORES["lfsr"]
    assert core.toplevel == "lfsr_spike_encoder"
    assert core.defaults == {"channels": 64, "alpha_q8": 32, "seed": 0xACE1}
    from lfsr.test_lfsr import DEFAULTS  # what the testbench assumes
    assert core.defaults == {"channels": 64, **DEFAULTS}
    assert DEFAULT_SEED == LFSR_SEED == 0xACE1 and MAX_CHANNELS == 1024
    with pytest.raises(ValueError, match="has no parameter width"):
        to_verilog("lfsr", width=3)


@pytest.mark.parametrize("channels, id_width", [(1, 1), (64, 7), (1024, 11)])
def test_ports_are_the_documented_ones(channels, id_width):
    text = to_verilog("lfsr", channels=channels)
    for port in ["input i__payload", "input i__valid", "output i__ready", "output [7:0] o__payload",
                 "output o__valid", "input o__ready", "input flush", "input clk", "input rst"]:
        assert port in text, port
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        core = LfsrSpikeEncoder(channels)
        assert core.word_bits == 16 + id_width == 16 + id_bits(channels)
        del core
        gc.collect()


def test_no_multiplier_in_the_netlist():
    """The constant products are shifts and adds (N = 1) or a table (N >= 2): no `*` reaches
    Yosys, so synth_ice40 can infer neither a DSP nor a multiplier array."""
    product = re.compile(r"[\w)\]]\s*\*\s*[\w(\\$']")  # `a * b`, not `(* attr *)`, `@*`
    assert product.search("  assign x = y * 9'h55;")
    for channels, alpha in [(1, 85), (1024, 3)]:
        text = to_verilog("lfsr", channels=channels, alpha_q8=alpha)
        assert not product.search(text.replace("/*", "").replace("*/", ""))


def test_lfsr_helpers():
    state, seen = LFSR_SEED, []
    for _ in range(6):
        state = lfsr_step(state)
        seen.append(state)
    assert seen == [0x5670, 0xAB38, 0x559C, 0x2ACE, 0x1567, 0x8AB3]  # the spec's sequence
    for state in (1, 0xACE1, 0xFFFF, 0x8000):
        assert lfsr_step(state) == model_lfsr_step(state)
    for value in range(257):
        digits = csd_digits(value)
        assert sum(d << s for d, s in digits) == value
        assert all(b - a >= 2 for (_, a), (_, b) in zip(digits, digits[1:]))  # non-adjacent


def test_rate_update_identity():
    """What the RTL computes, ((256 - a) * r >> 8) + a * s, is the spec's update for every
    alpha, rate and bin."""
    a = np.arange(1, 257)[:, None, None]
    r = np.arange(257)[None, :, None]
    s = np.arange(2)[None, None, :]
    spec = r + ((a * ((s << 8) - r)) >> 8)
    assert np.array_equal(((256 - a) * r >> 8) + a * s, spec)
    assert spec.min() == 0 and spec.max() == 256


# --------------------------------------------------------------------------------------------
# Model: the live stream


def test_spec_example():
    """S = [[1,0],[0,0],[1,1]] (the spec's lfsr example): surprises at (0,0) and (2,1), words
    (0, 0) and (2, 1) of 18 bits: 36 bits, 4 bits of padding."""
    s = np.array([[1, 0], [0, 0], [1, 1]])
    data = encode_live_lfsr(s)
    assert data == bytes.fromhex("0000000090")
    assert np.array_equal(decode_live_lfsr(data, 3, 2), s)
    words = live_words(s)
    assert words.words.tolist() == [0 << 2 | 0, 2 << 2 | 1] and words.width == 18
    assert [words.bin_of_byte(i) for i in range(5)] == [(0, 0), (0, 0), (0, 0), (2, 1), (2, 1)]


def test_round_trips_and_the_aer_body():
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    for n_count in (1, 2, 3, 7, 64, 255, 256, 1024):
        for alpha, seed in ((32, LFSR_SEED), (1, 1), (256, 0xFFFF), (85, 0x1234)):
            t_count = max(1, 3000 // n_count)
            density = rng.uniform(0, 0.6)
            raster = (rng.random((t_count, n_count)) < density).astype(np.uint8)
            data = encode_live_lfsr(raster, alpha, seed)
            assert np.array_equal(decode_live_lfsr(data, t_count, n_count, alpha, seed), raster)
            # The live bytes are the body bytes of the aer stream of the residual (inverted = 0).
            residual = run_predictor("lfsr", (alpha, seed), raster, decode=False)
            words = live_words(raster, alpha, seed)
            assert len(data) == -(-words.words.size * words.width // 8)
            if 2 * residual.sum() <= residual.size:  # the aer encoder codes the ones
                body = AERCodec().compress(residual)[0][20:-4]
                assert body[0] == 0 and body.endswith(data)


def test_empty_streams():
    assert encode_live_lfsr(np.zeros((0, 5), np.uint8)) == b""
    assert decode_live_lfsr(b"", 0, 5).shape == (0, 5)
    assert encode_live_lfsr(np.zeros((100, 3), np.uint8)) == b""  # rate 0 never guesses 1
    assert not decode_live_lfsr(b"", 100, 3).any()
    # A saturated raster: only the first bins of each channel are surprises.
    ones = np.ones((50, 4), np.uint8)
    assert np.array_equal(decode_live_lfsr(encode_live_lfsr(ones), 50, 4), ones)


@pytest.mark.parametrize("n_count", [1, 2, 3])
def test_long_gaps_take_escape_words(n_count):
    """Surprises 65535 timesteps from 0 (no escape), then 65536 later (escape d = 1 and event
    d = 0), then 2^17 + 5 later (escape d = 2, event d = 5)."""
    b = id_bits(n_count)
    residual = np.zeros((65535 + 65536 + 131077 + 1, n_count), np.uint8)
    times = [65535, 65535 + 65536, 65535 + 65536 + 131077]
    residual[times, n_count - 1] = 1
    raster = run_predictor("lfsr", (32, LFSR_SEED), residual, decode=True)
    words = live_words(raster)
    esc = (1 << b) - 1
    assert words.words.tolist() == [0xFFFF << b | (n_count - 1), 1 << b | esc, n_count - 1,
                                    2 << b | esc, 5 << b | (n_count - 1)]
    assert words.escape.tolist() == [False, True, False, True, False]
    assert words.t.tolist() == [times[0], times[1], times[1], times[2], times[2]]
    data = encode_live_lfsr(raster)
    assert np.array_equal(decode_live_lfsr(data, *raster.shape), raster)


def test_bad_streams_name_the_byte():
    s = (np.random.default_rng(SEED).random((400, 3)) < 0.2).astype(np.uint8)
    data = encode_live_lfsr(s)
    width = live_words(s).width
    assert (8 * len(data)) % width, "this raster's stream should end with padding bits"
    with pytest.raises(FormatError, match="unexpected bytes after the payload at byte") as error:
        decode_live_lfsr(data + b"\x00", 400, 3)  # 8 more bits: not a whole word
    assert error.value.offset == len(data)
    with pytest.raises(FormatError, match="falls at or after T"):
        decode_live_lfsr(data, 300, 3)  # T must be known: fewer timesteps than captured
    with pytest.raises(FormatError, match="padding bits"):
        decode_live_lfsr(data[:-1] + bytes([data[-1] | 1]), 400, 3)
    with pytest.raises(FormatError, match="above the decoder limit"):
        decode_live_lfsr(b"", 1 << 30, 1024)


@pytest.mark.parametrize("kwargs, message", [
    ({"T": -1}, "T must be an integer in 0..4294967295"),
    ({"N": 0}, "N must be an integer in 1..4294967295"),
    ({"alpha_q8": 0}, "alpha_q8 must be an integer in 1..256"),
    ({"seed": 0}, "seed must be an integer in 1..65535"),
])
def test_bad_parameters(kwargs, message):
    args = {"data": b"", "T": 10, "N": 2} | kwargs
    with pytest.raises(ParameterError, match=message):
        decode_live_lfsr(**args)
    with pytest.raises(ParameterError, match="at least one channel"):
        encode_live_lfsr(np.zeros((5, 0), np.uint8))
    with pytest.raises(ParameterError, match="alpha_q8 must be"):
        encode_live_lfsr(np.zeros((5, 2), np.uint8), alpha_q8=300)


@pytest.mark.realdata
def test_real_rasters_round_trip(shared_data):
    """Whole recordings' detected rasters (up to 385 channels) through the live stream."""
    from neurocodec import read_recording
    for path in ("openephys-32ch", "spikeglx-np-ultra/p5_g0_t0.imec0.ap.meta"):
        rec = read_recording(shared_data / path)
        raster = detect(rec.samples, threshold=3.5, refractory=round(rec.rate / 1000))
        data = encode_live_lfsr(raster)
        assert np.array_equal(decode_live_lfsr(data, *raster.shape), raster)
        print(f"{path}: {raster.shape}, {int(raster.sum())} spikes, {len(data)} bytes")


def test_rtl_in_amaranth_simulation():
    """A quick check without cocotb (the full check is tb/lfsr): the spec example, a random
    raster, a flush, then a second capture that starts afresh."""
    from amaranth.sim import Simulator
    rng = np.random.default_rng(SEED)
    first = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 1]], np.uint8)
    second = (rng.random((40, 3)) < 0.3).astype(np.uint8)
    dut = LfsrSpikeEncoder(3)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    out = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for raster in (first, second):
            for bit in raster.reshape(-1):
                ctx.set(dut.i.payload, int(bit))
                ctx.set(dut.i.valid, 1)
                while True:
                    taken = ctx.get(dut.i.ready)
                    if ctx.get(dut.o.valid):
                        out.append(ctx.get(dut.o.payload))
                    await ctx.tick()
                    if taken:
                        break
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.flush, 1)
            for cycle in range(20):
                if ctx.get(dut.o.valid):
                    out.append(ctx.get(dut.o.payload))
                await ctx.tick()
                ctx.set(dut.flush, 0)

    sim.add_testbench(bench)
    sim.run()
    assert bytes(out) == encode_live_lfsr(first) + encode_live_lfsr(second)
