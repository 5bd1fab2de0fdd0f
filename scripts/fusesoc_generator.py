#!/usr/bin/env python3
"""FuseSoC generator: runs the Amaranth code of a neurocodec core and hands FuseSoC its Verilog.

Parameters (from the ``generate:`` section of ``fusesoc.core``):

* ``core``: a name from ``neurocodec_gateware.cores.CORES``, or ``board``: a board top of
  ``neurocodec_gateware.boards.BOARDS`` (``icebreaker``, ``hx8k_breakout``, ``igloo_nano``),
  written as ``headstage_board.v``;
* ``params``: the core's parameters (optional; defaults from the registry);
* ``sources``: the Amaranth source files, listed so that FuseSoC's ``cache_type: input`` cache is
  keyed on their contents (``file_input_parameters: sources``).

The Verilog goes to ``amaranth/<toplevel>.v`` in the generator's directory; the Verilator
waivers in ``hdl/lint/amaranth.vlt`` apply to files under a folder named ``amaranth``.
"""

import sys
from pathlib import Path

from fusesoc.capi2.generator import Generator


class AmaranthGenerator(Generator):
    def run(self):
        # Generate from this checkout's sources, never from another installed copy.
        sys.path.insert(0, str(Path(self.files_root) / "hdl"))
        from neurocodec_gateware.cores import convert, get_core
        from neurocodec_gateware.verilog import write_text, write_verilog

        params = self.config.get("params") or {}
        if "board" in self.config:
            from neurocodec_gateware.boards import HeadstageBoard
            top = HeadstageBoard(self.config["board"], **params)
            path = write_text(Path("amaranth") / "headstage_board.v",
                              convert(top, "headstage_board"))
        else:
            name = self.config["core"]
            core = get_core(name)
            path = write_verilog(name, Path("amaranth") / f"{core.toplevel}.v", **params)
        self.add_files([{str(path): {"file_type": "verilogSource"}}])


if __name__ == "__main__":
    generator = AmaranthGenerator()
    generator.run()
    generator.write()
