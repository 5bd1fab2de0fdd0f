"""`make synth` (scripts/synth.py): iCE40 reports, nextpnr report parser, I/O wrapper, CLI."""

import gc
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from amaranth import Cat, Module, Signal
from amaranth.back import verilog
from amaranth.hdl import UnusedElaboratable
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurocodec_gateware.cores import CORES, Core
from neurocodec_gateware.synth_wrapper import module_ports, wrapper_verilog

PROJECT = Path(__file__).resolve().parents[1]
SCRIPT = PROJECT / "scripts" / "synth.py"

spec = importlib.util.spec_from_file_location("synth_script", SCRIPT)
synth = importlib.util.module_from_spec(spec)
spec.loader.exec_module(synth)

KEYS = {"core", "variant", "device", "params", "lcs", "lcs_total", "lcs_core", "lcs_wrapper",
        "ffs", "luts", "carries", "ram_bits", "memory_bits", "brams", "fmax_mhz", "target_mhz",
        "timing_met", "yosys_version", "nextpnr_version", "seconds", "seed"}


def run_script(*args, timeout=600):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=PROJECT)


def check_report(report, core, variant, device):
    assert KEYS <= set(report), KEYS - set(report)
    assert (report["core"], report["variant"], report["device"]) == (core, variant, device)
    assert report["lcs_wrapper"] > 0 and report["lcs_core"] > 0
    assert report["lcs_total"] == report["lcs"]
    assert report["lcs_core"] + report["lcs_wrapper"] == report["lcs_total"]
    assert report["lcs"] <= report["lcs_available"]
    assert report["luts"] > 0 and report["ffs"] > 0
    # Every LC holds at most one LUT, one flip-flop and one carry.
    assert report["lcs_core"] >= max(report["luts"], report["ffs"], report["carries"])
    assert report["ram_bits"] == 4096 * report["brams"] + 262144 * report["sprams"]
    assert 1 < report["fmax_mhz"] < 1000
    assert report["timing_met"] == (report["fmax_mhz"] >= report["target_mhz"])
    assert report["yosys_version"].startswith("Yosys ")
    assert "nextpnr" in report["nextpnr_version"]
    assert report["seconds"] > 0


@pytest.mark.synth
def test_maestro_up5k_report(tmp_path):
    result = run_script("--core", "maestro", "--device", "up5k", "--out", tmp_path,
                        "--require-timing")
    print(result.stdout, result.stderr)
    variants = CORES["maestro"].synth_variants or {"default": {}}
    reports = [json.loads((tmp_path / f"maestro-{v}-up5k.json").read_text()) for v in variants]
    missed = [r["variant"] for r in reports if not r["timing_met"]]
    # --require-timing: exit 1 exactly when a configuration misses its target, and say which.
    assert result.returncode == (1 if missed else 0), result.stderr
    for variant in missed:
        assert f"timing not met: maestro-{variant}-up5k reaches" in result.stdout
    assert set(variants) == {"ch16"}
    for variant, entry in variants.items():
        report = json.loads((tmp_path / f"maestro-{variant}-up5k.json").read_text())
        check_report(report, "maestro", variant, "up5k")
        assert report["lcs_core"] > 5 * report["lcs_wrapper"]  # the wrapper is small
        params = {k: v for k, v in entry.items() if k != "target_mhz"}
        assert report["params"] == {**CORES["maestro"].defaults, **params}
        assert report["target_mhz"] == entry.get("target_mhz", 48)
        # The previous-sample memory: channels x 12 bits, asynchronous read, so flip-flops.
        assert report["memory_bits"] == 12 * report["params"]["channels"]
        assert report["brams"] == 0 and report["ffs"] >= report["memory_bits"]
        assert "--seed 1" in report["nextpnr_args"] and "--up5k" in report["nextpnr_args"]
        path = report["critical_path"]
        assert path["wrapper_logic_steps"] == 0 and path["end"] == "core"
        assert path["logic_steps"] > 2
        assert 1000 / path["delay_ns"] == pytest.approx(report["fmax_mhz"], rel=0.01)
        row = re.search(rf"^\| maestro \| {variant} \| up5k \| {report['lcs_core']} \| "
                        rf"{report['lcs_total']}/5280 \|", (tmp_path / "summary.md").read_text(),
                        re.M)
        assert row, "summary.md lacks the row"
        assert re.search(rf"^maestro\s+{variant}\s+up5k\s+{report['lcs_core']}\s", result.stdout,
                         re.M)
    assert "hx8k" not in result.stdout


