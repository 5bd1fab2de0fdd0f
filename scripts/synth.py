#!/usr/bin/env python3
"""`make synth`: iCE40 implementation reports (Yosys synth_ice40 + nextpnr-ice40) for every core.

For each configuration (core x variant x device) the core's Verilog comes from
``neurocodec_gateware.cores.to_verilog``, a pin-frugal wrapper
(``neurocodec_gateware.synth_wrapper``) feeds it from a serial shift register and folds its
outputs onto one pin, Yosys maps the design with the core kept as its own module, and nextpnr
places and routes it with a fixed seed. Writes
``<out>/<core>-<variant>-<device>.json`` and ``<out>/summary.md`` and prints the table; the tools'
logs and netlists stay in ``<work>/<core>-<variant>-<device>/``. docs/synth.md says what is counted.

Variants: ``Core.synth_variants`` in the registry (name -> core parameters, plus an optional
``target_mhz``); a core without any is built once with its defaults as variant ``default``.

Exit status: 0 when every configuration was built (timing failures are only reported unless
``--require-timing``), 1 when a tool failed or, with ``--require-timing``, a configuration missed
its target frequency, 2 for bad arguments (unknown core or device, ...).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")

from neurocodec_gateware.cores import CORES, to_verilog  # noqa: E402
from neurocodec_gateware.synth_wrapper import CORE_INSTANCE, TOP, wrapper_verilog  # noqa: E402

DEFAULT_MHZ = 48.0
SEED = 1
TIMEOUT_S = 3600


@dataclass(frozen=True)
class Device:
    name: str
    nextpnr_args: tuple  # device and package
    synth_args: tuple  # extra synth_ice40 options (hard blocks the device has)


DEVICES = {
    "up5k": Device("up5k", ("--up5k", "--package", "sg48"), ("-dsp", "-spram")),
    "hx8k": Device("hx8k", ("--hx8k", "--package", "ct256"), ()),
}
SPRAM_BITS = 256 * 1024
BRAM_BITS = 4096


@dataclass
class Config:
    core: str
    variant: str
    device: str
    params: dict  # every core parameter (defaults filled in)
    target_mhz: float
    verilog_params: dict = field(default_factory=dict)  # the variant's own parameters

    @property
    def tag(self) -> str:
        return f"{self.core}-{self.variant}-{self.device}"


class SynthError(Exception):
    """A configuration that could not be built; the message says which step and why."""


def variants_of(core) -> dict[str, dict]:
    """The synthesis variants of a registry core: ``{"default": {}}`` when it declares none."""
    return dict(getattr(core, "synth_variants", None) or {"default": {}})


def make_configs(core_names, device_names) -> list[Config]:
    configs = []
    for name in core_names:
        core = CORES[name]
        for variant, entry in variants_of(core).items():
            entry = dict(entry)
            target = entry.pop("target_mhz", DEFAULT_MHZ)
            number = isinstance(target, (int, float)) and not isinstance(target, bool)
            if not number or not 0 < target <= 1000:
                raise ValueError(f"core {name!r} variant {variant!r}: target_mhz must be a number "
                                 f"in (0, 1000] MHz, not {target!r}")
            if not re.fullmatch(r"[A-Za-z0-9_.]+", variant):
                raise ValueError(f"core {name!r}: variant name {variant!r} must be letters, "
                                 "digits, '_' or '.' (it names files)")
            unknown = set(entry) - set(core.defaults)
            if unknown:
                raise ValueError(f"core {name!r} variant {variant!r}: no parameter "
                                 f"{', '.join(sorted(unknown))}; the core takes "
                                 f"{', '.join(sorted(core.defaults)) or 'none'} (and target_mhz)")
            for device in device_names:
                configs.append(Config(name, variant, device, {**core.defaults, **entry},
                                      float(target), entry))
    return configs


def tool_version(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    text = (result.stdout + result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


# ---- Yosys ------------------------------------------------------------------------------------

def yosys_script(config: Config, toplevel: str) -> str:
    device = DEVICES[config.device]
    flags = " ".join(device.synth_args)
    return "\n".join([
        "read_verilog -defer core.v",
        "read_verilog -defer top.v",
        f"hierarchy -check -top {TOP}",
        # The core stays one module (its own submodules are flattened into it) so its cells can be
        # counted apart from the wrapper's; the wrapper is flattened around it.
        f"setattr -mod -set keep_hierarchy 1 {toplevel}",
        f"synth_ice40 -top {TOP} {flags} -run :map_ram",
        # Memories as inferred, before they are mapped to block RAM or flip-flops.
        "tee -q -o memories.il dump t:$mem_v2 t:$mem",
        f"synth_ice40 -top {TOP} {flags} -run map_ram: -json netlist.json",
        "tee -q -o stat.json stat -json",
        "",
    ])


def parse_memories(text: str) -> list[dict]:
    """``dump t:$mem_v2`` output -> [{name, depth, width, bits}]."""
    memories = []
    for cell in re.split(r"^\s*cell ", text, flags=re.M)[1:]:
        name = cell.split()[1]
        size = re.search(r"parameter \\SIZE (\d+)", cell)
        width = re.search(r"parameter \\WIDTH (\d+)", cell)
        if size and width:
            depth, bits = int(size.group(1)), int(width.group(1))
            memories.append({"name": name.lstrip("\\"), "depth": depth, "width": bits,
                             "bits": depth * bits})
    return memories


def cell_counts(by_type: dict) -> dict:
    """ice40 cell counts of one module from ``stat -json`` (``num_cells_by_type``)."""
    def total(pattern):
        return sum(n for t, n in by_type.items() if re.fullmatch(pattern, t))
    return {"luts": total(r"SB_LUT4"), "ffs": total(r"SB_DFF\w*"), "carries": total(r"SB_CARRY"),
            "brams": total(r"SB_RAM40_4K\w*"), "sprams": total(r"SB_SPRAM256KA"),
            "dsps": total(r"SB_MAC16")}


def parse_stat(stat: dict, toplevel: str) -> tuple[dict, dict]:
    """(core cells, wrapper cells) from Yosys ``stat -json`` of the hierarchical netlist."""
    modules = {name.lstrip("\\"): module for name, module in stat["modules"].items()}
    if toplevel not in modules or TOP not in modules:
        raise SynthError(f"yosys stat lacks module {toplevel!r} or {TOP!r}: {sorted(modules)}")
    core = cell_counts(modules[toplevel]["num_cells_by_type"])
    wrapper = cell_counts(modules[TOP]["num_cells_by_type"])
    return core, wrapper


# ---- nextpnr ----------------------------------------------------------------------------------

def parse_nextpnr_report(report: dict, target_mhz: float) -> dict:
    """Utilisation and the core clock's Fmax from ``nextpnr-ice40 --report`` JSON."""
    use = report.get("utilization", {})

    def used(kind):
        return int(use.get(kind, {}).get("used", 0))
    fmax = report.get("fmax", {})
    if not fmax:
        raise SynthError("nextpnr report has no clock in 'fmax' (no register-to-register path?)")
    # The core clock is the net of the clk pin (nextpnr calls it clk$SB_IO_IN_$glb_clk or so).
    clocks = [name for name in fmax if name == "clk" or name.startswith("clk$")] or list(fmax)
    if len(clocks) != 1:
        raise SynthError(f"cannot tell the core clock among {sorted(fmax)}")
    achieved = float(fmax[clocks[0]]["achieved"])
    brams, sprams = used("ICESTORM_RAM"), used("ICESTORM_SPRAM")
    result = {
        "lcs": used("ICESTORM_LC"),
        "lcs_available": int(use.get("ICESTORM_LC", {}).get("available", 0)),
        "brams": brams, "sprams": sprams, "dsps": used("ICESTORM_DSP"),
        "ram_bits": brams * BRAM_BITS + sprams * SPRAM_BITS,
        "ios": used("SB_IO"), "global_buffers": used("SB_GB"),
        "clock_net": clocks[0],
        "fmax_mhz": round(achieved, 2),
        "target_mhz": float(target_mhz),
        "timing_met": achieved >= target_mhz,
    }
    result["critical_path"] = critical_path(report, clocks[0])
    return result


