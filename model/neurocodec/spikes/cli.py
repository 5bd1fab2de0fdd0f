"""``neurocodec spikes ...``: encode, decode, detect and describe spike streams.

``add_commands(sub)`` adds the ``spikes`` command to the subparsers of the ``neurocodec`` parser.
Every subcommand sets ``run(args) -> int``; bad input raises FormatError/ParameterError, which the
main CLI prints as one line (``neurocodec spikes: error: ...``) with exit status 1.
"""

import argparse
from pathlib import Path

import numpy as np

from . import LOSSLESS_CODECS, decompress, detect, get_codec, info
from ..errors import FormatError, ParameterError
from ..recording import read_recording


def add_commands(sub) -> argparse.ArgumentParser:
    spikes = sub.add_parser("spikes", help="spike rasters: encode, decode, detect, info",
                            description="Spike codecs (docs/formats/spikes.md) on rasters: .npy "
                            "arrays (T, N) of 0/1.")
    cmds = spikes.add_subparsers(dest="spikes_command", required=True, metavar="SUBCOMMAND")

    p = cmds.add_parser("encode", help="encode a raster (.npy) into a spike stream")
    p.add_argument("input", type=Path, help="raster .npy, shape (T, N), 0/1")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--codec", required=True, choices=LOSSLESS_CODECS)
    add_encode_options(p)
    p.set_defaults(run=_encode)

    p = cmds.add_parser("decode", help="decode a spike stream into a raster (.npy, int8)")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--max-bins", type=int, default=1 << 31,
                   help="refuse rasters of more than this many bins (default 2^31)")
    p.set_defaults(run=_decode)

    p = cmds.add_parser("detect", help="detect spikes in a recording: raster .npy (T, N) int8",
                        description="Threshold crossings (the waveform codec's detector): wav, "
                        "npy, raw int16, Open Ephys, SpikeGLX, Neuralynx.")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--channels", type=int, help="channel count (raw int16 input)")
    p.add_argument("--rate", type=float, help="sample rate in Hz (raw and .npy input)")
    p.add_argument("--threshold", type=float, default=4.5, help="sigmas (default 4.5)")
    p.add_argument("--refractory-ms", type=float, default=1.0, help="default 1 ms")
    p.add_argument("--hp-window", type=int, default=32, help="high-pass moving-average samples")
    p.set_defaults(run=_detect)

    p = cmds.add_parser("info", help="describe a spike stream")
    p.add_argument("input", type=Path)
    p.set_defaults(run=_info)
    return spikes


