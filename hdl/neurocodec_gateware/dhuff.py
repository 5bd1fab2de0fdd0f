"""dhuff encoder: delta + partial Huffman, blocks and frames (format: ``docs/formats/dhuff.md``).

The golden model is ``neurocodec.codecs.dhuff``; this encoder's output words are the model's
``encode()`` words, bit for bit (a live stream never ends, so every frame is complete).
"""

from amaranth import Array, Cat, Const, Module, Mux, ResetSignal, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from neurocodec.codecs import dhuff as model
from neurocodec.errors import ParameterError

MAX_CHANNELS = 1024
NO_BLOCK_START = model.NO_BLOCK_START


def _plain_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"dhuff encoder: {name} must be an integer in {low}..{high}, "
                         f"not {value!r}")
    return value


def ge_constant(value, constant: int):
    """value >= constant for an unsigned value and a constant, as plain logic: from the top bit
    down, an OR where the constant has a 0 and an AND where it has a 1. (Yosys would build a
    carry chain per comparison, one logic cell per bit.)"""
    width = len(value)
    if constant <= 0:
        return Const(1, 1)
    if constant >= 1 << width:
        return Const(0, 1)
    top = value[width - 1]
    rest = constant & ((1 << (width - 1)) - 1)
    if constant >> (width - 1):
        return top & ge_constant(value[:width - 1], rest) if width > 1 else top
    return top | ge_constant(value[:width - 1], rest) if width > 1 else top


def equals(value, constant: int):
    """value == constant; for 0 as ``~value.any()`` (Yosys writes ``x == 0`` as ``!x``, which
    Verilator -Wall flags as WIDTHTRUNC)."""
    return ~value.any() if constant == 0 else value == constant


def context_thresholds(contexts: int, width: int) -> list[int]:
    """T[k] for k = 1..K-1: the smallest q = activity >> 6 whose context is k or more, i.e.
    min(K-1, bucket(q)) = the number of k with q >= T[k] (the model's ``_bucket``). Only the
    thresholds a W-bit q can reach are returned."""
    thresholds = []
    q = 0
    for k in range(1, contexts):
        while q < 1 << width and model._bucket(q << model.ACTIVITY_SHIFT) < k:
            q += 1
        if q >= 1 << width:
            break
        thresholds.append(q)
    return thresholds


