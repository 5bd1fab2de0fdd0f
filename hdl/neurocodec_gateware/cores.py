"""The registry of gateware cores: how to build each one, its Verilog name and default parameters.

``make verilog``, ``make sim``, the testbenches and the FuseSoC generator all build cores through
this table, so a core is added in one place.
"""

from dataclasses import dataclass, field
from typing import Callable

from amaranth.back import verilog

from .maestro import MaestroEncoder


@dataclass(frozen=True)
class Core:
    name: str
    toplevel: str  # Verilog module name
    build: Callable[..., object]  # keyword parameters -> elaboratable
    defaults: dict = field(default_factory=dict)
    summary: str = ""


CORES = {
    core.name: core
    for core in (
        Core("maestro", "maestro_encoder", lambda channels: MaestroEncoder(channels),
             {"channels": 16}, "Maestro delta bytes, 12-bit samples, 1 sample/clock"),
    )
}


def get_core(name: str) -> Core:
    try:
        return CORES[name]
    except KeyError:
        raise ValueError(f"unknown core {name!r}; the cores are: {', '.join(sorted(CORES))}") from None


def to_verilog(name: str, **params) -> str:
    """Reproducible Verilog of a core (no source locations, no internal attributes)."""
    core = get_core(name)
    unknown = set(params) - set(core.defaults)
    if unknown:
        raise ValueError(f"core {name!r} has no parameter {', '.join(sorted(unknown))}; "
                         f"it takes {', '.join(sorted(core.defaults))}")
    design = core.build(**{**core.defaults, **params})
    return verilog.convert(design, name=core.toplevel, emit_src=False, strip_internal_attrs=True)