TINY = """
module tiny(input clk, input d, output reg q);
    reg [15:0] count = 0;
    always @(posedge clk) begin
        count <= count + d;
        q <= ^count;
    end
endmodule
"""


@pytest.mark.synth
@pytest.mark.parametrize("target_mhz", [12, 1000])  # met and (certainly) not met
def test_nextpnr_report_parser_agrees_with_nextpnr_log(tmp_path, target_mhz):
    """The parser reads the figures nextpnr prints in its log from nextpnr's JSON report."""
    (tmp_path / "tiny.v").write_text(TINY)
    subprocess.run(["yosys", "-q", "-p",
                    "read_verilog tiny.v; synth_ice40 -top tiny -json tiny.json"],
                   cwd=tmp_path, check=True, timeout=120)
    subprocess.run(["nextpnr-ice40", "--up5k", "--package", "sg48", "--freq", str(target_mhz),
                    "--seed", "1", "--pcf-allow-unconstrained", "--timing-allow-fail",
                    "--json", "tiny.json", "--report", "report.json", "-l", "log.txt", "-q"],
                   cwd=tmp_path, check=True, timeout=120)
    parsed = synth.parse_nextpnr_report(json.loads((tmp_path / "report.json").read_text()),
                                        target_mhz)
    log = (tmp_path / "log.txt").read_text()
    used, available = map(int, re.search(r"ICESTORM_LC:\s+(\d+)/\s*(\d+)", log).groups())
    clock, fmax, verdict, target = re.findall(
        r"Max frequency for clock '([^']+)': ([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)", log)[-1]
    print(parsed, (used, available, clock, fmax, verdict, target))
    assert (parsed["lcs"], parsed["lcs_available"]) == (used, available) and used >= 16
    assert parsed["clock_net"] == clock
    assert abs(parsed["fmax_mhz"] - float(fmax)) <= 0.011
    assert parsed["target_mhz"] == float(target) == target_mhz
    assert parsed["timing_met"] == (verdict == "PASS") == (target_mhz == 12)
    assert parsed["brams"] == parsed["ram_bits"] == 0


class Chirp(wiring.Component):
    """An output-only core with a plain input, like an LFSR: the wrapper must cope with it."""

    seed: In(16)
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        state = Signal(16, init=1)
        m.d.comb += self.o.payload.eq(state[:8])
        with m.If(self.o.ready | ~self.o.valid):
            m.d.sync += [state.eq(Cat(state[1:], state[0] ^ state[2] ^ state[3] ^ state[5])
                                  ^ self.seed), self.o.valid.eq(1)]
        return m


def chirp_verilog(name, **params):
    return verilog.convert(Chirp(), name="chirp_gen", emit_src=False, strip_internal_attrs=True)


def test_wrapper_pins_follow_the_core_ports():
    text, wrapper = wrapper_verilog("chirp_gen", chirp_verilog("chirp"))
    pins = {(p.name, p.direction, p.width) for p in module_ports(text, "synth_top")}
    assert pins == {("clk", "input", 1), ("rst", "input", 1), ("sdi", "input", 1),
                    ("dout", "output", 1), ("o_ready", "input", 1), ("o_valid", "output", 1)}
    assert (wrapper.data_in_width, wrapper.data_out_width) == (16, 8)
    maestro = {(p.name, p.direction, p.width)
               for p in module_ports(synth.to_verilog("maestro", channels=2), "maestro_encoder")}
    assert maestro == {("clk", "input", 1), ("rst", "input", 1), ("i__payload", "input", 12),
                       ("i__valid", "input", 1), ("i__ready", "output", 1),
                       ("o__payload", "output", 18), ("o__valid", "output", 1),
                       ("o__ready", "input", 1)}
    with pytest.raises(ValueError, match="module 'nosuch' not found"):
        module_ports(text, "nosuch")


