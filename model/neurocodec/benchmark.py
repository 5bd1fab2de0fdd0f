"""`make bench`: compressed size and speed of every sample codec and of general-purpose compressors.

One run measures, on the same inputs:

* every codec of the registry (``neurocodec.codecs.list_codecs()``), each on its input cut to its
  ``max_channels`` and reduced to its ``sample_bits`` with the fewest dropped low bits
  (``fitting_shift`` / ``reduce_samples``, as ``--shift auto`` does);
* general-purpose compressors on exactly the same reduced samples, given to them as int16
  little-endian interleaved bytes: zlib (level 9), bz2 (9), lzma (xz, preset 9 | extreme), zstd
  (levels 3 and 19, ``zstandard``) and FLAC (``soundfile``/libsndfile, default compression level;
  FLAC takes at most 8 channels, so wider inputs are coded as one mono stream per channel and the
  sizes added).

For every (input, method): original bytes (int16 of the reduced samples), compressed bytes, ratio,
% of original, bits per sample, encode and decode speed in MS/s (best of ``--repeat`` timed runs
over the whole input, single-threaded) and the same as a multiple of real time (the input's
channels x rate), and a round-trip check. A method whose decoder does not give back its input
exactly is reported as FAILED, with no size.

Writes ``bench.csv``, ``bench.md``, ``bench.json`` and ``bench.png`` (ratio against encode speed)
into ``build/reports/`` (``--out``) and prints the Markdown table.

The same run measures the spike codecs (``neurocodec.spikes.bench``; ``--no-spikes`` to leave them
out) on the seeded synthetic raster (1024 channels x 20 kHz x 10 s; 1 s with ``--quick``) and on
the rasters detected from the real recordings: ratio, model speed in M raster bins/s and the
order-0 entropy of the intervals, into ``bench-spikes.md`` and ``bench-spikes.json``.

``run_benchmark(inputs, codecs=..., comparators=...)`` is the programmatic entry point: extra or
replacement methods (objects with ``name``, ``kind``, ``note``, ``encode(part)``,
``decode(payload, part)`` and ``matches(decoded, part)``, see :class:`Method`) can be injected there.
"""

import argparse
import bz2
import csv
import gc
import inspect
import io
import json
import lzma
import math
import os
import platform
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .codecs import Codec, DhuffCodec, fitting_shift, get_codec, list_codecs, reduce_samples
from .codecs.dhuff import DhuffParams, train_dictionary
from .errors import NeurocodecError
from .recording import CodeGrid, read_recording
from .synthetic import synthetic_recording

PROJECT = Path(__file__).resolve().parents[2]
DATA = PROJECT.parent / "shared" / "data"
REPORTS = PROJECT / "build" / "reports"

LZMA_PRESET = 9 | lzma.PRESET_EXTREME
FLAC_MAX_CHANNELS = 8
INPUT_NAMES = ("synthetic", "openephys-32ch", "openephys-32ch-d3", "n1", "locust-4ch", "np-ultra")
DEFAULT_N1_FILES = 40
QUICK_N1_FILES = 4
QUICK_SECONDS = 0.5
SYNTHETIC_SECONDS = 5.0


# --------------------------------------------------------------------------------------- inputs


@dataclass
class BenchInput:
    """One benchmark input: a list of (T, C) integer arrays measured together.

    ``concurrent``: the parts are channel groups of one recording (they cover the same time), or
    separate recordings one after another (``False``, e.g. the N1 files). It only matters for the
    real-time rate: total samples / recorded duration.
    """

    name: str
    label: str
    rate: float
    parts: list
    concurrent: bool = True
    subset: str = ""  # what part of the source this is, said in the report


@dataclass
class Part:
    """One reduced part as every method sees it: the samples and their int16 LE interleaved bytes."""

    samples: np.ndarray  # reduced samples, shape (T, C)
    data: bytes  # samples as int16 little-endian interleaved bytes
    rate: float

    @property
    def channels(self) -> int:
        return self.samples.shape[1]


def _cut(samples: np.ndarray, rate: float, seconds: float | None) -> np.ndarray:
    return samples if seconds is None else samples[: max(1, int(round(seconds * rate)))]


