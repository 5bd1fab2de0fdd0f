"""LfsrSpikeEncoder against the golden model ``neurocodec.spikes.live``, byte for byte.

Two halves in one file (as tb/maestro/test_maestro.py):

* the cocotb tests, which run inside the simulator: one cocotb test per case, the cases listed in
  the JSON file named by ``NEUROCODEC_CASES``, or, without it, the embedded default cases for
  ``NEUROCODEC_CHANNELS`` channels (default 64) and the core's default alpha_q8 and seed;
* the pytest functions, which write the stimuli to ``build/``, run the cocotb tests under Icarus
  and Verilator, and fail with the first differing byte (and the bin (t, n) its word codes).

A case is a raster fed in scan order as one or more captures, each ended by a ``flush`` pulse
(or by a reset): the bytes out must be ``encode_live_lfsr`` of each capture, and
``decode_live_lfsr`` of each flushed capture's bytes must give the capture back. Every case drives
the encoder with seeded random input gaps and output back-pressure (the seeds are printed),
except the full-rate cases, which also check one bin per clock on surprises spaced as the core's
documented rule allows.
"""

import json
import os
import random
from pathlib import Path

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer

from neurocodec.spikes.live import decode_live_lfsr, encode_live_lfsr, live_words
from neurocodec.spikes.predictive import run_predictor
from support.compare import assert_same_words
from support import cases as support_cases

CLOCK_STEPS = 2  # in simulator time steps, so no timescale setting is needed anywhere
DEFAULTS = {"alpha_q8": 32, "seed": 0xACE1}  # the registry's defaults (checked by the unit tests)


# ------------------------------------------------------------------------------------------------
# cocotb side


class Streams:
    """Drives the ``i`` stream with queued bins and ``o.ready``, and receives ``o``, in one
    coroutine woken once per clock (at the falling edge), so that a bin costs a few
    microseconds (the 1-bit bins are many; ``support.streams`` spends a coroutine per item).

    At each falling edge it reads the handshake signals the next rising edge will use, then
    writes the inputs. That is exact for this core without waiting for the ReadOnly phase:
    ``i.ready`` depends on registers only (and on ``rst``), ``o.valid`` and ``o.payload`` are
    registers, so nothing it writes changes what it read. (A core where ``i.ready`` followed
    ``i.valid`` or ``o.ready`` combinationally would show up as a mismatch.)

    ``idle`` is the probability of an idle cycle (``i.valid`` low) before each bin, ``ready`` the
    probability of ``o.ready`` high on each cycle, both drawn from ``random.Random(seed)`` (and
    ``seed + 1``). ``accepted`` counts bins taken; ``first_transfer`` and ``last_transfer`` are
    the cycle numbers of the first and last; ``received`` lists the bytes out (none while
    ``in_reset``)."""

    def __init__(self, dut, *, idle=0.0, ready=1.0, seed=0):
        self.dut = dut
        self.idle, self.ready = idle, ready
        self.rng_in, self.rng_out = random.Random(seed), random.Random(seed + 1)
        self.queue = []
        self.accepted = 0
        self.received = []
        self.first_transfer = self.last_transfer = None
        self.in_reset = False
        dut.i__valid.value = 0
        dut.i__payload.value = 0
        dut.o__ready.value = 0
        cocotb.start_soon(self._run())

    def append(self, bits):
        self.queue.extend(int(b) for b in bits)

    async def _run(self):
        dut = self.dut
        i_valid, i_payload, i_ready = dut.i__valid, dut.i__payload, dut.i__ready
        o_valid, o_payload, o_ready = dut.o__valid, dut.o__payload, dut.o__ready
        falling = FallingEdge(dut.clk)
        queue, rng_in, rng_out = self.queue, self.rng_in, self.rng_out
        idle, ready_p = self.idle, self.ready
        offering = valid = ready = False
        payload, cycle = 0, 0
        while True:
            await falling
            cycle += 1
            if not offering and self.accepted < len(queue):
                if not (idle and rng_in.random() < idle):
                    offering = True
                    if queue[self.accepted] != payload:
                        payload = queue[self.accepted]
                        i_payload.value = payload
            if offering != valid:
                valid = offering
                i_valid.value = int(valid)
            now_ready = ready_p >= 1.0 or rng_out.random() < ready_p
            if now_ready != ready:  # writes are the costly part of a cocotb cycle
                ready = now_ready
                o_ready.value = int(ready)
            # The handshakes of the coming rising edge.
            if offering and i_ready.value:
                offering = False
                self.accepted += 1
                if self.first_transfer is None:
                    self.first_transfer = cycle
                self.last_transfer = cycle
            if ready and o_valid.value and not self.in_reset:
                self.received.append(int(o_payload.value))


