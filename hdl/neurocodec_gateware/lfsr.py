"""LFSR predictive spike encoder with an AER event packer (formats: ``docs/formats/spikes.md``,
``predictive`` -> ``lfsr``, ``aer`` and "Live LFSR event stream (gateware)").

The golden model is ``neurocodec.spikes.live.encode_live_lfsr``; this encoder matches it byte for
byte.
"""

from amaranth import Cat, Const, Module, Mux, ResetSignal, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

MAX_CHANNELS = 1024
DEFAULT_SEED = 0xACE1
DELTA_BITS = 16  # time delta of an event word
GAP_BITS = 32  # timesteps since the previous event (T < 2^32, as in the format)
RATE_BITS = 9  # Q8.8 rate 0..256


def lfsr_step(state: int) -> int:
    """x^16 + x^14 + x^13 + x^11 + 1, shifting right (the spec's `lfsr` predictor)."""
    bit = (state ^ (state >> 2) ^ (state >> 3) ^ (state >> 5)) & 1
    return (state >> 1) | (bit << 15)


def csd_digits(value: int) -> list[tuple[int, int]]:
    """Canonical signed digits of a constant >= 0: [(+1 or -1, shift)], the fewest non-zero
    digits, so that ``value * x`` is a sum of ``len`` shifted copies of x."""
    digits, shift = [], 0
    while value:
        if value & 1:
            digit = 2 - (value & 3)  # +1 if ...01, -1 if ...11
            digits.append((digit, shift))
            value -= digit
        value >>= 1
        shift += 1
    return digits