def packer_sizes(params: model.DhuffParams, dictionary: model.Dictionary):
    """(F, window words, default buffer words) of the bit packer: F = the widest field, a
    coded one (code, L low bits, sign slot) or a raw one (W bits and a zero slot); a field at
    any bit offset spans ceil((F + 15) / 16) words; the buffer has one word more."""
    field = max(dictionary.max_length + params.low_bits + 1, params.width + 1)
    window = -(-(field + 15) // 16)
    return field, window, window + 1


class DhuffEncoder(wiring.Component):
    """dhuff encoder of a live stream of samples: the model's ``encode()`` words, bit for bit.

    Parameters
    ----------
    channels : C, 1..1024.
    sample_bits, discard_bits, low_bits, block, frame_words, contexts, reversion :
        B, D, L, N, M, K, R with the model's ranges (``DhuffParams``).
    dictionary : a built-in dictionary's name (``neurocodec.codecs.dhuff.builtin_dictionaries``)
        or a model ``Dictionary``; it must have K tables of S = 2^(W-L) symbols.
    layout : ``"table"`` (a ROM of (length, code) per symbol, read synchronously) or
        ``"canonical"`` (per length l: first symbol, first code; only for dictionaries whose
        lengths rise with the symbol); default: the dictionary's own layout.
    buffer_words : words of the bit packer's buffer (default: the fewest that take any field
        at any bit position, plus one).

    Ports
    -----
    i : stream of ``signed(B)`` samples in scan order (channel 0 .. C-1, then again).
    o : stream of ``unsigned(16)`` words: frames of M-1 data words and the boundary word.

    Pipeline. Stages 1-4 are registers with a valid bit; stage k loads when it is empty or its
    sample moves on, so ``o.ready`` low stalls everything and nothing is lost.

    A. accept: the per-channel state (prev; mean when R > 0; activity when K > 1) is in a
       Memory (block RAM) with a synchronous read port addressed with the channel of the
       *next* sample to accept (``Mux(accept, next channel, channel)``), so its state is on the
       read port when that sample arrives. The port is transparent for the write port when
       C <= 2 (then a row can be read on the clock edge it is written); with C = 1 the state of
       the sample leaving stage 1 is passed straight to the sample entering it.
    1. the sample x = s >> D, its channel and the state. Towards stage 2: the prediction,
       r = x - p and p - x side by side, |r|, the context j; the new state is written back.
    2. |r|, x, sign and r != 0 (both 0 for raw samples), j, flags. Towards stage 3: canonical
       layout: the comparisons first_symbol_j[l] <= h (h = |r| >> L) for every length l, made
       one-hot (l = the largest length that fits; l = 1, offset 0, for raw samples); table
       layout: the ROM read at j*S + h.
    3. value = x at a block's raw first scan, else |r|; the chosen length. Towards stage 4:
       code = h + (first_code[l] - first_symbol[l]) (table: the ROM's code; raw: h), the sizes.
    4. the field, right aligned: code, L low bits of value, one sign slot (the sign, or 0 when
       there is none: r = 0 and raw samples, W bits then); its size and how far it moves the
       fill (size + 1 with a sign, size without).
    5. bit packer: a buffer of ``buffer_words`` 16-bit words, MSB first, ``count`` bits filled.
       It takes stage 4's field when ``count <= 16*words - F`` (F = the widest field,
       max(Lmax + L + 1, W + 1); a register, computed the clock before). Align (on the clock
       it takes it): the field is shifted so its last bit lands at bit count + size, cut into
       word-wide pieces, registered with the words they go to; merge (next clock): the pieces
       are ORed into the buffer. The framer reads the buffer with the pieces ORed in, so a word
       can leave on the clock after its last bit is taken. After the last field of a block the
       fill is rounded up to a word (zero padding); the word where a block starts is tagged.
    6. framer (the output register): per clock one of: the boundary word after M-1 data words
       (the index in the frame of its first block index word, 0xFFFF if none); the block index
       word (block number mod 65536) before a tagged word; the buffer's first word when it is
       whole. Its choice comes from flags registered the clock before.

    Latency: a sample taken on clock edge 0 is in stage 4 after edge 3, its field is taken by
    the packer on edge 4 at the earliest and a word it completes is on ``o`` after edge 5 (the
    first block index word of a stream: 5 clocks after its first sample).

    Throughput: ``i.ready`` is high unless reset is asserted or stages 1-4 all hold samples
    and the packer holds more than 16*words - F bits. With ``o.ready`` high the framer sends
    one word per clock: a data word whenever one is whole, except on the clocks it sends a
    boundary word (1 per M words) or a block index word (1 per block). So the input takes one
    sample per clock while the coded bits (fields, padding, 16 per index word and per boundary
    word) do not run ahead of 16 per clock by more than the buffer's room of 16*words - F bits
    (44 for the defaults); beyond that it stalls until they do. The testbench predicts the
    clock count of every full-rate run from this rule and checks it exactly.

    Reset (synchronous) restarts at channel 0, scan 0 of block 0, frame word 0: the pipeline, the
    packer and the framer are emptied, so a partial frame is discarded and the next words begin
    a new stream (block index 0, the first frame's data). The state memory is not cleared: every
    channel's state is set by its raw first sample of a block before it is used. ``i.ready`` is
    low while reset is asserted.
    """

    def __init__(self, channels: int = 32, sample_bits: int = 16, discard_bits: int = 3,
                 low_bits: int = 1, block: int = 64, frame_words: int = 256, contexts: int = 1,
                 reversion: int = 0, dictionary="intan-d3", layout: str | None = None,
                 buffer_words: int | None = None):
        self.channels = _plain_int("channels", channels, 1, MAX_CHANNELS)
        for name, value in (("sample_bits", sample_bits), ("discard_bits", discard_bits),
                            ("low_bits", low_bits), ("block", block),
                            ("frame_words", frame_words), ("contexts", contexts),
                            ("reversion", reversion)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"dhuff encoder: {name} must be an integer, not {value!r}")
        # The model's own checks, with its messages ("dhuff: low_bits must be in 0..12 ...").
        self.params = model.DhuffParams(discard_bits, low_bits, block, frame_words, sample_bits,
                                        contexts, reversion)
        if isinstance(dictionary, str):
            dictionary = model.resolve_dictionary(dictionary)
        elif not isinstance(dictionary, model.Dictionary):
            raise ValueError("dhuff encoder: dictionary must be a built-in dictionary's name "
                             f"({', '.join(model.builtin_dictionaries())}) or a Dictionary, "
                             f"not {dictionary!r}")
        model._check_dictionary(dictionary, self.params)
        self.dictionary = dictionary
        layout = dictionary.layout if layout is None else layout
        if layout not in model.LAYOUTS:
            raise ValueError(f"dhuff encoder: layout must be one of {', '.join(model.LAYOUTS)}, "
                             f"not {layout!r}")
        if layout == "canonical":
            try:
                dictionary.canonical_table(0)
            except ParameterError as error:
                raise ValueError(f"dhuff encoder: layout 'canonical' does not fit dictionary "
                                 f"{dictionary.name or ''}: {error}") from None
        self.layout = layout

        p = self.params
        self.width = p.width  # W
        self.max_length = dictionary.max_length  # Lmax
        self.field_bits, self.window_words, default_words = packer_sizes(p, dictionary)
        self.buffer_words = default_words if buffer_words is None else _plain_int(
            "buffer_words", buffer_words, self.window_words, 64)
        super().__init__({
            "i": In(stream.Signature(signed(p.sample_bits))),
            "o": Out(stream.Signature(unsigned(16))),
        })

    # The figures of the docstring, for tests and documentation.
    @property
    def room_bits(self) -> int:
        """The packer takes a field while it holds at most this many bits."""
        return 16 * self.buffer_words - self.field_bits

    def rom_init(self) -> list[int]:
        """Table layout: the ROM words, the model's ``readmemh("table")`` image."""
        return [int(line, 16) for line in self.dictionary.readmemh("table").split()]

    def canonical_constants(self):
        """Canonical layout: per context j and length l = 1..Lmax, (first_symbol, offset =
        first_code - first_symbol), from the model's ``canonical_table(j)``; lengths above a
        table's longest code have first_symbol = S and offset 0 (never used)."""
        s = self.params.n_symbols
        tables = []
        for j in range(self.dictionary.contexts):
            first_symbol, first_code = self.dictionary.canonical_table(j)
            rows = []
            for length in range(1, self.max_length + 1):
                fs = int(first_symbol[length])
                rows.append((fs, int(first_code[length]) - fs if fs < s else 0))
            tables.append(rows)
        return tables

    def elaborate(self, platform):
        m = Module()
        p = self.params
        C, W, L, N, M, K, R = (self.channels, p.width, p.low_bits, p.block, p.frame_words,
                               p.contexts, p.reversion)
        D, S, LMAX, F = p.discard_bits, p.n_symbols, self.max_length, self.field_bits
        lo, hi = -(1 << (W - 1)), (1 << (W - 1)) - 1

        def stage(name, shape=1):
            return Signal(shape, name=name)

        # Stage k holds a sample when valid_k; ready_k: stage k loads this clock (it is empty,
        # or its sample moves on). The packer's room closes the chain.
        valid = [None] + [stage(f"valid{k}") for k in range(1, 5)]
        ready = [None] + [stage(f"ready{k}") for k in range(1, 6)]
        for k in range(1, 5):
            m.d.comb += ready[k].eq(~valid[k] | ready[k + 1])

        # ---------------------------------------------------------------------------------
        # A. accept: counters and the channel state memory.
        depth = max(2, C)  # a one-entry memory would have a zero-width address
        channel = Signal(range(depth))
        scan = Signal(range(max(2, N)))
        last_channel, last_scan, raw = Signal(), Signal(), Signal()
        m.d.comb += [last_channel.eq(equals(channel, C - 1)), last_scan.eq(equals(scan, N - 1)),
                     raw.eq(equals(scan, 0))]

        fields = {"prev": signed(W)}
        if R:
            fields["mean"] = signed(W + model.MEAN_SHIFT)
        if K > 1:
            fields["activity"] = unsigned(W + model.ACTIVITY_SHIFT)
        state_layout = data.StructLayout(fields)
        m.submodules.state = state = memory.Memory(shape=state_layout, depth=depth, init=[])
        write = state.write_port()
        # A row is read on the clock edge it is written only with one or two channels (the
        # write is for the sample leaving stage 1; the read, for the sample after the one
        # entering it), so only then is the read port transparent.
        read = state.read_port(transparent_for=(write,) if C <= 2 else ())

        accept = Signal()
        next_channel = Mux(last_channel, 0, channel + 1)
        m.d.comb += [
            # No sample is taken while reset is asserted (it would be lost with the pipeline).
            self.i.ready.eq(ready[1] & ~ResetSignal()),
            accept.eq(self.i.valid & self.i.ready),
            read.addr.eq(Mux(accept, next_channel, channel)),
        ]
        with m.If(accept):
            m.d.sync += channel.eq(next_channel)
            with m.If(last_channel):
                m.d.sync += scan.eq(Mux(last_scan, 0, scan + 1))

        # Stage 1: the sample (x = s >> D), its channel and the channel's state.
        x1 = stage("x1", signed(W))
        state1 = Signal(state_layout, name="state1")
        channel1 = stage("channel1", range(depth))
        raw1, start1, end1 = stage("raw1"), stage("start1"), stage("end1")
        new_state = Signal(state_layout)
        with m.If(ready[1]):
            m.d.sync += [
                valid[1].eq(accept),
                x1.eq(self.i.payload[D:].as_signed()),
                # With one channel the sample leaving stage 1 now is this channel's previous
                # one, whose new state is being written this very clock: take it directly.
                state1.eq(Mux(valid[1], new_state, read.data) if C == 1 else read.data),
                channel1.eq(channel),
                raw1.eq(raw),
                start1.eq(raw & equals(channel, 0)),
                end1.eq(last_scan & last_channel),
            ]

        # ---------------------------------------------------------------------------------
        # 1 -> 2: prediction, residual, context; the new state goes back to the memory.
        prev = state1.prev
        if R:
            mean = state1.mean
            pull = Signal(signed(W + 3))
            guess = Signal(signed(W + 2))
            prediction = Signal(signed(W))
            m.d.comb += [
                pull.eq((prev - (mean >> model.MEAN_SHIFT) + (1 << (R - 1))) >> R),
                guess.eq(prev - pull),
                prediction.eq(Mux(guess < lo, lo, Mux(guess > hi, hi, guess))),
            ]
        else:
            prediction = prev
        residual = Signal(signed(W + 1))
        flipped = Signal(signed(W + 1))  # -residual, computed beside it rather than after it
        magnitude = Signal(W)
        m.d.comb += [residual.eq(x1 - prediction), flipped.eq(prediction - x1),
                     magnitude.eq(Mux(residual[-1], flipped, residual))]

        context = Signal(range(K)) if K > 1 else None
        if K > 1:
            activity = state1.activity
            level = activity >> model.ACTIVITY_SHIFT
            for k, threshold in enumerate(context_thresholds(K, W), start=1):
                with m.If(ge_constant(level, threshold)):
                    m.d.comb += context.eq(k)

        m.d.comb += [new_state.prev.eq(x1), write.addr.eq(channel1), write.data.eq(new_state),
                     write.en.eq(valid[1] & ready[2])]
        if R:
            m.d.comb += new_state.mean.eq(Mux(raw1, x1 << model.MEAN_SHIFT,
                                              mean + x1 - (mean >> model.MEAN_SHIFT)))
        if K > 1:
            m.d.comb += new_state.activity.eq(Mux(raw1, model.ACTIVITY_RESET,
                                                  activity + magnitude
                                                  - (activity >> model.ACTIVITY_SHIFT)))

        # Stage 2: |r| and x; the sign and r != 0 are 0 for raw samples. (r != 0 is compared
        # beside the subtraction, not after it.)
        value2 = stage("value2", W)
        x2 = stage("x2", W)
        raw2, start2, end2, negative2, nonzero2 = (stage(f"{n}2") for n in (
            "raw", "start", "end", "negative", "nonzero"))
        context2 = stage("context2", range(K)) if K > 1 else None
        with m.If(ready[2]):
            m.d.sync += [
                valid[2].eq(valid[1]), raw2.eq(raw1), start2.eq(start1), end2.eq(end1),
                value2.eq(magnitude), x2.eq(x1),
                negative2.eq(residual[-1] & ~raw1),
                nonzero2.eq((x1 != prediction) & ~raw1),
            ]
            if K > 1:
                m.d.sync += context2.eq(context)
        symbol2 = value2[L:]

        # ---------------------------------------------------------------------------------
        # 2 -> 3: lookup, first half. Stage 3 passes the sample on: ``value`` is x (W bits, two's
        # complement) at a block's raw first scan, else |r|.
        value3 = stage("value3", W)
        raw3, start3, end3, negative3, nonzero3 = (stage(f"{n}3") for n in (
            "raw", "start", "end", "negative", "nonzero"))
        context3 = stage("context3", range(K)) if K > 1 else None
        with m.If(ready[3]):
            m.d.sync += [valid[3].eq(valid[2]), value3.eq(Mux(raw2, x2, value2)), raw3.eq(raw2),
                         start3.eq(start2), end3.eq(end2), negative3.eq(negative2),
                         nonzero3.eq(nonzero2)]
            if K > 1:
                m.d.sync += context3.eq(context2)
        symbol3, low3 = value3[L:], value3[:L]

        def by_context(values, width, ctx):
            """A constant per context: the constant itself when all agree, else a mux on ctx."""
            if len(set(values)) == 1:
                return Const(values[0], width)
            # padded to a power of two, so the mux covers every value of ctx
            padded = list(values) + [values[-1]] * ((1 << len(ctx)) - len(values))
            return Array(Const(v, width) for v in padded)[ctx]

        code = Signal(LMAX)
        coded_size = Signal(range(F))  # length + L: the bits placed, less one (a coded field)
        coded_grow = Signal(range(F + 1))  # length + L + (r != 0): what the fill advances by
        coded_gap = Signal(4)  # -coded_grow mod 16
        if self.layout == "canonical":
            tables = self.canonical_constants()
            # fits[l-1] = (first_symbol_j[l] <= h), a thermometer in l, forced to l = 1 for raw
            # samples (offset 0, so code = h: the raw value's high bits). Identical columns share
            # one comparison.
            coded2 = ~raw2
            fits = []
            comparisons = {}
            for index in range(LMAX):
                column = tuple(tables[j][index][0] for j in range(K))
                if index == 0:  # first_symbol[1] = 0
                    fits.append(Const(1, 1))
                elif all(v == 0 for v in column):
                    fits.append(coded2)
                elif all(v >= S for v in column):
                    fits.append(Const(0, 1))
                else:
                    if column not in comparisons:
                        if K == 1:
                            compare = ge_constant(symbol2, column[0])
                        else:
                            compare = symbol2 >= by_context(column, W - L + 1, context2)
                        comparisons[column] = compare & coded2
                    fits.append(comparisons[column])
            fits.append(Const(0, 1))
            # Stage 3 holds the chosen length, one-hot (only lengths that can be chosen).
            chosen = {}
            for index in range(LMAX):
                if fits[index] is fits[index + 1] or isinstance(fits[index], Const) and \
                        not fits[index].value:
                    continue
                bit = stage(f"length_is_{index + 1}")
                with m.If(ready[3]):
                    m.d.sync += bit.eq(fits[index] & ~fits[index + 1])
                chosen[index] = bit
            # one-hot, so plain ORs (not a priority chain) of constants (no adder for sizes)
            offset = Signal(LMAX)
            size_terms, offset_terms = Const(0, len(coded_size)), Const(0, LMAX)
            grow_terms, gap_terms = Const(0, len(coded_grow)), Const(0, 4)
            for index, bit in chosen.items():
                column = [tables[j][index][1] for j in range(K)]
                size = index + 1 + L
                size_terms = size_terms | Mux(bit, size, 0)
                grow_terms = grow_terms | Mux(bit, Mux(nonzero3, size + 1, size), 0)
                gap_terms = gap_terms | Mux(bit, Mux(nonzero3, -(size + 1) % 16, -size % 16), 0)
                offset_terms = offset_terms | Mux(bit, by_context(column, LMAX, context3), 0)
            m.d.comb += [coded_size.eq(size_terms), coded_grow.eq(grow_terms),
                         coded_gap.eq(gap_terms), offset.eq(offset_terms),
                         code.eq(symbol3 + offset)]
        else:
            rom_words = self.rom_init()
            length_bits = LMAX.bit_length()
            m.submodules.rom = rom = memory.Memory(shape=unsigned(length_bits + LMAX),
                                                   depth=len(rom_words), init=rom_words)
            lookup = rom.read_port()
            m.d.comb += [
                lookup.addr.eq(Cat(symbol2, context2) if K > 1 else symbol2),
                lookup.en.eq(ready[3]),
                code.eq(Mux(raw3, symbol3, lookup.data[:LMAX])),
            ]
            # the sizes as small tables of the length (logic, no adders after the ROM)
            rom_length = lookup.data[LMAX:]
            lengths = range(1 << len(rom_length))

            def of_length(values, width):
                return Array(Const(v % (1 << width), width) for v in values)[rom_length]

            m.d.comb += [
                coded_size.eq(of_length([n + L for n in lengths], len(coded_size))),
                coded_grow.eq(Mux(nonzero3,
                                  of_length([n + L + 1 for n in lengths], len(coded_grow)),
                                  of_length([n + L for n in lengths], len(coded_grow)))),
                coded_gap.eq(Mux(nonzero3, of_length([-(n + L + 1) for n in lengths], 4),
                                 of_length([-(n + L) for n in lengths], 4))),
            ]

        # ---------------------------------------------------------------------------------
        # 3 -> 4: the field. Every field ends in a slot for the sign, 0 when there is no sign
        # (r = 0, and raw samples); the packer places size + 1 bits and advances by ``grow``
        # (size + 1 with a sign, size without), so the next field covers an empty slot. A raw
        # field is the code h (length 1, offset 0) and the L low bits: x's W bits.
        field4 = stage("field4", F)
        size4 = stage("size4", range(F))  # bits placed - 1
        grow4 = stage("grow4", range(F + 1))  # bits the fill advances by: size + advance
        gap4 = stage("gap4", 4)  # -grow mod 16: the fill ends on a word iff count % 16 == gap
        start4, end4 = stage("start4"), stage("end4")
        with m.If(ready[4]):
            m.d.sync += [
                valid[4].eq(valid[3]), start4.eq(start3), end4.eq(end3),
                field4.eq(Cat(negative3, low3, code)),
                size4.eq(Mux(raw3, W, coded_size)),
                grow4.eq(Mux(raw3, W, coded_grow)),
                gap4.eq(Mux(raw3, -W % 16, coded_gap)),
            ]

        # ---------------------------------------------------------------------------------
        # 5. bit packer, in two steps. ``count``: bits filled, counted from the start of
        # words[0] (the oldest word; bits MSB first; every bit after them is zero), including
        # the field being merged. Align (on take): the field shifted so that its last bit
        # lands at position count + size, cut into word-wide pieces, with the words they go
        # to; merge (next clock): the pieces are ORed into the buffer. What the framer reads
        # is the buffer with the pieces already ORed in, so a word leaves as soon as its last
        # bit is taken.
        DW = self.buffer_words
        words = [Signal(16, name=f"buffer{i}") for i in range(DW)]
        tags = [Signal(name=f"block_start{i}") for i in range(DW)]  # first word of a block
        count = Signal(range(16 * DW + 1))
        room = Signal(init=1)  # a register: count <= 16 * words - F at this clock
        emit = Signal()  # the framer takes word 0 this clock
        index_sent = Signal()  # the framer sends the block index word this clock
        take = Signal()
        last = Signal(range(16 * DW + F))  # where the field's last bit goes
        end_word = last[4:]
        m.d.comb += [
            ready[5].eq(room),
            take.eq(valid[4] & room),
            last.eq(count + size4),
        ]
        # Align: the pieces and, per piece and word, whether it goes there (positions after
        # this clock's emit: the buffer moves by one word when a word leaves).
        window = Signal(F + 15)
        m.d.comb += window.eq(field4 << (last[:4] ^ 0xF))
        pieces = [Signal(16, name=f"piece{k}") for k in range(self.window_words)]
        goes = [[Signal(name=f"piece{k}_to_{i}") for i in range(DW)]
                for k in range(self.window_words)]
        starts = [Signal(name=f"start_at_{i}") for i in range(DW)]
        for k, piece in enumerate(pieces):
            m.d.sync += piece.eq(window[16 * k:16 * k + 16])
            for i in range(DW):
                m.d.sync += goes[k][i].eq(take & Mux(emit, equals(end_word, i + k + 1),
                                                     equals(end_word, i + k)))
        start_word = count[4:]  # a block starts on a word boundary
        for i in range(DW):
            m.d.sync += starts[i].eq(take & start4 & Mux(emit, equals(start_word, i + 1),
                                                          equals(start_word, i)))
        # Merge: the buffer as the framer sees it this clock, then moved on when a word leaves.
        merged, merged_tags = [], []
        for i in range(DW):
            word = words[i]
            for k, piece in enumerate(pieces):
                word = word | Mux(goes[k][i], piece, 0)
            merged.append(word)
            tag = tags[i] | starts[i]
            merged_tags.append(tag & ~index_sent if i == 0 else tag)
        merged.append(Const(0, 16))
        merged_tags.append(Const(0, 1))
        for i in range(DW):
            m.d.sync += [words[i].eq(Mux(emit, merged[i + 1], merged[i])),
                         tags[i].eq(Mux(emit, merged_tags[i + 1], merged_tags[i]))]
        # The new fill: count + grow, rounded up to a word after the last field of a block,
        # less the word that leaves; and whether the next clock has room (count' <= limit),
        # from comparisons with constants.
        limit = self.room_bits
        grown = Signal(range(16 * DW + F + 1))
        m.d.comb += grown.eq(count + grow4)
        # words: grown's, plus one when padding a partial word, less one when a word leaves;
        # the +-1 are formed beside each other (no chain of carries)
        grown_words, count_words = grown[4:], count[4:]
        up = end4 & (count[:4] != gap4)  # = grown[:4] != 0, from registers
        new_words = Signal.like(count_words)
        with m.If(take):
            with m.If(up & ~emit):
                m.d.comb += new_words.eq(grown_words + 1)
            with m.Elif(emit & ~up):
                m.d.comb += new_words.eq(grown_words - 1)
            with m.Else():
                m.d.comb += new_words.eq(grown_words)
        with m.Else():
            m.d.comb += new_words.eq(count_words - emit)
        new_bits = Mux(take, Mux(end4, 0, grown[:4]), count[:4])
        m.d.sync += count.eq(Cat(new_bits, new_words))

        def at_most(value, bound):
            return ~ge_constant(value, bound + 1)

        room_after = {}  # by emit: count' = filled - 16 emit <= limit, filled <= limit + 16 emit
        for e in (0, 1):
            bound = limit + 16 * e
            room_after[e] = Mux(take, Mux(end4, at_most(grown, bound // 16 * 16),
                                          at_most(grown, bound)),
                                at_most(count, bound))
        m.d.sync += room.eq(Mux(emit, room_after[1], room_after[0]))

        # ---------------------------------------------------------------------------------
        # 6. framer: the output register. Its choice for this clock comes from flags
        # registered on the clock before (next-state copies), so it is known early.
        data_words = Signal(range(M))  # data words sent in this frame
        block_number = Signal(16)
        has_start = Signal()
        first_start = Signal(range(max(2, M - 1)))
        boundary_due = Signal()  # data_words == M - 1
        front_tag = Signal()  # tags[0] | starts[0]: the block index word goes first
        word_ready = Signal()  # count >= 16: a whole word is there
        load = Signal()
        boundary = Signal()
        m.d.comb += [
            load.eq(~self.o.valid | self.o.ready),
            boundary.eq(load & boundary_due),
            index_sent.eq(load & ~boundary_due & front_tag),
            emit.eq(load & ~boundary_due & ~front_tag & word_ready),
        ]
        m.d.sync += [
            front_tag.eq(Mux(emit, merged_tags[1], merged_tags[0]) | (
                take & start4 & Mux(emit, equals(start_word, 1), equals(start_word, 0)))),
            # new_words != 0, from the same cases as new_words (beside it, not after it)
            word_ready.eq(Mux(take,
                              Mux(up & ~emit, 1,
                                  Mux(emit & ~up, ge_constant(grown_words, 2),
                                      ge_constant(grown_words, 1))),
                              Mux(emit, ge_constant(count_words, 2),
                                  ge_constant(count_words, 1)))),
        ]
        with m.If(boundary):
            m.d.sync += [
                self.o.payload.eq(Mux(has_start, first_start, NO_BLOCK_START)),
                data_words.eq(0), has_start.eq(0), boundary_due.eq(0),
            ]
        with m.If(index_sent | emit):
            m.d.sync += [self.o.payload.eq(Mux(index_sent, block_number, merged[0])),
                         data_words.eq(data_words + 1),
                         boundary_due.eq(equals(data_words, M - 2))]
        with m.If(index_sent):
            m.d.sync += block_number.eq(block_number + 1)
            with m.If(~has_start):
                m.d.sync += [has_start.eq(1), first_start.eq(data_words)]
        with m.If(load):
            m.d.sync += self.o.valid.eq(boundary | index_sent | emit)
        return m