@pytest.mark.synth
def test_core_without_variants_is_built_as_default(tmp_path, monkeypatch):
    """A newly registered core with no synth_variants: variant 'default', its own defaults."""
    chirp = Core("chirp", "chirp_gen", lambda: Chirp(), {})
    monkeypatch.setattr(synth, "CORES", {**CORES, "chirp": chirp})  # the registry stays as is
    monkeypatch.setattr(synth, "to_verilog", chirp_verilog)
    assert synth.main(["--core", "chirp", "--device", "hx8k", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "chirp-default-hx8k.json").read_text())
    check_report(report, "chirp", "default", "hx8k")
    assert report["params"] == {} and report["target_mhz"] == 48
    assert report["memory_bits"] == 0 and report["carries"] == 0


def test_variant_table_is_checked(monkeypatch):
    def register(**variants):
        monkeypatch.setattr(synth, "CORES", {"maestro": Core(
            "maestro", "maestro_encoder", None, {"channels": 16}, synth_variants=variants)})
    register(ch4={"channels": 4, "target_mhz": 30})
    (config,) = synth.make_configs(["maestro"], ["hx8k"])
    assert (config.tag, config.params, config.target_mhz) == ("maestro-ch4-hx8k",
                                                              {"channels": 4}, 30)
    register(ch4={"channel": 4})
    with pytest.raises(ValueError, match="variant 'ch4': no parameter channel; the core takes "
                                         "channels"):
        synth.make_configs(["maestro"], ["hx8k"])
    register(fast={"target_mhz": 0})
    with pytest.raises(ValueError, match=r"target_mhz must be a number in \(0, 1000\] MHz, not 0"):
        synth.make_configs(["maestro"], ["hx8k"])


@pytest.mark.parametrize("args, message", [
    (["--core", "nosuch"], "unknown core 'nosuch'; the cores are: "),
    (["--device", "ecp5"], "unknown device 'ecp5'; the devices are: up5k, hx8k"),
    (["--jobs", "0"], "--jobs must be in 1..64, not 0"),
])
def test_bad_arguments_exit_2(tmp_path, args, message):
    result = run_script(*args, "--out", tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not list(tmp_path.iterdir())  # nothing was built


def test_tools_are_present():
    """CI builds with the apt tools; a machine without them fails here, not with a skip."""
    assert shutil.which("yosys") and shutil.which("nextpnr-ice40")


def test_bad_variant_value_fails_its_configuration(tmp_path, monkeypatch, capsys):
    """A parameter the core refuses: that configuration fails, named, and leaves no report."""
    bad = Core("maestro", "maestro_encoder", CORES["maestro"].build, {"channels": 16},
               synth_variants={"ch17": {"channels": 17}})
    monkeypatch.setattr(synth, "CORES", {"maestro": bad})
    stale = tmp_path / "maestro-ch17-hx8k.json"
    stale.write_text("{}")
    with warnings.catch_warnings():
        # The half-built component is collected here, not during some later test.
        warnings.simplefilter("ignore", UnusedElaboratable)
        assert synth.main(["--core", "maestro", "--device", "hx8k", "--out", str(tmp_path)]) == 1
        gc.collect()
    err = capsys.readouterr().err
    assert "FAIL maestro-ch17-hx8k: cannot generate Verilog: channels must be in 1..16" in err
    assert not stale.exists()
    assert "FAILED: maestro-ch17-hx8k" in (tmp_path / "summary.md").read_text()