def load_inputs(names=INPUT_NAMES, *, data: Path = DATA, seconds: float | None = None,
                n1_files: int | None = DEFAULT_N1_FILES, synthetic_seconds: float = SYNTHETIC_SECONDS,
                notes: list | None = None):
    """Yield the benchmark inputs named in ``names`` (real ones only when ``data`` exists)."""
    notes = notes if notes is not None else []
    names = list(names)
    unknown = sorted(set(names) - set(INPUT_NAMES))
    if unknown:
        raise ValueError(f"unknown inputs {unknown}; the inputs are: {', '.join(INPUT_NAMES)}")
    limit = f", first {seconds:g} s" if seconds is not None else ""
    if "synthetic" in names:
        duration = synthetic_seconds if seconds is None else min(seconds, synthetic_seconds)
        rec = synthetic_recording(16, 30000.0, duration)
        yield BenchInput("synthetic", "neurocodec.synthetic_recording (16 ch, 30 kS/s, seed 0)",
                         rec.rate, [rec.samples], subset=f"{duration:g} s generated")
    real = [n for n in names if n != "synthetic"]
    if not real:
        return
    if not data.is_dir():
        notes.append(f"{data} not found: real recordings skipped ({', '.join(real)})")
        print(f"note: {notes[-1]}", file=sys.stderr)
        return
    if "openephys-32ch" in names or "openephys-32ch-d3" in names:
        rec = read_recording(data / "openephys-32ch")
        s = _cut(rec.samples, rec.rate, seconds)
        label = f"openephys-32ch (rodent, Intan RHD2132, 32 ch, {rec.rate / 1000:g} kS/s)"
        subset = f"all 32 ch as 2 x 16 ch, {s.shape[0]} of {rec.n_samples} samples"
        if "openephys-32ch" in names:
            yield BenchInput("openephys-32ch", label, rec.rate, [s[:, :16], s[:, 16:32]],
                             subset=subset)
        if "openephys-32ch-d3" in names:
            # The paper's setting: the 3 low bits (below the amplifier noise) dropped; every
            # method gets the 13-bit samples, and sizes compare with the 16-bit original.
            yield BenchInput("openephys-32ch-d3", label + ", D = 3", rec.rate,
                             [s[:, :16] >> 3, s[:, 16:32] >> 3], subset=subset + ", >> 3")
    if "n1" in names:
        files = sorted((data / "n1").glob("*.wav"))
        chosen = files if not n1_files else files[:n1_files]
        recs = [read_recording(f) for f in chosen]
        rates = {r.rate for r in recs}
        if len(rates) != 1:
            raise ValueError(f"n1: the files have different rates {sorted(rates)}")
        parts = [_cut(r.samples, r.rate, seconds) for r in recs]
        which = (f"all {len(files)} files" if len(chosen) == len(files)
                 else f"first {len(chosen)} of {len(files)} files (sorted by name)")
        rate = rates.pop()
        yield BenchInput("n1", f"n1 (monkey motor cortex, Neuralink N1 implant, 1 ch per file, "
                         f"{rate:g} S/s)", rate, parts, concurrent=False, subset=which + limit)
    if "locust-4ch" in names:
        info = json.loads((data / "locust-4ch" / "info.json").read_text())
        rate = float(info["sample_rate"])
        rec = read_recording(data / "locust-4ch" / "locust_trial_01.raw", channels=4, rate=rate)
        s = _cut(rec.samples, rate, seconds)
        yield BenchInput("locust-4ch", f"locust-4ch (locust tetrode, 4 ch, {rate / 1000:g} kS/s)",
                         rate, [s],
                         subset=f"{s.shape[0]} of {rec.n_samples} samples")
    if "np-ultra" in names:
        raw = np.fromfile(data / "spikeglx-np-ultra" / "p5_g0_t0.imec0.ap.bin", "<i2")
        s = _cut(raw.reshape(-1, 385)[:, :16], 30000.0, seconds)
        yield BenchInput("np-ultra", "spikeglx-np-ultra (Neuropixels Ultra, AP band, 385 ch, "
                         "30 kS/s)", 30000.0, [s],
                         subset=f"ch 0-15 of 385, {s.shape[0]} samples")


# -------------------------------------------------------------------------------------- methods


class Method:
    """A compression method under test.

    ``encode(part)`` returns the payload: ``bytes`` or a list of ``bytes`` (separate streams, whose
    sizes add up); ``decode(payload, part)`` returns what ``matches(decoded, part)`` compares with
    the input. Only ``encode`` and ``decode`` are timed.
    """

    name: str
    kind: str = "general"  # "codec" for the registry's codecs
    note: str = ""

    def encode(self, part: Part):
        raise NotImplementedError

    def decode(self, payload, part: Part):
        raise NotImplementedError

    def matches(self, decoded, part: Part) -> bool:
        raise NotImplementedError