def load_raster(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise FormatError(f"{path}: not a readable .npy array: {error}") from None


def add_encode_options(p) -> None:
    """The spike codecs' options (shared by `neurocodec spikes encode` and `neurocodec encode`)."""
    g = p.add_argument_group("spike codecs (isi, predictive, delta, streaming, aer)")
    g.add_argument("--backend", choices=("auto", "varint", "huffman"),
                   help="isi/predictive/delta entropy back end (default auto)")
    g.add_argument("--timing-precision", type=int,
                   help="isi: quantise spike times to bins of this many samples (lossy)")
    g.add_argument("--predictor", choices=("ema", "lfsr", "context", "world_model"),
                   help="predictive: the predictor (default lfsr)")
    g.add_argument("--alpha-q8", type=int, help="predictive lfsr: rate update (1..256)")
    g.add_argument("--seed", type=lambda s: int(s, 0), help="predictive lfsr: LFSR seed")
    g.add_argument("--context-k", type=int, help="predictive context: history length")
    g.add_argument("--group-size", type=int, help="delta: channels per group")
    g.add_argument("--window", type=int, help="streaming: samples per frame (default 20)")


SPIKE_OPTIONS = ("backend", "timing_precision", "predictor", "alpha_q8", "seed", "context_k",
                 "group_size", "window")


def codec_from_args(args):
    """The spike codec named by ``args.codec`` with the options the user gave; an option that
    does not apply to that codec is an error."""
    options = {"isi": {"backend": args.backend},
               "predictive": {"backend": args.backend, "predictor": args.predictor},
               "delta": {"backend": args.backend, "group_size": args.group_size},
               "streaming": {"window": args.window}, "aer": {}}[args.codec]
    if args.codec == "isi" and args.timing_precision not in (None, 1):
        options.update(mode="lossy", timing_precision=args.timing_precision)
    predictor = args.predictor or "lfsr"
    for name, value, needs in (("alpha_q8", args.alpha_q8, "lfsr"), ("seed", args.seed, "lfsr"),
                               ("k", args.context_k, "context")):
        if value is not None:
            if args.codec != "predictive" or predictor != needs:
                flag = "--context-k" if name == "k" else f"--{name.replace('_', '-')}"
                raise ParameterError(f"{flag} applies to the predictive codec with the {needs} "
                                     "predictor")
            options[name] = value
    unused = [flag for flag, value, codecs in (
        ("--backend", args.backend, ("isi", "predictive", "delta")),
        ("--timing-precision", args.timing_precision, ("isi",)),
        ("--group-size", args.group_size, ("delta",)), ("--window", args.window, ("streaming",)),
        ("--predictor", args.predictor, ("predictive",)))
        if value is not None and args.codec not in codecs]
    if unused:
        raise ParameterError(f"{', '.join(unused)} do(es) not apply to codec {args.codec}")
    return get_codec(args.codec, **{k: v for k, v in options.items() if v is not None})


def encode_file(args, source: Path, target: Path) -> str:
    """Encode the raster in ``source`` (.npy) into the spike stream ``target``; a one-line
    report."""
    codec = codec_from_args(args)
    raster = load_raster(source)
    data, result = codec.compress(raster)
    target.write_bytes(data)
    return f"{source} -> {target}: {result.summary()}"


def decode_file(source: Path, target: Path, max_bins: int = 1 << 31) -> str:
    """Decode the spike stream ``source`` into ``target`` (.npy, written under exactly that
    name); a one-line report."""
    data = source.read_bytes()
    fields = info(data, max_bins=max_bins)
    raster = decompress(data, max_bins=max_bins)
    with open(target, "wb") as handle:  # np.save(path) would append .npy to other names
        np.save(handle, raster)
    what = ("int16 samples" if fields["codec"] == "waveform" else
            f"raster, {int(raster.sum(dtype=np.int64))} spikes")
    return (f"{source} -> {target}: codec {fields['codec']}, {raster.shape[0]} x "
            f"{raster.shape[1]} {what}")


def _encode(args) -> int:
    print(encode_file(args, args.input, args.output))
    return 0


def _decode(args) -> int:
    print(decode_file(args.input, args.output, args.max_bins))
    return 0


def _detect(args) -> int:
    recording = read_recording(args.input, channels=args.channels, rate=args.rate)
    if not args.refractory_ms > 0:
        raise ParameterError(f"--refractory-ms must be > 0, not {args.refractory_ms}")
    refractory = max(1, round(args.refractory_ms * recording.rate / 1000))
    raster = detect(recording.samples, args.threshold, refractory, args.hp_window)
    np.save(args.output, raster)
    seconds = recording.n_samples / recording.rate
    count = int(raster.sum(dtype=np.int64))
    print(f"{args.output}: {raster.shape[0]} x {raster.shape[1]} raster at {recording.rate:g} Hz, "
          f"{count} spikes ({count / max(seconds, 1e-12) / max(raster.shape[1], 1):.2f} Hz per "
          "channel)")
    return 0


def _info(args) -> int:
    return describe(args.input, args.input.read_bytes())


def describe(path: Path, data: bytes) -> int:
    """Print what a spike stream holds (after checking its header and CRC, and decoding it)."""
    fields = info(data)
    raster = decompress(data)
    kind = "int16 samples" if fields["codec"] == "waveform" else "raster"
    bins = fields["T"] * fields["N"]
    print(f"{path}: spike stream, codec {fields['codec']}, {kind} {fields['T']} x {fields['N']}, "
          f"{fields['bytes']} bytes ({fields['body_bytes']} body), CRC ok")
    if fields["codec"] != "waveform":
        spikes = int(raster.sum(dtype=np.int64))
        ratio = bins / (8 * fields["bytes"])
        print(f"  {spikes} spikes, {bins} bins, ratio {ratio:.2f} (bits per bin {1 / ratio:.5f})"
              if bins else f"  {spikes} spikes, 0 bins")
    return 0
