"""DhuffEncoder against the golden model ``neurocodec.codecs.dhuff``, word for word.

Two halves in one file (as tb/maestro/test_maestro.py):

* the cocotb tests, which run inside the simulator: one cocotb test per case, the cases listed in
  the JSON file named by ``NEUROCODEC_CASES`` (each case carries the core parameters it was built
  with), or, without it, the embedded default cases for the registry's default parameters;
* the pytest functions, which write the stimuli to ``build/``, run the cocotb tests under Icarus
  and Verilator for several parameter sets, and fail with the first differing word if any case
  fails.

Expected output of T scans (T a multiple of N): the model's ``encode()`` words, less the last
boundary word when the model's last frame is short (the encoder's stream goes on, so that frame is
not complete yet). Every case drives the encoder with seeded random input gaps and output
back-pressure (the seeds are printed), except the full-rate cases, which also check one sample
per clock, and the soak (10^6 samples at full rate, Verilator only).
"""

import os
import time
from pathlib import Path

import numpy as np

import cocotb
from cocotb.clock import Clock
from numba import njit
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from neurocodec.codecs import dhuff
from support.compare import assert_same_words
from support import cases as support_cases
from support.streams import StreamSink, StreamSource

CLOCK_STEPS = 2  # in simulator time steps, so no timescale setting is needed anywhere
CORE_DEFAULTS = {"channels": 32, "sample_bits": 16, "discard_bits": 3, "low_bits": 1,
                 "block": 64, "frame_words": 256, "contexts": 1, "reversion": 0,
                 "dictionary": "intan-d3", "layout": "canonical"}


# ------------------------------------------------------------------------------------------------
# The golden model's side: expected words and where each word comes from.


def model_of(params: dict):
    """(DhuffParams, Dictionary) of the core parameters."""
    p = dhuff.DhuffParams(params["discard_bits"], params["low_bits"], params["block"],
                          params["frame_words"], params["sample_bits"], params["contexts"],
                          params["reversion"])
    return p, dhuff.resolve_dictionary(params["dictionary"])


def expected_words(samples: np.ndarray, params: dict) -> np.ndarray:
    """What the encoder must have sent after the scans ``samples`` (a whole number of blocks)."""
    p, dictionary = model_of(params)
    assert samples.shape[0] % p.block == 0, "a live stream is compared on whole blocks"
    words = np.frombuffer(dhuff.encode(samples, p, dictionary), ">u2").astype(np.int64)
    if words.size % p.frame_words:  # the model's last frame is short: no boundary word yet
        words = words[:-1]
    return words