class CodecMethod(Method):
    """A codec of the registry, on the reduced samples."""

    kind = "codec"

    def __init__(self, codec: Codec):
        self.codec = codec
        self.name = codec.name
        self.note = f"golden model, {codec.sample_bits}-bit samples, <= {codec.max_channels} ch"
        try:  # decode(payload, channels, n_samples=None); older codecs take no sample count
            self._pass_n = "n_samples" in inspect.signature(codec.decode).parameters
        except (TypeError, ValueError):
            self._pass_n = True

    def encode(self, part):
        return self.codec.encode(part.samples)

    def decode(self, payload, part):
        if self._pass_n:
            return self.codec.decode(payload, part.channels, n_samples=part.samples.shape[0])
        return self.codec.decode(payload, part.channels)

    def matches(self, decoded, part):
        decoded = np.asarray(decoded)
        return decoded.shape == part.samples.shape and np.array_equal(decoded, part.samples)


class ByteCompressor(Method):
    """A general-purpose compressor of the int16 LE interleaved bytes."""

    def __init__(self, name, compress, decompress, note=""):
        self.name, self._compress, self._decompress, self.note = name, compress, decompress, note

    def encode(self, part):
        return self._compress(part.data)

    def decode(self, payload, part):
        return self._decompress(payload)

    def matches(self, decoded, part):
        return bytes(decoded) == part.data


class FlacMethod(Method):
    """FLAC through soundfile (libsndfile), 16-bit PCM, default compression level."""

    name = "flac"

    def __init__(self):
        import soundfile

        self.sf = soundfile
        self.note = (f"libsndfile {soundfile.__libsndfile_version__}, default level; inputs of more "
                     f"than {FLAC_MAX_CHANNELS} ch: one mono stream per channel, sizes added")

    def _write(self, samples, rate):
        out = io.BytesIO()
        self.sf.write(out, samples, int(round(rate)), format="FLAC", subtype="PCM_16")
        return out.getvalue()

    def _read(self, payload):
        return self.sf.read(io.BytesIO(payload), dtype="int16", always_2d=True)[0]

    def encode(self, part):
        samples = np.frombuffer(part.data, "<i2").reshape(-1, part.channels)
        if part.channels <= FLAC_MAX_CHANNELS:
            return self._write(samples, part.rate)
        return [self._write(np.ascontiguousarray(samples[:, c]), part.rate)
                for c in range(part.channels)]

    def decode(self, payload, part):
        if isinstance(payload, list):
            return np.column_stack([self._read(p)[:, 0] for p in payload])
        return self._read(payload)

    def matches(self, decoded, part):
        decoded = np.asarray(decoded)
        return decoded.shape == part.samples.shape and np.array_equal(decoded, part.samples)


