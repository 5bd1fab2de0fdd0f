"""SPI master for Intan RHD2000-series amplifier chips (RHD2132: 32 channels, 16-bit results).

The protocol subset this relies on, and the command sequence, are written in
``docs/headstage.md``; the cocotb chip model ``tb/headstage/rhd2132.py`` follows the same text.
"""

import math

from amaranth import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

AMPLIFIERS = 32  # RHD2132
MAX_CHIPS = 8
DUMMY = 0xFF00  # READ(63), the chip ID: the command sent where nothing else is needed
CS_OFF_NS = 154  # minimum CS high time between words
SCLK_MIN_NS = 41.6  # minimum SCLK period (24 MHz)
CS_EDGE_NS = 20.8  # CS low to the first SCLK rise, last SCLK fall to CS high


def convert(channel: int) -> int:
    """CONVERT(C): 00CCCCCC 00000000 (the H bit, LSB, left 0: no per-sample DSP reset)."""
    return (channel & 0x3F) << 8


def write(register: int, value: int) -> int:
    """WRITE(R, D): 10RRRRRR DDDDDDDD; the chip answers 0xFF00 | D."""
    return 0x8000 | (register & 0x3F) << 8 | (value & 0xFF)


def read(register: int) -> int:
    """READ(R): 11RRRRRR 00000000; the chip answers 0x00 then the register's 8 bits."""
    return 0xC000 | (register & 0x3F) << 8


CALIBRATE = 0x5500
CLEAR = 0x6A00
# ROM registers 40-44 hold "INTAN"; 62 the number of amplifiers; 63 the chip ID (1: RHD2132).
ROM_CHECKS = {40: ord("I"), 41: ord("N"), 42: ord("T"), 43: ord("A"), 44: ord("N"),
              62: AMPLIFIERS, 63: 1}


def bias_registers(sample_rate: float) -> tuple[int, int]:
    """ADC buffer bias (register 1) and MUX bias (register 2) for a per-channel sample rate, from
    the RHD2000 datasheet's table (it is given for 32 + 3 commands per sample period)."""
    for limit, adc, mux in ((3334, 32, 40), (4001, 16, 40), (5001, 8, 40), (6251, 8, 32),
                            (8001, 4, 26), (10001, 3, 18), (12501, 3, 16), (15001, 3, 7)):
        if sample_rate < limit:
            return adc, mux
    return 2, 4


def default_registers(sample_rate: float) -> dict[int, int]:
    """Registers 0-17 as written at start-up (docs/headstage.md lists what each value means)."""
    adc_bias, mux_bias = bias_registers(sample_rate)
    return {
        0: 0xDE,        # ADC reference BW 3, amp Vref on, comparator bias 3, comparator select 2
        1: adc_bias,    # supply sensor off, ADC buffer bias
        2: mux_bias,
        3: 0x00,        # MUX load 0, temperature sensor off, auxout low
        4: 0xD6,        # weak MISO, two's complement results, DSP offset removal on, cutoff 6
        5: 0x00, 6: 0x00, 7: 0x00,  # impedance check off
        8: 22, 9: 0, 10: 23, 11: 0,  # upper bandwidth 7.5 kHz (RH1 DAC 22/0, RH2 DAC 23/0)
        12: 44, 13: 2,  # lower bandwidth 1 Hz (RL DAC1 44, DAC2 2, DAC3 0)
        14: 0xFF, 15: 0xFF, 16: 0xFF, 17: 0xFF,  # every amplifier powered
    }


def startup_commands(registers: dict[int, int]) -> list[tuple[int, int | None]]:
    """The start-up list: (command, expected answer or None). Two dummies, the register writes
    (each answer must echo its value), CALIBRATE and the 9 commands it needs, the ROM reads that
    identify an RHD2132, and two dummies to collect the last answers."""
    commands = [(DUMMY, None)] * 2
    commands += [(write(r, v), 0xFF00 | v) for r, v in sorted(registers.items())]
    commands += [(CALIBRATE, None)] + [(DUMMY, None)] * 9
    commands += [(read(r), v) for r, v in ROM_CHECKS.items()]
    return commands + [(DUMMY, None)] * 2


