"""Maestro/Cntrlx delta-byte encoder (format: ``docs/formats/maestro.md``).

The golden model is ``neurocodec.codecs.maestro``; this encoder matches it byte for byte.
"""

from amaranth import Cat, Module, Mux, ResetSignal, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

SAMPLE_BITS = 12
MAX_CHANNELS = 16


class MaestroCode(data.Struct):
    """One sample's code: ``n_bytes`` (1 or 2) bytes, the first in ``data[0:8]``."""

    data: unsigned(16)
    n_bytes: unsigned(2)


class MaestroEncoder(wiring.Component):
    """Delta-code 12-bit samples, interleaved over ``channels`` channels, into Maestro bytes.

    Ports
    -----
    i : stream of ``signed(12)`` samples in scan order (channel 0, 1, ..., C-1, 0, 1, ...).
    o : stream of :class:`MaestroCode`, one per sample: a one-byte code (``n_bytes`` = 1, the byte
        in ``data[0:8]``) or a two-byte code (``n_bytes`` = 2, high byte in ``data[0:8]``, low
        byte in ``data[8:16]``). Bytes go out in that order.

    Throughput one sample per clock while ``o.ready`` is high; ``i.ready`` falls only when the
    output register is full and ``o.ready`` is low, so back-pressure stalls the input and loses
    nothing. Latency: a sample accepted on one clock edge appears on ``o`` after that edge (one
    register stage). Reset returns to channel 0 and forgets every previous sample: the next
    sample of each channel is coded as its difference from 0, as at the start of a stream.
    ``i.ready`` is low while reset is asserted; a code waiting in the output register is dropped.

    Cost: one ``channels`` x 12-bit previous-sample memory (asynchronous read; flip-flops on
    iCE40), a 13-bit subtractor, an 18-bit output register.
    """

    def __init__(self, channels: int = 16):
        if not 1 <= channels <= MAX_CHANNELS:
            raise ValueError(f"channels must be in 1..{MAX_CHANNELS}, not {channels}")
        self.channels = channels
        super().__init__({
            "i": In(stream.Signature(signed(SAMPLE_BITS))),
            "o": Out(stream.Signature(MaestroCode)),
        })

    def elaborate(self, platform):
        m = Module()
        # At least two entries: a one-entry memory has a zero-width address, which Yosys writes
        # as a `[-1:0]` wire that simulators reject.
        depth = max(2, self.channels)
        m.submodules.previous = previous = memory.Memory(
            shape=signed(SAMPLE_BITS), depth=depth, init=[])
        read = previous.read_port(domain="comb")
        write = previous.write_port()

        channel = Signal(range(depth))
        primed = Signal()  # every channel has sent a sample since reset
        delta = Signal(signed(SAMPLE_BITS + 1))
        short = Signal()
        word = Signal(16)

        accept = self.i.valid & self.i.ready
        m.d.comb += [
            # No sample is taken while reset is asserted (it would be lost with the state).
            self.i.ready.eq((~self.o.valid | self.o.ready) & ~ResetSignal()),
            read.addr.eq(channel),
            write.addr.eq(channel),
            write.data.eq(self.i.payload),
            write.en.eq(accept),
            delta.eq(self.i.payload - Mux(primed, read.data, 0)),
            short.eq((delta > -64) & (delta < 64)),
            word.eq((delta + 4096)[:13] | 0x8000),
        ]

        with m.If(accept):
            m.d.sync += self.o.valid.eq(1)
            with m.If(short):
                m.d.sync += [
                    self.o.payload.data.eq((delta + 64)[:7]),
                    self.o.payload.n_bytes.eq(1),
                ]
            with m.Else():
                m.d.sync += [
                    self.o.payload.data.eq(Cat(word[8:16], word[0:8])),
                    self.o.payload.n_bytes.eq(2),
                ]
            with m.If(channel == self.channels - 1):
                m.d.sync += [channel.eq(0), primed.eq(1)]
            with m.Else():
                m.d.sync += channel.eq(channel + 1)
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
