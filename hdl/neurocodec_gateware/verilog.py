"""Write Verilog of the cores.

``python -m neurocodec_gateware.verilog CORE [-p NAME=VALUE ...] -o FILE`` writes one core;
``python -m neurocodec_gateware.verilog --all -o DIR`` writes every core with its default
parameters as ``DIR/<toplevel>.v``.
"""

import argparse
import sys
from pathlib import Path

from .cores import CORES, to_verilog


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path``, keeping the file (and its timestamp) when nothing changed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def write_verilog(name: str, path, **params) -> Path:
    return write_text(path, to_verilog(name, **params))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("core", nargs="?", choices=sorted(CORES))
    parser.add_argument("--all", action="store_true", help="every core; -o is a directory")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="integer core parameter, e.g. channels=4")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.all == bool(args.core):
        parser.error("give one CORE or --all")
    if args.all:
        for name, core in sorted(CORES.items()):
            print(f"wrote {write_verilog(name, args.output / f'{core.toplevel}.v')}")
        return 0
    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param wants NAME=VALUE, not {item!r}")
        try:
            params[key] = int(value, 0)
        except ValueError:
            parser.error(f"--param {key}: {value!r} is not an integer")
    try:
        path = write_verilog(args.core, args.output, **params)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
