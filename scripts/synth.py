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
Parts: ``Core.synth_parts`` (part name -> submodule instance); Yosys then keeps each part as its
own module too and every report breaks the core down by part (``parts``: cells, placed LCs, and
an IGLOO nano VersaTile estimate from a generic 3-input-LUT synthesis, ``igloo_tiles_estimate``).

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
import threading
import time
from collections import Counter
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
    parts: dict = field(default_factory=dict)  # part name -> submodule instance name
    part_modules: dict = field(default_factory=dict)  # part name -> Verilog module (prepare())

    @property
    def tag(self) -> str:
        return f"{self.core}-{self.variant}-{self.device}"


class SynthError(Exception):
    """A configuration that could not be built; the message says which step and why."""


GLUE = "glue"  # the core's own cells outside every declared part


def variants_of(core) -> dict[str, dict]:
    """The synthesis variants of a registry core: ``{"default": {}}`` when it declares none."""
    return dict(getattr(core, "synth_variants", None) or {"default": {}})


def parts_of(core) -> dict[str, str]:
    """The declared parts of a registry core (part name -> submodule instance), checked."""
    parts = dict(getattr(core, "synth_parts", None) or {})
    for part, instance in parts.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", str(part)) or part == GLUE:
            raise ValueError(f"core {core.name!r}: part name {part!r} must be letters, digits or "
                             f"'_' and not {GLUE!r}")
        if not isinstance(instance, str) or not re.fullmatch(r"[A-Za-z0-9_$]+", instance):
            raise ValueError(f"core {core.name!r} part {part!r}: {instance!r} is not the name of "
                             "a submodule instance")
    instances = list(parts.values())
    if len(set(instances)) != len(instances):
        raise ValueError(f"core {core.name!r}: two parts name the same submodule: {parts}")
    return parts


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
            parts = parts_of(core)
            unknown = set(entry) - set(core.defaults)
            if unknown:
                raise ValueError(f"core {name!r} variant {variant!r}: no parameter "
                                 f"{', '.join(sorted(unknown))}; the core takes "
                                 f"{', '.join(sorted(core.defaults)) or 'none'} (and target_mhz)")
            for device in device_names:
                configs.append(Config(name, variant, device, {**core.defaults, **entry},
                                      float(target), entry, dict(parts)))
    return configs


