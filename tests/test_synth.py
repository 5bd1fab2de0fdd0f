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
from amaranth.hdl import UnusedElaboratable
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from neurocodec_gateware.cores import CORES, Core, convert
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
        # ... and in logic for the IGLOO estimate too; a core without parts has no breakdown.
        estimate = report["igloo_tiles_estimate"]["total"]
        assert estimate["ram_blocks"] == 0 and estimate["ffs"] >= report["memory_bits"]
        assert estimate["tiles"] == estimate["luts3"] + estimate["ffs"] + estimate["other_cells"]
        assert "parts" not in report and "Resources by part" not in result.stdout
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
    return convert(Chirp(), "chirp_gen")


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


# ---- parts (Core.synth_parts) and the IGLOO estimate --------------------------------------------

DUMP = r"""
autoidx 7968

attribute \keep_hierarchy 1
module \top.acq

  attribute \src "core.v:291.14-291.21"
  cell $mem_v2 \rom
    parameter \INIT 48'000000000000000000000000000000000000000000000001
    parameter \RD_CLK_ENABLE 1'0
    parameter \RD_PORTS 1
    parameter \SIZE 3
    parameter \WIDTH 16
    parameter \WR_PORTS 0
  end
end

module \top.link

  cell $mem_v2 \fifo.storage
    parameter \RD_CLK_ENABLE 2'11
    parameter \RD_PORTS 2
    parameter \SIZE 1023
    parameter \WIDTH 16
    parameter \WR_PORTS 1
  end
  cell $mem_v2 \slice.storage
    parameter \RD_CLK_ENABLE 2'10
    parameter \RD_PORTS 2
    parameter \SIZE 4
    parameter \WIDTH 16
    parameter \WR_PORTS 1
  end
end
"""


def test_memories_are_read_with_their_module_and_read_ports():
    rom, fifo, small = synth.parse_memories(DUMP)
    assert rom == {"name": "rom", "module": "top.acq", "depth": 3, "width": 16, "bits": 48,
                   "read_ports": 1, "write_ports": 0, "sync_read": False}
    assert (fifo["name"], fifo["module"], fifo["bits"]) == ("fifo.storage", "top.link", 16368)
    assert fifo["sync_read"] and (fifo["read_ports"], fifo["write_ports"]) == (2, 1)
    assert small["module"] == "top.link" and not small["sync_read"]  # one read port is async
    # A dump without module headers (what Yosys writes for one module without -m).
    (flat,) = synth.parse_memories(DUMP.split("module \\top.link")[0].replace(
        "module \\top.acq", ""))
    assert flat["module"] is None and flat["name"] == "rom"


def test_igloo_ram_blocks_and_which_memories_go_to_ram():
    def mem(depth, width, reads=1, writes=1, sync=True):
        return {"depth": depth, "width": width, "bits": depth * width, "read_ports": reads,
                "write_ports": writes, "sync_read": sync}
    assert synth.igloo_ram_blocks(mem(1023, 16)) == 4  # 1024x4 x 4 (or 512x9 2 x 2)
    assert synth.igloo_ram_blocks(mem(512, 9)) == 1
    assert synth.igloo_ram_blocks(mem(4096, 1)) == 1
    assert synth.igloo_ram_blocks(mem(4097, 1)) == 2
    assert synth.igloo_ram_blocks(mem(32, 13)) == 1  # RAM512X18 as 256x18
    assert synth.igloo_ram_blocks(mem(256, 13)) == 1
    # Two reads and a write: no two-port 256x18, one RAM4K9 copy (2 x 512x9) per read port.
    assert synth.igloo_ram_blocks(mem(32, 13, reads=2)) == 4
    assert synth.igloo_in_ram(mem(32, 13))
    assert not synth.igloo_in_ram(mem(32, 13, sync=False))
    assert not synth.igloo_in_ram(mem(39, 17, writes=0))  # a ROM: IGLOO RAM starts empty
    counts = synth.igloo_counts({"$lut": 10, "$_DFFE_PP_": 4, "$_SDFF_PP0_": 1, "$mem_v2": 1,
                                 "\\top.acq": 1, "$_XOR_": 2}, [mem(1023, 16)], {"top.acq"})
    assert counts == {"tiles": 17, "luts3": 10, "ffs": 5, "other_cells": 2, "ram_blocks": 4,
                      "ram_bits": 16368}


def test_yosys_023_stat_json_with_deep_hierarchy_is_read():
    text = """{
   "modules": {
      "\\\\top": {"num_cells": 2, "num_cells_by_type": {"SB_LUT4": 1, "top.acq": 1}}
   },
       top.acq         1
       top.acq.inner   1
   "design": {"num_cells": 3}
}
"""
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    stat = synth.load_stat(text)
    assert stat["design"] == {"num_cells": 3} and list(stat["modules"]) == ["\\top"]


