"""Board tops of the headstage: the board's clock (through the iCE40 PLL where the board has a
12 MHz oscillator), a reset, status LEDs, and the headstage's pins (``constraints/*.pcf`` for
iCE40, ``constraints/igloo_nano.pdc`` + ``.sdc`` for IGLOO nano).

* ``icebreaker`` (iCE40UP5K-SG48) and ``hx8k_breakout`` (iCE40HX8K-CT256): 12 MHz -> PLL ->
  42 MHz (``SB_PLL40_PAD`` on the UP5K, whose PLL takes its clock straight from pin 35;
  ``SB_PLL40_CORE`` on the HX8K). Reset is held until the PLL locks (and while the iCEBreaker's
  button is pressed), then 1,023 more clocks, counted in a reset-less domain whose register
  starts from its initial value (the iCE40 loads it with the bitstream).
* ``igloo_nano`` (AGLN250V2-VQ100): the 42 MHz clock comes from a pin (a global input; an
  oscillator on the headstage board), with no vendor primitive. IGLOO flip-flops do not load
  initial values from the configuration, so nothing here relies on one: reset is the
  ``reset_n`` pin (low at power-up and while held, from the board's supervisor or button),
  synchronised by two flip-flops. The encoder's channel state needs no clearing (every block
  starts with raw samples); the start-up command list is a ROM (logic).

Pins and clocking are tabled in ``docs/headstage.md`` (Boards) and the README.
"""

from dataclasses import dataclass

from amaranth import ClockDomain, ClockSignal, Module, Mux, ResetSignal, Signal
from amaranth.hdl import Instance
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .headstage import Headstage

# 12 MHz -> 42 MHz: F_VCO = 12 MHz x (DIVF + 1) / (DIVR + 1) = 672 MHz, / 2^DIVQ = 42 MHz.
PLL_42MHZ = {"DIVR": 0, "DIVF": 55, "DIVQ": 4, "FILTER_RANGE": 1}
CLK_HZ = 42_000_000
RESET_CLOCKS = 1 << 10


@dataclass(frozen=True)
class Board:
    description: str
    clock_pin: str  # the top's clock input
    pll: str | None  # the iCE40 PLL primitive, or None: the clock pin is the system clock
    leds_active_low: bool
    reset: str | None  # None, "button_n" (iCEBreaker: press = reset), "reset_n" (IGLOO)


BOARDS = {
    "icebreaker": Board("iCEBreaker, iCE40UP5K-SG48, 12 MHz -> PLL -> 42 MHz", "clk12",
                        "SB_PLL40_PAD", True, "button_n"),
    "hx8k_breakout": Board("iCE40-HX8K Breakout, iCE40HX8K-CT256, 12 MHz -> PLL -> 42 MHz",
                           "clk12", "SB_PLL40_CORE", False, None),
    "igloo_nano": Board("IGLOO nano AGLN250V2-VQ100, 42 MHz clock input", "clk", None, False,
                        "reset_n"),
}


class HeadstageBoard(wiring.Component):
    """The headstage on a board of :data:`BOARDS`; the other parameters go to
    :class:`Headstage` (its clock is 42 MHz)."""

    def __init__(self, board: str = "icebreaker", chips: int = 1, output: str = "spi", **params):
        if board not in BOARDS:
            raise ValueError(f"board must be one of {', '.join(BOARDS)}, not {board!r}")
        self.board = board
        self.spec = BOARDS[board]
        self.params = {"chips": chips, "output": output, "clk_hz": CLK_HZ, **params}
        ports = {
            self.spec.clock_pin: In(1), "rhd_sclk": Out(1), "rhd_cs_n": Out(1, init=1),
            "rhd_mosi": Out(1), "rhd_miso": In(chips), "led_running": Out(1),
            "led_overflow": Out(1), "radio_sclk": In(1), "radio_cs_n": In(1, init=1),
            "radio_miso": Out(1), "irq": Out(1), "uart_tx": Out(1, init=1),
        }
        if self.spec.reset:
            ports[self.spec.reset] = In(1, init=1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        # The reset logic runs in a reset-less domain on the same clock.
        m.domains.por = ClockDomain("por", reset_less=True)
        m.d.comb += ClockSignal("por").eq(ClockSignal("sync"))
        clock_in = getattr(self, self.spec.clock_pin)
        if self.spec.pll:
            locked = Signal()
            pad = self.spec.pll == "SB_PLL40_PAD"
            m.submodules.pll = Instance(
                self.spec.pll, p_FEEDBACK_PATH="SIMPLE",
                **{f"p_{k}": v for k, v in PLL_42MHZ.items()},
                **({"i_PACKAGEPIN": clock_in} if pad else {"i_REFERENCECLK": clock_in}),
                i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=ClockSignal("sync"), o_LOCK=locked)
            # Held while the PLL is unlocked (or the button is pressed), then RESET_CLOCKS - 1
            # more clocks (the count down to 0).
            hold = Signal(range(RESET_CLOCKS), init=RESET_CLOCKS - 1)
            pressed = ~self.button_n if self.spec.reset == "button_n" else 0
            with m.If(~locked | pressed):
                m.d.por += hold.eq(RESET_CLOCKS - 1)
            with m.Elif(hold != 0):
                m.d.por += hold.eq(hold - 1)
            m.d.comb += ResetSignal("sync").eq(hold != 0)
        else:
            m.d.comb += ClockSignal("sync").eq(clock_in)
            # reset_n through two flip-flops: reset is asserted the clock after the pin is seen
            # low and released 2 clocks after it is seen high; no initial value is needed.
            sync = Signal(2)
            m.d.por += sync.eq(Mux(self.reset_n, sync << 1, 0b11) & 0b11)
            m.d.comb += ResetSignal("sync").eq(sync[1])

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
            m.d.comb += led.eq(Mux(on, 0, 1) if self.spec.leds_active_low else on)
        return m