def tool_version(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    text = (result.stdout + result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


# ---- Yosys ------------------------------------------------------------------------------------

def yosys_script(config: Config, toplevel: str) -> str:
    device = DEVICES[config.device]
    flags = " ".join(device.synth_args)
    kept = " ".join([toplevel, *config.part_modules.values()])
    return "\n".join([
        "read_verilog -defer core.v",
        "read_verilog -defer top.v",
        f"hierarchy -check -top {TOP}",
        # The core stays one module (its own submodules are flattened into it, except declared
        # parts, which stay modules of their own) so its cells can be counted apart from the
        # wrapper's; the wrapper is flattened around it.
        f"setattr -mod -set keep_hierarchy 1 {kept}",
        f"synth_ice40 -top {TOP} {flags} -run :map_ram",
        # Memories as inferred, before they are mapped to block RAM or flip-flops.
        "tee -q -o memories.il dump -m t:$mem_v2 t:$mem",
        f"synth_ice40 -top {TOP} {flags} -run map_ram: -json netlist.json",
        "tee -q -o stat.json stat -json",
        "",
    ])


def parse_memories(text: str) -> list[dict]:
    """``dump -m t:$mem_v2`` output -> [{name, module, depth, width, bits, read_ports,
    write_ports, sync_read}]; ``module`` is None when the dump names no module (without ``-m``,
    Yosys omits the header when the memories are in one module)."""
    memories, module = [], None
    for chunk in re.split(r"^(?=[ \t]*(?:module|cell) )", text, flags=re.M):
        words = chunk.split()
        if len(words) >= 2 and words[0] == "module":
            module = words[1].lstrip("\\")
        if len(words) < 3 or words[0] != "cell":
            continue
        size = re.search(r"parameter \\SIZE (\d+)", chunk)
        width = re.search(r"parameter \\WIDTH (\d+)", chunk)
        if not (size and width):
            continue
        read = re.search(r"parameter \\RD_PORTS (\d+)", chunk)
        write = re.search(r"parameter \\WR_PORTS (\d+)", chunk)
        clocked = re.search(r"parameter \\RD_CLK_ENABLE \d+'([01xz]+)", chunk)
        depth, bits = int(size.group(1)), int(width.group(1))
        read_ports = int(read.group(1)) if read else 0
        memories.append({"name": words[2].lstrip("\\"), "module": module, "depth": depth,
                         "width": bits, "bits": depth * bits, "read_ports": read_ports,
                         "write_ports": int(write.group(1)) if write else 0,
                         # every read port registered (a block RAM can implement it)
                         "sync_read": bool(read_ports and clocked
                                           and set(clocked.group(1)) == {"1"})})
    return memories


def cell_counts(by_type: dict) -> dict:
    """ice40 cell counts of one module from ``stat -json`` (``num_cells_by_type``)."""
    def total(pattern):
        return sum(n for t, n in by_type.items() if re.fullmatch(pattern, t))
    return {"luts": total(r"SB_LUT4"), "ffs": total(r"SB_DFF\w*"), "carries": total(r"SB_CARRY"),
            "brams": total(r"SB_RAM40_4K\w*"), "sprams": total(r"SB_SPRAM256KA"),
            "dsps": total(r"SB_MAC16")}


def load_stat(text: str) -> dict:
    """``stat -json`` output. Yosys 0.23 writes the submodule counts of a design more than one
    level deep as plain text lines (``   <module>   <count>``) into the JSON's ``design``
    section; those lines are dropped."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(re.sub(r"^[ \t]+[^\s\"{}\[\],:]+[ \t]+\d+[ \t]*\n", "", text,
                                 flags=re.M))


def stat_modules(stat: dict, expected: list[str]) -> dict:
    """``stat -json`` modules by name (no leading backslash); exactly ``expected`` must be there,
    each part module instantiated once, or cells would go uncounted or be counted twice."""
    modules = {name.lstrip("\\"): module for name, module in stat["modules"].items()}
    if set(modules) != set(expected):
        raise SynthError(f"yosys stat has modules {sorted(modules)}, expected {sorted(expected)}")
    for name in expected[2:]:  # the parts: once each, in the core module
        uses = sum(by_type.get(name, 0) + by_type.get(f"\\{name}", 0)
                   for by_type in (m["num_cells_by_type"] for m in modules.values()))
        if uses != 1:
            raise SynthError(f"part module {name!r} is instantiated {uses} times, not once")
    return modules


def parse_stat(stat: dict, toplevel: str, part_modules: dict | None = None) -> tuple[dict, dict]:
    """(core cells, wrapper cells) from Yosys ``stat -json`` of the hierarchical netlist; the
    core's cells include those of its part modules."""
    parts = stat_parts(stat, toplevel, part_modules or {})
    core = {key: sum(cells[key] for cells in parts.values()) for key in parts[GLUE]}
    modules = {name.lstrip("\\"): module for name, module in stat["modules"].items()}
    return core, cell_counts(modules[TOP]["num_cells_by_type"])


def stat_parts(stat: dict, toplevel: str, part_modules: dict) -> dict:
    """ice40 cells of each part module and of the core module's own cells (``glue``)."""
    modules = stat_modules(stat, [TOP, toplevel, *part_modules.values()])
    cells = {part: cell_counts(modules[module]["num_cells_by_type"])
             for part, module in part_modules.items()}
    cells[GLUE] = cell_counts(modules[toplevel]["num_cells_by_type"])
    return cells


def part_modules_of(text: str, toplevel: str, parts: dict) -> dict:
    """Part name -> Verilog module of the part's instance in ``toplevel``, from the core's Verilog
    (as Amaranth's back end writes it); each such module must be instantiated exactly once."""
    if not parts:
        return {}
    def body(module):
        match = re.search(rf"^module\s+\\?{re.escape(module)}\s*\(.*?^endmodule", text,
                          re.M | re.S)
        if not match:
            raise ValueError(f"module {module!r} not found in the Verilog")
        return match.group(0)
    instances = {}
    for kind, name in re.findall(r"^[ \t]*(\\\S+|[A-Za-z_][\w$]*)\s+(\\\S+|[A-Za-z_][\w$]*)\s*\(",
                                 body(toplevel), re.M):
        instances.setdefault(name.lstrip("\\"), []).append(kind.lstrip("\\"))
    modules = {}
    for part, instance in parts.items():
        kinds = instances.get(instance, [])
        if len(kinds) != 1:
            raise ValueError(f"part {part!r}: module {toplevel!r} has no submodule instance "
                             f"{instance!r}")
        body(kinds[0])
        uses = len(re.findall(rf"^[ \t]*\\?{re.escape(kinds[0])}\s+\S+\s*\(", text, re.M))
        if uses != 1:
            raise ValueError(f"part {part!r}: module {kinds[0]!r} is instantiated {uses} times; "
                             "a part must be one instance of a module of its own")
        modules[part] = kinds[0]
    return modules


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
        if is_wrapper_lc(name, wrapper_cells):
            wrapper += 1
        else:
            core += 1
            added += not name.startswith(f"{CORE_INSTANCE}.")
    return {"lcs_core": core, "lcs_wrapper": wrapper, "lcs_added_by_nextpnr": added}


def check_parts(parts: dict, core: dict) -> None:
    """The parts (with glue) must add up to the core: LCs, LUTs, FFs, carries, BRAMs."""
    for key in ("lcs", "luts", "ffs", "carries", "brams", "sprams", "dsps"):
        total = sum(part[key] for part in parts.values())
        if key in core and total != core[key]:
            raise SynthError(f"the parts' {key} add up to {total}, not the core's {core[key]}: "
                             + ", ".join(f"{name} {part[key]}" for name, part in parts.items()))


def is_wrapper_lc(name: str, wrapper_cells: set[str]) -> bool:
    return not name.startswith(f"{CORE_INSTANCE}.") and LC_SUFFIX.sub("", name) in wrapper_cells


def part_owners(netlist: dict, toplevel: str, parts: dict, part_modules: dict) -> dict:
    """Yosys cell name, as nextpnr prefixes it (``core.<cell>``, ``core.<instance>.<cell>``) ->
    the part it belongs to (``glue``: a cell of the core module itself)."""
    modules = netlist["modules"]
    kinds = {module: part for part, module in part_modules.items()}
    owners = {}
    for name, cell in modules[toplevel]["cells"].items():
        part = kinds.get(cell["type"].lstrip("\\"))
        if part is None:
            owners[f"{CORE_INSTANCE}.{name}"] = GLUE
        elif name != parts[part]:
            raise SynthError(f"part {part!r}: module {cell['type']!r} is instance {name!r}, "
                             f"not {parts[part]!r}")
    for part, module in part_modules.items():
        for name in modules[module]["cells"]:
            owners[f"{CORE_INSTANCE}.{parts[part]}.{name}"] = part
    return owners


CARRY_PORTS = ("CIN", "COUT")
SIGNAL_PORTS = ("I0", "I1", "I2", "I3", "O", "CIN", "COUT")  # not CLK, CEN, SR (global nets)


def split_parts(placed: dict, wrapper_cells: set[str], owners: dict, prefixes: dict) -> dict:
    """The core's placed logic cells (those ``split_lcs`` counts in ``lcs_core``) by part.

    An LC named after a Yosys cell (``owners``: full cell name -> part) belongs to that cell's
    part; another ``core.``-prefixed LC to the part whose prefix (``prefixes``: part ->
    ``core.<instance>.``) it has, else to ``glue``. An LC nextpnr added (carry-chain feed-in or
    feed-out) goes to the part of the carry chain it joins (followed through CIN/COUT), failing
    that to the part most of its signal neighbours belong to, failing that (the constant driver)
    to ``glue``. Returns ``{"lcs": {part: n, ..., "glue": n}, "lcs_by_connection": n}``.
    """
    (module,) = placed["modules"].values()
    cells = {name: cell for name, cell in module["cells"].items()
             if cell["type"] == "ICESTORM_LC" and not is_wrapper_lc(name, wrapper_cells)}
    owner, pending = {}, []
    for name in cells:
        part = owners.get(LC_SUFFIX.sub("", name))
        if part is None and name.startswith(f"{CORE_INSTANCE}."):
            part = next((p for p, prefix in prefixes.items() if name.startswith(prefix)), GLUE)
        if part is None:
            pending.append(name)
        else:
            owner[name] = part
    nets = {}
    for name, cell in cells.items():
        for port, bits in cell.get("connections", {}).items():
            for bit in bits:
                if isinstance(bit, int):
                    nets.setdefault(bit, []).append(name)

    def neighbours(name, ports):
        connections = cells[name].get("connections", {})
        for port in ports:
            for bit in connections.get(port, []):
                if isinstance(bit, int):
                    yield from (other for other in nets[bit] if other != name)

    waiting, by_connection = set(pending), 0
    for name in pending:
        part, seen, queue = None, {name}, [name]
        while queue and part is None:  # along the carry chain, through other added LCs
            for other in neighbours(queue.pop(0), CARRY_PORTS):
                if other in owner:
                    part = owner[other]
                    break
                if other in waiting and other not in seen:
                    seen.add(other)
                    queue.append(other)
        if part is None:
            votes = Counter(owner[o] for o in neighbours(name, SIGNAL_PORTS) if o in owner)
            if votes:
                part = max(votes, key=lambda p: (votes[p], p == GLUE, p))
        by_connection += part is not None
        owner[name] = part or GLUE
    counts = {part: 0 for part in [*prefixes, GLUE]}
    for part in owner.values():
        counts[part] += 1
    return {"lcs": counts, "lcs_by_connection": by_connection}


# ---- IGLOO nano estimate ----------------------------------------------------------------------

# A VersaTile implements any 3-input function or one flip-flop (with enable and asynchronous
# clear or preset), never both. A RAM block holds 4608 bits: RAM4K9 (true dual-port) as
# 4096x1, 2048x2, 1024x4 or 512x9, or RAM512X18 (one read and one write port) as 512x9 or 256x18.
IGLOO_RAM_BITS = 4608
IGLOO_RAM_SHAPES = ((4096, 1), (2048, 2), (1024, 4), (512, 9))
IGLOO_TWO_PORT_SHAPES = ((256, 18),)
IGLOO_METHOD = ("ESTIMATE, not a Microsemi/Microchip tool result: generic Yosys synthesis of the "
                "core (synth -lut 3, memories kept), sync resets in logic (dfflegalize to "
                "$_DFFE_PP_), abc -lut 3; one VersaTile per 3-input LUT and per flip-flop; "
                "memories with a write port and registered reads as RAM blocks (4608 bits), the "
                "others in flip-flops and LUTs. No packing, routing or buffering overhead.")


def igloo_ram_blocks(memory: dict) -> int:
    """RAM blocks for one memory (depth x width): the best aspect ratio, one copy per read port
    when it has more ports than a block (two)."""
    one_read_one_write = memory["read_ports"] <= 1 and memory["write_ports"] <= 1
    shapes = IGLOO_RAM_SHAPES + (IGLOO_TWO_PORT_SHAPES if one_read_one_write else ())
    blocks = min(-(-memory["depth"] // depth) * -(-memory["width"] // width)
                 for depth, width in shapes)
    if memory["read_ports"] + memory["write_ports"] > 2:
        blocks *= memory["read_ports"]
    return blocks


def igloo_in_ram(memory: dict) -> bool:
    """A memory an IGLOO RAM block can hold: written by the design, every read registered."""
    return memory["write_ports"] > 0 and memory["sync_read"]


def igloo_counts(by_type: dict, memories: list[dict], instance_types: set[str]) -> dict:
    """VersaTile estimate of one module from its generic ``stat -json`` cells."""
    luts = ffs = other = 0
    for kind, n in by_type.items():
        kind = kind.lstrip("\\")
        if kind in instance_types or kind in ("$mem_v2", "$mem"):
            continue
        if kind == "$lut":
            luts += n
        elif kind.startswith("$_") and ("DFF" in kind or "DLATCH" in kind):
            ffs += n
        else:
            other += n  # nothing else is expected after abc; one tile each
    return {"tiles": luts + ffs + other, "luts3": luts, "ffs": ffs, "other_cells": other,
            "ram_blocks": sum(igloo_ram_blocks(m) for m in memories),
            "ram_bits": sum(m["bits"] for m in memories)}


def igloo_scripts(toplevel: str, part_modules: dict, logic_memories: list[str] | None) -> str:
    """The two Yosys scripts of the estimate: up to the memories (``logic_memories`` None), then
    from there to 3-input LUTs with the ``module/memory`` names given mapped to logic."""
    if logic_memories is None:
        lines = ["read_verilog -defer core.v", f"hierarchy -check -top {toplevel}"]
        if part_modules:
            lines.append(f"setattr -mod -set keep_hierarchy 1 {' '.join(part_modules.values())}")
        return "\n".join(lines + [
            f"synth -flatten -lut 3 -top {toplevel} -run :fine",
            "tee -q -o memories.il dump -m t:$mem_v2 t:$mem",
            "write_rtlil coarse.il", ""])
    return "\n".join(["read_rtlil coarse.il"]
                     + ([f"memory_map {' '.join(logic_memories)}"] if logic_memories else [])
                     + ["opt -full", "techmap", "opt -fast",
                        "dfflegalize -cell $_DFFE_PP_ 01", "abc -lut 3", "opt_clean",
                        "tee -q -o stat.json stat -json", ""])


def igloo_estimate(work: Path, core_verilog: Path, toplevel: str, parts: dict,
                   part_modules: dict, tools: dict, timeout: int) -> dict:
    """``igloo_tiles_estimate`` of the core (``total``) and of each part (``parts``)."""
    start = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(core_verilog, work / "core.v")
    (work / "coarse.ys").write_text(igloo_scripts(toplevel, part_modules, None))
    run_tool([tools["yosys"], "-q", "-l", "coarse.log", "coarse.ys"], work, work / "coarse.run.log",
             "yosys (IGLOO estimate, coarse)", timeout)
    memories = parse_memories((work / "memories.il").read_text())
    logic = []
    for memory in memories:
        if not igloo_in_ram(memory):
            if re.search(r"[\s*?\[\]/]", memory["name"] + (memory["module"] or "")):
                raise SynthError(f"IGLOO estimate: cannot select memory {memory['name']!r}")
            logic.append(f"{memory['module'] or toplevel}/{memory['name']}")
    (work / "map.ys").write_text(igloo_scripts(toplevel, part_modules, logic))
    run_tool([tools["yosys"], "-q", "-l", "map.log", "map.ys"], work, work / "map.run.log",
             "yosys (IGLOO estimate, map)", timeout)
    stat = load_stat((work / "stat.json").read_text())
    modules = {name.lstrip("\\"): module for name, module in stat["modules"].items()}
    if set(modules) != {toplevel, *part_modules.values()}:
        raise SynthError(f"IGLOO estimate: yosys stat has modules {sorted(modules)}")
    kept = [m for m in memories if igloo_in_ram(m)]
    remaining = sum(module["num_cells_by_type"].get(kind, 0)
                    for module in modules.values() for kind in ("$mem_v2", "$mem"))
    if remaining != len(kept):
        raise SynthError(f"IGLOO estimate: {remaining} memories left after mapping, "
                         f"expected {len(kept)}")
    instance_types = set(part_modules.values())
    by_module = {module: igloo_counts(modules[module]["num_cells_by_type"],
                                      [m for m in kept if (m["module"] or toplevel) == module],
                                      instance_types)
                 for module in modules}
    result = {"method": IGLOO_METHOD}
    if part_modules:
        result["parts"] = {part: by_module[module] for part, module in part_modules.items()}
        result["parts"][GLUE] = by_module[toplevel]
    result["total"] = {key: sum(counts[key] for counts in by_module.values())
                       for key in by_module[toplevel]}
    result["memories"] = [{"name": f"{parts_by_module(parts, part_modules).get(m['module'], '')}"
                                   f"{m['name']}", "depth": m["depth"], "width": m["width"],
                           "bits": m["bits"],
                           "ram_blocks": igloo_ram_blocks(m) if igloo_in_ram(m) else 0}
                          for m in memories]
    result["seconds"] = round(time.monotonic() - start, 2)
    return result


def parts_by_module(parts: dict, part_modules: dict) -> dict:
    """Verilog module of a part -> ``<instance>.`` (the prefix of its names in the flat core)."""
    return {module: f"{parts[part]}." for part, module in part_modules.items()}


class Once:
    """Computes each key once, however many threads ask (the IGLOO estimate of a variant is the
    same for every device); a failure is re-raised to every caller."""

    def __init__(self):
        self._lock, self._locks, self._values = threading.Lock(), {}, {}

    def get(self, key, compute):
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                try:
                    self._values[key] = (True, compute())
                except Exception as error:  # noqa: BLE001 (re-raised below, to every caller)
                    self._values[key] = (False, error)
            ok, value = self._values[key]
        if not ok:
            raise value
        return value


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
    try:
        config.part_modules = part_modules_of(core_text, core.toplevel, config.parts)
    except ValueError as error:
        raise SynthError(f"cannot find the core's parts: {error}") from None
    (work / "core.v").write_text(core_text)
    (work / "top.v").write_text(top_text)
    return core.toplevel


def implement(config: Config, toplevel: str, work: Path, tools: dict, seed: int,
              timeout: int, estimates: Once | None = None) -> dict:
    device = DEVICES[config.device]
    start = time.monotonic()
    (work / "synth.ys").write_text(yosys_script(config, toplevel))
    yosys_s = run_tool([tools["yosys"], "-q", "-l", "yosys.log", "synth.ys"], work,
                       work / "yosys.run.log", "yosys", timeout)
    stat = load_stat((work / "stat.json").read_text())
    core_cells, wrapper_cells = parse_stat(stat, toplevel, config.part_modules)
    memories = parse_memories((work / "memories.il").read_text())
    # Memories inside a part module get the instance prefix they have in the flat core.
    prefixes = parts_by_module(config.parts, config.part_modules)
    part_of = {module: part for part, module in config.part_modules.items()}
    for memory in memories:
        module = memory["module"]
        if config.parts:
            memory["part"] = part_of.get(module, GLUE)
        memory["name"] = prefixes.get(module, "") + memory["name"]
        for key in ("module", "read_ports", "write_ports"):
            del memory[key]

    nextpnr_args = [*device.nextpnr_args, "--freq", f"{config.target_mhz:g}", "--seed", str(seed),
                    "--pcf-allow-unconstrained", "--timing-allow-fail"]
    nextpnr_s = run_tool([tools["nextpnr"], *nextpnr_args, "--json", "netlist.json",
                          "--report", "report.json", "--write", "placed.json", "-l", "nextpnr.log",
                          "-q"], work, work / "nextpnr.run.log", "nextpnr", timeout)
    pnr = parse_nextpnr_report(json.loads((work / "report.json").read_text()), config.target_mhz)
    netlist = json.loads((work / "netlist.json").read_text())
    wrapper_names = {name for name in netlist["modules"][TOP]["cells"] if name != CORE_INSTANCE}
    placed = json.loads((work / "placed.json").read_text())
    lcs = split_lcs(placed, wrapper_names)
    if lcs["lcs_core"] + lcs["lcs_wrapper"] != pnr["lcs"]:
        raise SynthError(f"LC split {lcs} does not add up to nextpnr's {pnr['lcs']} ICESTORM_LC")
    parts = {}
    if config.parts:
        owners = part_owners(netlist, toplevel, config.parts, config.part_modules)
        split = split_parts(placed, wrapper_names, owners,
                            {p: f"{CORE_INSTANCE}.{i}." for p, i in config.parts.items()})
        cells = stat_parts(stat, toplevel, config.part_modules)
        for part, n in split["lcs"].items():
            parts[part] = {"instance": config.parts.get(part), "module":
                           config.part_modules.get(part, toplevel), "lcs": n, **cells[part]}
        check_parts(parts, {**core_cells, "lcs": lcs["lcs_core"], "brams": pnr["brams"]})
        path = pnr["critical_path"]
        if path:
            for end in ("from", "to"):
                name = path[end]
                path[f"{end}_part"] = (
                    owners.get(LC_SUFFIX.sub("", name))
                    or next((p for p, i in config.parts.items()
                             if name.startswith(f"{CORE_INSTANCE}.{i}.")), None)
                    or path["start" if end == "from" else "end"])
    estimate_key = (config.core, config.variant)
    compute = lambda: igloo_estimate(  # noqa: E731
        work.parent / f"{config.core}-{config.variant}-igloo", work / "core.v", toplevel,
        config.parts, config.part_modules, tools, timeout)
    igloo = estimates.get(estimate_key, compute) if estimates else compute()
    if config.parts:
        for part, estimate in igloo["parts"].items():
            parts[part]["igloo_tiles_estimate"] = estimate

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
        # Per part (cores with Core.synth_parts): cells, LCs and the IGLOO estimate; see
        # docs/synth.md.
        **({"parts": parts, "lcs_parts_by_connection": split["lcs_by_connection"]}
           if config.parts else {}),
        "igloo_tiles_estimate": {key: igloo[key] for key in ("method", "total", "memories")},
        "igloo_seconds": igloo["seconds"],
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


def fmax_text(report: dict) -> str:
    """Fmax to 0.1 MHz, or to 0.01 MHz when 0.1 would hide a miss (41.97 of 42 is not "42.0")."""
    text = f"{report['fmax_mhz']:.1f}"
    return text if (float(text) >= report["target_mhz"]) == report["timing_met"] \
        else f"{report['fmax_mhz']:.2f}"


def table_rows(reports: list[dict]) -> list[list[str]]:
    return [[r["core"], r["variant"], r["device"], str(r["lcs_core"]),
             f"{r['lcs_total']}/{r['lcs_available']}", str(r["luts"]), str(r["ffs"]),
             str(r["carries"]), str(r["brams"]), str(r["memory_bits"]), fmax_text(r),
             f"{r['target_mhz']:g}", "yes" if r["timing_met"] else "NO", f"{r['seconds']:.1f}"]
            for r in reports]


PART_COLUMNS = ["part", "LUT4", "FF", "CARRY", "BRAM", "LC", "IGLOO tiles est.",
                "IGLOO RAM blocks est."]


def part_rows(report: dict) -> list[list[str]]:
    """The parts table of one report: each part, glue, and the core's total."""
    rows = []
    for name, part in report["parts"].items():
        estimate = part["igloo_tiles_estimate"]
        rows.append([name, str(part["luts"]), str(part["ffs"]), str(part["carries"]),
                     str(part["brams"]), str(part["lcs"]), str(estimate["tiles"]),
                     str(estimate["ram_blocks"])])
    total = report["igloo_tiles_estimate"]["total"]
    rows.append(["total (core)", str(report["luts"]), str(report["ffs"]), str(report["carries"]),
                 str(report["brams"]), str(report["lcs_core"]), str(total["tiles"]),
                 str(total["ram_blocks"])])
    return rows


def markdown_parts(reports: list[dict]) -> list[str]:
    with_parts = [r for r in reports if r.get("parts")]
    if not with_parts:
        return []
    lines = ["", "## Resources by part", "",
             "Cores that declare parts (`synth_parts`): each part is kept as its own module. "
             "LUT4, FF, CARRY, BRAM: the part's iCE40 cells (Yosys); LC: its placed ICESTORM_LC "
             "(nextpnr cell names; LCs nextpnr added go to the carry chain's part, the constant "
             "driver to glue); glue: the core's cells outside every part. "
             "IGLOO tiles est. / RAM blocks est.: an ESTIMATE for IGLOO nano from a generic "
             "Yosys synthesis to 3-input LUTs (one VersaTile per LUT and per flip-flop; RAM "
             "blocks of 4608 bits, the AGLN250 has 8), not a vendor tool result. "
             "See docs/synth.md."]
    for report in with_parts:
        lines += ["", f"### {report['core']} {report['variant']} {report['device']}", "",
                  "| " + " | ".join(PART_COLUMNS) + " |",
                  "|" + "|".join("---" for _ in PART_COLUMNS) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in part_rows(report)]
    return lines


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
    lines += markdown_parts(reports)
    for failure in failures:
        lines += ["", f"FAILED: {failure}"]
    return "\n".join(lines) + "\n"


def text_table(reports: list[dict]) -> str:
    return text_table_of(COLUMNS, table_rows(reports), 3)


def text_table_of(columns: list[str], rows: list[list[str]], left: int) -> str:
    """Aligned plain-text table; the first ``left`` columns are left-aligned."""
    rows = [columns] + rows
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join("  ".join(cell.rjust(w) if i >= left else cell.ljust(w)
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

    estimates = Once()  # the IGLOO estimate: once per core variant, whatever the device

    def build(item):
        config, toplevel = item
        return implement(config, toplevel, work_root / config.tag, tools, args.seed, args.timeout,
                         estimates)

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
                  f"Fmax {fmax_text(report)} MHz (target {report['target_mhz']:g}, "
                  f"{'met' if report['timing_met'] else 'NOT met'}), {report['seconds']:.1f} s "
                  f"-> {path}", flush=True)

    (out / "summary.md").write_text(markdown(reports, failures))
    print("\nmake synth summary (iCE40; LC core = the core without the I/O wrapper)")
    print(text_table(reports))
    for report in reports:
        if report.get("parts"):
            print(f"\n{report['core']} {report['variant']} {report['device']} by part "
                  "(IGLOO: estimate, see docs/synth.md)")
            print(text_table_of(PART_COLUMNS, part_rows(report), 1))
    print(f"wrote {out / 'summary.md'}")
    missed = [r for r in reports if not r["timing_met"]]
    for report in missed:
        print(f"timing not met: {report['core']}-{report['variant']}-{report['device']} reaches "
              f"{fmax_text(report)} of {report['target_mhz']:g} MHz"
              + ("" if args.require_timing else " (reported only; --require-timing fails on it)"))
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    if failures or (args.require_timing and missed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
