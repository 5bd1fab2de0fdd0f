"""The ``neurocodec`` command: reference encoding and decoding of recordings.

Errors about files or parameters print one line naming what and where, and exit with status 1
(status 2 for command-line usage errors, from argparse).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .codecs import (Codec, decode_container, encode_recording, fitting_shift, get_codec,
                     list_codecs, reduce_samples)
from .container import Container
from .codecs import dhuff
from .errors import FormatError, NeurocodecError, ParameterError
from .recording import Recording, read_recording, write_recording
from .synthetic import synthetic_recording


def main(argv=None) -> int:
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

    p = sub.add_parser("encode", help="encode a recording into a .ncd container (or a raw stream)",
                       description="Encode a recording. Input formats: .wav, .npy, Open Ephys "
                       "(structure.oebin or its folder), raw int16 (needs --channels, --rate).")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--codec", required=True, help="codec name (see `neurocodec codecs`)")
    p.add_argument("--shift", default="0",
                   help="low bits to drop before encoding (lossy), or 'auto' for the fewest that "
                   "fit the codec's sample width (default 0: lossless)")
    p.add_argument("--select", help="channels to keep, e.g. '0-15' or '0,2,5-7'")
    p.add_argument("--raw", action="store_true",
                   help="write the bare codec bitstream (as the gateware emits it), no container")
    _input_options(p)
    _dhuff_options(p)
    p.add_argument("--dictionary", type=Path, help="dhuff: dictionary JSON from `train`")
    p.set_defaults(run=_encode)

    p = sub.add_parser("decode", help="decode a .ncd container (or a raw stream) into a recording",
                       description="Decode into .wav, .npy or raw int16 (other suffixes).")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--raw", action="store_true",
                   help="the input is a bare codec bitstream; needs --codec, --channels, --rate")
    p.add_argument("--codec")
    p.add_argument("--shift", type=int, default=0, help="with --raw: low bits dropped at encoding")
    _input_options(p)
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
    _dhuff_options(p)
    p.set_defaults(run=_train)

    p = sub.add_parser("bench", help="measure a codec's ratio and model speed on a recording",
                       description="Encode and decode with the golden model and report the "
                       "compressed size and MS/s. Without INPUT: the synthetic recording.")
    p.add_argument("input", type=Path, nargs="?")
    p.add_argument("--codec", default="maestro")
    p.add_argument("--shift", default="auto")
    p.add_argument("--select", help="channels to keep, e.g. '0-15'")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is reported)")
    _input_options(p)
    p.set_defaults(run=_bench)

    p = sub.add_parser("synth", help="write the deterministic synthetic recording",
                       description="The embedded default input: spikes from several units, "
                       "LFP-like background, noise; int16 at 0.195 uV/bit.")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--rate", type=float, default=30000.0)
    p.add_argument("--duration", type=float, default=1.0, help="seconds (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_synth)
    return parser


def _dhuff_options(p):
    p.add_argument("--discard-bits", type=int, help="dhuff: D, low bits dropped (default 0)")
    p.add_argument("--low-bits", type=int, help="dhuff: L, raw low bits of |d| (default 4)")
    p.add_argument("--block", type=int, help="dhuff: N, scans per block (default 64)")
    p.add_argument("--frame-words", type=int, help="dhuff: M, words per frame (default 256)")


def _codec_params(args) -> dict:
    """The codec parameters given on the command line (only those the user set)."""
    params = {name: getattr(args, name) for name in
              ("discard_bits", "low_bits", "block", "frame_words")
              if getattr(args, name, None) is not None}
    if getattr(args, "dictionary", None) is not None:
        try:
            params["dictionary"] = json.loads(args.dictionary.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise FormatError(f"{args.dictionary}: not a JSON dictionary: {error}") from None
    return params


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


def _encode(args):
    recording = _load(args)
    codec = get_codec(args.codec, **_codec_params(args))
    shift = choose_shift(recording, codec, args.shift)
    container = encode_recording(recording, codec, shift)
    data = container.payload if args.raw else container.to_bytes()
    args.output.write_bytes(data)
    original = recording.n_samples * recording.channels * 2
    print(f"{args.input} -> {args.output}: {recording.channels} ch x {recording.n_samples} "
          f"samples, codec {codec.name}, shift {shift}: {len(data)} bytes, "
          f"{100 * len(data) / max(original, 1):.2f}% of int16")


def _decode(args):
    data = args.input.read_bytes()
    if args.raw:
        if not (args.codec and args.channels and args.rate):
            raise ParameterError("--raw needs --codec, --channels and --rate")
        if not 0 <= args.shift < 16:
            raise ParameterError(f"--shift must be in 0..15, not {args.shift}")
        codec = get_codec(args.codec)
        samples = codec.decode(data, args.channels)
        container = Container(codec.name, args.channels, args.rate, samples.shape[0], data,
                              codec.params(), args.shift)
    else:
        container = Container.from_bytes(data, str(args.input))
    recording = decode_container(container)
    write_recording(args.output, recording)
    print(f"{args.input} -> {args.output}: {recording.channels} ch x {recording.n_samples} "
          f"samples at {recording.rate:g} Hz")


def _info(args):
    data = args.input.read_bytes() if args.input.is_file() else b""
    if data[:4] == b"NCDC":
        c = Container.from_bytes(data, str(args.input))
        original = c.n_samples * c.channels * 2
        params = {k: v for k, v in c.params.items() if k != "dictionary"}
        if "dictionary" in c.params:
            d = c.params["dictionary"]
            params["dictionary"] = (f"{d.get('layout')} layout, {d.get('n_symbols')} symbols, "
                                    f"codes <= {d.get('max_length')} bits, "
                                    f"sha256 {str(d.get('sha256'))[:12]}")
        lossy = c.shift or c.params.get("discard_bits", 0)
        print(f"{args.input}: neurocodec container, codec {c.codec} {params or ''}\n"
              f"  {c.channels} channels x {c.n_samples} samples at {c.rate:g} Hz "
              f"({c.n_samples / c.rate:.3f} s), shift {c.shift}"
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


def _train(args):
    if args.codec != "dhuff":
        get_codec(args.codec)  # an unknown name gets the list of codecs
        raise ParameterError(f"codec {args.codec!r} has no dictionary to train")
    params = dhuff.DhuffParams(**{"discard_bits": 0, "low_bits": 4, **_codec_params(args)})
    recordings = [read_recording(path, channels=args.channels, rate=args.rate).samples
                  for path in args.inputs]
    dictionary = dhuff.train_dictionary(recordings, params, args.max_length, args.layout)
    args.output.write_text(json.dumps(dictionary.to_json(), indent=1) + "\n")
    if args.readmemh:
        args.readmemh.write_text(dictionary.readmemh())
    other = "table" if args.layout == "canonical" else "canonical"
    other_bits = (f", {other} layout {dictionary.rom_bits(other)} bits"
                  if args.layout == "canonical" else "")
    print(f"{args.output}: {dictionary.n_symbols} symbols (W={params.width}, "
          f"L={params.low_bits}), codes of 1..{dictionary.max_length} bits, trained on "
          f"{sum(r.size for r in recordings)} samples; ROM: {args.layout} layout "
          f"{dictionary.rom_bits()} bits{other_bits}")


def _bench(args):
    if args.input is None:
        recording = synthetic_recording()
        args.input = "synthetic (16 ch, 30 kS/s, 1 s, seed 0)"
    else:
        recording = _load(args)
    codec = get_codec(args.codec)
    shift = choose_shift(recording, codec, args.shift)
    samples = reduce_samples(recording.samples, shift)
    n = samples.size
    encode_s = _best_time(lambda: codec.encode(samples), args.repeat)
    payload = codec.encode(samples)
    decode_s = _best_time(lambda: codec.decode(payload, recording.channels), args.repeat)
    if not np.array_equal(codec.decode(payload, recording.channels), samples):
        raise NeurocodecError("decoded samples differ from the input (codec bug)")
    bits = codec.sample_bits
    print(f"{args.input}: codec {codec.name}, shift {shift}, {recording.channels} ch x "
          f"{recording.n_samples} samples\n"
          f"  compressed {len(payload)} bytes: {8 * len(payload) / n:.3f} bits/sample, "
          f"{100 * len(payload) * 8 / (n * bits):.2f}% of {bits}-bit, "
          f"{100 * len(payload) / (n * 2):.2f}% of int16\n"
          f"  model encode {n / encode_s / 1e6:.1f} MS/s, decode {n / decode_s / 1e6:.1f} MS/s "
          f"(best of {args.repeat})")


def _best_time(fn, repeat):
    best = float("inf")
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _synth(args):
    recording = synthetic_recording(args.channels, args.rate, args.duration, args.seed)
    write_recording(args.output, recording)
    print(f"{args.output}: synthetic recording, {recording.channels} ch x {recording.n_samples} "
          f"samples at {recording.rate:g} Hz, seed {args.seed}")


if __name__ == "__main__":
    sys.exit(main())
