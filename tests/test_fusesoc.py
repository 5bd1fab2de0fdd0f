"""The FuseSoC core: the Amaranth generator, the Verilator lint target and the cocotb sim targets."""

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
CORE = "neurocodec:neurocodec:maestro"
pytestmark = pytest.mark.fusesoc


def fusesoc(target: str) -> subprocess.CompletedProcess:
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
        result = subprocess.run([bin_dir / "fusesoc", "--cores-root", str(PROJECT), "run", f"--target={target}",
                                 CORE], cwd=PROJECT, env=env, capture_output=True,
                                text=True, timeout=600)
    print(result.stdout[-3000:], result.stderr[-3000:])
    return result


def test_generator_cache_is_keyed_on_every_amaranth_source():
    core = yaml.safe_load((PROJECT / "fusesoc.core").read_text())
    listed = set(core["generate"]["maestro_verilog"]["parameters"]["sources"])
    present = {str(p.relative_to(PROJECT)) for p in (PROJECT / "hdl").rglob("*.py")}
    assert listed == present, f"fusesoc.core sources differ from hdl/: {listed ^ present}"


def test_lint_target_is_clean():
    result = fusesoc("lint")
    assert result.returncode == 0
    assert "-Wall" in (PROJECT / "build" / "neurocodec_neurocodec_maestro_0.1.0" / "lint" /
                       "neurocodec_neurocodec_maestro_0.1.0.vc").read_text()
    assert "%Warning" not in result.stdout + result.stderr


@pytest.mark.parametrize("target", ["sim", "sim_verilator"])
def test_sim_target_passes_every_cocotb_case(target):
    result = fusesoc(target)
    assert result.returncode == 0
    match = re.search(r"TESTS=(\d+) PASS=(\d+) FAIL=(\d+) SKIP=(\d+)", result.stdout)
    assert match, "no cocotb summary in the FuseSoC output"
    tests, passed, failed, skipped = map(int, match.groups())
    assert tests > 0 and passed == tests and failed == skipped == 0


@pytest.mark.synth
@pytest.mark.parametrize("target, device", [("ice40_up5k", "up5k"), ("ice40_hx8k", "hx8k")])
def test_board_target_builds_a_bitstream_with_timing_met(target, device):
    """The headstage on the iCEBreaker and on the HX8K breakout: Amaranth -> Yosys -> nextpnr
    (which fails the build if the 42 MHz clock misses timing) -> icepack."""
    work = PROJECT / "build" / "neurocodec_neurocodec_maestro_0.1.0" / target
    shutil.rmtree(work, ignore_errors=True)  # a real build every time, not make's "up to date"
    result = fusesoc(target)
    assert result.returncode == 0, "the FuseSoC build failed (timing, placement or a tool)"
    bitstream = work / "neurocodec_neurocodec_maestro_0.1.0.bin"
    assert bitstream.is_file() and bitstream.stat().st_size > 30_000
    log = (work / "next.log").read_text()
    final = re.findall(r"Max frequency for clock 'clk': ([0-9.]+) MHz \((PASS|FAIL) at 42", log)
    print(f"{target}: nextpnr Fmax {final[-1][0] if final else '?'} MHz at a 42 MHz target")
    assert final and final[-1][1] == "PASS" and float(final[-1][0]) >= 42, final
