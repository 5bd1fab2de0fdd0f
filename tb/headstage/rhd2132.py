"""cocotb model of Intan RHD2132 chips on one SPI bus (shared CS, SCLK, MOSI; one MISO each).

It follows the protocol subset written in ``docs/headstage.md``: 16-bit command words, MSB first,
SPI mode 0 (MOSI sampled on SCLK rising edges, MISO changed on falling edges, the MSB driven when
CS falls); each answer goes out during the word after the next one. CONVERT(c) answers with the
next sample of amplifier c from the recording given to the model (two's complement, as register
4 bit 6 selects), WRITE/READ act on the registers (ROM registers 40-44 "INTAN", 62 = 32
amplifiers, 63 = chip ID 1), CALIBRATE needs nine commands before the next CONVERT. Every
violation of the protocol or of the timing below is recorded in ``errors`` (and raised by
``check``). ``wrap`` serves the recording in a loop. Timing: SCLK high and low >= 20.8 ns, CS low to the first SCLK rise and the last SCLK fall to
CS high >= 20.8 ns, CS high >= 154 ns between words, 16 SCLK cycles per word.
"""

from collections import deque

import numpy as np

from cocotb.triggers import FallingEdge, First, RisingEdge
from cocotb.utils import get_sim_time

ROM = {40: ord("I"), 41: ord("N"), 42: ord("T"), 43: ord("A"), 44: ord("N"), 60: 0, 61: 1,
       62: 32, 63: 1}


class Rhd2132Bus:
    """``samples[j]`` is chip j's recording, int16 of shape (T, 32)."""

    def __init__(self, sclk, cs_n, mosi, miso, samples: list, *, wrap: bool = False,
                 max_errors: int = 20):
        self.sclk, self.cs_n, self.mosi, self.miso = sclk, cs_n, mosi, miso
        self.samples = [np.asarray(s, np.int16) for s in samples]
        self.chips = len(self.samples)
        self.registers = [dict.fromkeys(range(18), 0) for _ in range(self.chips)]
        self.next_sample = np.zeros((self.chips, 32), np.int64)
        self.answers = deque([[0] * self.chips, [0] * self.chips])
        self.after_calibrate = 9  # commands since CALIBRATE (9 = none pending)
        self.words = 0
        self.commands = []  # every command word received, in order
        self.errors = []
        self.max_errors = max_errors
        self.wrap = wrap  # serve the recording in a loop instead of failing at its end
        self.miso.value = 0

    def error(self, text: str) -> None:
        if len(self.errors) < self.max_errors:
            self.errors.append(f"word {self.words} at {get_sim_time('ns'):.1f} ns: {text}")

    def check(self) -> None:
        assert not self.errors, "RHD2132 model: " + "; ".join(self.errors)

    def conversions(self) -> int:
        """Scans converted completely on every chip (the smallest per-amplifier count)."""
        return int(self.next_sample.min()) if self.chips else 0

    def _drive(self, words, bit):
        value = 0
        for chip, word in enumerate(words):
            value |= ((word >> bit) & 1) << chip
        self.miso.value = value

    async def run(self):
        cs_rose_at = None
        while True:
            await FallingEdge(self.cs_n)
            now = get_sim_time("ns")
            if cs_rose_at is not None and now - cs_rose_at < 154 - 0.05:
                self.error(f"CS high for {now - cs_rose_at:.1f} ns < 154 ns")
            answer = self.answers.popleft()
            self._drive(answer, 15)
            command, bits, last_edge, high_since = 0, 0, now, None
            while True:
                await First(RisingEdge(self.sclk), RisingEdge(self.cs_n))
                now = get_sim_time("ns")
                if self.cs_n.value == 1:
                    break
                if now - last_edge < 20.8 - 0.05:
                    self.error(f"SCLK low (or CS setup) for {now - last_edge:.1f} ns < 20.8 ns")
                command = (command << 1) | int(self.mosi.value)
                bits += 1
                high_since = now
                await FallingEdge(self.sclk)
                last_edge = get_sim_time("ns")
                if last_edge - high_since < 20.8 - 0.05:
                    self.error(f"SCLK high for {last_edge - high_since:.1f} ns < 20.8 ns")
                if bits < 16:
                    self._drive(answer, 15 - bits)
            cs_rose_at = now
            if now - last_edge < 20.8 - 0.05:
                self.error(f"CS rose {now - last_edge:.1f} ns after the last SCLK fall (< 20.8)")
            if bits != 16:
                self.error(f"{bits} SCLK cycles in a word, not 16")
            self.commands.append(command)
            self.answers.append(self._execute(command & 0xFFFF))
            self.words += 1

    def _execute(self, command: int) -> list:
        kind, reg, low = command >> 14, (command >> 8) & 0x3F, command & 0xFF
        calibrating = self.after_calibrate < 9
        self.after_calibrate = min(9, self.after_calibrate + 1)
        if kind == 0:  # CONVERT
            if calibrating:
                self.error(f"CONVERT({reg}) {self.after_calibrate} commands after CALIBRATE (< 9)")
            if reg >= 32:
                return [0] * self.chips
            out = []
            for chip in range(self.chips):
                index = self.next_sample[chip, reg]
                if self.wrap:
                    index %= len(self.samples[chip])
                elif index >= len(self.samples[chip]):
                    self.error(f"chip {chip}: CONVERT({reg}) beyond the recording's "
                               f"{len(self.samples[chip])} samples")
                    out.append(0)
                    continue
                self.next_sample[chip, reg] += 1
                value = int(self.samples[chip][index, reg])
                twos = self.registers[chip][4] & 0x40
                out.append(value & 0xFFFF if twos else (value + 0x8000) & 0xFFFF)
            return out
        if kind == 1:
            if command == 0x5500:  # CALIBRATE
                self.after_calibrate = 0
                return [0] * self.chips
            if command == 0x6A00:  # CLEAR
                return [0] * self.chips
            self.error(f"unknown command 0x{command:04x}")
            return [0] * self.chips
        if kind == 2:  # WRITE
            if reg > 17:
                self.error(f"WRITE to register {reg}, which is not writable")
                return [0] * self.chips
            for regs in self.registers:
                regs[reg] = low
            return [0xFF00 | low] * self.chips
        if low:
            self.error(f"READ({reg}) with non-zero low byte 0x{low:02x}")
        return [regs.get(reg, ROM.get(reg, 0)) for regs in self.registers]
