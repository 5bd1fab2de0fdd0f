"""The FuseSoC core: the Amaranth generator, the lint and cocotb sim targets (headstage and
Maestro), the iCE40 bitstream targets and the IGLOO nano Libero project target."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.runner import locked

PROJECT = Path(__file__).resolve().parents[1]
CORE = "neurocodec:neurocodec:gateware"
WORK = PROJECT / "build" / "neurocodec_neurocodec_gateware_0.1.0"
pytestmark = pytest.mark.fusesoc


def fusesoc(target: str, *options: str) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent  # the virtual environment's tools come first

    def config(flag):
        return subprocess.run([bin_dir / "cocotb-config", flag], capture_output=True, text=True,
                              check=True).stdout.strip()
    # edalize 0.6.8 predates cocotb 2's GPI_USERS, so the sim flow needs it from the environment.
    env = dict(os.environ, XDG_CACHE_HOME=str(PROJECT / "build" / "cache"),
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               GPI_USERS=f"{config('--libpython')};{config('--pygpi-entry-point')}")
    (PROJECT / "build").mkdir(exist_ok=True)
    (PROJECT / "build" / "FUSESOC_IGNORE").touch()
    with locked(PROJECT / "build" / "fusesoc.lock"):  # the targets share one work tree and cache
        result = subprocess.run([bin_dir / "fusesoc", "--cores-root", str(PROJECT), "run",
                                 *options, f"--target={target}", CORE], cwd=PROJECT, env=env,
                                capture_output=True, text=True, timeout=900)
    print(result.stdout[-3000:], result.stderr[-3000:])
    return result


def core_file() -> dict:
    return yaml.safe_load((PROJECT / "fusesoc.core").read_text())


def test_generator_cache_is_keyed_on_every_amaranth_source():
    core = core_file()
    present = {str(p.relative_to(PROJECT)) for p in (PROJECT / "hdl").rglob("*.py")}
    for name, section in core["generate"].items():
        listed = set(section["parameters"]["sources"])
        assert listed == present, f"{name}: fusesoc.core sources differ from hdl/: {listed ^ present}"


def test_sim_target_builds_the_headstage_the_testbench_expects():
    """The sim targets' Verilog must have the parameters test_headstage.py's default case assumes
    (under FuseSoC the testbench runs that case on whatever it is given)."""
    tree = ast.parse((PROJECT / "tb" / "headstage" / "test_headstage.py").read_text())
    sim_params = next(ast.literal_eval(node.value) for node in tree.body
                      if isinstance(node, ast.Assign)
                      and any(getattr(t, "id", None) == "SIM_PARAMS" for t in node.targets))
    params = core_file()["generate"]["headstage_sim_verilog"]["parameters"]["params"]
    assert params == sim_params


@pytest.mark.parametrize("target, top", [("lint", "headstage"), ("lint_maestro", "maestro_encoder")])
def test_lint_target_is_clean(target, top):
    result = fusesoc(target)
    assert result.returncode == 0
    command_file = (WORK / target / "neurocodec_neurocodec_gateware_0.1.0.vc").read_text()
    assert "-Wall" in command_file and f"--top-module {top}" in command_file
    assert "%Warning" not in result.stdout + result.stderr


@pytest.mark.parametrize("target, cases", [("sim", 1), ("sim_verilator", 1),
                                           ("sim_maestro", 10), ("sim_maestro_verilator", 10)])
def test_sim_target_passes_every_cocotb_case(target, cases):
    result = fusesoc(target)
    assert result.returncode == 0
    match = re.search(r"TESTS=(\d+) PASS=(\d+) FAIL=(\d+) SKIP=(\d+)", result.stdout)
    assert match, "no cocotb summary in the FuseSoC output"
    tests, passed, failed, skipped = map(int, match.groups())
    assert tests == cases and passed == tests and failed == skipped == 0


def constraint_ports(path: Path) -> dict[str, str]:
    """Port -> pin of a .pcf (``set_io [-nowarn] PORT PIN``) or .pdc (``set_io PORT -pinname PIN``)."""
    ports = {}
    for line in path.read_text().splitlines():
        words = line.split("#")[0].split()
        if not words or words[0] != "set_io":
            continue
        words = [w for w in words[1:] if w != "-nowarn"]
        pin = words[words.index("-pinname") + 1] if "-pinname" in words else words[1]
        assert words[0] not in ports, f"{path.name}: {words[0]} constrained twice"
        ports[words[0]] = pin
    return ports


@pytest.mark.parametrize("board, constraints", [("icebreaker", "icebreaker.pcf"),
                                                ("hx8k_breakout", "hx8k_breakout.pcf"),
                                                ("igloo_nano", "igloo_nano.pdc")])
def test_every_board_port_has_exactly_one_pin(board, constraints):
    from neurocodec_gateware.boards import HeadstageBoard
    top = HeadstageBoard(board)
    ports = set(top.signature.members)
    top._MustUse__used = True  # only its ports are wanted here, not a design
    pins = constraint_ports(PROJECT / "constraints" / constraints)
    assert set(pins) == ports, f"ports without a pin: {ports - set(pins)}; " \
                               f"pins without a port: {set(pins) - ports}"
    assert len(set(pins.values())) == len(pins), f"a pin is used twice: {pins}"


@pytest.mark.synth
@pytest.mark.parametrize("target, device", [("ice40_up5k", "up5k"), ("ice40_hx8k", "hx8k")])
def test_board_target_builds_a_bitstream_with_timing_met(target, device):
    """The headstage on the iCEBreaker and on the HX8K breakout: Amaranth -> Yosys -> nextpnr
    (which fails the build if the 42 MHz clock misses timing) -> icepack."""
    work = WORK / target
    shutil.rmtree(work, ignore_errors=True)  # a real build every time, not make's "up to date"
    result = fusesoc(target)
    assert result.returncode == 0, "the FuseSoC build failed (timing, placement or a tool)"
    bitstream = work / "neurocodec_neurocodec_gateware_0.1.0.bin"
    assert bitstream.is_file() and bitstream.stat().st_size > 30_000
    log = (work / "next.log").read_text()
    final = re.findall(r"Max frequency for clock 'clk': ([0-9.]+) MHz \((PASS|FAIL) at 42", log)
    print(f"{target}: nextpnr Fmax {final[-1][0] if final else '?'} MHz at a 42 MHz target")
    assert final and final[-1][1] == "PASS" and float(final[-1][0]) >= 42, final


def tcl_commands(text: str) -> list[list[str]]:
    """The commands of a Tcl script as word lists (continuations joined, comments dropped,
    braces kept on the words)."""
    text = re.sub(r"\\\n", " ", text)
    commands = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            commands.append(re.findall(r"\{[^{}]*\}|\"[^\"]*\"|\S+", line))
    return commands


def options(command: list[str]) -> dict[str, list[str]]:
    found = {}
    for flag, value in zip(command, command[1:]):
        if flag.startswith("-"):
            found.setdefault(flag, []).append(value.strip("{}"))
    return found


def test_igloo_nano_target_writes_a_libero_project_naming_every_file_and_the_part():
    """Libero is not installed here: `fusesoc run --setup` must write Tcl scripts that create an
    AGLN250V2-VQ100 project holding the generated Verilog and both constraint files, with the PDC
    and SDC given to place-and-route and the SDC to synthesis and timing, and a run script that
    synthesises, places and routes and writes the programming file."""
    work = WORK / "igloo_nano-libero"
    shutil.rmtree(work, ignore_errors=True)
    result = fusesoc("igloo_nano", "--setup")
    assert result.returncode == 0
    name = "neurocodec_neurocodec_gateware_0_1_0"
    project = tcl_commands((work / f"{name}-project.tcl").read_text())

    new_project = options(next(c for c in project if c[0] == "new_project"))
    assert new_project["-family"] == ["IGLOO"] and new_project["-die"] == ["AGLN250V2"]
    assert new_project["-package"] == ["100 VQFP"] and new_project["-speed"] == ["STD"]
    assert new_project["-hdl"] == ["VERILOG"]

    links = options(next(c for c in project if c[0] == "create_links"))
    on_disk = {p.relative_to(work).as_posix() for p in (work / "src").rglob("*") if p.is_file()}
    linked = {f for files in links.values() for f in files}
    assert linked == on_disk, f"not linked: {on_disk - linked}; missing: {linked - on_disk}"
    verilog, = links["-hdl_source"]
    pdc, = links["-io_pdc"]
    sdc, = links["-sdc"]
    assert verilog.endswith("headstage_board.v") and pdc.endswith("constraints/igloo_nano.pdc")
    assert sdc.endswith("constraints/igloo_nano.sdc")
    assert (work / pdc).read_text() == (PROJECT / "constraints" / "igloo_nano.pdc").read_text()
    assert (work / sdc).read_text() == (PROJECT / "constraints" / "igloo_nano.sdc").read_text()

    root = next(c for c in project if c[0] == "set_root")
    assert options(root)["-module"] == ["headstage_board::work"]
    tools = {options(c)["-tool"][0]: options(c)["-file"] for c in project
             if c[0] == "organize_tool_files"}
    assert tools == {"SYNTHESIZE": [sdc], "PLACEROUTE": [pdc, sdc], "VERIFYTIMING": [sdc]}

    run = tcl_commands((work / f"{name}-run.tcl").read_text())
    assert ["source", f"{{{name}-project.tcl}}"] in run
    steps = [options(c)["-name"][0] for c in run if c[0] == "run_tool"]
    assert steps == ["SYNTHESIZE", "PLACEROUTE", "GENERATEPROGRAMMINGDATA"]

    # The Verilog is the IGLOO top: no iCE40 primitive, every constrained port is a port of it,
    # and the SDC clock is the headstage's 42 MHz.
    text = (work / verilog).read_text()
    header = re.search(r"module headstage_board\s*\(([^)]*)\);", text)
    assert header and "SB_" not in text
    ports = {p.strip() for p in header.group(1).split(",")}
    assert set(constraint_ports(work / pdc)) == ports
    from neurocodec_gateware.boards import CLK_HZ
    period = re.search(r"create_clock -name clk -period ([0-9.]+) .*\[get_ports \{clk\}\]",
                       (work / sdc).read_text())
    assert period and abs(1e3 / float(period.group(1)) - CLK_HZ / 1e6) < 0.01