def stat_of(**modules):
    return {"modules": {f"\\{name}": {"num_cells_by_type": cells}
                        for name, cells in modules.items()}}


def test_cells_are_split_by_part_module_and_add_up():
    stat = stat_of(synth_top={"SB_DFF": 9, "SB_LUT4": 2, "top": 1},
                   top={"SB_LUT4": 1, "top.acq": 1, "top.link": 1},
                   **{"top.acq": {"SB_LUT4": 5, "SB_DFFESR": 3, "SB_CARRY": 2},
                      "top.link": {"SB_LUT4": 7, "SB_DFF": 1, "SB_RAM40_4K": 4}})
    modules = {"acquisition": "top.acq", "protocol": "top.link"}
    parts = synth.stat_parts(stat, "top", modules)
    assert [(p, c["luts"], c["ffs"], c["carries"], c["brams"]) for p, c in parts.items()] == [
        ("acquisition", 5, 3, 2, 0), ("protocol", 7, 1, 0, 4), ("glue", 1, 0, 0, 0)]
    core, wrapper = synth.parse_stat(stat, "top", modules)
    assert (core["luts"], core["ffs"], core["carries"], core["brams"]) == (13, 4, 2, 4)
    assert (wrapper["luts"], wrapper["ffs"]) == (2, 9)
    # Without parts the part modules are unexpected (their cells would go uncounted).
    with pytest.raises(synth.SynthError, match="expected"):
        synth.parse_stat(stat, "top")
    twice = stat_of(synth_top={"top": 1}, top={"top.acq": 2}, **{"top.acq": {"SB_LUT4": 1}})
    with pytest.raises(synth.SynthError, match="instantiated 2 times"):
        synth.parse_stat(twice, "top", {"acquisition": "top.acq"})
    checked = {p: {**c, "lcs": 10} for p, c in parts.items()}
    synth.check_parts(checked, {**core, "lcs": 30})
    with pytest.raises(synth.SynthError, match="lcs add up to 30, not the core's 31"):
        synth.check_parts(checked, {**core, "lcs": 31})


PARTS_VERILOG = r"""
module top(clk, o);
  input clk;
  output [7:0] o;
  \top.acq  acquisition (
    .clk(clk)
  );
  \top.link  link (
    .clk(clk),
    .o(o)
  );
  always @(posedge clk)
    if (o) o <= 1;
endmodule

module \top.acq (clk);
  input clk;
endmodule

module \top.link (clk, o);
  input clk;
  output [7:0] o;
  \top.link.fifo  fifo (
    .clk(clk)
  );
endmodule

module \top.link.fifo (clk);
  input clk;
endmodule
"""


def test_part_modules_are_found_in_the_core_verilog():
    parts = {"acquisition": "acquisition", "protocol": "link"}
    assert synth.part_modules_of(PARTS_VERILOG, "top", parts) == {
        "acquisition": "top.acq", "protocol": "top.link"}
    assert synth.part_modules_of(PARTS_VERILOG, "top", {}) == {}
    with pytest.raises(ValueError, match="module 'top' has no submodule instance 'fifo'"):
        synth.part_modules_of(PARTS_VERILOG, "top", {"fifo": "fifo"})  # not a direct child
    twice = PARTS_VERILOG.replace("endmodule\n\nmodule \\top.acq",
                                  "endmodule\n\nmodule other(clk);\n  \\top.acq  again (\n"
                                  "  );\nendmodule\n\nmodule \\top.acq", 1)
    with pytest.raises(ValueError, match="module 'top.acq' is instantiated 2 times"):
        synth.part_modules_of(twice, "top", parts)
    # The registry: the headstage's parts are its three submodules.
    headstage = synth.to_verilog("headstage")
    assert synth.part_modules_of(headstage, "headstage", CORES["headstage"].synth_parts) == {
        "acquisition": "headstage.acquisition", "compression": "headstage.encoder",
        "protocol": "headstage.link"}


def test_part_table_is_checked(monkeypatch):
    def register(**parts):
        monkeypatch.setattr(synth, "CORES", {"maestro": Core(
            "maestro", "maestro_encoder", None, {"channels": 16}, synth_parts=parts)})
    register(a="x", b="y")
    (config,) = synth.make_configs(["maestro"], ["hx8k"])
    assert config.parts == {"a": "x", "b": "y"} and config.part_modules == {}
    register(glue="x")
    with pytest.raises(ValueError, match="part name 'glue' must be"):
        synth.make_configs(["maestro"], ["hx8k"])
    register(a="x", b="x")
    with pytest.raises(ValueError, match="two parts name the same submodule"):
        synth.make_configs(["maestro"], ["hx8k"])
    assert set(CORES["headstage"].synth_variants) >= {"chips1", "chips2", "chips4", "chips8"}
    assert all(v["target_mhz"] == 42 for v in CORES["headstage"].synth_variants.values())