class RhdMaster(wiring.Component):
    """Drive ``chips`` RHD2132 chips that share CS, SCLK and MOSI (one MISO each) and stream their
    samples out.

    Parameters
    ----------
    chips : 1..8
    clk_hz : the clock frequency (used for the SPI timing and the sample period)
    sample_rate : samples per second per channel; the period is ``round(clk_hz / sample_rate)``
        clocks, and ``actual_rate`` is what that gives
    sclk_half : clocks per SCLK half period (SCLK = clk / (2 * sclk_half), at most 24 MHz)
    registers : registers 0-17 written at start-up (default :func:`default_registers`)
    startup_clocks : clocks to wait after reset before the first command (power-up settling)

    Ports
    -----
    sclk, cs_n, mosi : out; miso : in, one bit per chip
    o : stream of ``signed(16)`` samples, scan by scan; within a scan, CONVERT(k)'s answers of
        chip 0, 1, ... (channel index ``k * chips + chip``)
    running : high once start-up is done and sampling has begun
    id_ok : per chip, high when every start-up answer checked so far was right (register echoes,
        "INTAN", 32 amplifiers, chip ID 1); sampling goes on regardless
    overrun, overrun_count : a sample was due while ``o`` still held one that was not taken (it
        is then lost); sticky flag and a saturating 16-bit counter. Never happens while ``o``
        takes a sample within one command time (``command_clocks``).
    """

    def __init__(self, chips: int = 1, clk_hz: float = 48e6, sample_rate: float = 30000,
                 sclk_half: int = 1, registers: dict | None = None, startup_clocks: int | None = None):
        if not 1 <= chips <= MAX_CHIPS:
            raise ValueError(f"chips must be in 1..{MAX_CHIPS}, not {chips}")
        if not sclk_half >= 1 or 2 * sclk_half * 1e9 / clk_hz < SCLK_MIN_NS - 1e-9:
            raise ValueError(f"sclk_half={sclk_half} at {clk_hz / 1e6:g} MHz gives SCLK above the "
                             f"RHD2000's 24 MHz; use sclk_half >= "
                             f"{math.ceil(SCLK_MIN_NS * clk_hz / 2e9 - 1e-9)}")
        self.chips = chips
        self.clk_hz = clk_hz
        self.sclk_half = sclk_half
        self.edge = max(sclk_half, math.ceil(CS_EDGE_NS * clk_hz / 1e9 - 1e-9))
        # CS stays high for cs_off counted clocks plus the issue and load clocks.
        self.cs_off = max(1, math.ceil(CS_OFF_NS * clk_hz / 1e9 - 1e-9) - 2)
        self.command_clocks = self.edge + 31 * sclk_half + self.edge + self.cs_off + 2
        self.period = round(clk_hz / sample_rate)
        self.actual_rate = clk_hz / self.period
        self.commands_per_period = AMPLIFIERS + 2
        needed = self.commands_per_period * self.command_clocks
        if needed > self.period:
            raise ValueError(
                f"{self.commands_per_period} commands of {self.command_clocks} clocks do not fit a "
                f"sample period of {self.period} clocks ({sample_rate:g} S/s at "
                f"{clk_hz / 1e6:g} MHz); the highest rate is "
                f"{clk_hz / needed:.0f} S/s per channel")
        self.registers = dict(registers if registers is not None else default_registers(sample_rate))
        self.startup = startup_commands(self.registers)
        self.startup_clocks = (round(100e-6 * clk_hz) if startup_clocks is None
                               else startup_clocks)
        super().__init__({
            "sclk": Out(1), "cs_n": Out(1, init=1), "mosi": Out(1), "miso": In(chips),
            "o": Out(stream.Signature(signed(16))),
            "running": Out(1), "id_ok": Out(chips, init=(1 << chips) - 1),
            "overrun": Out(1), "overrun_count": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        n_start = len(self.startup)
        m.submodules.rom = rom = memory.Memory(
            shape=17, depth=n_start,
            init=[c | (1 << 16 if e is not None else 0) for c, e in self.startup])
        m.submodules.expect = expect = memory.Memory(
            shape=16, depth=n_start, init=[e or 0 for _, e in self.startup])
        rom_rd = rom.read_port(domain="comb")
        expect_rd = expect.read_port(domain="comb")

        # --- the command stream: start-up list, then every period CONVERT(0..31) and 2 dummies
        delay = Signal(range(max(2, self.startup_clocks + 1)), init=self.startup_clocks)
        index = Signal(range(max(n_start, self.commands_per_period) + 1))
        timer = Signal(range(self.period))
        command = Signal(16)
        # What each command asks for, to route its answer two commands later: a tag is
        # (kind, value) with kind 0 nothing, 1 a sample of channel `value`, 2 a start-up answer
        # to check against expect[value].
        tags = [Signal(2, name=f"tag{i}_kind") for i in range(3)]  # newest first
        values = [Signal(range(max(n_start, AMPLIFIERS)), name=f"tag{i}_value") for i in range(3)]

        # --- the bit engine
        shifting = Signal()  # a word is on the wire (CS low)
        phase = Signal(range(max(self.edge, self.sclk_half, self.cs_off) + 1))
        bit = Signal(range(17))
        high = Signal()
        out_word = Signal(16)
        in_words = [Signal(16, name=f"miso{i}") for i in range(self.chips)]
        miso_r = Signal(self.chips)
        gap = Signal(range(self.cs_off + 1), init=self.cs_off)  # CS high clocks so far
        start = Signal()  # begin the next word now
        done = Signal()  # a word ended on this clock: its answers are in in_words
        m.d.sync += miso_r.eq(self.miso)
        m.d.comb += [self.cs_n.eq(~shifting), self.sclk.eq(high), self.mosi.eq(out_word[15])]

        with m.If(start):  # out_word was loaded when the command was issued
            m.d.sync += [shifting.eq(1), bit.eq(0), high.eq(0), phase.eq(self.edge - 1)]
        with m.Elif(shifting):
            with m.If(phase != 0):
                m.d.sync += phase.eq(phase - 1)
            with m.Elif(~high & (bit == 16)):  # the hold after the last fall: CS goes high
                m.d.sync += [shifting.eq(0), gap.eq(0)]
                m.d.comb += done.eq(1)
            with m.Elif(~high):  # rise: the chip samples MOSI
                m.d.sync += [high.eq(1), phase.eq(self.sclk_half - 1)]
            with m.Else():  # fall: take MISO (stable while SCLK was high), shift MOSI
                m.d.sync += [high.eq(0), bit.eq(bit + 1), out_word.eq(out_word << 1),
                             phase.eq(Mux(bit == 15, self.edge - 1, self.sclk_half - 1))]
                for i, word in enumerate(in_words):
                    m.d.sync += word.eq(Cat(miso_r[i], word[:15]))
        with m.Elif(gap != self.cs_off):
            m.d.sync += gap.eq(gap + 1)
        idle = ~shifting & (gap == self.cs_off)

        # --- sequencing
        m.d.comb += rom_rd.addr.eq(index)
        issue = Signal()
        with m.FSM():
            with m.State("STARTUP_DELAY"):
                with m.If(delay == 0):
                    m.next = "STARTUP"
                with m.Else():
                    m.d.sync += delay.eq(delay - 1)
            with m.State("STARTUP"):
                m.d.comb += command.eq(rom_rd.data[:16])
                with m.If(idle & ~start):
                    m.d.comb += issue.eq(1)
                    m.d.sync += [tags[0].eq(Mux(rom_rd.data[16], 2, 0)), values[0].eq(index)]
                    with m.If(index == n_start - 1):
                        m.d.sync += [index.eq(self.commands_per_period), timer.eq(0)]
                        m.next = "RUN"
                    with m.Else():
                        m.d.sync += index.eq(index + 1)
            with m.State("RUN"):
                m.d.comb += self.running.eq(1)
                m.d.sync += timer.eq(Mux(timer == self.period - 1, 0, timer + 1))
                m.d.comb += command.eq(Mux(index < AMPLIFIERS, index << 8, DUMMY))
                with m.If(timer == self.period - 1):
                    m.d.sync += index.eq(0)  # a new period: CONVERT(0) next
                with m.Elif(idle & ~start & (index < self.commands_per_period)):
                    m.d.comb += issue.eq(1)
                    m.d.sync += [tags[0].eq(Mux(index < AMPLIFIERS, 1, 0)),
                                 values[0].eq(index), index.eq(index + 1)]
        m.d.sync += start.eq(issue)
        with m.If(issue):
            m.d.sync += out_word.eq(command)

        # When a word ends, its answers belong to the command sent two words before it: with
        # tags[0] the word that just ended, that is tags[2]. Route it, then shift the tags.
        answer_kind = Signal(2)
        answer_value = Signal.like(values[2])
        answered = Signal()
        m.d.sync += answered.eq(done)
        with m.If(done):
            m.d.sync += [answer_kind.eq(tags[2]), answer_value.eq(values[2]),
                         tags[1].eq(tags[0]), tags[2].eq(tags[1]),
                         values[1].eq(values[0]), values[2].eq(values[1])]

        # --- answers: check start-up answers, serialise samples chip by chip
        m.d.comb += expect_rd.addr.eq(answer_value)
        with m.If(answered & (answer_kind == 2)):
            m.d.sync += self.id_ok.eq(self.id_ok & Cat(*[w == expect_rd.data for w in in_words]))

        pending = Signal(range(self.chips + 1))  # samples of the current CONVERT not yet out
        held = Array(Signal(16, name=f"held{i}") for i in range(self.chips))
        chip = Signal(range(max(2, self.chips)))
        m.d.comb += [self.o.valid.eq(pending != 0), self.o.payload.eq(held[chip])]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [pending.eq(pending - 1), chip.eq(chip + 1)]
        with m.If(answered & (answer_kind == 1)):
            with m.If(self.o.valid & ~(self.o.ready & (pending == 1))):
                m.d.sync += self.overrun.eq(1)
                with m.If(self.overrun_count != 0xFFFF):
                    m.d.sync += self.overrun_count.eq(self.overrun_count + 1)
            m.d.sync += [pending.eq(self.chips), chip.eq(0)]
            m.d.sync += [h.eq(w) for h, w in zip(held, in_words)]
        return m