def critical_path(report: dict, clock: str) -> dict | None:
    """The register-to-register critical path of ``clock``: its registers, delay, logic steps.

    ``start``/``end`` say whether each register is the core's or the wrapper's (a path that starts
    at a wrapper register is the core's combinational logic behind that input);
    ``wrapper_logic_steps`` counts the LUT/carry steps in wrapper cells (0: the path is all core).
    """
    def side(cell):
        return "core" if cell.startswith(f"{CORE_INSTANCE}.") or cell.startswith("$nextpnr") \
            else "wrapper"
    for path in report.get("critical_paths", []):
        if path.get("from") == f"posedge {clock}" and path.get("to") == f"posedge {clock}":
            steps = path.get("path", [])
            if not steps:
                return None
            # nextpnr 0.4 lists the launching register as the *to* cell of the clk-to-q step.
            first = steps[0]["to"] if steps[0].get("type") == "clk-to-q" else steps[0]["from"]
            last = steps[-1]["to"]
            logic = [s["from"]["cell"] for s in steps if s.get("type") == "logic"]
            return {
                "from": first["cell"], "to": last["cell"],
                "start": side(first["cell"]), "end": side(last["cell"]),
                "delay_ns": round(sum(s.get("delay", 0) for s in steps), 2),
                "logic_steps": len(logic),
                "wrapper_logic_steps": sum(side(cell) == "wrapper" for cell in logic),
            }
    return None