def lc(connections=None, carry=False):
    return {"type": "ICESTORM_LC", "parameters": {"CARRY_ENABLE": str(int(carry))},
            "port_directions": {}, "connections": connections or {}}


def test_placed_lcs_are_split_by_part_and_add_up_to_the_core():
    cells = {
        # named after Yosys cells of the parts, of the core module and of the wrapper
        "core.acquisition.count_SB_LUT4_O_LC": lc({"O": [10], "I0": [11]}),
        "core.acquisition.count_SB_DFF_Q_DFFLC": lc({"I0": [10], "O": [11]}),
        "core.acquisition.sum_SB_CARRY_CO$CARRY": lc({"CIN": [20], "COUT": [21]}, carry=True),
        "core.link.w_SB_LUT4_O_LC": lc({"O": [30]}),
        "core.link.unknown_by_yosys_LC": lc(),  # prefix only
        "core.overflow_SB_LUT4_O_LC": lc({"I0": [30], "O": [40]}),
        "core.linked_SB_LUT4_O_LC": lc(),  # glue: "core.link" is not the prefix "core.link."
        "rst_q_SB_DFF_Q_DFFLC": lc({"I0": [40]}),
        # added by nextpnr: a carry feed-in, a chain of two, a lone LUT, the constant driver
        "$nextpnr_ICESTORM_LC_0": lc({"COUT": [20], "I1": [11]}, carry=True),
        "$nextpnr_ICESTORM_LC_1": lc({"COUT": [50]}, carry=True),
        "$nextpnr_ICESTORM_LC_2": lc({"CIN": [50], "COUT": [51]}, carry=True),
        "core.link.chain_SB_CARRY_CO$CARRY": lc({"CIN": [51]}, carry=True),
        "$nextpnr_ICESTORM_LC_3": lc({"I0": [30], "I1": [10], "I2": [10]}),
        "$PACKER_GND": lc({"O": [60]}),
        "$gbuf_clk": {"type": "SB_GB", "connections": {}},
    }
    placed = {"modules": {"synth_top": {"cells": cells}}}
    wrapper = {"rst_q_SB_DFF_Q"}
    owners = {"core.acquisition.count_SB_LUT4_O": "acquisition",
              "core.acquisition.count_SB_DFF_Q": "acquisition",
              "core.acquisition.sum_SB_CARRY_CO": "acquisition",
              "core.link.w_SB_LUT4_O": "protocol", "core.link.chain_SB_CARRY_CO": "protocol",
              "core.overflow_SB_LUT4_O": "glue", "core.linked_SB_LUT4_O": "glue"}
    prefixes = {"acquisition": "core.acquisition.", "protocol": "core.link."}
    split = synth.split_parts(placed, wrapper, owners, prefixes)
    assert split["lcs"] == {"acquisition": 5, "protocol": 5, "glue": 3}
    assert split["lcs_by_connection"] == 4  # all added LCs but the constant driver
    lcs = synth.split_lcs(placed, wrapper)
    assert (lcs["lcs_core"], lcs["lcs_wrapper"]) == (13, 1)
    assert sum(split["lcs"].values()) == lcs["lcs_core"]


def test_parts_table_in_summary():
    part = {"luts": 5, "ffs": 3, "carries": 2, "brams": 0, "lcs": 9,
            "igloo_tiles_estimate": {"tiles": 20, "ram_blocks": 0}}
    report = {"core": "duo", "variant": "default", "device": "hx8k", "lcs_core": 19,
              "lcs_total": 30, "lcs_available": 7680, "luts": 12, "ffs": 4, "carries": 2,
              "brams": 1, "memory_bits": 0, "fmax_mhz": 99.0, "target_mhz": 48,
              "timing_met": True, "seconds": 1.0, "seed": 1, "yosys_version": "Yosys 0.23",
              "nextpnr_version": "nextpnr-ice40",
              "parts": {"count": part, "mix": {**part, "luts": 7, "ffs": 1, "carries": 0,
                                                "brams": 1, "lcs": 10,
                                                "igloo_tiles_estimate": {"tiles": 9,
                                                                         "ram_blocks": 2}},
                        "glue": {**part, "luts": 0, "ffs": 0, "carries": 0, "lcs": 0,
                                 "igloo_tiles_estimate": {"tiles": 0, "ram_blocks": 0}}},
              "igloo_tiles_estimate": {"total": {"tiles": 29, "ram_blocks": 2}}}
    text = synth.markdown([report], [])
    assert "## Resources by part" in text and "ESTIMATE" in text
    assert ("| part | LUT4 | FF | CARRY | BRAM | LC | IGLOO tiles est. | IGLOO RAM blocks est. |"
            in text)
    assert "| count | 5 | 3 | 2 | 0 | 9 | 20 | 0 |" in text
    assert "| mix | 7 | 1 | 0 | 1 | 10 | 9 | 2 |" in text
    assert "| total (core) | 12 | 4 | 2 | 1 | 19 | 29 | 2 |" in text
    assert "Resources by part" not in synth.markdown([{**report, "parts": None}], [])


