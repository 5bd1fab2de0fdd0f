"""Board tops of the headstage: the 12 MHz board clock through the iCE40 PLL to 42 MHz, a reset
held until the PLL locks, status LEDs, and the headstage's pins (``constraints/*.pcf``).

    python -m neurocodec_gateware.verilog headstage_icebreaker -o top.v

Pins and clocking are tabled in ``docs/headstage.md`` (Boards) and the README.
"""

from amaranth import ClockDomain, ClockSignal, Module, Mux, ResetSignal, Signal
from amaranth.hdl import Instance
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .headstage import Headstage

# 12 MHz -> 42 MHz: F_VCO = 12 MHz x (DIVF + 1) / (DIVR + 1) = 672 MHz, / 2^DIVQ = 42 MHz.
PLL_42MHZ = {"DIVR": 0, "DIVF": 55, "DIVQ": 4, "FILTER_RANGE": 1}
CLK_HZ = 42_000_000
BOARDS = {
    # board: (LED polarity: True = active low, has a button)
    "icebreaker": (True, True),
    "hx8k_breakout": (False, False),
}


class HeadstageBoard(wiring.Component):
    """The headstage on an iCE40 board. ``board`` is ``"icebreaker"`` (UP5K) or
    ``"hx8k_breakout"``; the other parameters go to :class:`Headstage` (its clock is 42 MHz)."""

    def __init__(self, board: str = "icebreaker", chips: int = 1, output: str = "spi", **params):
        if board not in BOARDS:
            raise ValueError(f"board must be one of {', '.join(BOARDS)}, not {board!r}")
        self.board = board
        self.active_low, self.has_button = BOARDS[board]
        self.params = {"chips": chips, "output": output, "clk_hz": CLK_HZ, **params}
        ports = {
            "clk12": In(1), "rhd_sclk": Out(1), "rhd_cs_n": Out(1, init=1), "rhd_mosi": Out(1),
            "rhd_miso": In(chips), "led_running": Out(1), "led_overflow": Out(1),
            "radio_sclk": In(1), "radio_cs_n": In(1, init=1), "radio_miso": Out(1),
            "irq": Out(1), "uart_tx": Out(1, init=1),
        }
        if self.has_button:
            ports["button_n"] = In(1, init=1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        locked = Signal()
        # The UP5K's PLL takes its clock straight from its pad (pin 35 on the iCEBreaker); the
        # HX8K's from the global network.
        pad = self.board == "icebreaker"
        m.submodules.pll = Instance(
            "SB_PLL40_PAD" if pad else "SB_PLL40_CORE", p_FEEDBACK_PATH="SIMPLE",
            **{f"p_{k}": v for k, v in PLL_42MHZ.items()},
            **({"i_PACKAGEPIN": self.clk12} if pad else {"i_REFERENCECLK": self.clk12}),
            i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=ClockSignal("sync"), o_LOCK=locked)
        # Reset: held while the PLL is unlocked (or the button is pressed), then 2^10 clocks.
        # The counter lives in a reset-less domain on the same clock.
        m.domains.por = ClockDomain("por", reset_less=True)
        m.d.comb += ClockSignal("por").eq(ClockSignal("sync"))
        hold = Signal(range(1 << 10), init=(1 << 10) - 1)
        pressed = ~self.button_n if self.has_button else 0
        with m.If(~locked | pressed):
            m.d.por += hold.eq((1 << 10) - 1)
        with m.Elif(hold != 0):
            m.d.por += hold.eq(hold - 1)
        m.d.comb += ResetSignal("sync").eq(hold != 0)

        m.submodules.headstage = headstage = Headstage(**self.params)
        m.d.comb += [
            self.rhd_sclk.eq(headstage.rhd_sclk), self.rhd_cs_n.eq(headstage.rhd_cs_n),
            self.rhd_mosi.eq(headstage.rhd_mosi), headstage.rhd_miso.eq(self.rhd_miso),
            self.irq.eq(headstage.irq),
        ]
        if self.params["output"] == "spi":
            m.d.comb += [headstage.radio_sclk.eq(self.radio_sclk),
                         headstage.radio_cs_n.eq(self.radio_cs_n),
                         self.radio_miso.eq(headstage.radio_miso)]
        else:
            m.d.comb += [self.uart_tx.eq(headstage.uart_tx), self.radio_miso.eq(0)]
        running = headstage.running & (headstage.id_ok == (1 << self.params["chips"]) - 1)
        for led, on in ((self.led_running, running), (self.led_overflow, headstage.overflow)):
            m.d.comb += led.eq(Mux(on, 0, 1) if self.active_low else on)
        return m