LC_SUFFIX = re.compile(r"(_DFFLC|_LC|\$CARRY)$")


def split_lcs(placed: dict, wrapper_cells: set[str]) -> dict:
    """Placed logic cells (ICESTORM_LC) of the core vs the wrapper, from ``nextpnr --write``.

    nextpnr names a packed LC after the Yosys cell it was built from (LUT, else flip-flop, else
    carry) with the hierarchy path in front: ``core.<cell>_LC``. An LC named after a wrapper cell
    is the wrapper's; every other LC (the core's and those nextpnr adds, e.g. carry-chain feed-ins
    and the constant driver) is charged to the core.
    """
    (module,) = placed["modules"].values()
    core = wrapper = added = 0
    for name, cell in module["cells"].items():
        if cell["type"] != "ICESTORM_LC":
            continue
        if name.startswith(f"{CORE_INSTANCE}."):
            core += 1
        elif LC_SUFFIX.sub("", name) in wrapper_cells:
            wrapper += 1
        else:
            core += 1
            added += 1
    return {"lcs_core": core, "lcs_wrapper": wrapper, "lcs_added_by_nextpnr": added}


# ---- one configuration ------------------------------------------------------------------------

def run_tool(command: list[str], cwd: Path, log: Path, step: str, timeout: int) -> float:
    start = time.monotonic()
    with open(log, "w") as handle:
        try:
            result = subprocess.run(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SynthError(f"{step} timed out after {timeout} s (log: {log})") from None
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise SynthError(f"{step} failed with exit code {result.returncode} (log: {log}):\n{tail}")
    return time.monotonic() - start


def prepare(config: Config, work: Path) -> str:
    """Write the core's and the wrapper's Verilog into ``work``; return the core's module name."""
    core = CORES[config.core]
    work.mkdir(parents=True, exist_ok=True)
    try:
        core_text = to_verilog(config.core, **config.verilog_params)
        top_text, _ = wrapper_verilog(core.toplevel, core_text)
    except ValueError as error:
        raise SynthError(f"cannot generate Verilog: {error}") from None
    (work / "core.v").write_text(core_text)
    (work / "top.v").write_text(top_text)
    return core.toplevel


def implement(config: Config, toplevel: str, work: Path, tools: dict, seed: int,
              timeout: int) -> dict:
    device = DEVICES[config.device]
    start = time.monotonic()
    (work / "synth.ys").write_text(yosys_script(config, toplevel))
    yosys_s = run_tool([tools["yosys"], "-q", "-l", "yosys.log", "synth.ys"], work,
                       work / "yosys.run.log", "yosys", timeout)
    stat = json.loads((work / "stat.json").read_text())
    core_cells, wrapper_cells = parse_stat(stat, toplevel)
    memories = parse_memories((work / "memories.il").read_text())

    nextpnr_args = [*device.nextpnr_args, "--freq", f"{config.target_mhz:g}", "--seed", str(seed),
                    "--pcf-allow-unconstrained", "--timing-allow-fail"]
    nextpnr_s = run_tool([tools["nextpnr"], *nextpnr_args, "--json", "netlist.json",
                          "--report", "report.json", "--write", "placed.json", "-l", "nextpnr.log",
                          "-q"], work, work / "nextpnr.run.log", "nextpnr", timeout)
    pnr = parse_nextpnr_report(json.loads((work / "report.json").read_text()), config.target_mhz)
    netlist = json.loads((work / "netlist.json").read_text())
    wrapper_names = {name for name in netlist["modules"][TOP]["cells"] if name != CORE_INSTANCE}
    lcs = split_lcs(json.loads((work / "placed.json").read_text()), wrapper_names)
    if lcs["lcs_core"] + lcs["lcs_wrapper"] != pnr["lcs"]:
        raise SynthError(f"LC split {lcs} does not add up to nextpnr's {pnr['lcs']} ICESTORM_LC")

    return {
        "core": config.core, "variant": config.variant, "device": config.device,
        "package": device.nextpnr_args[-1], "toplevel": toplevel, "params": config.params,
        # Whole design (core + wrapper), as nextpnr placed it.
        "lcs": pnr["lcs"], "lcs_total": pnr["lcs"], **lcs, "lcs_available": pnr["lcs_available"],
        # The core's own cells (Yosys, core module kept apart).
        "luts": core_cells["luts"], "ffs": core_cells["ffs"], "carries": core_cells["carries"],
        "brams": pnr["brams"], "sprams": pnr["sprams"], "dsps": pnr["dsps"],
        "ram_bits": pnr["ram_bits"],
        "memory_bits": sum(m["bits"] for m in memories), "memories": memories,
        "wrapper_cells": {k: wrapper_cells[k] for k in ("luts", "ffs", "carries")},
        "ios": pnr["ios"], "global_buffers": pnr["global_buffers"],
        "fmax_mhz": pnr["fmax_mhz"], "target_mhz": pnr["target_mhz"],
        "timing_met": pnr["timing_met"], "clock_net": pnr["clock_net"],
        "critical_path": pnr["critical_path"],
        "seed": seed,
        "yosys_command": f"synth_ice40 -top {TOP} {' '.join(device.synth_args)}".strip(),
        "nextpnr_args": " ".join(nextpnr_args),
        "yosys_version": tools["yosys_version"], "nextpnr_version": tools["nextpnr_version"],
        "yosys_seconds": round(yosys_s, 2), "nextpnr_seconds": round(nextpnr_s, 2),
        "seconds": round(time.monotonic() - start, 2),
    }


# ---- table ------------------------------------------------------------------------------------

COLUMNS = ["core", "variant", "device", "LC core", "LC total", "LUT", "FF", "CARRY", "BRAM",
           "mem bits", "Fmax MHz", "target", "met", "s"]


def table_rows(reports: list[dict]) -> list[list[str]]:
    return [[r["core"], r["variant"], r["device"], str(r["lcs_core"]),
             f"{r['lcs_total']}/{r['lcs_available']}", str(r["luts"]), str(r["ffs"]),
             str(r["carries"]), str(r["brams"]), str(r["memory_bits"]), f"{r['fmax_mhz']:.1f}",
             f"{r['target_mhz']:g}", "yes" if r["timing_met"] else "NO", f"{r['seconds']:.1f}"]
            for r in reports]


def markdown(reports: list[dict], failures: list[str]) -> str:
    rows = table_rows(reports)
    lines = ["# iCE40 implementation (`make synth`)", "",
             "LC core / LC total: placed ICESTORM_LC of the core alone / of core + I/O wrapper. "
             "LUT, FF, CARRY: the core's own cells. BRAM: SB_RAM40_4K blocks (4096 bits). "
             "mem bits: memory bits Yosys inferred before mapping (in BRAM or flip-flops). "
             "Fmax: nextpnr's achieved frequency of the core clock after routing. "
             "See docs/synth.md.", ""]
    if reports:
        lines.append(f"Yosys: {reports[0]['yosys_version']}; nextpnr: "
                     f"{reports[0]['nextpnr_version']}; seed {reports[0]['seed']}.")
        lines.append("")
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    for failure in failures:
        lines += ["", f"FAILED: {failure}"]
    return "\n".join(lines) + "\n"


def text_table(reports: list[dict]) -> str:
    rows = [COLUMNS] + table_rows(reports)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.rjust(w) if i >= 3 else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))) for row in rows)


