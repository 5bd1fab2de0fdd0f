"""Benchmark of the spike codecs: ratio, size and model speed against the entropy of the intervals.

``bench_rows(rasters)`` measures every codec configuration of ``CONFIGS`` on each raster (a dict
name -> (T, N) 0/1 array) and returns one dict per (raster, codec): compressed bits (the whole
stream: header, tables, CRC), ratio (T*N / bits), bits per spike, encode and decode speed in
millions of raster bins per second (T*N / seconds, best of ``repeat`` runs, one thread), a
round-trip check, and for every row of a raster the order-0 entropy H0 (bits, in total) of the
K+1 gaps that ``isi`` codes (docs/formats/spikes.md, "Spike positions"); ``isi`` rows also give
their gap to it in %. When most gaps are distinct (sparse rasters: thousands of intervals spread
over tens of thousands of values) the empirical H0 of the exact values is close to log2(K) bits
per gap and no code that must also describe its table reaches it; ``h0_bucket_bits`` is the order-0
entropy of the bucketed Huffman symbols plus their raw extra bits (best m), the floor of the
model the Huffman back end uses. ``context_oracle`` (in the predictive rows) is the number of
surprises the best possible predictor using a channel's last 8 bins would leave (in-sample: each
context guesses its majority value), the floor under any XOR-predictive scheme with that context.

``python -m neurocodec.spikes.bench`` prints the Markdown table for the seeded synthetic raster
(1024 channels x 20 kHz x 10 s) and the rasters detected from the real recordings in
``../shared/data`` (``--quick`` for a 1 s synthetic raster). Decoding allocates its output with
``np.zeros``, whose pages the OS maps lazily: decode speed excludes touching them.
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from numba import njit

from . import decompress, detect, get_codec, synthetic_raster
from ._core import _symbolize, spike_keys
from ..benchmark import best_time
from ..recording import read_recording

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
CONFIGS = [
    ("isi-varint", "isi", {"backend": "varint"}),
    ("isi-huffman", "isi", {"backend": "huffman"}),
    ("predictive-lfsr", "predictive", {"predictor": "lfsr"}),
    ("predictive-context", "predictive", {"predictor": "context"}),
    ("predictive-ema", "predictive", {"predictor": "ema"}),
    ("predictive-world_model", "predictive", {"predictor": "world_model"}),
    ("delta", "delta", {}),
    ("streaming", "streaming", {}),
    ("aer", "aer", {}),
]


def _h0(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    return float(-(counts * np.log2(counts / values.size)).sum())


def interval_entropy(raster: np.ndarray) -> tuple[float, float, int]:
    """(order-0 entropy in bits, in total, of the isi gaps' exact values; the same for the
    bucketed symbols plus their raw extra bits, best m; number of gaps)."""
    t_count, n_count = raster.shape
    keys = spike_keys(np.ascontiguousarray(raster, np.uint8))
    gaps = np.diff(keys, prepend=-1, append=t_count * n_count) - 1
    bucketed = min(_h0(sym) + float(nextra.sum())
                   for sym, nextra, _ in (_symbolize(gaps, m) for m in range(13)))
    return _h0(gaps), bucketed, int(gaps.size)


@njit(cache=True)
def _context_counts(x, k):
    mask = (1 << k) - 1
    counts = np.zeros((1 << k, 2), np.int64)
    history = np.zeros(x.shape[1], np.int64)
    for t in range(x.shape[0]):
        for n in range(x.shape[1]):
            s = x[t, n]
            counts[history[n], s] += 1
            history[n] = ((history[n] << 1) | s) & mask
    return counts


def context_oracle(raster: np.ndarray, k: int = 8) -> int:
    counts = _context_counts(np.ascontiguousarray(raster, np.uint8), k)
    return int(counts.min(axis=1).sum())


def bench_rows(rasters: dict, repeat: int = 1, configs=CONFIGS) -> list[dict]:
    rows = []
    for name, raster in rasters.items():
        raster = np.ascontiguousarray(raster, np.uint8)
        t_count, n_count = raster.shape
        bins = t_count * n_count
        n_spikes = int(raster.sum(dtype=np.int64))
        h0, h0_buckets, n_gaps = interval_entropy(raster)
        oracle = context_oracle(raster)
        for label, codec_name, kwargs in configs:
            codec = get_codec(codec_name, **kwargs)
            codec.compress(raster[:2])  # compile outside the timing
            enc, _, (data, result) = best_time(lambda: codec.compress(raster), repeat, math.inf)
            dec, _, back = best_time(lambda: decompress(data), repeat, math.inf)
            row = {"input": name, "codec": label, "T": t_count, "N": n_count,
                   "spikes": n_spikes, "bits": 8 * len(data), "ratio": bins / (8 * len(data)),
                   "bits_per_spike": 8 * len(data) / n_spikes if n_spikes else float("nan"),
                   "encode_msps": bins / enc / 1e6, "decode_msps": bins / dec / 1e6,
                   "lossless_ok": bool(np.array_equal(back, raster)), "h0_bits": h0,
                   "h0_bucket_bits": h0_buckets, "n_gaps": n_gaps, "gap_percent": None,
                   "gap_buckets_percent": None, "note": ""}
            if codec_name == "isi":
                row["gap_percent"] = 100.0 * (8 * len(data) - h0) / h0 if h0 else None
                row["gap_buckets_percent"] = (100.0 * (8 * len(data) - h0_buckets) / h0_buckets
                                              if h0_buckets else None)
            if codec_name == "predictive":
                row["note"] = (f"{result.n_errors} surprises ({result.errors_per_spike:.3f}/spike"
                               f"); context-8 oracle {oracle} ({oracle / max(n_spikes, 1):.3f}"
                               "/spike)")
            if codec_name == "streaming":
                row["note"] = (f"max frame {result.max_frame_bytes} B, bound "
                               f"{result.worst_case_frame_bytes} B, "
                               f"{result.mean_active_channels:.2f} active ch/frame")
            if codec_name == "delta":
                row["note"] = f"{result.n_xored} channels XORed"
            if codec_name == "aer":
                row["note"] = (f"{result.id_bits + 16}-bit words, {result.n_escapes} escapes"
                               + (", inverted" if result.inverted else ""))
            rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    head = ("| input | codec | T x N | spikes | bits | ratio | bits/spike | enc MS/s | dec MS/s | "
            "H0 bits | gap to H0 | H0 buckets | gap to buckets | note |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        gap = f"{r['gap_percent']:+.1f}%" if r["gap_percent"] is not None else ""
        gap_b = (f"{r['gap_buckets_percent']:+.1f}%" if r["gap_buckets_percent"] is not None
                 else "")
        ok = "" if r["lossless_ok"] else " **ROUND TRIP FAILED**"
        lines.append(
            f"| {r['input']} | {r['codec']} | {r['T']} x {r['N']} | {r['spikes']} | {r['bits']} | "
            f"{r['ratio']:.1f} | {r['bits_per_spike']:.2f} | {r['encode_msps']:.0f} | "
            f"{r['decode_msps']:.0f} | {r['h0_bits']:.0f} | {gap} | {r['h0_bucket_bits']:.0f} | "
            f"{gap_b} | {r['note']}{ok} |")
    return "\n".join(lines)


def real_rasters(data: Path = DATA, n1_files: int = 16) -> dict:
    """Rasters detected (default detector, refractory 1 ms) from the real recordings."""
    out = {}
    sources = [("locust-4ch", lambda: read_recording(data / "locust-4ch" / "locust_trial_01.raw",
                                                     channels=4, rate=15000.0)),
               ("openephys-32ch", lambda: read_recording(data / "openephys-32ch")),
               ("neuralynx-tetrode", lambda: read_recording(data / "neuralynx-tetrode" /
                                                            "Tet3a.ncs")),
               ("np-ultra-385ch", lambda: read_recording(data / "spikeglx-np-ultra" /
                                                         "p5_g0_t0.imec0.ap.meta"))]
    for name, load in sources:
        rec = load()
        out[name] = detect(rec.samples, refractory=max(1, round(rec.rate / 1000)))
    files = sorted((data / "n1").glob("*.wav"))[:n1_files]
    if files:
        recs = [read_recording(f) for f in files]
        length = min(r.n_samples for r in recs)
        samples = np.concatenate([r.samples[:length] for r in recs], axis=1)
        out[f"n1-{len(files)}files"] = detect(samples, refractory=max(1, round(recs[0].rate
                                                                                / 1000)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neurocodec.spikes.bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s synthetic raster")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs (best is kept)")
    parser.add_argument("--no-real", action="store_true", help="skip ../shared/data")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    duration = 1.0 if args.quick else 10.0
    rasters = {f"synthetic 1024ch 20kHz {duration:g}s seed 0":
               synthetic_raster(1024, 20000.0, duration, seed=0)}
    if not args.no_real:
        if (args.data / "README.md").is_file():
            rasters.update(real_rasters(args.data))
        else:
            print(f"(real recordings not found at {args.data}: synthetic only)", file=sys.stderr)
    rows = bench_rows(rasters, args.repeat)
    print(markdown(rows))
    failed = [r for r in rows if not r["lossless_ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
