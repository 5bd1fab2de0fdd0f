"""The ``neurocodec`` command: reference encoding and decoding of recordings.

Errors about files or parameters print one line naming what and where, and exit with status 1
(status 2 for command-line usage errors, from argparse).
"""

import argparse
import concurrent.futures
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import __version__
from .codecs import (Codec, decode_container, encode_recording, fitting_shift, get_codec,
                     grid_sample_bits, list_codecs, recording_grid,
                     restore_samples)
from .container import Container
from .codecs import dhuff
from .errors import FormatError, NeurocodecError, ParameterError
from .recording import CodeGrid, Recording, read_recording, write_recording
from .spikes import LOSSLESS_CODECS as SPIKE_CODECS
from .spikes import cli as spikes_cli
from .synthetic import synthetic_recording


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # the benchmark has its own options (neurocodec.benchmark)
        from .benchmark import main as bench_main

        return bench_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (NeurocodecError, OSError) as error:
        print(f"neurocodec {args.command}: error: {error}", file=sys.stderr)
        return 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="neurocodec",
        description="Reference encoder/decoder of the neurocodec formats (docs/formats).")
    parser.add_argument("--version", action="version", version=f"neurocodec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("encode", help="encode recordings into .ncd containers (or raw streams), "
                       "or spike rasters into spike streams",
                       description="Encode recordings. Input formats: .wav, .npy, Open Ephys "
                       "(structure.oebin or its folder), SpikeGLX (.bin/.meta), Neuralynx .ncs, "
                       "raw int16 (needs --channels, --rate). With a spike codec ("
                       + ", ".join(SPIKE_CODECS) + ") the inputs are rasters (.npy, shape (T, N), "
                       "0/1; `neurocodec spikes detect` makes them from recordings) and the "
                       "outputs spike streams (.nsk, docs/formats/spikes.md). With several inputs, "
                       "-o names a folder and each output is named after its input.")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file, or folder (several inputs, or an existing folder)")
    p.add_argument("--codec", required=True, help="codec name (see `neurocodec codecs`)")
    p.add_argument("--shift", default="0",
                   help="low bits to drop before encoding (lossy), or 'auto' for the fewest that "
                   "fit the codec's sample width (default 0: lossless)")
    p.add_argument("--grid", default="auto",
                   help="code grid: 'auto' (dhuff: code the ADC codes when the reader found a "
                   "grid, as in N1 files), 'none', or a number of levels")
    p.add_argument("--select", help="channels to keep, e.g. '0-15' or '0,2,5-7'")
    stream = p.add_mutually_exclusive_group()
    stream.add_argument("--raw", action="store_true",
                        help="write the bare codec bitstream (as the gateware emits it), no "
                        "container")
    stream.add_argument("--packets", action="store_true",
                        help="dhuff: write the packet stream of a lossy link (docs/formats/"
                        "dhuff.md, Packets), no container")
    _input_options(p)
    _dhuff_options(p)
    spikes_cli.add_encode_options(p)
    _batch_options(p)
    p.set_defaults(run=_encode)

    p = sub.add_parser("decode", help="decode .ncd containers (or raw/packet streams) into "
                       "recordings",
                       description="Decode into the format named by the output's suffix (.wav, "
                       ".npy, anything else raw int16); without -o, or with -o FOLDER, into the "
                       "format the input was read from, named after the input.")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT")
    p.add_argument("-o", "--output", type=Path,
                   help="output file, or folder (default: beside each input)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    stream = p.add_mutually_exclusive_group()
    stream.add_argument("--raw", action="store_true",
                        help="the input is a bare codec bitstream; needs --codec, --channels, "
                        "--rate (and the dhuff parameters it was made with)")
    stream.add_argument("--packets", action="store_true",
                        help="the input is a dhuff packet stream from a lossy link; lost scans "
                        "are reported (and are zeros in the output)")
    p.add_argument("--codec")
    p.add_argument("--shift", type=int, default=0, help="with --raw: low bits dropped at encoding")
    p.add_argument("--samples", type=int,
                   help="with --raw/--packets: scans in the stream, when known")
    p.add_argument("--grid", default="none",
                   help="with --raw/--packets: levels of the code grid the stream codes")
    p.add_argument("--lost-report", type=Path,
                   help="with --packets: write the lost scan ranges as JSON")
    _input_options(p)
    _dhuff_options(p)
    _batch_options(p)
    p.set_defaults(run=_decode)

    p = sub.add_parser("info", help="describe a .ncd container or a recording")
    p.add_argument("input", type=Path)
    _input_options(p)
    p.set_defaults(run=_info)

    p = sub.add_parser("codecs", help="list the codecs")
    p.set_defaults(run=_codecs)

    p = sub.add_parser("train", help="train a codec's dictionary from recordings",
                       description="Train a dhuff dictionary (docs/formats/dhuff.md) on "
                       "recordings: complete (every value encodes) and deterministic.")
    p.add_argument("--codec", required=True)
    p.add_argument("inputs", type=Path, nargs="+")
    p.add_argument("-o", "--output", type=Path, required=True, help="dictionary JSON")
    p.add_argument("--max-length", type=int, default=16, help="longest code (default 16)")
    p.add_argument("--layout", choices=("table", "canonical"), default="canonical",
                   help="ROM layout: the paper's per-symbol table, or per-length canonical")
    p.add_argument("--readmemh", type=Path, help="also write the ROM image for $readmemh")
    _input_options(p)
    _dhuff_options(p, dictionary=False)
    p.add_argument("--grid", default="auto", help="code grid: 'auto' (train on the ADC codes when the reader found a grid), 'none', or a number of levels")
    p.add_argument("--name", default="", help="a name stored in the dictionary")
    p.set_defaults(run=_train)

    p = sub.add_parser("bench", add_help=False,
                       help="compression ratio and speed of every codec against zlib, bz2, lzma, "
                       "zstd and FLAC (`make bench`); `neurocodec bench --help` for the options")
    p.set_defaults(run=lambda args: main(["bench"]))

    p = sub.add_parser("synth", help="write the deterministic synthetic recording",
                       description="The embedded default input: spikes from several units, "
                       "LFP-like background, noise; int16 at 0.195 uV/bit.")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--rate", type=float, default=30000.0)
    p.add_argument("--duration", type=float, default=1.0, help="seconds (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_synth)

    p = sub.add_parser("capture", help="record a headstage's word stream from a serial port",
                       description="Read the bytes a headstage sends (its UART output, or any "
                       "pyserial URL: /dev/ttyUSB1, socket://host:port, rfc2217://...) into a "
                       "file, for `neurocodec decode FILE --packets ...` (docs/headstage.md). "
                       "Stops after --seconds or --bytes, or at Ctrl-C (what arrived is kept).")
    p.add_argument("--port", required=True, help="serial device or pyserial URL")
    p.add_argument("--baud", type=int, default=3_000_000, help="default 3000000")
    p.add_argument("--seconds", type=float, default=10.0, help="capture length (default 10 s)")
    p.add_argument("--bytes", type=int, help="stop after this many bytes")
    p.add_argument("-o", "--output", type=Path, required=True, help="capture file (.ncp)")
    p.set_defaults(run=_capture)

    from .spikes.cli import add_commands as add_spike_commands

    add_spike_commands(sub)
    return parser


def _dhuff_options(p, dictionary=True):
    p.add_argument("--discard-bits", type=int, help="dhuff: D, low bits dropped (default 0)")
    p.add_argument("--low-bits", type=int, help="dhuff: L, raw low bits of |d| (default 4)")
    p.add_argument("--block", type=int, help="dhuff: N, scans per block (default 64)")
    p.add_argument("--frame-words", type=int, help="dhuff: M, words per frame (default 256)")
    p.add_argument("--contexts", type=int,
                   help="dhuff: K, dictionaries chosen by the channel's recent activity "
                   "(default 1: the paper's single dictionary)")
    p.add_argument("--reversion", type=int,
                   help="dhuff: R, predict x[t-1] pulled 2^-R of the way to the running mean "
                   "(default 0: x[t-1], the paper's delta)")
    if dictionary:
        p.add_argument("--dictionary",
                       help="dhuff: dictionary JSON file from `train`, or a built-in name ("
                       + ", ".join(dhuff.builtin_dictionaries()) + "); its D and L are the "
                       "defaults")


def _batch_options(p):
    p.add_argument("--jobs", "-j", type=int, default=1,
                   help="files coded in parallel processes (default 1)")
    p.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                   help="progress display (default auto: a bar on a terminal with several "
                   "inputs, else one line per file)")


def _codec_params(args) -> dict:
    """The codec parameters given on the command line (only those the user set); a dictionary
    supplies D and L (and the sample width) it was trained for unless they are given."""
    params = {name: getattr(args, name) for name in
              ("discard_bits", "low_bits", "block", "frame_words", "contexts", "reversion")
              if getattr(args, name, None) is not None}
    if getattr(args, "dictionary", None) is not None:
        dictionary = load_dictionary(args.dictionary)
        params["dictionary"] = dictionary
        params = dict(dictionary.trained_for) | params
    return params


def load_dictionary(spec: str) -> dhuff.Dictionary:
    """A dictionary file (JSON from `train`) or a built-in dictionary's name."""
    path = Path(spec)
    if not path.is_file() and spec in dhuff.builtin_dictionaries():
        return dhuff.builtin_dictionaries()[spec]
    if not path.is_file():
        raise ParameterError(f"--dictionary {spec}: no such file, and not a built-in dictionary "
                             f"({', '.join(dhuff.builtin_dictionaries()) or 'none built in'})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(f"{path}: not a JSON dictionary: {error}") from None
    if not isinstance(data, dict):
        raise FormatError(f"{path}: not a dictionary file (a JSON object)")
    return dhuff.Dictionary.from_json(data, str(path))


def _input_options(p):
    p.add_argument("--channels", type=int, help="channel count (raw input)")
    p.add_argument("--rate", type=float, help="sample rate in Hz (raw or .npy input)")


def _load(args) -> Recording:
    recording = read_recording(args.input, channels=args.channels, rate=args.rate)
    if getattr(args, "select", None):
        recording = select_channels(recording, args.select)
    return recording


def select_channels(recording: Recording, spec: str) -> Recording:
    """Keep the channels named by ``spec`` ('0-15', '0,2,5-7'), in that order."""
    chosen = []
    for part in spec.split(","):
        try:
            low, _, high = part.partition("-")
            chosen.extend(range(int(low), int(high or low) + 1))
        except ValueError:
            raise ParameterError(f"--select: cannot read {part!r} (use e.g. '0-15' or '0,3')")
    bad = [c for c in chosen if not 0 <= c < recording.channels]
    if bad or not chosen:
        raise ParameterError(f"--select: channel {bad[0] if bad else spec} is not among the "
                             f"{recording.channels} channels (0-{recording.channels - 1})")
    return Recording(recording.samples[:, chosen], recording.rate, recording.uv_per_bit,
                     dict(recording.metadata, channels_selected=chosen))


def choose_shift(recording: Recording, codec: Codec, shift: str) -> int:
    """The shift to apply: an integer, or 'auto' (fewest dropped bits that fit the codec)."""
    if shift == "auto":
        return fitting_shift(recording.samples, codec.sample_bits)
    try:
        return int(shift)
    except ValueError:
        raise ParameterError(f"--shift must be an integer or 'auto', not {shift!r}") from None


# The default output of `decode`: the format the input was read from (else raw int16, .dat).
SOURCE_SUFFIX = {"wav": ".wav", "npy": ".npy", "open-ephys-binary": "/structure.oebin"}


def _encode(args):
    spikes = args.codec in SPIKE_CODECS
    _check_options_apply(args, spikes)
    if spikes:
        spikes_cli.codec_from_args(args)  # bad options fail once, before any file is read
        return _batch(args, list(zip(args.inputs, _outputs(args, ".nsk"))), spikes_cli.encode_file)
    outputs = _outputs(args, {"raw": ".bin", "packets": ".ncp"}.get(_stream_kind(args), ".ncd"))
    return _batch(args, list(zip(args.inputs, outputs)), _encode_one)


def _check_options_apply(args, spikes: bool) -> None:
    """Refuse options of the other kind of codec (recording codecs vs spike codecs)."""
    if spikes:
        given = [flag for flag, given in (
            ("--shift", args.shift != "0"), ("--grid", args.grid != "auto"),
            ("--select", args.select), ("--raw", args.raw), ("--packets", args.packets),
            ("--channels", args.channels is not None), ("--rate", args.rate is not None),
            *((f"--{n.replace('_', '-')}", getattr(args, n) is not None) for n in
              ("discard_bits", "low_bits", "block", "frame_words", "contexts", "reversion",
               "dictionary"))) if given]
        what = f"spike codec {args.codec} (its input is a raster .npy)"
    else:
        given = [f"--{n.replace('_', '-')}" for n in spikes_cli.SPIKE_OPTIONS
                 if getattr(args, n) is not None]
        what = f"codec {args.codec} (spike codec options are for {', '.join(SPIKE_CODECS)})"
    if given:
        raise ParameterError(f"{', '.join(given)} do(es) not apply to {what}")


def _decode(args):
    return _batch(args, list(zip(args.inputs, _outputs(args, None))), _decode_one)


def _stream_kind(args) -> str | None:
    return "raw" if args.raw else "packets" if args.packets else None


def _outputs(args, suffix: str | None) -> list:
    """Output paths: -o itself for one input (unless it is a folder), else folder/stem+suffix;
    suffix None (decode) = the format the input came from, found when decoding."""
    output = args.output
    if output is not None and len(args.inputs) == 1 and not output.is_dir():
        return [output]
    folder = output
    if folder is not None:
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"-o {folder}: several inputs need a folder, and this is a file")
        folder.mkdir(parents=True, exist_ok=True)
    names = [_stem(path) for path in args.inputs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if folder is not None and repeated:
        raise ParameterError(f"inputs share the name {repeated[0]!r}: their outputs in {folder} "
                             "would collide")
    return [(folder or path.parent) / (name + (suffix or "")) if suffix else
            ("auto", folder or path.parent, name)
            for path, name in zip(args.inputs, names)]


def _stem(path: Path) -> str:
    if path.name == "structure.oebin":
        path = path.parent
    return path.stem if path.suffix else path.name


def _batch(args, jobs, work) -> int:
    """Run work(args, input, output) over the files: in ``--jobs`` processes, with a progress
    bar or one line per file. A failing file is reported and the others go on; exit 1 if any
    failed."""
    if args.jobs < 1:
        raise ParameterError(f"--jobs must be >= 1, not {args.jobs}")
    if len(jobs) == 1:
        print(work(args, *jobs[0]))
        return 0
    mode = args.progress
    if mode == "auto":
        mode = "bar" if sys.stderr.isatty() else "lines"
    failures = []
    bar = tqdm(total=len(jobs), unit="file", disable=mode != "bar", file=sys.stderr)

    def report(source, message=None, error=None):
        if error is not None:
            failures.append(source)
            text = f"neurocodec {args.command}: error: {error}"
            bar.write(text, file=sys.stderr) if mode == "bar" else print(text, file=sys.stderr)
        elif mode == "lines":
            print(message, flush=True)
        bar.update()

    if args.jobs == 1:
        for source, target in jobs:
            try:
                report(source, work(args, source, target))
            except (NeurocodecError, OSError) as error:
                report(source, error=error)
    else:
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(work, args, source, target): source for source, target in jobs}
            for future in concurrent.futures.as_completed(futures):
                try:
                    report(futures[future], future.result())
                except (NeurocodecError, OSError) as error:
                    report(futures[future], error=error)
    bar.close()
    print(f"{len(jobs) - len(failures)} of {len(jobs)} files done"
          + (f"; failed: {', '.join(map(str, failures))}" if failures else ""), file=sys.stderr)
    return 1 if failures else 0


def _choose_grid(option: str, recording: Recording, codec_name: str) -> int | None:
    if option == "none":
        return None
    if option == "auto":
        return recording_grid(recording) if codec_name == "dhuff" else None
    try:
        levels = int(option)
    except ValueError:
        raise ParameterError(f"--grid must be 'auto', 'none' or a number of levels, not "
                             f"{option!r}") from None
    CodeGrid(levels)  # checks the range
    return levels


def _encode_one(args, source: Path, target: Path) -> str:
    recording = read_recording(source, channels=args.channels, rate=args.rate)
    if args.select:
        recording = select_channels(recording, args.select)
    params = _codec_params(args)
    grid = _choose_grid(args.grid, recording, args.codec)
    if args.codec == "dhuff":
        bits = grid_sample_bits(grid) if grid is not None else 16
        if params.get("sample_bits", bits) != bits:
            raise ParameterError(
                f"{source}: the dictionary is for {params['sample_bits']}-bit samples, the "
                + (f"{grid}-level code grid gives {bits}" if grid else
                   "recording has 16-bit samples and no code grid (see --grid)"))
        params["sample_bits"] = bits
    codec = get_codec(args.codec, **params)
    if grid is not None:
        if args.shift not in ("0", "auto"):
            raise ParameterError("--shift and a code grid exclude each other (use --grid none)")
        shift = 0
    else:
        shift = choose_shift(recording, codec, args.shift)
    container = encode_recording(recording, codec, shift, grid)
    if args.packets:
        if codec.name != "dhuff":
            raise ParameterError("--packets: only the dhuff codec has a packet layer")
        data = dhuff.packetize(container.payload, codec.dhuff_params)
    else:
        data = container.payload if args.raw else container.to_bytes()
    target.write_bytes(data)
    original = recording.n_samples * recording.channels * 2
    how = f"grid {grid}" if grid is not None else f"shift {shift}"
    return (f"{source} -> {target}: {recording.channels} ch x {recording.n_samples} samples, "
            f"codec {codec.name}, {how}: {len(data)} bytes, "
            f"{100 * len(data) / max(original, 1):.2f}% of int16")


def _decode_one(args, source: Path, target) -> str:
    data = source.read_bytes()
    note = ""
    if data[:4] == b"NCSK" and not (args.raw or args.packets):  # a spike stream
        if isinstance(target, tuple):
            _, folder, name = target
            target = folder / f"{name}.npy"
            if target.exists() and not args.force:
                raise ParameterError(f"{target} exists; give -o, or --force to overwrite it")
        return spikes_cli.decode_file(source, target)
    if args.raw or args.packets:
        name = args.codec or ("dhuff" if args.packets else None)
        if not (name and args.channels and args.rate):
            raise ParameterError(f"--{_stream_kind(args)} needs --codec, --channels and --rate")
        if not 0 <= args.shift < 16:
            raise ParameterError(f"--shift must be in 0..15, not {args.shift}")
        grid = None if args.grid in ("none", "auto") else _choose_grid(args.grid, None, name)
        params = _codec_params(args)
        if name == "dhuff" and grid is not None:
            params.setdefault("sample_bits", grid_sample_bits(grid))
        codec = get_codec(name, **params)
        if args.packets:
            if codec.name != "dhuff":
                raise ParameterError("--packets: only the dhuff codec has a packet layer")
            result = dhuff.decode_packets(data, args.channels, codec.dhuff_params,
                                          codec.dictionary, args.samples)
            samples, note = result.samples, _loss_summary(result)
            if args.lost_report:
                args.lost_report.write_text(json.dumps(
                    {"scans": samples.shape[0], "lost": result.lost,
                     "lost_scans": result.lost_scans, "packets": result.packets,
                     "bad_packets": result.bad_packets, "missing_packets": result.missing_packets,
                     "notes": result.notes}, indent=1) + "\n")
        else:
            samples = codec.decode(data, args.channels, args.samples)
        recording = Recording(restore_samples(samples, 0 if grid else args.shift, grid),
                              args.rate)
    else:
        container = Container.from_bytes(data, str(source))
        known = [load_dictionary(args.dictionary)] if args.dictionary else []
        recording = decode_container(container, known)
    target = _decode_target(args, source, target, recording)
    write_recording(target, recording)
    return (f"{source} -> {target}: {recording.channels} ch x {recording.n_samples} samples at "
            f"{recording.rate:g} Hz{note}")


def _loss_summary(result) -> str:
    if not result.lost and not result.notes:
        return ""
    ranges = ", ".join(f"{a}..{b - 1}" for a, b in result.lost[:5])
    more = f" and {len(result.lost) - 5} more" if len(result.lost) > 5 else ""
    text = (f"; LOST {result.lost_scans} scans in {len(result.lost)} ranges ({ranges}{more}; "
            f"zeros in the output), {result.missing_packets} packets missing, "
            f"{result.bad_packets} corrupted runs")
    return text + "".join(f"\n  note: {n}" for n in result.notes)


def _decode_target(args, source, target, recording) -> Path:
    if not isinstance(target, tuple):
        return target
    _, folder, name = target
    path = Path(f"{folder / name}{SOURCE_SUFFIX.get(recording.metadata.get('format'), '.dat')}")
    if path.resolve() == source.resolve() or (path.exists() and not args.force):
        raise ParameterError(f"{path} exists; give -o, or --force to overwrite it")
    return path


def _info(args):
    data = args.input.read_bytes() if args.input.is_file() else b""
    if data[:4] == b"NCSK":  # a spike stream
        return spikes_cli.describe(args.input, data)
    if data[:4] == b"NCDC":
        c = Container.from_bytes(data, str(args.input))
        original = c.n_samples * c.channels * 2
        params = {k: v for k, v in c.params.items() if k != "dictionary"}
        if isinstance(c.params.get("dictionary"), dict):
            d = c.params["dictionary"]
            if "lengths" in d:
                params["dictionary"] = (f"{d.get('layout')} layout, {d.get('contexts', 1)} x "
                                        f"{d.get('n_symbols')} symbols, codes <= "
                                        f"{d.get('max_length')} bits, sha256 "
                                        f"{str(d.get('sha256'))[:12]}")
            else:
                builtin = any(b.sha256() == d.get("sha256")
                              for b in dhuff.builtin_dictionaries().values())
                where = "built in" if builtin else "NOT built in: decode needs --dictionary FILE"
                params["dictionary"] = (f"reference to {d.get('name') or 'a dictionary'} "
                                        f"(sha256 {str(d.get('sha256'))[:12]}, {where})")
        lossy = c.shift or c.params.get("discard_bits", 0)
        print(f"{args.input}: neurocodec container, codec {c.codec} {params or ''}\n"
              f"  {c.channels} channels x {c.n_samples} samples at {c.rate:g} Hz "
              f"({c.n_samples / c.rate:.3f} s), "
              f"{f'{c.grid}-level code grid' if c.grid else f'shift {c.shift}'}"
              f"{' (lossy)' if lossy else ' (lossless)'}\n"
              f"  payload {len(c.payload)} bytes = {100 * len(c.payload) / max(original, 1):.2f}% "
              f"of int16; CRC ok")
        return
    r = _load(args)
    print(f"{args.input}: {r.metadata.get('format', '?')} recording, {r.channels} channels x "
          f"{r.n_samples} samples at {r.rate:g} Hz ({r.duration:.3f} s), "
          f"range [{r.samples.min()}, {r.samples.max()}]"
          + (f", {r.uv_per_bit} uV/bit" if r.uv_per_bit else ""))


def _codecs(args):
    for name in list_codecs():
        print(f"{name:10s} {get_codec(name).summary}")
    print("spike codecs (rasters .npy (T, N) of 0/1; `neurocodec encode --codec NAME`):")
    for name in SPIKE_CODECS:
        print(f"  {name:10s} {SPIKE_SUMMARY[name]}")


SPIKE_SUMMARY = {
    "isi": "inter-spike intervals, varint or Huffman",
    "predictive": "XOR with a predictor's guess (lfsr, ema, context, world_model), then isi",
    "delta": "channel groups XORed with their busiest channel, then isi",
    "streaming": "fixed windows, each frame decodable alone (real-time links)",
    "aer": "address-event words (time delta, channel id), neuromorphic routing",
}


def _train(args):
    if args.codec != "dhuff":
        get_codec(args.codec)  # an unknown name gets the list of codecs
        raise ParameterError(f"codec {args.codec!r} has no dictionary to train")
    recordings = [read_recording(path, channels=args.channels, rate=args.rate)
                  for path in args.inputs]
    grids = {_choose_grid(args.grid, r, "dhuff") for r in recordings}
    if len(grids) > 1:
        raise ParameterError(f"the inputs mix code grids {sorted(grids, key=str)}: train on "
                             "recordings of one kind (or --grid none)")
    grid = grids.pop()
    params = dhuff.DhuffParams(**{"discard_bits": 0, "low_bits": 4, **_codec_params(args),
                                  "sample_bits": grid_sample_bits(grid) if grid else 16})
    samples = [CodeGrid(grid).to_codes(r.samples).astype(np.int32) - grid // 2 if grid
               else r.samples for r in recordings]
    dictionary = dhuff.train_dictionary(samples, params, args.max_length, args.layout)
    dictionary.name = args.name
    args.output.write_text(json.dumps(dictionary.to_json(), indent=1) + "\n")
    if args.readmemh:
        args.readmemh.write_text(dictionary.readmemh())
    other = "table" if args.layout == "canonical" else "canonical"
    other_bits = (f", {other} layout {dictionary.rom_bits(other)} bits"
                  if args.layout == "canonical" else "")
    print(f"{args.output}: {dictionary.n_symbols} symbols (B={params.sample_bits}, "
          f"D={params.discard_bits}, W={params.width}, L={params.low_bits}"
          f"{f', grid {grid}' if grid else ''}), codes of 1..{dictionary.max_length} bits, "
          f"trained on {sum(r.size for r in samples)} samples; ROM: {args.layout} layout "
          f"{dictionary.rom_bits()} bits{other_bits}")


def _capture(args):
    import time

    import serial  # pyserial

    if not args.seconds > 0 or (args.bytes is not None and args.bytes < 1) or args.baud < 1:
        raise ParameterError("--seconds, --bytes and --baud must be positive")
    try:
        port = serial.serial_for_url(args.port, baudrate=args.baud, timeout=0.1)
    except (serial.SerialException, ValueError) as error:
        raise ParameterError(f"--port {args.port}: cannot open: {error}") from None
    received = 0
    deadline = time.monotonic() + args.seconds
    try:
        with port, open(args.output, "wb") as out:
            while time.monotonic() < deadline and (args.bytes is None or received < args.bytes):
                want = 65536 if args.bytes is None else min(65536, args.bytes - received)
                chunk = port.read(want)
                out.write(chunk)
                received += len(chunk)
    except KeyboardInterrupt:
        print("capture: interrupted", file=sys.stderr)
    except serial.SerialException as error:
        raise FormatError(f"--port {args.port}: read failed after {received} bytes: "
                          f"{error}") from None
    packets = args.output.read_bytes().count(b"\x4e\x43")
    print(f"{args.output}: {received} bytes from {args.port} ({packets} sync words); decode "
          "with `neurocodec decode FILE --packets --codec dhuff --channels C --rate R "
          "--dictionary D`")


def _synth(args):
    recording = synthetic_recording(args.channels, args.rate, args.duration, args.seed)
    write_recording(args.output, recording)
    print(f"{args.output}: synthetic recording, {recording.channels} ch x {recording.n_samples} "
          f"samples at {recording.rate:g} Hz, seed {args.seed}")


if __name__ == "__main__":
    sys.exit(main())
