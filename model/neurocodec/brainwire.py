"""Neuralink Compression Challenge harness: ``encode in.wav out.brainwire``,
``decode in.brainwire out.wav`` and ``eval`` (encode and decode a folder, byte-compare every file,
print the total ratio).

A ``.brainwire`` file is a neurocodec ``.ncd`` container (``docs/formats/container.md``) holding
the dhuff codec on the WAV's 10-bit codes (the container's ``grid``), with the built-in ``n1``
dictionary referred to by its hash. ``NEUROCODEC_BRAINWIRE_DICTIONARY`` (a dictionary file) selects
another dictionary for both programs, e.g. one trained on a split of the files (held-out figures).

The programs in ``scripts/neuralink/`` (``encode``, ``decode``, ``eval.sh``) run this module.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .codecs import decode_container, dhuff, encode_recording, get_codec, grid_sample_bits
from .codecs import recording_grid
from .container import Container
from .errors import NeurocodecError, ParameterError
from .recording import read_recording, write_recording

DICTIONARY_ENV = "NEUROCODEC_BRAINWIRE_DICTIONARY"
BUILTIN = "n1"
BLOCK = 65536  # scans per block: a 5 s N1 file is 2 blocks
FRAME_WORDS = 65534  # the largest frame: the boundary words cost 2 bytes per 128 KiB


def dictionary() -> dhuff.Dictionary:
    path = os.environ.get(DICTIONARY_ENV)
    if path:
        return dhuff.Dictionary.from_json(json.loads(Path(path).read_text()), path)
    return dhuff.resolve_dictionary(BUILTIN)


def encode(source, target) -> int:
    """Encode one challenge WAV; returns the bytes written."""
    recording = read_recording(source)
    grid = recording_grid(recording)
    d = dictionary()
    params = dict(d.trained_for)
    bits = grid_sample_bits(grid) if grid else 16
    if params.setdefault("sample_bits", bits) != bits:
        raise ParameterError(f"{source}: the dictionary is for {params['sample_bits']}-bit "
                             f"samples, this file gives {bits}")
    codec = get_codec("dhuff", block=BLOCK, frame_words=FRAME_WORDS, dictionary=d,
                      embed_dictionary=False, **params)
    data = encode_recording(recording, codec, grid=grid).to_bytes()
    Path(target).write_bytes(data)
    return len(data)


def decode(source, target) -> None:
    container = Container.from_bytes(Path(source).read_bytes(), str(source))
    write_recording(target, decode_container(container, [dictionary()]))


def evaluate(folder: Path, work: Path, encoder: list, decoder: list, jobs: int = 1,
             limit: int | None = None) -> dict:
    """Run the encoder and decoder programs on every WAV of ``folder`` as the challenge's eval.sh
    does, byte-compare the results and total the sizes."""
    files = sorted(folder.glob("*.wav"))[:limit]
    if not files:
        raise ParameterError(f"{folder}: no .wav files")
    work.mkdir(parents=True, exist_ok=True)

    def one(path):
        packed, back = work / (path.stem + ".brainwire"), work / (path.stem + ".wav")
        started = time.perf_counter()
        subprocess.run([*encoder, str(path), str(packed)], check=True, capture_output=True)
        middle = time.perf_counter()
        subprocess.run([*decoder, str(packed), str(back)], check=True, capture_output=True)
        done = time.perf_counter()
        same = back.read_bytes() == path.read_bytes()
        return path, path.stat().st_size, packed.stat().st_size, same, middle - started, \
            done - middle

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(one, files))
    mismatched = [str(r[0]) for r in results if not r[3]]
    original = sum(r[1] for r in results)
    compressed = sum(r[2] for r in results)
    return {"files": len(results), "original_bytes": original, "compressed_bytes": compressed,
            "ratio": original / compressed, "mismatched": mismatched,
            "encode_seconds": sum(r[4] for r in results),
            "decode_seconds": sum(r[5] for r in results)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neurocodec.brainwire",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("encode", help="encode in.wav out.brainwire")
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p = sub.add_parser("decode", help="decode in.brainwire out.wav")
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p = sub.add_parser("eval", help="encode, decode and byte-compare every WAV of a folder")
    p.add_argument("folder", type=Path)
    p.add_argument("--work", type=Path, default=Path("build/brainwire"),
                   help="folder for the .brainwire and decoded files (default build/brainwire)")
    here = Path(__file__).resolve().parents[2] / "scripts" / "neuralink"
    p.add_argument("--encoder", default=str(here / "encode"), help="encode program")
    p.add_argument("--decoder", default=str(here / "decode"), help="decode program")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    p.add_argument("--limit", type=int, help="only the first LIMIT files (sorted by name)")
    args = parser.parse_args(argv)
    try:
        if args.command == "encode":
            encode(args.input, args.output)
        elif args.command == "decode":
            decode(args.input, args.output)
        else:
            report = evaluate(args.folder, args.work, [args.encoder], [args.decoder], args.jobs,
                              args.limit)
            print(f"{report['files']} files: {report['original_bytes']} bytes -> "
                  f"{report['compressed_bytes']} bytes, compression ratio "
                  f"{report['ratio']:.4f}x; encode {report['encode_seconds']:.1f} s, decode "
                  f"{report['decode_seconds']:.1f} s (process time summed over files)")
            if report["mismatched"]:
                print(f"MISMATCH: {len(report['mismatched'])} files do not decode to the "
                      f"original, first {report['mismatched'][0]}", file=sys.stderr)
                return 1
            print("every file decodes byte for byte to the original")
    except (NeurocodecError, OSError, subprocess.CalledProcessError) as error:
        print(f"brainwire {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