class HeldOutDhuff(Method):
    """dhuff with trained dictionaries, each part coded with a dictionary trained only on the
    parts of the other folds (part i is in fold i mod ``folds``): held-out figures.

    ``grid``: the parts' values lie on a code grid (N1): the codes are coded, centred, with
    ``sample_bits`` = the grid's bits. Encoding and decoding include the grid mapping."""

    kind = "codec"

    def __init__(self, name, parts, *, grid=None, sample_bits=16, low_bits=0, contexts=1,
                 reversion=0, layout="canonical", max_length=16, block=4096, frame_words=65534,
                 folds=2):
        self.name, self.grid = name, CodeGrid(grid) if grid else None
        params = DhuffParams(0, low_bits, block, frame_words, sample_bits, contexts, reversion)
        coded = [self._forward(np.asarray(p)) for p in parts]
        self._codecs, roms = {}, set()
        for fold in range(folds):
            train = [x for i, x in enumerate(coded) if i % folds != fold]
            dictionary = train_dictionary(train, params, max_length, layout)
            roms.add(dictionary.rom_bits())
            codec = DhuffCodec(0, low_bits, block, frame_words, sample_bits, contexts, reversion,
                               dictionary)
            for i, part in enumerate(parts):
                if i % folds == fold:
                    self._codecs[np.asarray(part).astype("<i2").tobytes()] = codec
        self.note = (f"golden model, dictionaries trained on the other parts ({folds} folds), "
                     f"{layout} layout, ROM {'/'.join(map(str, sorted(roms)))} bits, B = "
                     f"{sample_bits}, L = {low_bits}, K = {contexts}, R = {reversion}, codes <= "
                     f"{max_length} bits, N = {block}, "
                     f"M = {frame_words}" + (f", {grid}-level code grid" if grid else ""))

    def _forward(self, samples):
        if self.grid is None:
            return samples
        return self.grid.to_codes(samples).astype(np.int32) - self.grid.levels // 2

    def encode(self, part):
        return self._codecs[part.data].encode(self._forward(part.samples))

    def decode(self, payload, part):
        codes = self._codecs[part.data].decode(payload, part.channels, part.samples.shape[0])
        if self.grid is None:
            return codes
        return self.grid.to_values(codes.astype(np.int64) + self.grid.levels // 2)

    def matches(self, decoded, part):
        decoded = np.asarray(decoded)
        return decoded.shape == part.samples.shape and np.array_equal(decoded, part.samples)


def held_out_methods(bench_input: BenchInput) -> list:
    """The trained-dictionary dhuff variants measured on an input (none for one-part inputs):
    the settings of the built-in dictionaries (model/neurocodec/dictionaries), trained afresh
    on the other fold so that no part is coded with a dictionary that saw it."""
    parts = bench_input.parts
    if bench_input.name == "n1" and len(parts) >= 2:
        return [HeldOutDhuff("dhuff-n1-xval", parts, grid=1024, sample_bits=10, low_bits=0,
                             contexts=9, reversion=2, max_length=20, block=65536),
                HeldOutDhuff("dhuff-paper-xval", parts, grid=1024, sample_bits=10, low_bits=0,
                             max_length=20, block=65536)]
    if bench_input.name == "openephys-32ch-d3":
        return [HeldOutDhuff("dhuff-canonical-xval", parts, sample_bits=13, low_bits=1,
                             max_length=18, block=64, frame_words=256),
                HeldOutDhuff("dhuff-table-xval", parts, sample_bits=13, low_bits=4,
                             layout="table", max_length=13, block=64, frame_words=256)]
    if bench_input.name == "openephys-32ch":
        return [HeldOutDhuff("dhuff-canonical-xval", parts, low_bits=4, max_length=20, block=64,
                             frame_words=256)]
    return []


def default_comparators(notes: list | None = None) -> list:
    """The general-purpose compressors; the ones whose package is missing are named in ``notes``."""
    notes = notes if notes is not None else []
    methods = [
        ByteCompressor("zlib-9", lambda d: zlib.compress(d, 9), zlib.decompress,
                       f"zlib {zlib.ZLIB_RUNTIME_VERSION}, level 9"),
        ByteCompressor("bz2-9", lambda d: bz2.compress(d, 9), bz2.decompress, "bz2, level 9"),
        ByteCompressor("lzma-9e", lambda d: lzma.compress(d, preset=LZMA_PRESET), lzma.decompress,
                       "xz container, preset 9 | PRESET_EXTREME"),
    ]
    try:
        import zstandard
    except ImportError:
        notes.append("zstd skipped: the zstandard package is not installed (pip install -e '.[dev]')")
    else:
        version = ".".join(map(str, zstandard.ZSTD_VERSION))
        for level in (3, 19):
            compressor = zstandard.ZstdCompressor(level=level, threads=0)
            methods.append(ByteCompressor(
                f"zstd-{level}", compressor.compress, zstandard.ZstdDecompressor().decompress,
                f"libzstd {version}, level {level}, single-threaded"))
    try:
        methods.append(FlacMethod())
    except (ImportError, OSError):
        notes.append("flac skipped: the soundfile package is not installed (pip install -e '.[dev]')")
    return methods


# ------------------------------------------------------------------------------------ measuring


def _payload_size(payload) -> int:
    return sum(map(len, payload)) if isinstance(payload, list) else len(payload)


def best_time(fn, repeat: int, budget: float):
    """Best wall time of up to ``repeat`` calls of ``fn`` (fewer once ``budget`` s are spent)."""
    best, spent, runs, result = math.inf, 0.0, 0, None
    enabled = gc.isenabled()
    gc.disable()  # as timeit does: no collection pauses inside a timed run
    try:
        while runs < max(1, repeat):
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
            best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
            if spent >= budget:
                break
    finally:
        if enabled:
            gc.enable()
    return best, runs, result


def _reduce(bench_input: BenchInput, codec: Codec):
    """The input as ``codec`` takes it: parts cut to max_channels, reduced to sample_bits."""
    cut = [np.asarray(p)[:, : codec.max_channels] for p in bench_input.parts]
    shifts = tuple(fitting_shift(p, codec.sample_bits) for p in cut)
    return cut, shifts


def _reduction_label(parts, shifts) -> str:
    channels = sorted({p.shape[1] for p in parts})
    low, high = min(shifts), max(shifts)
    shift = f">>{low}" if low == high else f">>{low}..{high}"
    return f"{'/'.join(map(str, channels))} ch, {shift}"


def _warm_up(method, parts, samples: int = 4096) -> None:
    """Encode and decode a short slice first, untimed: JIT compilation and caches are not measured."""
    if not parts:
        return
    part = parts[0]
    head = np.ascontiguousarray(part.samples[:samples])
    small = Part(head, head.astype("<i2").tobytes(), part.rate)
    try:
        method.decode(method.encode(small), small)
    except Exception:  # noqa: BLE001 - the timed run reports failures
        pass


def _row(bench_input, reduction, method, n, realtime) -> dict:
    return {
        "input": bench_input.name, "reduction": reduction, "method": method.name,
        "kind": method.kind, "status": "ok", "samples": n, "original_bytes": 2 * n,
        "compressed_bytes": None, "ratio": None, "percent": None, "bits_per_sample": None,
        "percent_of_codec_bits": None, "encode_msps": None, "decode_msps": None,
        "encode_x_realtime": None, "decode_x_realtime": None,
        "realtime_msps": None if realtime is None else realtime / 1e6,
        "encode_runs": 0, "decode_runs": 0, "note": method.note, "error": "",
    }


def measure(method, parts: list, bench_input: BenchInput, reduction: str, *, repeat: int,
            budget: float) -> dict:
    """Time and check one method on the reduced parts of one input; return the report row."""
    n = sum(p.samples.size for p in parts)
    lengths = [p.samples.shape[0] for p in parts]
    duration = (max(lengths) if bench_input.concurrent else sum(lengths)) / bench_input.rate
    realtime = n / duration  # samples per second of the data as recorded
    row = _row(bench_input, reduction, method, n, realtime)
    _warm_up(method, parts)
    stage = "encode"
    try:
        encode_s, row["encode_runs"], payloads = best_time(
            lambda: [method.encode(p) for p in parts], repeat, budget)
        stage = "decode"
        decode_s, row["decode_runs"], decoded = best_time(
            lambda: [method.decode(q, p) for q, p in zip(payloads, parts)], repeat, budget)
        stage = "check"
        bad = [i for i, (d, p) in enumerate(zip(decoded, parts)) if not method.matches(d, p)]
    except Exception as error:  # noqa: BLE001 - any failure of a method is a FAILED row
        row.update(status="FAILED", error=f"{stage} raised {type(error).__name__}: {error}")
        return row
    if bad:
        row.update(status="FAILED", error=f"round trip: decoded != input in {len(bad)} of "
                   f"{len(parts)} parts (first: part {bad[0]})")
        return row
    size = sum(map(_payload_size, payloads))
    row.update(
        compressed_bytes=size, ratio=2 * n / size if size else math.inf, percent=100 * size / (2 * n),
        bits_per_sample=8 * size / n,
        encode_msps=n / encode_s / 1e6, decode_msps=n / decode_s / 1e6,
        encode_x_realtime=n / encode_s / realtime, decode_x_realtime=n / decode_s / realtime,
    )
    if isinstance(method, CodecMethod):
        row["percent_of_codec_bits"] = 100 * 8 * size / (method.codec.sample_bits * n)
    return row


def run_benchmark(inputs, codecs=None, comparators=None, *, repeat: int = 3, budget: float = 2.0,
                  progress=None) -> list:
    """Measure every codec and comparator on every input; return one dict per (input, method).

    ``codecs``: registry names or :class:`Codec` objects (default: every codec of the registry).
    ``comparators``: :class:`Method` objects run on the same reduced samples as the codecs
    (default: :func:`default_comparators`). Codecs that take the same reduced samples (same
    channel cut and shifts) share one set of comparator rows.
    """
    codecs = list_codecs() if codecs is None else codecs
    codecs = [get_codec(c) if isinstance(c, str) else c for c in codecs]
    comparators = default_comparators() if comparators is None else comparators
    rows = []
    for bench_input in inputs:
        groups = {}  # (channels per part, shifts) -> (cut parts, shifts, [codecs])
        for codec in codecs:
            try:
                cut, shifts = _reduce(bench_input, codec)
            except Exception as error:  # noqa: BLE001 - e.g. samples too wide for the codec
                rows.append(_row(bench_input, "-", CodecMethod(codec), 0, None) | {
                    "status": "FAILED", "error": f"reduce raised {type(error).__name__}: {error}"})
                continue
            key = (tuple(p.shape[1] for p in cut), shifts)
            groups.setdefault(key, (cut, shifts, []))[2].append(codec)
        if not codecs:  # comparators only: on the input as it is
            parts = [np.asarray(p) for p in bench_input.parts]
            groups[None] = (parts, tuple(0 for _ in parts), [])
        for cut, shifts, group_codecs in groups.values():
            reduced = [reduce_samples(p, s) for p, s in zip(cut, shifts)]
            parts = [Part(r, r.astype("<i2").tobytes(), bench_input.rate) for r in reduced]
            label = _reduction_label(cut, shifts)
            for method in [CodecMethod(c) for c in group_codecs] + list(comparators):
                if progress:
                    progress(f"{bench_input.name} [{label}] {method.name}")
                rows.append(measure(method, parts, bench_input, label, repeat=repeat, budget=budget))
    return rows


# -------------------------------------------------------------------------------------- reports

CSV_FIELDS = ["input", "reduction", "method", "kind", "status", "samples", "original_bytes",
              "compressed_bytes", "ratio", "percent", "bits_per_sample", "percent_of_codec_bits",
              "encode_msps", "decode_msps", "encode_x_realtime", "decode_x_realtime",
              "realtime_msps", "encode_runs", "decode_runs", "note", "error"]


def _fmt(value, spec):
    return "" if value is None else format(value, spec)


def write_csv(rows, path: Path) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_FIELDS})