class Count(wiring.Component):
    step: In(8)
    value: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.value.eq(self.value + self.step)
        return m


class Mix(wiring.Component):
    i: In(16)
    o: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=8, depth=256, init=[])
        write, read = mem.write_port(), mem.read_port()
        state = Signal(16, init=1)
        m.d.sync += state.eq(Cat(state[1:], state[0] ^ state[2] ^ state[3] ^ state[5]) ^ self.i)
        m.d.comb += [write.addr.eq(state[:8]), write.data.eq(state[8:]), write.en.eq(state[0]),
                     read.addr.eq(self.i[:8]), self.o.eq(read.data)]
        return m


class Duo(wiring.Component):
    """Two parts (a counter with a carry chain, a scrambler with a block RAM) and some glue."""

    step: In(8)
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        m.submodules.count = count = Count()
        m.submodules.mix = mix = Mix()
        m.d.comb += [count.step.eq(self.step), mix.i.eq(count.value), self.o.valid.eq(1)]
        m.d.sync += self.o.payload.eq(mix.o ^ count.value[8:])
        return m


def duo_verilog(name, **params):
    return convert(Duo(), "duo")


@pytest.mark.synth
def test_core_with_parts_is_broken_down(tmp_path, monkeypatch):
    """A small two-part core through the whole flow: every figure adds up to the core's."""
    duo = Core("duo", "duo", lambda: Duo(), {}, synth_parts={"counter": "count", "mixer": "mix"})
    monkeypatch.setattr(synth, "CORES", {**CORES, "duo": duo})
    monkeypatch.setattr(synth, "to_verilog", duo_verilog)
    assert synth.main(["--core", "duo", "--device", "hx8k", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "duo-default-hx8k.json").read_text())
    check_report(report, "duo", "default", "hx8k")
    parts = report["parts"]
    assert list(parts) == ["counter", "mixer", "glue"]
    for key in ("luts", "ffs", "carries", "brams"):
        assert sum(part[key] for part in parts.values()) == report[key], key
    assert sum(part["lcs"] for part in parts.values()) == report["lcs_core"]
    assert parts["counter"]["carries"] > 0 and parts["counter"]["brams"] == 0
    assert parts["mixer"]["brams"] == 1 == report["brams"]  # 256 x 8, registered read
    assert parts["glue"]["ffs"] == 8 and parts["glue"]["luts"] > 0
    for part in parts.values():
        assert part["lcs"] >= max(part["luts"], part["ffs"], part["carries"])
    assert [m["part"] for m in report["memories"]] == ["mixer"]
    assert report["memories"][0]["name"] == "mix.mem"
    estimate = report["igloo_tiles_estimate"]
    assert "ESTIMATE" in estimate["method"]
    total = estimate["total"]
    assert total["ram_blocks"] == 1 and total["ram_bits"] == 2048
    assert total["tiles"] == total["luts3"] + total["ffs"] + total["other_cells"]
    assert total["ffs"] == 16 + 16 + 8  # counter, scrambler state, glue register
    for key in ("tiles", "luts3", "ffs", "ram_blocks"):
        assert sum(p["igloo_tiles_estimate"][key] for p in parts.values()) == total[key], key
    assert parts["mixer"]["igloo_tiles_estimate"]["ram_blocks"] == 1
    summary = (tmp_path / "summary.md").read_text()
    assert "### duo default hx8k" in summary
    row = (f"| total (core) | {report['luts']} | {report['ffs']} | {report['carries']} | 1 | "
           f"{report['lcs_core']} | {total['tiles']} | 1 |")
    assert row in summary.splitlines()


def test_fmax_is_shown_precisely_enough_to_see_a_miss():
    def report(fmax, target, met):
        return {"fmax_mhz": fmax, "target_mhz": target, "timing_met": met}
    assert synth.fmax_text(report(41.97, 42.0, False)) == "41.97"  # not "42.0 ... NO"
    assert synth.fmax_text(report(44.66, 42.0, True)) == "44.7"
    assert synth.fmax_text(report(23.1, 48.0, False)) == "23.1"