def capture_plan(case, t_count):
    """[(start, stop, end)]: timesteps start..stop-1 form a capture ended by "flush" or "reset"."""
    return [tuple(c) for c in case.get("captures", [(0, t_count, "flush")])]


def expected_bytes(part, alpha, lfsr_seed, end):
    """The bytes the core sends for one capture: all of them after a flush, only the whole
    bytes when a reset ends it (the last partial byte is lost)."""
    data = encode_live_lfsr(part, alpha, lfsr_seed)
    if end == "reset":
        words = live_words(part, alpha, lfsr_seed)
        return data[:words.words.size * words.width // 8]
    return data


async def check_case(dut, case):
    raster = np.asarray(case["raster"] if "raster" in case else np.load(case["stimulus"]),
                        np.uint8)
    t_count, channels = raster.shape
    alpha, lfsr_seed = case["alpha_q8"], case["lfsr_seed"]
    seed, idle, ready = case["seed"], case["idle"], case["ready"]
    plan = capture_plan(case, t_count)
    dut._log.info(f"case {case['name']}: {t_count} timesteps x {channels} channels, "
                  f"{int(raster.sum())} spikes, alpha_q8 {alpha}, LFSR seed 0x{lfsr_seed:04X}, "
                  f"seed {seed}, idle {idle}, ready {ready}, captures {plan}")

    cocotb.start_soon(Clock(dut.clk, CLOCK_STEPS, unit="step", impl="gpi").start())
    dut.rst.value = 1
    dut.flush.value = 0
    streams = Streams(dut, idle=idle, ready=ready, seed=seed)
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    expected, parts, sent = b"", [], 0
    for start, stop, end in plan:
        part = raster[start:stop]
        data = expected_bytes(part, alpha, lfsr_seed, end)
        parts.append((start, stop, end, len(expected), data))
        expected += data
        sent += part.size
        streams.append(part.reshape(-1))
        limit = int(part.size / (1 - idle) * 2 + len(data) / ready * 4) + 400
        await _wait(dut, lambda: streams.accepted >= sent, limit,
                    lambda: f"{streams.accepted} of {sent} bins taken")
        if end == "flush":
            await FallingEdge(dut.clk)
            dut.flush.value = 1
            await FallingEdge(dut.clk)
            dut.flush.value = 0
        await _wait(dut, lambda: len(streams.received) >= len(expected), limit,
                    lambda: f"{len(streams.received)} of {len(expected)} bytes out")
        if end == "reset":  # nothing more may come out of this capture; then start afresh
            await ClockCycles(dut.clk, 20)
            await FallingEdge(dut.clk)
            dut.rst.value = 1
            streams.in_reset = True
            await ClockCycles(dut.clk, 2)
            await FallingEdge(dut.clk)
            dut.rst.value = 0
            streams.in_reset = False
    await ClockCycles(dut.clk, 40)  # any extra byte would arrive by now

    received = bytes(streams.received)
    assert_same_words(list(expected), list(received), unit="byte", width=2,
                      where=lambda i: _bin_at(i, parts, raster, alpha, lfsr_seed))
    for start, stop, end, offset, data in parts:
        if end == "flush":
            back = decode_live_lfsr(received[offset:offset + len(data)], stop - start, channels,
                                    alpha, lfsr_seed)
            assert np.array_equal(back, raster[start:stop]), (
                f"decode_live_lfsr of the RTL bytes of timesteps {start}..{stop - 1} differs from "
                f"the input at (t, n) = {tuple(np.argwhere(back != raster[start:stop])[0])}")
    if case.get("full_rate"):
        cycles = streams.last_transfer - streams.first_transfer + 1
        assert cycles == raster.size, (
            f"{raster.size} bins took {cycles} cycles at full rate, not one per clock")


async def _wait(dut, done, limit, status):
    waited = 0
    while not done():
        assert waited < limit, f"timeout after {limit} cycles: {status()}"
        await Timer(16 * CLOCK_STEPS, "step")  # one callback, not one per clock
        waited += 16


def _bin_at(index, parts, raster, alpha, lfsr_seed):
    for start, stop, end, offset, data in parts:
        if offset <= index < offset + len(data):
            t, n = live_words(raster[start:stop], alpha, lfsr_seed).bin_of_byte(index - offset)
            return (f"byte {index - offset} of the capture of timesteps {start}..{stop - 1}, "
                    f"in the word of bin (t, n) = ({start + t}, {n})")
    return "past the last capture's bytes"


# ------------------------------------------------------------------------------------------------
# pytest side: stimuli and runs

HERE = Path(__file__).resolve().parent
# Core parameters of the simulator builds (a Verilator build takes ~20-30 s, so three): N = 1
# (the rate in a register), N = 2 (the transparent read port; another alpha_q8 and seed),
# N = 1024 (the largest; the memory path every N >= 3 takes).
CONFIGS = {
    "n1": {"channels": 1, **DEFAULTS},
    "n2": {"channels": 2, "alpha_q8": 85, "seed": 0x1234},
    "n1024": {"channels": 1024, **DEFAULTS},
}


def word_bits(channels: int) -> int:
    return 16 + max(1, channels.bit_length())


def spaced_raster(channels, t_count, params, spacing, seed):
    """A raster whose surprises (residual ones) lie at least ``spacing`` bins apart in scan order,
    at seeded random distances spacing..spacing+12: the input the core takes at one bin per
    clock when spacing >= ceil(W/8). Made by running the predictor backwards on the residual."""
    rng = np.random.default_rng(seed)
    total = t_count * channels
    positions = np.cumsum(rng.integers(spacing, spacing + 13, total // spacing + 1))
    residual = np.zeros(total, np.uint8)
    residual[positions[positions < total]] = 1
    return run_predictor("lfsr", (params["alpha_q8"], params["seed"]),
                         residual.reshape(t_count, channels), decode=True).astype(np.uint8)


def random_raster(t_count, channels, seed, high=0.1):
    """Seeded Bernoulli raster, each channel with its own density in 0..high."""
    rng = np.random.default_rng(seed)
    return (rng.random((t_count, channels)) < rng.uniform(0, high, channels)).astype(np.uint8)


def edge_cases(params: dict, seed: int) -> dict[str, dict]:
    """Hand-made inputs for one build: name -> case fields (raster, captures, gaps...)."""
    from neurocodec.spikes import synthetic_raster
    n = params["channels"]
    spacing = -(-word_bits(n) // 8)
    cases = {}
    if n == 1:
        # Surprises (residual ones) 65535 timesteps after time 0 (the largest delta without an
        # escape), 65536 after that one (an escape word with d = 1, then d = 0) and 1 after;
        # then random surprises, whose guesses depend on the LFSR's states after two periods
        # (65535 steps each): any earlier divergence of the LFSR would show there.
        residual = np.zeros((131073 + 6000, 1), np.uint8)
        residual[[65535, 131071, 131072], 0] = 1
        residual[131073:, 0] = np.random.default_rng(seed).random(6000) < 0.05
        cases["lfsr_full_period_and_escapes"] = {
            "raster": run_predictor("lfsr", (params["alpha_q8"], params["seed"]), residual,
                                    decode=True).astype(np.uint8),
            "idle": 0.1, "ready": 0.5}
        cases["short_captures"] = {"raster": random_raster(64, 1, seed + 1, 0.5),
                                   "captures": [(0, 1, "flush"), (1, 1, "flush"),
                                                (1, 7, "flush"), (7, 64, "flush")]}
    elif n == 1024:
        cases["random_short"] = {"raster": random_raster(16, n, seed)}
        cases["synthetic_bursty"] = {"raster": synthetic_raster(n, duration=0.001, seed=seed,
                                                                rate_low=20, rate_high=200,
                                                                sync_rate=1000).astype(np.uint8)}
        cases["silent_saturated_and_reset"] = {
            "raster": np.concatenate([np.zeros((3, n), np.uint8), np.ones((5, n), np.uint8),
                                      random_raster(4, n, seed + 2, 0.3)]),
            "captures": [(0, 3, "flush"), (3, 8, "reset"), (8, 12, "flush")]}
    else:
        t_count = 2000 if n <= 2 else 300
        cases["synthetic_bursty"] = {"raster": synthetic_raster(
            n, duration=t_count / 20000, seed=seed, rate_low=20, rate_high=200,
            sync_rate=50).astype(np.uint8)}
        cases["random"] = {"raster": random_raster(t_count, n, seed, 0.3)}
        cases["silent"] = {"raster": np.zeros((t_count // 2, n), np.uint8)}
        cases["saturated"] = {"raster": np.ones((t_count // 2, n), np.uint8)}
        # Two captures, then a reset ending a third one early (its last partial byte is lost),
        # then a fourth capture: each starts afresh (LFSR, rates, time).
        r = random_raster(t_count, n, seed + 2, 0.3)
        q = t_count // 4
        cases["captures_and_reset"] = {"raster": r, "captures": [
            (0, q, "flush"), (q, 2 * q, "flush"), (2 * q, 3 * q, "reset"),
            (3 * q, t_count, "flush")]}
    cases["spaced_full_rate"] = {
        "raster": spaced_raster(n, max(8, 10000 // n), params, spacing, seed + 3),
        "idle": 0.0, "ready": 1.0, "full_rate": True}
    return cases


def make_cases(stimuli: dict[str, dict], params: dict, seed: int) -> list[dict]:
    """One case per stimulus, with random input gaps (30%) and output back-pressure (40%)
    unless the stimulus says otherwise."""
    return [{"name": name, "seed": seed + index, "idle": 0.3, "ready": 0.6,
             "alpha_q8": params["alpha_q8"], "lfsr_seed": params["seed"], **fields}
            for index, (name, fields) in enumerate(stimuli.items())]


def default_cases(params: dict, seed: int) -> list[dict]:
    """The edge cases of a build."""
    return make_cases(edge_cases(params, seed), params, seed)


def real_cases(config: str, data: Path) -> dict[str, dict]:
    """Rasters detected (threshold 3.5 sigma, 1 ms refractory) from the real recordings: an N1
    implant channel for N = 1, two channels of the locust tetrode for N = 2."""
    from neurocodec import read_recording
    from neurocodec.spikes import detect

    def raster_of(samples, rate):
        return detect(samples, threshold=3.5, refractory=max(1, round(rate / 1000))).astype(
            np.uint8)

    if config == "n1":
        f = sorted((data / "n1").glob("*.wav"))[0]
        rec = read_recording(f)
        return {f"n1_{f.stem[:8]}": {"raster": raster_of(rec.samples[:40000], rec.rate)}}
    if config == "n2":
        info = json.loads((data / "locust-4ch" / "info.json").read_text())
        rec = read_recording(data / "locust-4ch" / "locust_trial_01.raw", channels=4,
                             rate=info["sample_rate"])
        return {"locust_ch0_1": {"raster": raster_of(rec.samples[:20000, :2], rec.rate)}}
    return {}


def write_cases(folder: Path, cases: list[dict]) -> Path:
    return support_cases.write_cases(folder, cases, key="raster", drop=("samples",))


def run_cases(simulator: str, params: dict, listing: Path, results_name: str):
    from support.runner import run_cases
    return run_cases("lfsr", simulator, HERE, params, listing, results_name,
                     f"N={params['channels']} ")


def sim_cases(recording=None, max_scans: int = 10000):
    """`make sim`: spikes of the input (default: the seeded synthetic bursty raster, 64 channels;
    a recording's first ``max_scans`` scans, its first 1024 channels, at most MAX_SIM_BINS bins)
    with random gaps and back-pressure and at full speed, surprises spaced for one bin per clock
    (checked), and silent and saturated inputs. Returns (core parameters, cases, description)."""
    from neurocodec.spikes import detect, synthetic_raster
    if recording is None:
        raster = synthetic_raster(64, duration=0.05, seed=0, rate_low=20, rate_high=200,
                                  sync_rate=50).astype(np.uint8)
        description = "synthetic bursty raster: 64 ch, 20 kHz, 0.05 s, seed 0"
    else:
        samples = recording.samples[:max_scans, :1024]
        raster = detect(samples, threshold=3.5,
                        refractory=max(1, round(recording.rate / 1000))).astype(np.uint8)
        description = (f"{recording.metadata.get('source', 'input')}: spikes detected "
                       "(3.5 sigma, 1 ms refractory)")
    raster = raster[: max(1, MAX_SIM_BINS // raster.shape[1])]
    t_count, n = raster.shape
    params = {"channels": n, **DEFAULTS}
    description += f" -> {n} ch x {t_count} timesteps, {int(raster.sum())} spikes"
    spacing = -(-word_bits(n) // 8)
    stimuli = {
        "input": {"raster": raster},
        "input_full_rate": {"raster": raster, "idle": 0.0, "ready": 1.0},
        "spaced_full_rate": {"raster": spaced_raster(n, max(8, 20000 // n), params, spacing,
                                                     SIM_SEED), "idle": 0.0, "ready": 1.0,
                             "full_rate": True},
        "silent": {"raster": np.zeros((max(2, 2000 // n), n), np.uint8)},
        "saturated": {"raster": np.ones((max(2, 2000 // n), n), np.uint8)},
    }
    cases = make_cases(stimuli, params, seed=SIM_SEED)
    for case in cases:
        case["samples"] = case["raster"]  # scripts/sim.py counts the bins of every case
    return params, cases, description


SIM_SEED = 7
MAX_SIM_BINS = 200_000  # `make sim` cuts a many-channel input to this many bins
if "COCOTB_TEST_MODULES" in os.environ:  # inside the simulator
    _channels = int(os.environ.get("NEUROCODEC_CHANNELS", "64"))
    support_cases.register_cases(
        globals(), check_case, lambda: default_cases({"channels": _channels, **DEFAULTS}, seed=1064))

try:
    import pytest
except ImportError:  # inside the simulator only the cocotb half is used
    pytest = None

if pytest is not None:
    from support.runner import BUILD, SIMULATORS

    # Tests that share a simulator build take turns (support.runner.run holds a lock on it).
    BUILDS = [pytest.param(simulator, config, id=f"{simulator}-{config}")
              for simulator in SIMULATORS for config in CONFIGS]

    @pytest.mark.sim
    @pytest.mark.parametrize("simulator, config", BUILDS)
    def test_rtl_matches_model_on_synthetic_and_edge_cases(simulator, config):
        params = CONFIGS[config]
        seed = 3000 + params["channels"]
        print(f"seed {seed}")
        cases = default_cases(params, seed)
        listing = write_cases(BUILD / "stimuli" / f"lfsr-{config}-{simulator}", cases)
        results = run_cases(simulator, params, listing, "results-edges.xml")
        assert len(results) == len(cases)

    @pytest.mark.sim
    @pytest.mark.realdata
    @pytest.mark.parametrize("simulator, config", [
        pytest.param(simulator, config, id=f"{simulator}-{config}")
        for simulator in SIMULATORS for config in ("n1", "n2")])
    def test_rtl_matches_model_on_real_recordings(simulator, config, shared_data):
        params = CONFIGS[config]
        seed = 4000 + params["channels"]
        print(f"seed {seed}")
        cases = make_cases(real_cases(config, shared_data), params, seed)
        listing = write_cases(BUILD / "stimuli" / f"lfsr-real-{config}-{simulator}", cases)
        results = run_cases(simulator, params, listing, "results-real.xml")
        assert len(results) == len(cases) > 0
