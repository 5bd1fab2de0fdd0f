#!/usr/bin/env python3
"""`make bench`: compression and golden-model speed of every sample codec, measured here.

Inputs: the synthetic recording and the real recordings in ../shared/data (skipped, with a note,
when absent). Each input is reduced to the codec's sample width with the fewest dropped bits
(`--shift auto`) and cut to the codec's channel limit. Prints a table and writes
build/reports/bench.json.
"""

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT.parent / "shared" / "data"

from neurocodec import read_recording, synthetic_recording  # noqa: E402
from neurocodec.codecs import fitting_shift, get_codec, list_codecs, reduce_samples  # noqa: E402


def inputs():
    yield "synthetic 16 ch, 30 kS/s, 10 s (seed 0)", [synthetic_recording(16, 30000.0, 10.0).samples]
    if not DATA.is_dir():
        print(f"note: {DATA} not found; real recordings skipped", file=sys.stderr)
        return
    oe = read_recording(DATA / "openephys-32ch").samples
    yield "openephys-32ch (rodent, RHD2132), ch 0-15 and 16-31", [oe[:, :16], oe[:, 16:]]
    n1 = sorted((DATA / "n1").glob("*.wav"))
    yield f"n1: all {len(n1)} files (monkey, N1 implant), 1 ch each", [read_recording(f).samples for f in n1]
    yield "locust-4ch (tetrode)", [read_recording(DATA / "locust-4ch" / "locust_trial_01.raw",
                                                  channels=4, rate=15000.0).samples]
    np_ultra = np.fromfile(DATA / "spikeglx-np-ultra" / "p5_g0_t0.imec0.ap.bin", "<i2").reshape(-1, 385)
    yield "spikeglx-np-ultra, ch 0-15", [np_ultra[:, :16]]


def best_time(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    rows = []
    for name in list_codecs():
        codec = get_codec(name)
        for label, parts in inputs():
            parts = [p[:, : codec.max_channels] for p in parts]
            shifts = [fitting_shift(p, codec.sample_bits) for p in parts]
            reduced = [reduce_samples(p, s) for p, s in zip(parts, shifts)]
            payloads = [codec.encode(r) for r in reduced]
            for r, p in zip(reduced, payloads):
                assert np.array_equal(codec.decode(p, r.shape[1]), r), f"{label}: round trip failed"
            n = sum(r.size for r in reduced)
            size = sum(len(p) for p in payloads)
            encode_s = sum(best_time(lambda r=r: codec.encode(r)) for r in reduced)
            decode_s = sum(best_time(lambda p=p, r=r: codec.decode(p, r.shape[1]))
                           for p, r in zip(payloads, reduced))
            rows.append({
                "codec": name, "input": label, "samples": n,
                "shift": sorted(set(shifts)),
                "bits_per_sample": 8 * size / n,
                "percent_of_int16": 100 * size / (2 * n),
                "percent_of_input_bits": 100 * 8 * size / (codec.sample_bits * n),
                "model_encode_msps": n / encode_s / 1e6,
                "model_decode_msps": n / decode_s / 1e6,
            })
    print(f"{'codec':8s} {'input':55s} {'samples':>10s} {'shift':>5s} {'bits/S':>7s} "
          f"{'% int16':>8s} {'% 12b':>6s} {'enc MS/s':>8s} {'dec MS/s':>8s}")
    for r in rows:
        print(f"{r['codec']:8s} {r['input'][:55]:55s} {r['samples']:10d} "
              f"{'/'.join(map(str, r['shift'])):>5s} {r['bits_per_sample']:7.3f} "
              f"{r['percent_of_int16']:8.2f} {r['percent_of_input_bits']:6.2f} "
              f"{r['model_encode_msps']:8.1f} {r['model_decode_msps']:8.1f}")
    report = PROJECT / "build" / "reports" / "bench.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                  "python": platform.python_version(), "rows": rows}, indent=1))
    print(f"\nwrote {report.relative_to(PROJECT)}; model speed is one core of this machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