def _check(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, not {value!r}")
    return value


class LfsrSpikeEncoder(wiring.Component):
    """Predict each spike bin with the ``lfsr`` predictor and send the surprises as AER bytes.

    Parameters
    ----------
    channels : N, 1..1024.
    alpha_q8 : the rate's learning rate in 1/256 (1..256), a constant of the design.
    seed : the LFSR's initial state, 1..0xFFFF.

    Ports
    -----
    i : stream of 1-bit spike bins in scan order: channels 0..N-1 of timestep 0, then of
        timestep 1, ...
    o : stream of bytes, the live stream: the event words of the residual (S XOR P) as in an
        ``aer`` body with inverted = 0, packed MSB first.
    flush : a one-clock pulse that ends the capture: once every bin taken before it (and the one
        taken on the same clock) is coded, the last partial byte goes out padded with zero bits,
        then the core starts afresh (as after reset): LFSR back to the seed, every rate to 0,
        time and channel to 0. ``i.ready`` stays low from the clock after the pulse until that is
        done, so ``i.ready`` high again means the capture's last byte is on ``o`` or taken.
        Flush at a timestep boundary (after channel N-1): the host decodes whole timesteps. A
        pulse while the rates are being cleared (after reset or a flush) is ignored: no bin has
        been taken since, there is nothing to end.

    Throughput: one bin per clock while ``o.ready`` is high and the surprises leave the output
    time to drain: each surprise is one word of W = 16 + B bits (B = max(1, bit length of N)),
    two when an escape precedes it, and ``o`` carries 8 bits per clock. The input never stalls
    when successive surprises are at least ceil(W/8) bins apart (ceil(2W/8) after an escaped
    one): 3 bins for N = 1..255, 4 for N = 256..1024. Closer surprises are coded at the output's
    pace (8 bits per clock, no idle byte slot while words wait) with ``i.ready`` low in between;
    back-pressure on ``o`` also stalls the input; nothing is lost. ``i.ready`` is a register
    (low during reset), so it depends on neither ``i.valid`` nor ``o.ready``. Latency: the first
    byte of a surprise's word is offered on ``o`` three clock edges after the edge that takes
    its bin (when nothing is waiting).

    Reset (and power-on) clears the rates first: ``i.ready`` is low for max(2, N) clocks, and
    while reset is asserted. ``o.valid`` is registered; a byte offered on ``o`` stays until taken.

    Pipeline: a bin is taken (its rate was read when the previous bin was taken; the guess
    ``(L >> 8) < r`` is registered); on the next clock the held bin's surprise and words are
    formed from the 32-bit gap counter; the words wait, already shifted to the bit phase at which
    the packer will take them; the packer, a (2W + 15)-bit shift register, sends its top byte
    each clock.

    Rates: for N >= 2 an N x 9-bit memory (block RAM, read one bin ahead) and a 256 x 8 table of
    ``((256 - alpha_q8) * r) >> 8`` (block RAM): the rate update
    ``r += (alpha_q8 * ((s << 8) - r)) >> 8`` (floor) is the same integer as
    ``(((256 - alpha_q8) * r) >> 8) + (alpha_q8 if s else 0)`` (r is an integer, so it moves
    inside the floor), so it is a table look-up and one add, the same cost for every alpha_q8,
    written back a clock later (before the channel's next read; on the same clock edge for
    N = 2, whose read port is transparent). For N = 1 the rate is a register updated within the
    clock, the product by the constant as shifts and adds. No multiplier, no DSP block.
    """

    def __init__(self, channels: int = 64, alpha_q8: int = 32, seed: int = DEFAULT_SEED):
        self.channels = _check(channels, "channels", 1, MAX_CHANNELS)
        self.alpha_q8 = _check(alpha_q8, "alpha_q8", 1, 256)
        self.seed = _check(seed, "seed", 1, 0xFFFF)
        self.id_bits = max(1, channels.bit_length())
        self.word_bits = DELTA_BITS + self.id_bits
        self.packer_bits = 2 * self.word_bits + 15
        super().__init__({
            "i": In(stream.Signature(1)),
            "o": Out(stream.Signature(8)),
            "flush": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        n_count, b, w, s_bits = self.channels, self.id_bits, self.word_bits, self.packer_bits
        depth = max(2, n_count)  # clock cycles of clearing (and memory entries, N >= 2)
        first_state = lfsr_step(self.seed)

        # Control: the memory is cleared after reset and after each flush.
        clearing = Signal(init=1)
        clear_addr = Signal(range(depth))
        flush_pending = Signal()
        ready = Signal()  # registered i.ready (but for reset): computed from the next state
        padding = Signal()  # flush: every word is in the packer, fewer than 8 bits are left

        # Taking a bin: its rate is on the read port (read when the previous bin was taken), is
        # updated with the bin and written back, and the guess is registered. `lfsr` holds the
        # state already stepped for this bin, `last` is registered `channel == N - 1`.
        channel = Signal(range(depth))
        last = Signal(init=n_count == 1)
        ahead = Signal(range(depth), init=1 % n_count)  # the next bin's channel
        lfsr = Signal(16, init=first_state)

        # The held bin: the bin taken on the previous clock and its guess; the surprise and its
        # words are computed from these registers.
        held_full = Signal()
        held_spike = Signal()
        held_guess = Signal()
        held_id = Signal(b)
        held_last = Signal()
        gap = Signal(GAP_BITS)  # timesteps since the previous event (from 0 at the start)
        far = Signal()  # registered gap >= 2^16: the event needs an escape word first

        # The words of a surprise, waiting for the packer: the escape word above the event word,
        # or the event word above W zero bits, shifted right by the phase (`left` mod 8) at which
        # the packer will take them. That phase changes only when words are loaded, so it is
        # known when the words are formed: `phase` = (left + the bits waiting in `words`) mod 8.
        words_full = Signal()
        words_escape = Signal()
        words = Signal(2 * w + 7)
        phase = Signal(3)

        # Packer: a shift register whose `left` top bits are the stream's next bits (the bits
        # below them are 0). A byte goes out from its top 8 bits (shift left by 8). The waiting
        # words are loaded right below the `left` bits when fewer than 16 remain (`roomy`): at
        # (`left` mod 8) from the top after this clock's byte, 8 bits lower without it. Only
        # whether a byte goes out (`send`, from o.ready) arrives late; it picks between two
        # ready-made results. `left`'s flags are registered, so that `i.ready` and the clock
        # enables depend on registers only.
        packer = Signal(s_bits)
        left = Signal(range(s_bits + 1))
        low = Signal(init=1)  # left < 8
        roomy = Signal(init=1)  # left < 16: the waiting words can be loaded
        whole = Signal()  # left >= 8: a byte can go out
        tail = Signal()  # 1 <= left <= 7: the bits a flush pads
        sendable = Signal()  # registered whole | (padding & tail): a byte is ready for o

        rate = Signal(RATE_BITS)  # the rate of the next bin's channel
        spike = self.i.payload
        accept = Signal()
        held_go = Signal()  # the held bin moves on (its words, if any, into `words`)
        guess = Signal()
        error = Signal()
        send = Signal()  # a byte goes into the output register: `whole` ones, or padded ones
        load = Signal()

        self._rates(m, rate, accept, clearing, clear_addr, channel, ahead)

        free = ~self.o.valid | self.o.ready
        m.d.comb += [
            load.eq(words_full & roomy),
            held_go.eq(held_full & (~words_full | load)),
            self.i.ready.eq(ready & ~ResetSignal()),
            accept.eq(self.i.valid & self.i.ready),
            guess.eq(rate > lfsr[8:16]),
            error.eq(held_spike ^ held_guess),
            send.eq(free & sendable),
        ]

        # Take a bin.
        with m.If(accept):
            m.d.sync += [
                lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5])),
                channel.eq(ahead),
                ahead.eq(Mux(ahead == n_count - 1, 0, ahead + 1)),
                last.eq(ahead == n_count - 1),
                held_full.eq(1),
                held_spike.eq(spike),
                held_guess.eq(guess),
                held_id.eq(channel),
                held_last.eq(last),
            ]
        with m.Elif(held_go):
            m.d.sync += held_full.eq(0)

        # The held bin: the surprise and its words.
        event_word = Cat(held_id, gap[:DELTA_BITS])
        escape_word = Cat(Const((1 << b) - 1, b), gap[DELTA_BITS:])
        escape = far
        with m.If(held_go):
            m.d.sync += [
                gap.eq(Mux(error, held_last, gap + held_last)),  # the add does not wait for `error`
                # gap grows by at most 1 per bin, so it reaches 2^16 from 0xFFFF.
                far.eq(~error & (far | (held_last & (gap[:DELTA_BITS] == 0xFFFF)))),
                words_full.eq(error),
                words_escape.eq(escape),
                words.eq(Cat(Const(0, 7), Mux(escape, Cat(event_word, escape_word),
                                              Cat(Const(0, w), event_word))) >> phase),
            ]
            with m.If(error):
                m.d.sync += phase.eq(phase + Mux(escape, 2 * w, w))
        with m.Elif(load):
            m.d.sync += words_full.eq(0)

        # Packer and output byte register.
        with m.If(send):
            m.d.sync += [self.o.payload.eq(packer[s_bits - 8:]), self.o.valid.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        # The waiting words for after a byte has gone out (top 2w + 7 bits); 8 bits lower when
        # none goes out and `left` >= 8.
        placed_out = Signal(s_bits)
        placed_kept = Signal(s_bits)
        m.d.comb += [
            placed_out.eq(Mux(load, Cat(Const(0, 8), words), 0)),
            placed_kept.eq(Mux(load, Mux(low, Cat(Const(0, 8), words), words), 0)),
        ]
        with m.If(send):
            m.d.sync += packer.eq(Cat(Const(0, 8), packer[:s_bits - 8]) | placed_out)
        with m.Else():
            m.d.sync += packer.eq(packer | placed_kept)

        # left += (w or 2w loaded) - (8 if a byte goes out), and the flags of the new value. For
        # each case the new value and flags are computed from the registered `left` alone (a
        # constant added, comparisons with constants); `load`, then `send` select. A byte sent
        # with `whole` low is the padded last one of a flush: nothing is left.
        def case(delta):
            return Cat((left + delta)[:len(left)], left < 8 - delta, left < 16 - delta,
                       left >= 8 - delta, (left >= 1 - delta) & (left < 8 - delta))

        out = Signal(len(left) + 4)
        kept = Signal(len(left) + 4)
        m.d.comb += [
            out.eq(Mux(load, Mux(words_escape, case(2 * w - 8), case(w - 8)), case(-8))),
            kept.eq(Mux(load, Mux(words_escape, case(2 * w), case(w)), case(0))),
        ]
        after = Signal(len(left) + 4)
        empty = Cat(Const(0, len(left)), Const(0b0011, 4))  # left 0: low, roomy
        m.d.comb += after.eq(Mux(send, Mux(whole, out, empty), kept))
        m.d.sync += Cat(left, low, roomy, whole, tail).eq(after)

        # Flush: once every word is in the packer (`padding`: no bin can enter any more, no bin
        # is held, no word waits, the packer holds < 8 bits), the last bits go out padded,
        # then the core starts afresh (`done`: the memory is cleared). flush_pending is never
        # set while clearing: a flush then has nothing to end.
        done = padding & ~tail
        next_clearing = Mux(done, 1, clearing & (clear_addr != depth - 1))
        next_pending = Mux(done, 0, flush_pending | (self.flush & ~clearing))
        m.d.sync += [
            clearing.eq(next_clearing),
            flush_pending.eq(next_pending),
        ]

        # i.ready of the next clock, from the next state: a bin is taken when no flush is under
        # way and the held bin, if any, moves on (no bin held, or no words wait, or the packer
        # takes the waiting words). Registered, so that the clock enables of everything a bin
        # touches are one LUT from a register and i.valid.
        next_held = Mux(accept, 1, Mux(held_go, 0, held_full))
        next_words = Mux(held_go, error, Mux(load, 0, words_full))
        next_roomy = after[len(left) + 1]
        m.d.sync += ready.eq(~next_clearing & ~next_pending
                             & (~next_held | ~next_words | next_roomy))
        next_padding = Mux(done, 0, padding | (flush_pending & ~held_full & ~words_full & low))
        m.d.sync += [
            padding.eq(next_padding),
            # (the flags of `left` after this clock are `after`)
            sendable.eq(after[len(left) + 2] | (next_padding & after[len(left) + 3])),
        ]
        with m.If(clearing):
            m.d.sync += clear_addr.eq(Mux(clear_addr == depth - 1, 0, clear_addr + 1))
        with m.If(done):
            m.d.sync += [
                channel.eq(0),
                phase.eq(0),
                ahead.eq(1 % n_count),
                last.eq(n_count == 1),
                lfsr.eq(first_state),
                gap.eq(0),
                far.eq(0),
            ]
        return m

    def _rates(self, m, rate, accept, clearing, clear_addr, channel, ahead):
        """The per-channel rates: `rate` is the rate of the next bin's channel; when the bin is
        taken (`accept`), its rate is updated with the bin `i.payload`; `clearing` zeroes the
        rate of channel `clear_addr` (of every channel in max(2, N) clocks).

        The update ``((256 - alpha) * r + (alpha << 8) * s) >> 8`` is
        ``decay(r) + (alpha if s else 0)`` with ``decay(r) = ((256 - alpha) * r) >> 8``."""
        alpha, beta, spike = self.alpha_q8, 256 - self.alpha_q8, self.i.payload
        if self.channels == 1:
            # One channel: a register, updated within the clock (a bin per clock allows no
            # more): the constant product as a balanced tree of shifted copies of r (the
            # constant's signed digits) and the spike term; the sum wraps to the same 18 bits.
            solo = Signal(RATE_BITS)
            terms = [solo << shift if digit > 0 else -(solo << shift)
                     for digit, shift in csd_digits(beta)]
            terms.append(Mux(spike, alpha << 8, 0))
            while len(terms) > 1:
                terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                         for k in range(0, len(terms), 2)]
            scaled = Signal(18)
            m.d.comb += [scaled.eq(terms[0]), rate.eq(solo)]
            with m.If(clearing):
                m.d.sync += solo.eq(0)
            with m.Elif(accept):
                m.d.sync += solo.eq(scaled[8:8 + RATE_BITS])
            return
        # N >= 2: an N-entry memory (block RAM). Its read port holds the rate of the next bin's
        # channel: the channel after the taken bin's is read on the clock edge that takes it
        # (channel 0 while clearing). decay(r) comes from a 256-entry table (block RAM, r = 256
        # gives 256 - alpha) addressed by the rate as the bin is taken; the new rate is written
        # back one clock later. That write comes before the channel's next read for N >= 3 and
        # on the same clock edge for N = 2, hence the transparency (N = 2 only).
        m.submodules.rates = rates = memory.Memory(
            shape=unsigned(RATE_BITS), depth=self.channels, init=[])
        write = rates.write_port()
        read = rates.read_port(transparent_for=(write,) if self.channels == 2 else ())
        m.submodules.decay = table = memory.Memory(
            shape=unsigned(8), depth=256, init=[beta * r >> 8 for r in range(256)])
        look = table.read_port()
        w_en = Signal()
        w_addr = Signal.like(channel)
        w_full = Signal()  # r = 256
        w_spike = Signal()
        m.d.sync += [
            w_en.eq(accept),
            w_addr.eq(channel),
            w_full.eq(read.data[8]),
            w_spike.eq(spike),
        ]
        m.d.comb += [
            rate.eq(read.data),
            read.addr.eq(Mux(clearing, 0, ahead)),
            read.en.eq(clearing | accept),
            look.addr.eq(read.data[:8]),
            write.addr.eq(Mux(clearing, clear_addr, w_addr)),
            write.data.eq(Mux(clearing, 0,
                              Mux(w_full, beta, look.data) + Mux(w_spike, alpha, 0))),
            write.en.eq(clearing | w_en),
        ]
