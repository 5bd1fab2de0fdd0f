#!/usr/bin/env python3
"""`make sim`: every core's testbench against the golden model, on every simulator.

Each core ``<name>`` in ``neurocodec_gateware.cores.CORES`` has its testbench in
``tb/<name>/test_<name>.py``, which provides ``sim_cases(recording)``. Without ``--input`` the
embedded synthetic recording is used. Prints one line per core and simulator, and the first
differing word of any failing case; exits non-zero if anything failed.
"""

import argparse
import importlib
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tb"))

from neurocodec import read_recording  # noqa: E402
from neurocodec.errors import NeurocodecError  # noqa: E402
from neurocodec_gateware.cores import CORES  # noqa: E402
from support.runner import BUILD, SIMULATORS, run  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, help="a recording (.wav, .npy, Open Ephys, raw)")
    parser.add_argument("--channels", type=int, help="channel count of a raw input")
    parser.add_argument("--rate", type=float, help="sample rate of a raw or .npy input")
    parser.add_argument("--max-scans", type=int, default=10000,
                        help="simulate at most this many scans of the input (default 10000)")
    parser.add_argument("--simulators", default=",".join(SIMULATORS))
    args = parser.parse_args(argv)

    recording = None
    if args.input:
        try:
            recording = read_recording(args.input, channels=args.channels, rate=args.rate)
        except (NeurocodecError, OSError) as error:
            print(f"make sim: cannot read {args.input}: {error}", file=sys.stderr)
            return 1

    rows, failures = [], []
    for name in sorted(CORES):
        testbench = importlib.import_module(f"{name}.test_{name}")
        params, cases, description = testbench.sim_cases(recording, args.max_scans)
        print(f"{name}: {description}; {len(cases)} cases")
        listing = testbench.write_cases(BUILD / "stimuli" / f"sim-{name}", cases)
        samples = sum(case["samples"].size for case in cases)
        for simulator in args.simulators.split(","):
            start = time.monotonic()
            try:
                results = run(name, simulator, f"test_{name}", PROJECT / "tb" / name, params,
                              {"NEUROCODEC_CASES": str(listing)}, "results-sim.xml")
                failed = [r for r in results if not r.passed]
                failures += [f"{name} on {simulator}, case {r.name}: {r.message}" for r in failed]
                verdict = (f"{len(results) - len(failed)}/{len(results)} cases bit-exact"
                           + (f", {len(failed)} FAILED" if failed else ""))
                ok = not failed
            except Exception as error:  # a crashed build or simulator is a failure to report
                failures.append(f"{name} on {simulator}: {error}")
                verdict, ok = f"ERROR: {error}".splitlines()[0], False
            rows.append((name, simulator, samples, "PASS" if ok else "FAIL", verdict,
                         time.monotonic() - start))
            print(f"  {simulator}: {rows[-1][3]} ({rows[-1][5]:.1f} s)", flush=True)

    print("\nmake sim summary (RTL vs golden model, every output word compared)")
    print(f"{'core':10s} {'simulator':10s} {'samples':>8s}  {'result':6s} {'time':>7s}  detail")
    for name, simulator, samples, result, verdict, seconds in rows:
        print(f"{name:10s} {simulator:10s} {samples:8d}  {result:6s} {seconds:6.1f}s  {verdict}")
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