# ---- command line -----------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", action="append", metavar="NAME",
                        help=f"a core to build (repeatable; default every core: "
                             f"{', '.join(sorted(CORES))})")
    parser.add_argument("--device", action="append", metavar="DEVICE",
                        help=f"a device (repeatable; default every device: {', '.join(DEVICES)})")
    parser.add_argument("--jobs", type=int, default=1,
                        help="configurations built in parallel (default 1)")
    parser.add_argument("--require-timing", action="store_true",
                        help="exit 1 when a configuration misses its target frequency")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"nextpnr placement seed (default {SEED})")
    parser.add_argument("--out", type=Path, default=PROJECT / "build" / "reports",
                        help="where the JSON reports and summary.md go (default build/reports)")
    parser.add_argument("--work", type=Path,
                        help="where each configuration's Verilog, netlists and logs go "
                             "(default build/synth, or OUT/work when --out is given)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT_S,
                        help=f"seconds each tool run may take (default {TIMEOUT_S})")
    args = parser.parse_args(argv)

    cores = args.core or sorted(CORES)
    for name in cores:
        if name not in CORES:
            parser.error(f"unknown core {name!r}; the cores are: {', '.join(sorted(CORES))}")
    devices = args.device or list(DEVICES)
    for name in devices:
        if name not in DEVICES:
            parser.error(f"unknown device {name!r}; the devices are: {', '.join(DEVICES)}")
    if not 1 <= args.jobs <= 64:
        parser.error(f"--jobs must be in 1..64, not {args.jobs}")
    if not 0 <= args.seed < 2**31:
        parser.error(f"--seed must be in 0..{2**31 - 1}, not {args.seed}")
    if args.timeout < 1:
        parser.error(f"--timeout must be at least 1 s, not {args.timeout}")
    cores, devices = list(dict.fromkeys(cores)), list(dict.fromkeys(devices))
    try:
        configs = make_configs(cores, devices)
    except ValueError as error:
        print(f"make synth: bad variant table: {error}", file=sys.stderr)
        return 1

    tools = {"yosys": shutil.which("yosys"), "nextpnr": shutil.which("nextpnr-ice40")}
    missing = [name for name, path in (("yosys", tools["yosys"]),
                                       ("nextpnr-ice40", tools["nextpnr"])) if not path]
    if missing:
        print(f"make synth: {' and '.join(missing)} not found on PATH; install the Debian "
              "packages: apt-get install yosys nextpnr-ice40", file=sys.stderr)
        return 1
    tools["yosys_version"] = tool_version([tools["yosys"], "-V"])
    tools["nextpnr_version"] = tool_version([tools["nextpnr"], "--version"])

    out = args.out.resolve()
    work_root = (args.work or (out / "work" if args.out != parser.get_default("out")
                               else PROJECT / "build" / "synth")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"make synth: {len(configs)} configurations, {args.jobs} at a time, seed {args.seed}; "
          f"{tools['yosys_version']}; {tools['nextpnr_version']}", flush=True)

    failures, prepared = [], []

    def fail(config, error):
        failures.append(f"{config.tag}: {error}")
        print(f"  {config.tag}: FAILED: {error}", flush=True)
        (out / f"{config.tag}.json").unlink(missing_ok=True)  # no stale report survives

    # Verilog is generated here, one configuration after the other (Amaranth is not thread-safe);
    # the tools then run in parallel.
    for config in configs:
        try:
            prepared.append((config, prepare(config, work_root / config.tag)))
        except Exception as error:  # one broken configuration does not stop the others
            fail(config, error)

    def build(item):
        config, toplevel = item
        return implement(config, toplevel, work_root / config.tag, tools, args.seed, args.timeout)

    reports = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [(item[0], pool.submit(build, item)) for item in prepared]
        for config, future in futures:
            try:
                report = future.result()
            except Exception as error:  # one broken configuration does not stop the others
                fail(config, error)
                continue
            path = out / f"{config.tag}.json"
            path.write_text(json.dumps(report, indent=2) + "\n")
            reports.append(report)
            print(f"  {config.tag}: {report['lcs_core']} LC core / {report['lcs_total']} LC total, "
                  f"Fmax {report['fmax_mhz']:.1f} MHz (target {report['target_mhz']:g}, "
                  f"{'met' if report['timing_met'] else 'NOT met'}), {report['seconds']:.1f} s "
                  f"-> {path}", flush=True)

    (out / "summary.md").write_text(markdown(reports, failures))
    print("\nmake synth summary (iCE40; LC core = the core without the I/O wrapper)")
    print(text_table(reports))
    print(f"wrote {out / 'summary.md'}")
    missed = [r for r in reports if not r["timing_met"]]
    for report in missed:
        print(f"timing not met: {report['core']}-{report['variant']}-{report['device']} reaches "
              f"{report['fmax_mhz']:.1f} of {report['target_mhz']:g} MHz"
              + ("" if args.require_timing else " (reported only; --require-timing fails on it)"))
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    if failures or (args.require_timing and missed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
