"""A pin-frugal top level that wraps any registered core for iCE40 place-and-route (``make synth``).

The UP5K in its SG48 package has 39 I/O pins, fewer than a core's parallel ports. The wrapper
instantiates the core's own Verilog module (from :func:`neurocodec_gateware.cores.to_verilog`,
kept as a separate module so its cells can be counted apart from the wrapper's) and:

* fills every data input of the core (stream payloads and any other input) from one serial-in
  shift register on the ``sdi`` pin;
* drives every ``<stream>__valid`` / ``<stream>__ready`` input of the core from a pin of the same
  name through one register;
* registers every ``<stream>__valid`` / ``<stream>__ready`` output of the core onto a pin;
* captures every other output bit of the core in a register and folds them with a pipelined
  XOR tree (four bits per LUT, one register per level) onto the ``dout`` pin, so that no output
  bit is constant to the tools and nothing of the core is optimised away.

Every path that starts or ends in the core therefore starts or ends at a wrapper register with
no logic of the wrapper in between: the wrapper adds no LUT levels to the core's paths and its own
paths have at most one LUT between registers. ``clk`` and ``rst`` go to the core; ``rst`` is
registered once (synchronous reset, as Amaranth's ``sync`` domain uses).

The core is found from its Verilog port list, so cores added to the registry later need nothing
here; a core with one clock ``clk`` and reset ``rst`` (Amaranth's ``sync`` domain) is assumed.
"""

import re
from dataclasses import dataclass

from amaranth import (Cat, ClockDomain, ClockSignal, Elaboratable, Instance, Module, ResetSignal,
                      Signal)
from amaranth.back import verilog

TOP = "synth_top"
CORE_INSTANCE = "core"
FOLD = 4  # bits folded per XOR (one iCE40 LUT4)

_PORT = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                   r"(?:\[(\d+):(\d+)\]\s*)?(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)\s*;", re.M)


@dataclass(frozen=True)
class Port:
    name: str
    direction: str  # "input" or "output"
    width: int


def module_ports(text: str, module: str) -> list[Port]:
    """The ports of ``module`` in Verilog written by Yosys (as Amaranth's back end writes it)."""
    match = re.search(rf"^module\s+\\?{re.escape(module)}\s*\(.*?^endmodule", text, re.M | re.S)
    if not match:
        raise ValueError(f"module {module!r} not found in the Verilog")
    ports = []
    for direction, msb, lsb, name in _PORT.findall(match.group(0)):
        if direction == "inout":
            raise ValueError(f"module {module!r} has an inout port {name!r}; the wrapper "
                             "handles inputs and outputs only")
        width = abs(int(msb) - int(lsb)) + 1 if msb else 1
        ports.append(Port(name.lstrip("\\"), direction, width))
    if not ports:
        raise ValueError(f"module {module!r} has no ports")
    return ports


def _role(port: Port) -> str:
    if port.direction == "input" and port.name in ("clk", "rst"):
        return port.name
    if port.name.endswith(("__valid", "__ready")) and port.width == 1:
        return "handshake"
    return "data"


class SynthWrapper(Elaboratable):
    """Top level ``synth_top`` around the core module ``toplevel`` with the given ``ports``."""

    def __init__(self, toplevel: str, ports: list[Port]):
        self.toplevel = toplevel
        self.core_ports = ports
        names = {p.name for p in ports}
        if "clk" not in names:
            raise ValueError(f"core {toplevel!r} has no clk input; the wrapper needs one clock")
        self.clk = Signal(name="clk")
        self.rst = Signal(name="rst")
        self.data_in_width = sum(p.width for p in ports if p.direction == "input"
                                 and _role(p) == "data")
        self.data_out_width = sum(p.width for p in ports if p.direction == "output"
                                  and _role(p) == "data")
        self.sdi = Signal(name="sdi") if self.data_in_width else None
        self.dout = Signal(name="dout") if self.data_out_width else None
        # Handshake pins keep the core's port name with one underscore: i__valid -> i_valid.
        self.handshake = {p.name: Signal(name=p.name.replace("__", "_")) for p in ports
                          if _role(p) == "handshake"}

    @property
    def pins(self) -> list[Signal]:
        pins = [self.clk, self.rst] + [s for s in (self.sdi, self.dout) if s is not None]
        return pins + list(self.handshake.values())

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.domains.pins = pins = ClockDomain("pins", reset_less=True)
        rst_q = Signal()
        m.d.comb += [sync.clk.eq(self.clk), pins.clk.eq(self.clk), sync.rst.eq(rst_q)]
        m.d.pins += rst_q.eq(self.rst)

        connections = {}
        if self.data_in_width:
            shift = Signal(self.data_in_width)
            m.d.pins += shift.eq(Cat(self.sdi, shift[:-1]))
            offset = 0
        captured = []
        for port in self.core_ports:
            role = _role(port)
            if role in ("clk", "rst"):
                connections[f"i_{port.name}"] = (ClockSignal("sync") if role == "clk"
                                                 else ResetSignal("sync"))
            elif port.direction == "input" and role == "handshake":
                q = Signal(name=f"{port.name}_q")
                m.d.pins += q.eq(self.handshake[port.name])
                connections[f"i_{port.name}"] = q
            elif port.direction == "input":
                connections[f"i_{port.name}"] = shift[offset:offset + port.width]
                offset += port.width
            else:
                out = Signal(port.width, name=f"{port.name}_o")
                connections[f"o_{port.name}"] = out
                if role == "handshake":
                    m.d.pins += self.handshake[port.name].eq(out)
                else:
                    q = Signal(port.width, name=f"{port.name}_q")
                    m.d.pins += q.eq(out)
                    captured.append(q)
        m.submodules[CORE_INSTANCE] = Instance(self.toplevel, **connections)

        if captured:
            level = Cat(*captured)
            while len(level) > 1:
                groups = [level[i:i + FOLD] for i in range(0, len(level), FOLD)]
                folded = Signal(len(groups))
                m.d.pins += [folded[i].eq(group.xor()) for i, group in enumerate(groups)]
                level = folded
            m.d.comb += self.dout.eq(level)
        return m


def wrapper_verilog(toplevel: str, core_verilog: str) -> tuple[str, SynthWrapper]:
    """Verilog of ``synth_top`` instantiating ``toplevel`` (whose Verilog is ``core_verilog``)."""
    wrapper = SynthWrapper(toplevel, module_ports(core_verilog, toplevel))
    text = verilog.convert(wrapper, name=TOP, ports=wrapper.pins, emit_src=False,
                           strip_internal_attrs=True)
    return text, wrapper
