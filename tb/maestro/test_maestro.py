"""MaestroEncoder against the golden model ``neurocodec.codecs.maestro``, byte for byte.

Two halves in one file (as in cocotbext-axi):

* the cocotb tests, which run inside the simulator: one cocotb test per case, the cases listed in
  the JSON file named by ``NEUROCODEC_CASES``, or, without it (as under ``fusesoc run``), the
  embedded default cases for ``NEUROCODEC_CHANNELS`` channels (default 16);
* the pytest functions, which write the stimuli to ``build/``, run the cocotb tests under Icarus
  and Verilator, and fail with the first differing byte if any case fails.

Every case drives the encoder with seeded random input gaps and output back-pressure (the seeds
are printed), except the full-rate cases, which also check one sample per clock.
"""

import json
import os
from pathlib import Path

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from neurocodec.codecs import fitting_shift, maestro, reduce_samples
from support.compare import assert_same_words
from support import cases as support_cases
from support.streams import StreamSink, StreamSource

CLOCK_STEPS = 2  # in simulator time steps, so no timescale setting is needed anywhere


# ------------------------------------------------------------------------------------------------
# cocotb side


async def check_case(dut, case):
    samples = case["samples"] if "samples" in case else np.load(case["stimulus"])
    channels = samples.shape[1]
    seed, idle, ready = case["seed"], case["idle"], case["ready"]
    dut._log.info(f"case {case['name']}: {samples.shape[0]} scans x {channels} channels, "
                  f"seed {seed}, idle {idle}, ready {ready}")

    cocotb.start_soon(Clock(dut.clk, CLOCK_STEPS, unit="step", impl="gpi").start())
    dut.rst.value = 1
    source = StreamSource(dut, "i", dut.clk, idle=idle, seed=seed)
    sink = StreamSink(dut, "o", dut.clk, ready=ready, seed=seed + 1, reset=dut.rst)
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    # A reset between two parts of the stimulus (at a scan boundary) must make the encoder start
    # afresh: channel 0 next, every channel's previous sample forgotten.
    parts = np.split(samples, [case["reset_at"]]) if case.get("reset_at") else [samples]
    expected = b""
    for number, part in enumerate(parts):
        if number:
            await _drained(dut, sink, len(sink.received), 10)
            dut.rst.value = 1
            await ClockCycles(dut.clk, 2)
            await FallingEdge(dut.clk)
            dut.rst.value = 0
        expected += maestro.encode(part)
        target = len(sink.received) + part.size
        for value in part.reshape(-1):
            source.append(int(value) & 0xFFF)
        limit = int(part.size / (1 - idle) / ready * 3) + 100
        await _drained(dut, sink, target, limit)

    received = _bytes_of(sink.received)
    lengths = np.concatenate([maestro.code_lengths(part) for part in parts])
    assert_same_words(list(expected), list(received), unit="byte", width=2,
                      where=lambda i: _sample_at(i, lengths, channels))
    if case.get("full_rate"):
        cycles = (source.last_transfer - source.first_transfer) / CLOCK_STEPS + 1
        assert cycles == samples.size, (
            f"{samples.size} samples took {cycles:g} cycles at full rate, not one per clock")


async def _drained(dut, sink, target, limit):
    waited = 0
    while len(sink.received) < target:
        assert waited < limit, (f"timeout: {len(sink.received)} of {target} codes out after "
                                f"{limit} cycles")
        await ClockCycles(dut.clk, 16)
        waited += 16


def _bytes_of(codes):
    out = bytearray()
    for index, code in enumerate(codes):
        data, n_bytes = code & 0xFFFF, code >> 16
        assert n_bytes in (1, 2), f"code {index} has n_bytes={n_bytes}, not 1 or 2"
        out.append(data & 0xFF)
        if n_bytes == 2:
            out.append(data >> 8)
    return bytes(out)


def _sample_at(byte_index, lengths, channels):
    sample = int(np.searchsorted(np.cumsum(lengths), byte_index, side="right"))
    return f"code of sample {sample}: scan {sample // channels}, channel {sample % channels}"


# ------------------------------------------------------------------------------------------------
# pytest side: stimuli and runs

