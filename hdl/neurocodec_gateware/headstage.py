"""The headstage: RHD2132 acquisition -> dhuff encoder and framer -> packets -> FIFO -> radio link.

``docs/headstage.md`` is the design text (the RHD2000 protocol subset, the command sequence, the
link, the overflow rule and the resources).
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from neurocodec.codecs import dhuff as model

from .dhuff import DhuffEncoder
from .link import Link
from .rhd2000 import AMPLIFIERS, RhdMaster


def headstage_dictionary(dictionary, discard_bits: int, low_bits: int, contexts: int = 1,
                         reversion: int = 0):
    """A built-in dictionary's name, a Dictionary, or "default": the model's default dictionary
    for 16-bit samples with these D and L (what the host decoder must use too)."""
    if isinstance(dictionary, str) and dictionary == "default":
        params = model.DhuffParams(discard_bits, low_bits, sample_bits=16, contexts=contexts,
                                   reversion=reversion)
        return model.default_dictionary(params)
    return dictionary


class Headstage(wiring.Component):
    """``chips`` RHD2132 chips (32 channels each, one MISO line each) sampled at ``sample_rate``
    per channel, compressed with dhuff (``discard_bits``, ``low_bits``, ``block``,
    ``frame_words``, ``dictionary``, ``layout``, ``contexts``, ``reversion``), sent as dhuff
    packets through a FIFO of ``fifo_words`` words to an SPI slave (``output="spi"``) or a UART
    (``output="uart"``, clk / ``uart_divisor`` baud).

    Channel c of the stream is amplifier ``c // chips`` of chip ``c % chips``.

    Status outputs: ``running`` (start-up done), ``id_ok`` (per chip: the start-up answers were an
    RHD2132's), ``overflow`` (sticky: a packet was dropped because the FIFO was full, or a sample
    was lost before the encoder), ``dropped_count`` (packets dropped; the receiver sees their
    sequence numbers missing and `neurocodec` reports the lost scans), ``overrun_count``.
    """

    def __init__(self, chips: int = 1, clk_hz: float = 42e6, sample_rate: float = 30000,
                 discard_bits: int = 3, low_bits: int = 1, block: int = 64,
                 frame_words: int = 256, dictionary="intan-d3", layout: str | None = None,
                 contexts: int = 1, reversion: int = 0, fifo_words: int = 1024,
                 output: str = "spi", uart_divisor: int = 4, startup_clocks: int | None = None):
        self.chips = chips
        self.channels = chips * AMPLIFIERS
        self.acquisition = RhdMaster(chips, clk_hz, sample_rate, startup_clocks=startup_clocks)
        self.encoder = DhuffEncoder(channels=self.channels, sample_bits=16,
                                    discard_bits=discard_bits, low_bits=low_bits, block=block,
                                    frame_words=frame_words, contexts=contexts,
                                    reversion=reversion, layout=layout,
                                    dictionary=headstage_dictionary(dictionary, discard_bits,
                                                                    low_bits, contexts, reversion))
        self.link = Link(frame_words, fifo_words, output, uart_divisor)
        self.output = output
        ports = {
            "rhd_sclk": Out(1), "rhd_cs_n": Out(1, init=1), "rhd_mosi": Out(1),
            "rhd_miso": In(chips),
            "running": Out(1), "id_ok": Out(chips), "overflow": Out(1), "irq": Out(1),
            "dropped_count": Out(16), "overrun_count": Out(16),
        }
        if output == "spi":
            ports |= {"radio_sclk": In(1), "radio_cs_n": In(1, init=1), "radio_miso": Out(1),
                      "radio_miso_oe": Out(1)}
        else:
            ports |= {"uart_tx": Out(1, init=1)}
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.acquisition = rhd = self.acquisition
        m.submodules.encoder = encoder = self.encoder
        m.submodules.link = link = self.link
        wiring.connect(m, rhd.o, encoder.i)
        wiring.connect(m, encoder.o, link.i)
        m.d.comb += [
            self.rhd_sclk.eq(rhd.sclk), self.rhd_cs_n.eq(rhd.cs_n), self.rhd_mosi.eq(rhd.mosi),
            rhd.miso.eq(self.rhd_miso),
            self.running.eq(rhd.running), self.id_ok.eq(rhd.id_ok),
            self.overflow.eq(link.dropped | rhd.overrun), self.irq.eq(link.irq),
            self.dropped_count.eq(link.dropped_count), self.overrun_count.eq(rhd.overrun_count),
        ]
        if self.output == "spi":
            m.d.comb += [link.sclk.eq(self.radio_sclk), link.cs_n.eq(self.radio_cs_n),
                         self.radio_miso.eq(link.miso), self.radio_miso_oe.eq(link.miso_oe)]
        else:
            m.d.comb += self.uart_tx.eq(link.tx)
        return m