def word_origin(samples: np.ndarray, params: dict):
    """A function: output word index -> what it holds (frame, block, scan, channel)."""
    p, dictionary = model_of(params)
    t_count, channels = samples.shape
    x = samples.astype(np.int64) >> p.discard_bits
    r, ctx = dhuff._model(x, p.block, p.width, p.contexts, p.reversion)
    h = np.abs(r) >> p.low_bits
    bits = dictionary.lengths.astype(np.int64)[ctx, h] + p.low_bits + (r != 0)
    bits[np.arange(t_count) % p.block == 0] = p.width
    m = p.frame_words

    def where(index: int) -> str:
        frame, slot = divmod(index, m)
        if slot == m - 1:
            return f"boundary word of frame {frame}"
        word = frame * (m - 1) + slot
        start = 0
        for block in range(-(-t_count // p.block)):
            rows = bits[block * p.block:(block + 1) * p.block].reshape(-1)
            size = 1 + -(-int(rows.sum()) // 16)
            if word < start + size:
                if word == start:
                    return f"frame {frame} data word {slot}: index word of block {block}"
                sample = int(np.searchsorted(np.cumsum(rows), 16 * (word - start - 1),
                                             side="right"))
                scan, channel = divmod(sample, channels)
                return (f"frame {frame} data word {slot}: block {block}, scan "
                        f"{block * p.block + scan}, channel {channel}")
            start += size
        return f"frame {frame} data word {slot}: after the last block"

    return where


def packer_of(params: dict):
    """(F, buffer words, room bits) of the encoder built with these parameters."""
    from neurocodec_gateware.dhuff import packer_sizes
    p, dictionary = model_of(params)
    field, _, words = packer_sizes(p, dictionary)
    return field, words, 16 * words - field


def full_rate_cycles(samples: np.ndarray, params: dict) -> int:
    """Clocks from the first sample taken to the last when the input is always valid and the
    output always ready, by the flow-control rule of the class docstring (a cycle model of
    the pipeline, the packer's room and the framer's slots). Equal to the number of samples
    when the encoder never stalls."""
    p, dictionary = model_of(params)
    x = samples.astype(np.int64) >> p.discard_bits
    r, ctx = dhuff._model(x, p.block, p.width, p.contexts, p.reversion)
    grow = dictionary.lengths.astype(np.int64)[ctx, np.abs(r) >> p.low_bits] + p.low_bits + (r != 0)
    grow[np.arange(x.shape[0]) % p.block == 0] = p.width
    grow = grow.reshape(-1)
    # numba pays off only for long inputs (it takes about 2 s to compile)
    run = njit(_full_rate) if grow.size > 100_000 else _full_rate
    return run(grow, samples.shape[1] * p.block, p.frame_words, packer_of(params)[2])


def _full_rate(grow, block_samples, frame_words, room_bits):
    total = grow.size
    valid = np.zeros(5, np.bool_)
    size = np.zeros(5, np.int64)
    start = np.zeros(5, np.bool_)
    end = np.zeros(5, np.bool_)
    ready = np.zeros(6, np.bool_)
    tags = np.zeros(total + 1, np.int64)  # absolute word numbers of block starts
    head = tail = 0
    count, room, front_tag, word_ready, boundary_due = 0, True, False, False, False
    data_words, out_words, sent, cycle, first, last = 0, 0, 0, 0, -1, -1
    while sent < total or valid[1:].any():
        index = not boundary_due and front_tag
        emit = not boundary_due and not front_tag and word_ready
        take = valid[4] and room
        ready[5] = room
        for k in range(4, 0, -1):
            ready[k] = not valid[k] or ready[k + 1]
        # packer
        words, bits = count >> 4, count & 15
        if take:
            if start[4]:
                tags[tail] = out_words + words
                tail += 1
            grown = count + size[4]
            words, bits = grown >> 4, grown & 15
            if end[4]:
                words, bits = (grown + 15) >> 4, 0
        words -= emit
        count = 16 * words + bits
        room, word_ready = count <= room_bits, words != 0
        if index:
            head += 1
        out_words += emit
        front_tag = head < tail and tags[head] == out_words
        # framer
        if boundary_due:
            data_words, boundary_due = 0, False
        elif index or emit:
            boundary_due = data_words == frame_words - 2
            data_words += 1
        # stages
        for k in range(4, 1, -1):
            if ready[k]:
                valid[k], size[k], start[k], end[k] = valid[k - 1], size[k - 1], start[k - 1], \
                    end[k - 1]
        if ready[1]:
            valid[1] = sent < total
            if valid[1]:
                size[1] = grow[sent]
                start[1] = sent % block_samples == 0
                end[1] = sent % block_samples == block_samples - 1
                first = cycle if first < 0 else first
                last = cycle
                sent += 1
        cycle += 1
    return last - first + 1


# ------------------------------------------------------------------------------------------------
# cocotb side


async def _start(dut):
    cocotb.start_soon(Clock(dut.clk, CLOCK_STEPS, unit="step", impl="gpi").start())
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def _reset(dut):
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def check_case(dut, case):
    samples = case["samples"] if "samples" in case else np.load(case["stimulus"])
    params = case["params"]
    mask = (1 << params["sample_bits"]) - 1
    if case.get("soak"):
        return await check_soak(dut, samples, params, mask)
    seed, idle, ready = case["seed"], case["idle"], case["ready"]
    dut._log.info(f"case {case['name']}: {samples.shape[0]} scans x {samples.shape[1]} channels, "
                  f"seed {seed}, idle {idle}, ready {ready}")
    await _start(dut)
    source = StreamSource(dut, "i", dut.clk, idle=idle, seed=seed)
    sink = StreamSink(dut, "o", dut.clk, ready=ready, seed=seed + 1, reset=dut.rst)

    reset_at = case.get("reset_at")
    if reset_at:
        # First part: the words sent before the reset must be a prefix of the model's words
        # (a reset mid-block or mid-frame discards the rest); then the encoder starts afresh.
        first, samples = samples[:reset_at], samples[reset_at:]
        for value in first.reshape(-1):
            source.append(int(value) & mask)
        await _until(dut, lambda: source.accepted == first.size, first.size * 8 + 200, "input")
        await ClockCycles(dut.clk, 200)
        before = list(sink.received)
        p, dictionary = model_of(params)
        model_first = np.frombuffer(dhuff.encode(first, p, dictionary), ">u2").astype(int)
        assert len(before) <= model_first.size
        assert_same_words(list(model_first[:len(before)]), before,
                          where=word_origin(first, params))
        dut._log.info(f"reset after {first.shape[0]} scans, {len(before)} words")
        await _reset(dut)
        sink.received.clear()
        source.accepted = 0
        source.first_transfer = source.last_transfer = None

    expected = expected_words(samples, params)
    first_word = cocotb.start_soon(_first_valid(dut)) if case.get("full_rate") else None
    for value in samples.reshape(-1):
        source.append(int(value) & mask)
    limit = int(2 * expected.size / ready + samples.size / (1 - idle)) * 3 + 500
    await _until(dut, lambda: len(sink.received) >= expected.size, limit, "output")
    await ClockCycles(dut.clk, 50)  # nothing more may come out
    assert_same_words(list(expected), list(sink.received), where=word_origin(samples, params))
    assert source.accepted == samples.size
    cycles = (source.last_transfer - source.first_transfer) / CLOCK_STEPS + 1
    dut._log.info(f"{samples.size} samples in {cycles:g} cycles, {expected.size} words")
    if case.get("full_rate"):
        # the first word (block 0's index word) is on o 5 clock edges after the first sample
        # is taken (first_transfer is the falling edge after that rising edge)
        latency = (await first_word - source.first_transfer + 1) / CLOCK_STEPS
        assert latency == LATENCY, f"the first word came {latency:g} clocks after the first sample"
        predicted = full_rate_cycles(samples, params)
        dut._log.info(f"full rate: {cycles - samples.size:g} stall clocks, the rule says "
                      f"{predicted - samples.size}; first word {latency:g} clocks after the "
                      "first sample")
        assert cycles == predicted, (f"{samples.size} samples took {cycles:g} cycles at full "
                                     f"rate; the flow-control rule says {predicted}")
        if case.get("one_per_clock"):
            assert cycles == samples.size, (
                f"{samples.size} samples took {cycles:g} cycles at full rate, not one per clock")


LATENCY = 5  # clocks from a sample taken to a word it completes on o (class docstring)


async def _first_valid(dut):
    await RisingEdge(dut.o__valid)
    return get_sim_time("step")


async def _until(dut, done, limit, what):
    waited = 0
    while not done():
        assert waited < limit, f"timeout: the {what} did not finish in {limit} cycles"
        await ClockCycles(dut.clk, 16)
        waited += 16


async def check_soak(dut, samples, params, mask):
    """A lean full-rate loop (valid and ready always high), one wake-up per clock, at the
    falling edge: what the registers show then is what the next rising edge takes (o.valid and
    o.payload are registers; i.ready depends on registers only). Checks every word and the
    clock count the flow-control rule predicts."""
    expected = expected_words(samples, params)
    flat = [int(v) & mask for v in samples.reshape(-1)]
    total = len(flat)
    dut._log.info(f"soak: {samples.shape[0]} scans x {samples.shape[1]} channels, "
                  f"{total} samples, {expected.size} words expected")
    await _start(dut)
    falling = FallingEdge(dut.clk)
    await falling  # reset has been low for a clock: i.ready shows the encoder's state
    i_valid, i_payload, i_ready = dut.i__valid, dut.i__payload, dut.i__ready
    o_valid, o_payload = dut.o__valid, dut.o__payload
    dut.o__ready.value = 1
    i_payload.value = flat[0]
    i_valid.value = 1
    received, sent, cycles, input_cycles = [], 0, 0, 0
    first = None
    started = time.monotonic()
    limit = 4 * total + 1000
    while len(received) < expected.size and cycles < limit:
        # i.ready depends on registers only, so it says now whether the next rising edge
        # takes the sample on i
        taken = sent < total and bool(i_ready.value)
        if taken and first is None:
            first = cycles
        await falling
        cycles += 1
        if taken:
            sent += 1
            if sent == total:
                i_valid.value = 0
                input_cycles = cycles - first
            else:
                i_payload.value = flat[sent]
        if o_valid.value:  # o.ready is high: this word goes at the next rising edge
            received.append(int(o_payload.value))
    wall = time.monotonic() - started
    assert cycles < limit, "soak: timeout"
    dut._log.info(f"soak: {total} samples in {input_cycles} cycles, {len(received)} words, "
                  f"{wall:.1f} s wall ({cycles / wall:,.0f} cycles/s)")
    assert_same_words(list(expected), received, where=word_origin(samples, params))
    predicted = full_rate_cycles(samples, params)
    dut._log.info(f"soak: {input_cycles - total} stall cycles; the flow-control rule says "
                  f"{predicted - total}")
    assert input_cycles == predicted, (f"soak: {total} samples took {input_cycles} cycles; the "
                                       f"flow-control rule says {predicted}")


# ------------------------------------------------------------------------------------------------
# pytest side: stimuli and runs

HERE = Path(__file__).resolve().parent


def variant(**changes) -> dict:
    return CORE_DEFAULTS | changes


# Parameter sets, each built and run on Icarus and on Verilator (a Verilator build takes most of
# a set's time, so there are few sets and each covers several things). Together: C in
# {1, 4, 32, 1024}, B in {10, 16}, D in {0, 3}, L in {0, 1, 4}, both ROM layouts, N in
# {2, 16, 64}, M in {8, 64, 256, 512}, K = 9 with R = 2 (the n1 dictionary, both layouts).
PARAMETER_SETS = {
    "c32_canonical": variant(),  # the registry's defaults: intan-d3, D = 3, L = 1
    "c4_n1_canonical": variant(channels=4, sample_bits=10, discard_bits=0, low_bits=0,
                               contexts=9, reversion=2, dictionary="n1", frame_words=64),
    "c1_n1_table": variant(channels=1, sample_bits=10, discard_bits=0, low_bits=0, contexts=9,
                           reversion=2, dictionary="n1", layout="table", block=16,
                           frame_words=8),
    "c1024_l4_table": variant(channels=1024, low_bits=4, block=2, frame_words=512,
                              dictionary="intan-d3-table", layout="table"),
}


def fit_bits(samples: np.ndarray, bits: int) -> np.ndarray:
    """A recording reduced to ``bits``-bit samples with the fewest dropped low bits."""
    from neurocodec.codecs import fitting_shift, reduce_samples
    return reduce_samples(samples, fitting_shift(samples, bits)).astype(np.int64)


def whole_blocks(samples: np.ndarray, block: int) -> np.ndarray:
    """Pad with copies of the last scan up to a whole number of blocks."""
    extra = -samples.shape[0] % block
    return np.concatenate([samples, np.repeat(samples[-1:], extra, axis=0)]) if extra else samples


def every_symbol(params: dict, seed: int = 0) -> np.ndarray:
    """A walk per channel that codes every residual magnitude once (h << L | some low bits,
    for every symbol h), the largest first, up and down in turn: each sample is the model's
    prediction plus or minus the next magnitude (whichever stays in range; when neither does,
    the walk steps to the lowest value first). Channel c takes the magnitudes c, c + C, ...
    A walk holds still at each block's raw first scan."""
    p, _ = model_of(params)
    channels, n, width, reversion = params["channels"], p.block, p.width, p.reversion
    rng = np.random.default_rng(seed)
    symbols = np.arange(p.n_symbols)
    magnitudes = (symbols << p.low_bits) | rng.integers(0, 1 << p.low_bits, symbols.size)
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    columns = []
    for c in range(channels):
        mine = sorted((int(v) for v in magnitudes[c::channels]), reverse=True)
        walk, x, prev, mean, activity, up, t = [], low, 0, 0, 0, True, 0
        while mine:
            if t % n == 0:  # raw: the walk holds still
                prev, mean, activity = dhuff._start(x)
            else:
                guess = int(dhuff._predict(prev, mean, reversion, low, high))
                m = mine[0]
                choices = [guess + m, guess - m] if up else [guess - m, guess + m]
                inside = [v for v in choices if low <= v <= high]
                if inside:
                    x = inside[0]
                    mine.pop(0)
                    up = not up
                else:
                    x = low
                prev, mean, activity = dhuff._advance(x, mean, activity, x - guess)
            walk.append(x)
            t += 1
        columns.append(walk)
    scans = max(len(w) for w in columns)
    x = np.full((scans, channels), low, np.int64)
    for c, walk in enumerate(columns):
        x[:len(walk), c] = walk
        x[len(walk):, c] = walk[-1] if walk else low
    samples = (x << p.discard_bits) | rng.integers(0, 1 << p.discard_bits, x.shape)
    return whole_blocks(samples, n)


def edge_cases(params: dict) -> dict[str, np.ndarray]:
    """Hand-made inputs that reach the corners of the format and of the encoder."""
    p, dictionary = model_of(params)
    channels, n = params["channels"], p.block
    lo, hi = -(1 << (p.sample_bits - 1)), (1 << (p.sample_bits - 1)) - 1
    scans = max(n, -(-2048 // channels) // n * n)  # about 2048 samples, whole blocks
    t = np.arange(scans)[:, None]
    ch = np.arange(channels)[None, :]
    cases = {"every_symbol": every_symbol(params)}
    # |r| = 2^W - 1 at every coded sample: the last symbol, the longest code of intan-d3.
    cases["alternating_extremes"] = np.where((t + ch) % 2, hi, lo)
    steps = np.where((t // (ch % 5 + 2)) % 2, hi, lo)
    steps[::7] = 0
    cases["full_scale_steps"] = steps
    cases["constant_zero"] = np.zeros((scans, channels), np.int64)
    cases["constant_full_scale"] = np.full((scans, channels), hi, np.int64)
    cases["constant_lowest"] = np.full((scans, channels), lo, np.int64)
    cases["uniform_random"] = np.random.default_rng(channels).integers(lo, hi + 1,
                                                                      (scans, channels))
    # Long codes back to back: a symbol of the longest code word (of table 0 when it has one),
    # as +m, -m, ...
    longest = int(np.argwhere(dictionary.lengths == dictionary.max_length)[0, 1])
    m = (longest << p.low_bits) | ((1 << p.low_bits) - 1)
    base = -(1 << (p.width - 1))
    walk = np.where((t + ch) % 2, base + m, base)
    cases["longest_code_burst"] = walk << p.discard_bits
    return {name: whole_blocks(np.asarray(s, np.int64), n) for name, s in cases.items()}


def synthetic_case(params: dict, scans: int | None = None, seed: int = 1) -> np.ndarray:
    from neurocodec import synthetic_recording
    channels, n = params["channels"], params["block"]
    if scans is None:
        scans = max(2 * n, -(-(-(-3000 // channels)) // n) * n)  # about 3000 samples
    rec = synthetic_recording(channels=channels, duration=scans / 30000 + 1e-4, seed=seed)
    return fit_bits(rec.samples[:scans], params["sample_bits"])


def n1_codes(data: Path, files: int, scans: int) -> np.ndarray:
    """N1 recordings as their centred 10-bit ADC codes (the code grid), files as channels."""
    from neurocodec import read_recording
    from neurocodec.codecs import recording_grid
    from neurocodec.recording import CodeGrid
    columns = []
    for path in sorted((data / "n1").glob("*.wav"))[:files]:
        rec = read_recording(path)
        levels = recording_grid(rec)
        assert levels == 1024, f"{path.name}: no 10-bit code grid"
        codes = CodeGrid(levels).to_codes(rec.samples[:scans]).astype(np.int64) - levels // 2
        columns.append(codes[:, 0])
    return np.stack(columns, axis=1)


def real_cases(name: str, data: Path) -> dict[str, np.ndarray]:
    """Real recordings for a parameter set, a few thousand samples each, whole blocks."""
    from neurocodec import read_recording
    params = PARAMETER_SETS[name]
    n = params["block"]
    cases = {}
    if name == "c32_canonical":
        oe = read_recording(data / "openephys-32ch").samples.astype(np.int64)
        cases["openephys_32ch_start"] = oe[:128]
        cases["openephys_32ch_later"] = oe[20000:20128]
    elif name == "c4_n1_canonical":
        cases["n1_4_files_interleaved"] = n1_codes(data, 4, 768)
    elif name == "c1_n1_table":
        cases["n1_one_file"] = n1_codes(data, 1, 3000)[:, :1]
    elif name == "c1024_l4_table":
        # the 32 channels of the Open Ephys recording, 32 stretches of it side by side
        oe = read_recording(data / "openephys-32ch").samples.astype(np.int64)
        cases["openephys_32_stretches_as_1024ch"] = np.concatenate(
            [oe[1000 * k:1000 * k + 8] for k in range(32)], axis=1)
    return {k: v[: v.shape[0] // n * n] for k, v in cases.items()}


def make_cases(stimuli: dict[str, np.ndarray], params: dict, seed: int) -> list[dict]:
    """One case per stimulus, with random input gaps (30%) and output back-pressure (40%)."""
    return [{"name": name, "samples": samples, "params": params, "seed": seed + index,
             "idle": 0.3, "ready": 0.6}
            for index, (name, samples) in enumerate(stimuli.items())]


def default_cases(params: dict, seed: int) -> list[dict]:
    """The synthetic input and the edge cases, plus a full-rate run and a reset mid-block."""
    synthetic = synthetic_case(params)
    cases = make_cases({"synthetic": synthetic, **edge_cases(params)}, params, seed)
    cases.append({"name": "synthetic_full_rate", "samples": synthetic, "params": params,
                  "seed": seed, "idle": 0.0, "ready": 1.0, "full_rate": True,
                  "one_per_clock": params == PARAMETER_SETS["c32_canonical"]})
    n = params["block"]
    reset_at = n + n // 2 if n > 1 else 3  # in the middle of block 1
    cases.append({"name": "restart_after_reset",
                  "samples": np.concatenate([synthetic[:reset_at], synthetic[:2 * n]]),
                  "params": params, "seed": seed, "idle": 0.3, "ready": 0.6,
                  "reset_at": reset_at})
    return cases


def write_cases(folder: Path, cases: list[dict]) -> Path:
    return support_cases.write_cases(folder, cases, dtype=np.int64)


def run_cases(simulator: str, params: dict, listing: Path, results_name: str):
    from support.runner import run_cases
    return run_cases("dhuff", simulator, HERE, params, listing, results_name)


def sim_cases(recording=None, max_scans: int = 10000):
    """`make sim`: the input (default: the synthetic recording) with random gaps and back-pressure
    and at full rate, plus the edge cases, on the registry's default parameters (C = the input's
    channels, at most 1024). Returns (core parameters, cases, description)."""
    from neurocodec import synthetic_recording
    if recording is None:
        recording = synthetic_recording(channels=32, duration=0.05, seed=0)
        description = "synthetic recording: 32 ch, 30 kS/s, 0.05 s, seed 0"
    else:
        description = f"{recording.metadata.get('source', 'input')}"
    params = variant(channels=min(recording.channels, 1024))
    n = params["block"]
    raw = recording.samples[:max_scans, :params["channels"]]
    samples = fit_bits(raw, params["sample_bits"])
    samples = samples[: max(n, samples.shape[0] // n * n)]
    samples = whole_blocks(samples, n)
    description += (f" -> {samples.shape[1]} ch x {samples.shape[0]} scans, D=3, intan-d3 "
                    "canonical")
    cases = make_cases({"input": samples, **edge_cases(params)}, params, seed=SIM_SEED)
    # at full rate the clock count must be the flow-control rule's (a rare stall is allowed)
    cases.append({"name": "input_full_rate", "samples": samples, "params": params,
                  "seed": SIM_SEED, "idle": 0.0, "ready": 1.0, "full_rate": True})
    return params, cases, description


SIM_SEED = 7
if "COCOTB_TEST_MODULES" in os.environ:  # inside the simulator
    support_cases.register_cases(globals(), check_case,
                                 lambda: default_cases(CORE_DEFAULTS, seed=3016))

try:
    import pytest
except ImportError:  # inside the simulator only the cocotb half is used
    pytest = None

if pytest is not None:
    from support.runner import BUILD, SIMULATORS

    BUILDS = [pytest.param(simulator, name, id=f"{simulator}-{name}")
              for simulator in SIMULATORS for name in PARAMETER_SETS]

    @pytest.mark.sim
    @pytest.mark.parametrize("simulator, name", BUILDS)
    def test_rtl_matches_model_on_synthetic_and_edge_cases(simulator, name):
        params = PARAMETER_SETS[name]
        seed = 3000 + list(PARAMETER_SETS).index(name) * 100
        print(f"parameters {params}, seed {seed}")
        cases = default_cases(params, seed)
        listing = write_cases(BUILD / "stimuli" / f"dhuff-{name}-{simulator}", cases)
        results = run_cases(simulator, params, listing, "results-edges.xml")
        assert len(results) == len(cases)

    @pytest.mark.sim
    @pytest.mark.realdata
    @pytest.mark.parametrize("simulator, name", BUILDS)
    def test_rtl_matches_model_on_real_recordings(simulator, name, shared_data):
        params = PARAMETER_SETS[name]
        seed = 4000 + list(PARAMETER_SETS).index(name) * 100
        print(f"parameters {params}, seed {seed}")
        stimuli = real_cases(name, shared_data)
        cases = make_cases(stimuli, params, seed)
        first = next(iter(stimuli.values()))  # and at full rate: the clock count is checked
        cases.append({"name": "real_full_rate", "samples": first, "params": params, "seed": seed,
                      "idle": 0.0, "ready": 1.0, "full_rate": True,
                      "one_per_clock": name == "c32_canonical"})
        listing = write_cases(BUILD / "stimuli" / f"dhuff-real-{name}-{simulator}", cases)
        results = run_cases(simulator, params, listing, "results-real.xml")
        assert len(results) == len(cases) > 0

    @pytest.mark.parametrize("name", PARAMETER_SETS)
    def test_every_symbol_stimulus_codes_every_symbol(name):
        params = PARAMETER_SETS[name]
        p, _ = model_of(params)
        x = every_symbol(params) >> p.discard_bits
        r, _ = dhuff._model(x, p.block, p.width, p.contexts, p.reversion)
        coded = np.arange(x.shape[0]) % p.block != 0
        assert np.array_equal(np.unique(np.abs(r[coded]) >> p.low_bits), np.arange(p.n_symbols))

    def test_full_rate_model_counts_the_stalls_it_should():
        # one sample per clock on the default input; the boundary and index words of tiny
        # frames and blocks (M = 8, N = 16, C = 1) cost clocks; a constant input never stalls
        params = PARAMETER_SETS["c32_canonical"]
        synthetic = synthetic_case(params)
        assert full_rate_cycles(synthetic, params) == synthetic.size
        tiny = PARAMETER_SETS["c1_n1_table"]
        samples = synthetic_case(tiny)
        assert full_rate_cycles(samples, tiny) > samples.size
        zeros = np.zeros((64, 32), np.int64)
        assert full_rate_cycles(zeros, params) == zeros.size
        # 2 scans of full-scale steps: every field is long, the packer runs out of room
        steps = edge_cases(params)["alternating_extremes"]
        assert full_rate_cycles(steps, params) > steps.size

    @pytest.mark.sim
    def test_soak_a_million_samples_at_full_rate_on_verilator():
        params = PARAMETER_SETS["c32_canonical"]
        scans = 32768  # 1,048,576 samples, 512 blocks
        print(f"parameters {params}, synthetic recording seed 11, {scans} scans")
        case = {"name": "soak", "samples": synthetic_case(params, scans, seed=11),
                "params": params, "soak": True}
        listing = write_cases(BUILD / "stimuli" / "dhuff-soak", [case])
        start = time.monotonic()
        results = run_cases("verilator", params, listing, "results-soak.xml")
        print(f"soak wall time {time.monotonic() - start:.1f} s (case {results[0].wall_s:.1f} s)")
        assert len(results) == 1