def markdown(rows, inputs_info, notes) -> str:
    lines = ["# Compression benchmark", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "Inputs:", ""]
    lines += [f"- **{name}**: {label}; used: {subset}" for name, label, subset in inputs_info]
    lines += ["", "| input | reduced | method | original B | compressed B | ratio | % of orig. | "
              "bits/S | enc MS/s | dec MS/s | enc x RT | dec x RT | round trip |",
              "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        ok = r["status"] == "ok"
        lines.append("| " + " | ".join([
            r["input"], r["reduction"], r["method"] + (" (codec)" if r["kind"] == "codec" else ""),
            f"{r['original_bytes']:,}", _fmt(r["compressed_bytes"], ","), _fmt(r["ratio"], ".3f"),
            _fmt(r["percent"], ".1f"), _fmt(r["bits_per_sample"], ".2f"),
            _fmt(r["encode_msps"], ".2f"), _fmt(r["decode_msps"], ".2f"),
            _fmt(r["encode_x_realtime"], ".1f"), _fmt(r["decode_x_realtime"], ".1f"),
            "ok" if ok else f"**FAILED**: {r['error']}".replace("|", "/"),
        ]) + " |")
    lines.append("")
    return "\n".join(lines)


def plot(rows, path: Path) -> None:
    """Ratio against encode speed (log x): one panel per input, one colour per method, one marker
    per reduction (the samples a codec group and its comparators were measured on)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    methods = list(dict.fromkeys(r["method"] for r in rows))
    inputs = list(dict.fromkeys(r["input"] for r in rows))
    palette = [c for i, c in enumerate(plt.get_cmap("tab20").colors) if i % 2 == 0]
    palette += [c for i, c in enumerate(plt.get_cmap("tab20").colors) if i % 2 == 1]
    colors = {m: palette[i % len(palette)] for i, m in enumerate(methods)}
    columns = min(3, len(inputs)) or 1
    lines = -(-len(inputs) // columns) or 1
    fig, axes = plt.subplots(lines, columns, figsize=(5.2 * columns + 2.2, 4.2 * lines),
                             squeeze=False)
    for ax in axes.flat[len(inputs):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, inputs):
        mine = [r for r in rows if r["input"] == name]
        reductions = list(dict.fromkeys(r["reduction"] for r in mine))
        markers = {red: "o^sDvP*X"[i % 8] for i, red in enumerate(reductions)}
        for r in mine:
            if r["status"] != "ok" or not r["encode_msps"]:
                continue
            codec = r["kind"] == "codec"
            ax.scatter(r["encode_msps"], r["ratio"], color=colors[r["method"]],
                       marker=markers[r["reduction"]], s=70 if codec else 40, zorder=3,
                       edgecolors="black" if codec else "none", linewidths=1.2)
            if codec:
                ax.annotate(r["method"], (r["encode_msps"], r["ratio"]), fontsize="small",
                            xytext=(5, 5), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("encode MS/s (one core, log)")
        ax.set_ylabel("ratio (int16 / compressed)")
        ax.legend(handles=[Line2D([], [], color="black", marker=markers[red], linestyle="",
                                  markerfacecolor="none", label=f"reduced: {red}")
                           for red in reductions], fontsize="x-small", loc="best")
    failed = {r["method"] for r in rows if r["status"] != "ok"}
    handles = [Line2D([], [], color=colors[m], marker="o", linestyle="",
                      label=m + (" (FAILED somewhere)" if m in failed else ""))
               for m in methods]
    fig.legend(handles=handles, loc="center right", fontsize="small", title="method")
    fig.suptitle("Compression ratio against encode speed (codecs outlined in black)")
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / fig.get_figwidth(), 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(rows, out: Path, inputs_info=(), notes=(), *, with_plot: bool = True) -> dict:
    """Write bench.csv, bench.md, bench.json and bench.png into ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"bench.{k}" for k in ("csv", "md", "json", "png")}
    write_csv(rows, paths["csv"])
    paths["md"].write_text(markdown(rows, inputs_info, notes))
    paths["json"].write_text(json.dumps({
        "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
        "notes": list(notes), "inputs": [dict(zip(("name", "label", "subset"), i)) for i in inputs_info],
        "rows": rows}, indent=1))
    if not with_plot:
        del paths["png"]
        return paths
    try:
        plot(rows, paths["png"])
    except ImportError:
        del paths["png"]
        print("note: matplotlib is not installed: no plot (pip install -e '.[dev]')", file=sys.stderr)
    return paths