HERE = Path(__file__).resolve().parent
CHANNEL_COUNTS = (1, 4, 16)


def twelve_bit(samples: np.ndarray) -> np.ndarray:
    """Reduce a recording to 12 bits with the fewest dropped low bits (as `--shift auto`)."""
    return reduce_samples(samples, fitting_shift(samples, maestro.SAMPLE_BITS)).astype(np.int16)


def edge_cases(channels: int) -> dict[str, np.ndarray]:
    """Hand-made inputs that reach every corner of the format."""
    lo, hi = maestro.SAMPLE_MIN, maestro.SAMPLE_MAX
    cases = {}
    # Every difference -4095..4095, each both ways: channel c walks -2048, -2048 + d, -2048, ...
    # over the d = c + 1, c + 1 + C, ... (zeros pad the shorter walks).
    d = np.arange(1, hi - lo + 1)
    walks = np.full((2 * -(-d.size // channels) + 2, channels), lo, np.int16)  # ends on D = 0
    for ch in range(channels):
        mine = d[ch::channels]
        walks[1 : 2 * mine.size : 2, ch] = lo + mine
    cases["every_difference"] = walks
    scans = 64
    t = np.arange(scans)[:, None]
    ch = np.arange(channels)[None, :]
    cases["alternating_extremes"] = np.where((t + ch) % 2, hi, lo).astype(np.int16)
    steps = np.where((t // (ch + 2)) % 2, hi, lo)
    steps[::7] = 0
    cases["full_scale_steps"] = steps.astype(np.int16)
    # Differences of 62..65 in both directions, on several bases, starting at +-63/+-64.
    boundary = np.array([0, 62, 63, 64, 65, -65, -64, -63, -62, 0, 63, 0, 64, 0, -63, 0, -64, 0,
                         1000, 1063, 1127, 1064, 1000, -2048, -1985, -1921, -1984, -2048,
                         2047, 1984, 1920, 1983, 2047])
    rows = [np.roll(boundary, shift) for shift in range(channels)]
    cases["boundaries_63_64"] = np.stack(rows, axis=1).astype(np.int16)
    cases["constant_zero"] = np.zeros((200, channels), np.int16)
    cases["constant_full_scale"] = np.full((200, channels), hi, np.int16)
    cases["uniform_random"] = np.random.default_rng(channels).integers(
        lo, hi + 1, (2000, channels)).astype(np.int16)
    return cases


def synthetic_case(channels: int, duration: float = 0.05) -> np.ndarray:
    from neurocodec import synthetic_recording
    return twelve_bit(synthetic_recording(channels=channels, duration=duration, seed=1).samples)


def real_cases(channels: int, data: Path, scans: int = 3000) -> dict[str, np.ndarray]:
    """Real recordings reduced to 12 bits, cut to ``scans`` scans."""
    from neurocodec import read_recording
    cases = {}
    if channels == 16:
        oe = read_recording(data / "openephys-32ch").samples[:scans]
        cases["openephys_ch0_15"] = twelve_bit(oe[:, :16])
        cases["openephys_ch16_31"] = twelve_bit(oe[:, 16:])
        n1 = sorted((data / "n1").glob("*.wav"))[:16]
        cases["n1_16_files_interleaved"] = twelve_bit(
            np.concatenate([read_recording(f).samples[:scans] for f in n1], axis=1))
    elif channels == 4:
        info = json.loads((data / "locust-4ch" / "info.json").read_text())
        locust = read_recording(data / "locust-4ch" / "locust_trial_01.raw", channels=4,
                                rate=info["sample_rate"])
        cases["locust_4ch"] = twelve_bit(locust.samples[: 4 * scans])
    elif channels == 1:
        for f in sorted((data / "n1").glob("*.wav"))[:4]:
            cases[f"n1_{f.stem[:8]}"] = twelve_bit(read_recording(f).samples[: 4 * scans])
    return cases


def make_cases(stimuli: dict[str, np.ndarray], seed: int) -> list[dict]:
    """One case per stimulus, with random input gaps (30%) and output back-pressure (40%)."""
    return [{"name": name, "samples": samples, "seed": seed + index, "idle": 0.3, "ready": 0.6}
            for index, (name, samples) in enumerate(stimuli.items())]


def default_cases(channels: int, seed: int) -> list[dict]:
    """The embedded default input and the edge cases, plus a full-rate run and a mid-run reset."""
    synthetic = synthetic_case(channels)
    cases = make_cases({"synthetic": synthetic, **edge_cases(channels)}, seed)
    cases.append({"name": "synthetic_full_rate", "samples": synthetic, "seed": seed,
                  "idle": 0.0, "ready": 1.0, "full_rate": True})
    cases.append({"name": "restart_after_reset", "samples": synthetic[:300], "seed": seed,
                  "idle": 0.3, "ready": 0.6, "reset_at": 101})  # scans before the reset
    return cases


def write_cases(folder: Path, cases: list[dict]) -> Path:
    return support_cases.write_cases(folder, cases)


def run_cases(simulator: str, channels: int, listing: Path, results_name: str):
    from support.runner import run_cases
    return run_cases("maestro", simulator, HERE, {"channels": channels}, listing, results_name,
                     f"C={channels} ")


def sim_cases(recording=None, max_scans: int = 10000):
    """`make sim`: the input (default: the synthetic recording) with random gaps and back-pressure
    and at full rate, plus the edge cases. Returns (core parameters, cases, description)."""
    from neurocodec import synthetic_recording
    if recording is None:
        recording = synthetic_recording(channels=16, duration=0.2, seed=0)
        description = "synthetic recording: 16 ch, 30 kS/s, 0.2 s, seed 0"
    else:
        description = f"{recording.metadata.get('source', 'input')}"
    raw = recording.samples[:max_scans, : maestro.MAX_CHANNELS]
    samples = twelve_bit(raw)
    shift = fitting_shift(raw, maestro.SAMPLE_BITS)
    description += (f" -> {samples.shape[1]} ch x {samples.shape[0]} scans, 12-bit "
                    f"(shift {shift})")
    cases = make_cases({"input": samples, **edge_cases(samples.shape[1])}, seed=SIM_SEED)
    cases.append({"name": "input_full_rate", "samples": samples, "seed": SIM_SEED, "idle": 0.0,
                  "ready": 1.0, "full_rate": True})
    return {"channels": samples.shape[1]}, cases, description


SIM_SEED = 7
if "COCOTB_TEST_MODULES" in os.environ:  # inside the simulator
    _channels = int(os.environ.get("NEUROCODEC_CHANNELS", "16"))
    support_cases.register_cases(globals(), check_case, lambda: default_cases(_channels, seed=1016))

try:
    import pytest
except ImportError:  # inside the simulator only the cocotb half is used
    pytest = None

if pytest is not None:
    from support.runner import BUILD, SIMULATORS

    # Tests that share a simulator build take turns (support.runner.run holds a lock on it).
    BUILDS = [pytest.param(simulator, channels, id=f"{simulator}-C{channels}")
              for simulator in SIMULATORS for channels in CHANNEL_COUNTS]

    @pytest.mark.sim
    @pytest.mark.parametrize("simulator, channels", BUILDS)
    def test_rtl_matches_model_on_synthetic_and_edge_cases(simulator, channels):
        seed = 1000 + channels
        print(f"seed {seed}")
        cases = default_cases(channels, seed)
        listing = write_cases(BUILD / "stimuli" / f"maestro-c{channels}-{simulator}", cases)
        results = run_cases(simulator, channels, listing, "results-edges.xml")
        assert len(results) == len(cases)

    @pytest.mark.sim
    @pytest.mark.realdata
    @pytest.mark.parametrize("simulator, channels", BUILDS)
    def test_rtl_matches_model_on_real_recordings(simulator, channels, shared_data):
        seed = 2000 + channels
        print(f"seed {seed}")
        cases = make_cases(real_cases(channels, shared_data), seed)
        listing = write_cases(BUILD / "stimuli" / f"maestro-real-c{channels}-{simulator}", cases)
        results = run_cases(simulator, channels, listing, "results-real.xml")
        assert len(results) == len(cases) > 0
