"""The headstage's link to the radio processor: packets, a FIFO that drops whole packets when it
is full (counted, never silent), and a 16-bit SPI slave or a UART transmitter.

The packet layout is the dhuff packet layer of ``docs/formats/dhuff.md`` (sync 0x4E43, sequence
number, one M-word frame, CRC-16/CCITT-FALSE); ``docs/headstage.md`` describes the link.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

SYNC = 0x4E43
CRC_POLY = 0x1021
CRC_INIT = 0xFFFF
IDLE_WORD = 0x0000  # what the SPI slave sends while the FIFO is empty


def crc16_word(crc, word):
    """CRC-16/CCITT-FALSE of one more 16-bit word, MSB first (Amaranth values or ints)."""
    bits = [crc[i] if not isinstance(crc, int) else Const((crc >> i) & 1, 1) if not
            isinstance(word, int) else (crc >> i) & 1 for i in range(16)]
    for k in range(15, -1, -1):
        d = word[k] if not isinstance(word, int) else (word >> k) & 1
        feedback = bits[15] ^ d
        bits = [feedback] + bits[:15]  # shift left: bit i <- bit i-1, bit 0 <- feedback
        bits = [b ^ feedback if (CRC_POLY >> i) & 1 and i else b for i, b in enumerate(bits)]
    if isinstance(crc, int) and isinstance(word, int):
        return sum(b << i for i, b in enumerate(bits))
    return Cat(*bits)


class Packetizer(wiring.Component):
    """Wrap every ``frame_words`` words of ``i`` (whole dhuff frames) in a packet: sync, sequence
    number, the frame, CRC. When a frame's first word arrives, the packet goes out only if the
    FIFO has room for all of it; otherwise its frame is read and dropped, its sequence number is used up (the receiver
    sees the gap) and ``dropped``/``dropped_count`` record it. The input never waits more than
    the three clocks of a packet's extra words.

    Ports: ``i`` stream of 16-bit words; ``o`` stream of 16-bit words (to a FIFO); ``fits`` in,
    high when the FIFO has room for a whole packet; ``dropped`` sticky flag; ``dropped_count`` saturating 16-bit counter of
    dropped packets.
    """

    def __init__(self, frame_words: int):
        if not 2 <= frame_words <= 65534:
            raise ValueError(f"frame_words must be in 2..65534, not {frame_words}")
        self.frame_words = frame_words
        super().__init__({
            "i": In(stream.Signature(16)), "o": Out(stream.Signature(16)),
            "fits": In(1), "dropped": Out(1), "dropped_count": Out(16),
            "last": Out(1),  # o carries a packet's last word (its CRC)
        })

    def elaborate(self, platform):
        m = Module()
        seq = Signal(16)
        crc = Signal(16)
        count = Signal(range(self.frame_words))
        keep = Signal()  # this packet goes out
        with m.FSM():
            with m.State("START"):  # at the frame's first word: send sync, or drop it all
                with m.If(self.i.valid & self.fits):
                    m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(SYNC)]
                    with m.If(self.o.ready):
                        m.d.sync += keep.eq(1)
                        m.next = "SEQ"
                with m.Elif(self.i.valid):
                    m.d.sync += [keep.eq(0), self.dropped.eq(1)]
                    with m.If(self.dropped_count != 0xFFFF):
                        m.d.sync += self.dropped_count.eq(self.dropped_count + 1)
                    m.next = "FRAME"
                m.d.sync += [crc.eq(crc16_word(CRC_INIT, seq)), count.eq(0)]
            with m.State("SEQ"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(seq)]
                with m.If(self.o.ready):
                    m.next = "FRAME"
            with m.State("FRAME"):
                m.d.comb += [self.o.valid.eq(self.i.valid & keep), self.o.payload.eq(self.i.payload),
                             self.i.ready.eq(self.o.ready | ~keep)]
                with m.If(self.i.valid & self.i.ready):
                    m.d.sync += [crc.eq(crc16_word(crc, self.i.payload)), count.eq(count + 1)]
                    with m.If(count == self.frame_words - 1):
                        m.d.sync += seq.eq(seq + 1)
                        m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [self.o.valid.eq(keep), self.o.payload.eq(crc), self.last.eq(1)]
                with m.If(self.o.ready | ~keep):
                    m.next = "START"
        return m


def _synchronised(m, signal, name):
    """``signal`` through two flip-flops (an input from another clock domain)."""
    first = Signal(len(signal), name=f"{name}_meta")
    second = Signal(len(signal), name=f"{name}_sync")
    m.d.sync += [first.eq(signal), second.eq(first)]
    return second


class SpiSlave(wiring.Component):
    """16-bit words to an SPI master (mode 0: SCLK idles low, the master samples MISO on the
    rising edge), MSB first, one word per CS-low period. The word is taken from ``i`` when CS
    falls (``IDLE_WORD`` if ``i`` has none); the MSB is on MISO within 3 clocks of CS falling,
    and each next bit within 3 clocks after an SCLK rise (the master has sampled the bit
    before). SCLK and CS pass two synchronising flip-flops, so SCLK may run up to clk / 4 (each
    level at least 2 clocks) and CS must fall at least 3 clocks before the first SCLK rise.
    MISO is driven only while CS is low. A word whose CS rises early is lost (it was taken at CS
    fall)."""

    def __init__(self):
        super().__init__({
            "i": In(stream.Signature(16)),
            "sclk": In(1), "cs_n": In(1), "miso": Out(1), "miso_oe": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        sclk = _synchronised(m, self.sclk, "sclk")
        cs_n = _synchronised(m, self.cs_n, "cs_n")
        sclk_last = Signal()
        cs_last = Signal(init=1)
        shift = Signal(16)
        m.d.sync += [sclk_last.eq(sclk), cs_last.eq(cs_n)]
        m.d.comb += [self.miso.eq(shift[15]), self.miso_oe.eq(~cs_n)]
        with m.If(cs_last & ~cs_n):  # CS fell: take a word
            m.d.comb += self.i.ready.eq(1)
            m.d.sync += shift.eq(Mux(self.i.valid, self.i.payload, IDLE_WORD))
        with m.Elif(~cs_n & ~sclk_last & sclk):  # SCLK rose: the master has the bit
            m.d.sync += shift.eq(shift << 1)
        return m


class UartTx(wiring.Component):
    """8N1 UART transmitter of 16-bit words, high byte first, at clk / ``divisor`` baud. It sends
    only words that exist (no idle filler)."""

    def __init__(self, divisor: int):
        if divisor < 2:
            raise ValueError(f"the UART divisor must be >= 2, not {divisor}")
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(16)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        frame = Signal(20)  # two 10-bit characters, sent LSB first: start, 8 data bits, stop
        left = Signal(range(21))
        m.d.comb += self.i.ready.eq(left == 0)
        with m.If(self.i.valid & self.i.ready):
            high, low = self.i.payload[8:16], self.i.payload[0:8]
            m.d.sync += [frame.eq(Cat(Const(0, 1), high, Const(1, 1), Const(0, 1), low,
                                      Const(1, 1))),
                         left.eq(20), timer.eq(0)]
        with m.Elif(left != 0):
            with m.If(timer == self.divisor - 1):
                m.d.sync += [timer.eq(0), frame.eq(frame >> 1), left.eq(left - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer + 1)
        m.d.comb += self.tx.eq(Mux(left != 0, frame[0], 1))
        return m


class Link(wiring.Component):
    """Packetizer -> FIFO of ``fifo_words`` -> SPI slave (``output="spi"``) or UART
    (``output="uart"``, ``uart_divisor``).

    Store and forward: the port starts sending a packet only when the whole packet is in the FIFO,
    so the SPI slave's idle words (``IDLE_WORD``, sent when the master reads with nothing to
    send) fall between packets, never inside one. ``irq`` is high while a whole packet waits: the
    radio processor may read M + 3 words at once then."""

    def __init__(self, frame_words: int, fifo_words: int = 1024, output: str = "spi",
                 uart_divisor: int = 4):
        if output not in ("spi", "uart"):
            raise ValueError(f"output must be 'spi' or 'uart', not {output!r}")
        if fifo_words < frame_words + 5:
            raise ValueError(f"fifo_words ({fifo_words}) must hold a whole packet "
                             f"({frame_words + 3} words) and two more words")
        self.frame_words, self.fifo_words, self.output = frame_words, fifo_words, output
        self.uart_divisor = uart_divisor
        ports = {"i": In(stream.Signature(16)), "dropped": Out(1), "dropped_count": Out(16),
                 "level": Out(range(fifo_words + 1)), "irq": Out(1)}
        if output == "spi":
            ports |= {"sclk": In(1), "cs_n": In(1, init=1), "miso": Out(1), "miso_oe": Out(1)}
        else:
            ports |= {"tx": Out(1, init=1)}
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        packet_words = self.frame_words + 3
        m.submodules.packets = packets = Packetizer(self.frame_words)
        m.submodules.fifo = buffer = fifo.SyncFIFOBuffered(width=16, depth=self.fifo_words)
        # A 4-word input FIFO registers `ready` towards the encoder (timing: otherwise the FIFO
        # level would reach through the packetizer into the encoder's pipeline enables).
        m.submodules.slice = slice_ = fifo.SyncFIFO(width=16, depth=4)
        m.d.comb += [slice_.w_data.eq(self.i.payload), slice_.w_en.eq(self.i.valid),
                     self.i.ready.eq(slice_.w_rdy),
                     packets.i.payload.eq(slice_.r_data), packets.i.valid.eq(slice_.r_rdy),
                     slice_.r_en.eq(packets.i.ready)]
        # A packet is admitted only when the FIFO has room for all of it (`fits`), so its words
        # never wait: they are written one clock later through registers (timing).
        write, data, last = Signal(), Signal(16), Signal()
        m.d.sync += [write.eq(packets.o.valid), data.eq(packets.o.payload),
                     last.eq(packets.o.valid & packets.last)]
        m.d.comb += [
            buffer.w_data.eq(data), buffer.w_en.eq(write), packets.o.ready.eq(1),
            self.dropped.eq(packets.dropped), self.dropped_count.eq(packets.dropped_count),
            self.level.eq(buffer.level),
        ]
        if self.output == "spi":
            m.submodules.port = port = SpiSlave()
            m.d.comb += [port.sclk.eq(self.sclk), port.cs_n.eq(self.cs_n),
                         self.miso.eq(port.miso), self.miso_oe.eq(port.miso_oe)]
        else:
            m.submodules.port = port = UartTx(self.uart_divisor)
            m.d.comb += self.tx.eq(port.tx)

        # Room for a whole packet, registered (timing): `level` may lag the packetizer by the
        # word in the write register and the one being decided, so it asks for two words more.
        fits = Signal()
        m.d.sync += fits.eq(buffer.level <= self.fifo_words - packet_words - 2)
        m.d.comb += packets.fits.eq(fits)
        complete = Signal(range(self.fifo_words // packet_words + 2))  # whole packets waiting
        left = Signal(range(packet_words))  # words of the packet being sent still to send
        may_send = Signal()  # registered: a packet is being sent or a whole one waits
        take = port.i.valid & port.i.ready
        begun = take & (left == 0)
        left_next = Mux(take, Mux(left == 0, packet_words - 1, left - 1), left)
        complete_next = Signal.like(complete)
        m.d.comb += [complete_next.eq(complete + last - begun),
                     port.i.valid.eq(buffer.r_rdy & may_send),
                     port.i.payload.eq(buffer.r_data),
                     buffer.r_en.eq(take),
                     self.irq.eq(complete != 0)]
        m.d.sync += [left.eq(left_next), complete.eq(complete_next),
                     may_send.eq((left_next != 0) | (complete_next != 0))]
        return m