# ------------------------------------------------------------------------------------------ CLI


def _pin_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned to a core"
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="neurocodec bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help="recordings to measure (any format `neurocodec encode` reads); "
                        "without them, the standard inputs")
    parser.add_argument("--inputs", default=None,
                        help=f"comma-separated subset of: {', '.join(INPUT_NAMES)} (default: all, "
                        "or none when FILES are given)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed runs per method and direction, the best is kept "
                             "(default 3; 1 with --quick)")
    parser.add_argument("--budget", type=float, default=2.0,
                        help="stop repeating a measurement once this many seconds are spent "
                             "(default 2; at least one run)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: first {QUICK_SECONDS:g} s of each recording, "
                             f"first {QUICK_N1_FILES} N1 files, one timed run")
    parser.add_argument("--seconds", type=float, default=None,
                        help="use only the first SECONDS of each recording")
    parser.add_argument("--n1-files", type=int, default=None,
                        help=f"how many N1 files, sorted by name (default {DEFAULT_N1_FILES}; 0: all)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"real recordings (default {DATA})")
    parser.add_argument("--out", type=Path, default=REPORTS, help=f"report folder (default {REPORTS})")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument("--no-spikes", action="store_true",
                        help="leave out the spike codecs' rows (bench-spikes.md)")
    parser.add_argument("--spike-seconds", type=float, default=None,
                        help="length of the synthetic 1024-channel raster (default 10 s; 1 s "
                        "with --quick)")
    args = parser.parse_args(argv)
    default_names = "" if args.files else ",".join(INPUT_NAMES)
    names = [n.strip() for n in (args.inputs or default_names).split(",") if n.strip()]
    if unknown := sorted(set(names) - set(INPUT_NAMES)):
        parser.error(f"unknown inputs {unknown}; choose from {', '.join(INPUT_NAMES)}")
    seconds = args.seconds if args.seconds is not None else (QUICK_SECONDS if args.quick else None)
    n1_files = args.n1_files if args.n1_files is not None else (
        QUICK_N1_FILES if args.quick else DEFAULT_N1_FILES)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")

    started = time.perf_counter()
    pinned = "not pinned to a core" if args.no_pin else _pin_one_core()
    notes = []
    comparators = default_comparators(notes)
    inputs = list(load_inputs(names, data=args.data, seconds=seconds, n1_files=n1_files,
                              notes=notes))
    for path in args.files:
        try:
            rec = read_recording(path)
        except (NeurocodecError, OSError) as error:
            print(f"neurocodec bench: error: {error}", file=sys.stderr)
            return 1
        samples = _cut(rec.samples, rec.rate, seconds)
        inputs.append(BenchInput(path.stem, f"{path} ({rec.channels} ch, {rec.rate:g} S/s)",
                                 rec.rate, [samples], subset=f"{samples.shape[0]} samples"))
    rows = run_benchmark(inputs, comparators=comparators, repeat=repeat, budget=args.budget,
                         progress=lambda s: print(f"  {s}", file=sys.stderr, flush=True))
    for bench_input in inputs:
        parts = [Part(np.asarray(p), np.asarray(p).astype("<i2").tobytes(), bench_input.rate)
                 for p in bench_input.parts]
        for method in held_out_methods(bench_input):
            print(f"  {bench_input.name} {method.name}", file=sys.stderr, flush=True)
            rows.append(measure(method, parts, bench_input,
                                _reduction_label(bench_input.parts, [0] * len(parts)),
                                repeat=repeat, budget=args.budget))
    elapsed = time.perf_counter() - started
    notes[:0] = [
        f"{'quick run: ' if args.quick else ''}codecs: {', '.join(list_codecs())}; comparators: "
        f"{', '.join(m.name for m in comparators)} (WavPack not measured)",
        "every method gets the same samples: each input cut to the codec's channel limit and "
        "reduced to its sample width with the fewest dropped low bits (column 'reduced': channels, "
        "right shift); comparators see them as int16 little-endian interleaved bytes",
        f"lzma: xz container, preset 9 | PRESET_EXTREME; zstd: levels 3 and 19, single-threaded; "
        f"FLAC: 16-bit PCM through libsndfile at its default compression level, and inputs of more "
        f"than {FLAC_MAX_CHANNELS} channels are coded as one mono FLAC stream per channel (sizes "
        f"added)",
        f"speed: best of {repeat} timed run{'s' if repeat > 1 else ''} over the whole input "
        f"(fewer once {args.budget:g} s are spent; see encode_runs/decode_runs in bench.csv), "
        f"after an untimed warm-up on a short slice (JIT), one core ({pinned}), single-threaded; "
        f"codecs are the golden models (Python/NumPy/Numba); "
        f"x RT = speed / (channels x rate of the data as recorded)",
        f"ratio = original / compressed, original = 2 bytes per reduced sample; a method whose "
        f"decoder does not return its input exactly is FAILED and gets no size",
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; run time {elapsed:.0f} s",
    ]
    info = [(i.name, i.label, i.subset) for i in inputs]
    paths = write_reports(rows, args.out, info, notes)
    print(markdown(rows, info, notes))
    shown = ", ".join(str(p.relative_to(PROJECT)) if p.is_relative_to(PROJECT) else str(p)
                      for p in paths.values())
    print(f"wrote {shown}")
    failed = [f"{r['input']}/{r['method']}" for r in rows if r["status"] != "ok"]
    if not args.no_spikes:
        failed += spike_rows(args, repeat)
    if failed:
        print(f"FAILED round trips: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def spike_rows(args, repeat: int) -> list[str]:
    """Measure the spike codecs, write bench-spikes.md/.json; return the failed round trips."""
    from .spikes import bench as spikes_bench
    from .spikes import synthetic_raster
    from .spikes.synthetic import rhythmic_raster

    started = time.perf_counter()
    seconds = args.spike_seconds or (1.0 if args.quick else 10.0)
    rasters = {f"synthetic 1024ch 20kHz {seconds:g}s seed 0":
               synthetic_raster(1024, 20000.0, seconds, seed=0),
               # Where binary prediction pays: dense, short-range structure.
               "rhythmic 64ch period 6, 1% flips, seed 0": rhythmic_raster(
                   64, round(20000 * min(seconds, 1.0)), 6, 0.01, seed=0)}
    for path in args.files:  # the given recordings, else the standard real ones
        rec = read_recording(path)
        rasters[f"{path.stem} (detected)"] = spikes_bench.detect(
            rec.samples, refractory=max(1, round(rec.rate / 1000)))
    if (args.data / "README.md").is_file() and not args.files:
        rasters.update(spikes_bench.real_rasters(args.data, n1_files=4 if args.quick else 16))
    print(f"  spike codecs on {len(rasters)} rasters", file=sys.stderr, flush=True)
    rows = spikes_bench.bench_rows(rasters, repeat)
    table = spikes_bench.markdown(rows)
    note = (f"Spike codecs (docs/formats/spikes.md): ratio = T x N bins / stream bits (header, "
            f"tables and CRC included); speed in M raster bins/s, best of {repeat}, one core; H0 = "
            f"order-0 entropy of the isi gaps. Run time {time.perf_counter() - started:.0f} s.")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-spikes.md").write_text(f"{note}\n\n{table}\n")
    (args.out / "bench-spikes.json").write_text(json.dumps({"note": note, "rows": rows}, indent=1))
    print(f"\n{note}\n\n{table}\nwrote {args.out / 'bench-spikes.md'}")
    return [f"{r['input']}/{r['codec']}" for r in rows if not r["lossless_ok"]]


if __name__ == "__main__":
    sys.exit(main())
