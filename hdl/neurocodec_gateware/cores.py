"""The registry of gateware cores: how to build each one, its Verilog name and default parameters.

``make verilog``, ``make sim``, the testbenches and the FuseSoC generator all build cores through
this table, so a core is added in one place.
"""

from dataclasses import dataclass, field
from typing import Callable

from amaranth.back import verilog

from .dhuff import DhuffEncoder
from .headstage import Headstage
from .lfsr import LfsrSpikeEncoder
from .maestro import MaestroEncoder


@dataclass(frozen=True)
class Core:
    name: str
    toplevel: str  # Verilog module name
    build: Callable[..., object]  # keyword parameters -> elaboratable
    defaults: dict = field(default_factory=dict)
    summary: str = ""
    # `make synth` (scripts/synth.py): variant name -> core parameters, plus an optional
    # "target_mhz" (default 48). Empty: one variant "default" with the defaults above.
    synth_variants: dict = field(default_factory=dict)
    # `make synth`: part name -> instance name of a submodule of the core's top module. Each
    # report then breaks the core's cells down by part (the rest is "glue"). Empty: no breakdown.
    synth_parts: dict = field(default_factory=dict)


CORES = {
    core.name: core
    for core in (
        Core("maestro", "maestro_encoder", lambda channels: MaestroEncoder(channels),
             {"channels": 16}, "Maestro delta bytes, 12-bit samples, 1 sample/clock",
             synth_variants={"ch16": {"channels": 16}}),
        Core("lfsr", "lfsr_spike_encoder", lambda **p: LfsrSpikeEncoder(**p),
             {"channels": 64, "alpha_q8": 32, "seed": 0xACE1},
             "LFSR spike predictor + AER event bytes, 1 bin/clock",
             synth_variants={"ch1024": {"channels": 1024}}),
        Core("dhuff", "dhuff_encoder", lambda **p: DhuffEncoder(**p),
             {"channels": 32, "sample_bits": 16, "discard_bits": 3, "low_bits": 1, "block": 64,
              "frame_words": 256, "contexts": 1, "reversion": 0, "dictionary": "intan-d3",
              "layout": "canonical"},
             "dhuff delta + partial Huffman, blocks and frames, 1 sample/clock",
             synth_variants={"ch32": {"channels": 32}, "ch1024": {"channels": 1024}}),
        Core("headstage", "headstage", lambda **p: Headstage(**p),
             {"chips": 1, "clk_hz": 42_000_000, "sample_rate": 30000, "discard_bits": 3,
              "low_bits": 1, "block": 64, "frame_words": 256, "dictionary": "intan-d3",
              "layout": "canonical", "contexts": 1, "reversion": 0, "fifo_words": 1024,
              "output": "spi", "uart_divisor": 4, "startup_clocks": 4800},
             "RHD2132 acquisition -> dhuff -> packets -> FIFO -> SPI slave or UART",
             synth_variants={"chips1": {"chips": 1, "target_mhz": 42},
                             "chips2": {"chips": 2, "target_mhz": 42},
                             "chips4": {"chips": 4, "target_mhz": 42},
                             "chips8": {"chips": 8, "target_mhz": 42}},
             synth_parts={"acquisition": "acquisition", "compression": "encoder",
                          "protocol": "link"}),
    )
}


def get_core(name: str) -> Core:
    try:
        return CORES[name]
    except KeyError:
        raise ValueError(f"unknown core {name!r}; the cores are: {', '.join(sorted(CORES))}") from None


def convert(design, name: str) -> str:
    """Reproducible Verilog of an elaboratable (no source locations, no internal attributes)."""
    return verilog.convert(design, name=name, emit_src=False, strip_internal_attrs=True)


def to_verilog(name: str, **params) -> str:
    """Reproducible Verilog of a core (no source locations, no internal attributes)."""
    core = get_core(name)
    unknown = set(params) - set(core.defaults)
    if unknown:
        raise ValueError(f"core {name!r} has no parameter {', '.join(sorted(unknown))}; "
                         f"it takes {', '.join(sorted(core.defaults))}")
    design = core.build(**{**core.defaults, **params})
    return convert(design, core.toplevel)
