#!/usr/bin/env python3
"""`make bench`: compressed size and speed of every sample codec and of general-purpose compressors
(zlib, bz2, lzma, zstd, FLAC) on the same inputs: the synthetic recording and, when present, the
real recordings in ../shared/data.

A thin wrapper: the benchmark is ``neurocodec.benchmark`` (``--help`` for the options; ``--quick``
for a smoke run). Prints the table (per-codec bits/sample, ratio, speed, round-trip check) and
writes build/reports/bench.{csv,md,json,png}.
"""

import sys

from neurocodec.benchmark import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
