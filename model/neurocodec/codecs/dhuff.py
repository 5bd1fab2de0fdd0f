"""Delta + partial-Huffman codec (Cuevas-Lopez et al., Sensors 2022): the bit-true golden model.

The format is specified in ``docs/formats/dhuff.md``; this module follows that text. In short:
samples lose ``discard_bits`` (D) low bits, leaving W = 16 - D bit words; each channel is delta
coded; ``|d| >> low_bits`` goes through a Huffman dictionary, the ``low_bits`` (L) low bits of
``|d|`` follow raw, then a sign bit when d != 0. Blocks of ``block`` (N) scans start with a block
index word and the first scan raw, and end on a 16-bit word; the word stream is cut into frames of
``frame_words`` (M) words whose last word points at the first block start in the frame.
"""

import binascii
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from ..errors import FormatError, ParameterError
from ..huffman import canonical_codes, code_tables, package_merge

NO_BLOCK_START = 0xFFFF  # boundary word of a frame in which no block starts
MAX_CONTEXTS = 16
ACTIVITY_SHIFT = 6  # the activity accumulator's time constant: 2^6 samples
ACTIVITY_RESET = 4 << ACTIVITY_SHIFT  # its value at every block start
MEAN_SHIFT = 3  # the running mean's time constant: 2^3 samples
TRAINED_FOR = ("sample_bits", "discard_bits", "low_bits", "contexts", "reversion")
LAYOUTS = ("table", "canonical")


@dataclass(frozen=True)
class DhuffParams:
    discard_bits: int = 0  # D: low bits dropped before coding (0 = lossless)
    low_bits: int = 4  # L: low bits of |d| sent raw
    block: int = 64  # N: scans per block
    frame_words: int = 256  # M: 16-bit words per frame, the last one the boundary word
    sample_bits: int = 16  # B: signed width of the input samples
    contexts: int = 1  # K: dictionaries, chosen per sample by the channel's recent activity
    reversion: int = 0  # R: 0 predicts x[t-1]; R > 0 pulls it 2^-R of the way to the mean

    def __post_init__(self):
        for name, low, high in (("sample_bits", 2, 16), ("block", 1, 1 << 16),
                                ("contexts", 1, MAX_CONTEXTS), ("reversion", 0, 8),
                                ("frame_words", 2, 0xFFFE),
                                ("discard_bits", 0, min(8, self.sample_bits - 1)
                                 if isinstance(self.sample_bits, (int, np.integer)) else 8)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or not low <= value <= high:
                raise ParameterError(f"dhuff: {name} must be an integer in {low}..{high}, "
                                     f"not {value!r}")
        if not isinstance(self.low_bits, (int, np.integer)) or \
                not 0 <= self.low_bits <= self.width - 1:
            raise ParameterError(f"dhuff: low_bits must be in 0..{self.width - 1} for "
                                 f"{self.width}-bit words, not {self.low_bits!r}")

    @property
    def width(self) -> int:
        """W: bits per sample after dropping D."""
        return self.sample_bits - self.discard_bits

    @property
    def n_symbols(self) -> int:
        """Dictionary size: |d| < 2^W, so |d| >> L < 2^(W - L)."""
        return 1 << (self.width - self.low_bits)


@dataclass
class Dictionary:
    """K prefix codes (one per context) over the symbols 0 .. n_symbols-1 (``|r| >> L``), given by
    their code lengths, shape (K, S); K = 1 is the paper's single dictionary.

    Codes are canonical: in each table, symbols sorted by (length, symbol) get consecutive codes.
    In the ``canonical`` layout lengths are non-decreasing in the symbol, so the symbols of one
    length are contiguous and a per-length table (first symbol, first code) replaces the
    per-symbol ROM.
    """

    lengths: np.ndarray  # uint8 (K, S), 1..max_length (a 1-D array is one table)
    layout: str = "canonical"
    name: str = ""  # a built-in dictionary's name, or free text
    trained_for: dict = field(default_factory=dict)  # the DhuffParams fields it was trained with
    codes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        lengths = np.asarray(self.lengths, dtype=np.uint8)
        self.lengths = lengths.reshape(1, -1) if lengths.ndim == 1 else lengths
        k, n = self.lengths.shape if self.lengths.ndim == 2 else (0, 0)
        if n < 2 or n & (n - 1) or not 1 <= k <= MAX_CONTEXTS:
            raise ParameterError(f"dictionary: {k} tables of {n} symbols; needs 1..{MAX_CONTEXTS} "
                                 "tables of a power of two >= 2 symbols")
        if self.layout not in LAYOUTS:
            raise ParameterError(f"dictionary: layout must be one of {LAYOUTS}, not {self.layout!r}")
        if self.lengths.min() < 1 or self.lengths.max() > 32:
            raise ParameterError("dictionary: code lengths must be in 1..32")
        kraft = np.sum(np.ldexp(1.0, -self.lengths.astype(np.int64)), axis=1)
        if kraft.max() > 1.0:
            raise ParameterError(f"dictionary: the lengths of table {int(kraft.argmax())} violate "
                                 f"the Kraft inequality (sum {kraft.max()})")
        if self.layout == "canonical":
            self._check_canonical()
        self.codes = np.array([canonical_codes(row) for row in self.lengths])

    @property
    def contexts(self) -> int:
        return self.lengths.shape[0]

    @property
    def n_symbols(self) -> int:
        return self.lengths.shape[1]

    @property
    def max_length(self) -> int:
        return int(self.lengths.max())

    def rom_bits(self, layout: str | None = None) -> int:
        """ROM size of the layout, all tables: the paper's per-symbol table stores (length, code)
        per symbol; the canonical table stores (first symbol, first code) per length."""
        layout = layout or self.layout
        if layout == "table":
            return self.contexts * self.n_symbols * (self.max_length.bit_length() + self.max_length)
        self._check_canonical()
        return self.contexts * self.max_length * (self.symbol_bits + 1 + self.max_length)

    @property
    def symbol_bits(self) -> int:
        return self.n_symbols.bit_length() - 1

    def canonical_table(self, context: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(first_symbol, first_code) of one table, indexed by length 1..max_length (index 0
        unused); max_length is the dictionary's, over all tables."""
        self._check_canonical()
        _, first_code, first_index, _ = code_tables(self.lengths[context])
        # Lengths rise with the symbol, so the symbols of length l start at first_index[l].
        return first_index[: self.max_length + 1], first_code[: self.max_length + 1]

    def readmemh(self, layout: str | None = None) -> str:
        """The ROM image for ``$readmemh``: see docs/formats/dhuff.md, "ROM images"."""
        layout = layout or self.layout
        lmax = self.max_length
        if layout == "table":
            words = ((self.lengths.astype(np.int64) << lmax) | self.codes).reshape(-1)
            digits = -(-(lmax.bit_length() + lmax) // 4)
        else:
            words = []
            for j in range(self.contexts):
                first_symbol, first_code = self.canonical_table(j)
                # Lengths above this table's longest code hold no symbol (first_symbol = S);
                # their first_code (which may be 2^Lmax) is never used and is written as 0.
                used = first_symbol[1:] < self.n_symbols
                words.extend((first_symbol[1:] << lmax) | np.where(used, first_code[1:], 0))
            digits = -(-(self.symbol_bits + 1 + lmax) // 4)
        return "".join(f"{int(w):0{digits}x}\n" for w in words)

    def to_json(self) -> dict:
        extra = {"name": self.name} if self.name else {}
        if self.trained_for:
            extra["trained_for"] = self.trained_for
        return {"format": "neurocodec-dhuff-dictionary", "version": 1, "layout": self.layout,
                "contexts": self.contexts, "n_symbols": self.n_symbols,
                "max_length": self.max_length, "lengths": self.lengths.tobytes().hex(),
                "sha256": self.sha256()} | extra

    def reference(self) -> dict:
        """What a container stores for a built-in dictionary instead of the whole of it."""
        return {"sha256": self.sha256(), "name": self.name}

    def sha256(self) -> str:
        """Of the lengths, table after table (the hash a container refers to)."""
        return hashlib.sha256(self.lengths.tobytes()).hexdigest()

    @classmethod
    def from_json(cls, data: dict, name: str = "dictionary") -> "Dictionary":
        try:
            if data.get("format") != "neurocodec-dhuff-dictionary" or data.get("version") != 1:
                raise FormatError(f"{name}: not a version-1 neurocodec dhuff dictionary")
            lengths = np.frombuffer(bytes.fromhex(data["lengths"]), np.uint8)
            contexts = data.get("contexts", 1)
            if type(contexts) is not int or not 1 <= contexts <= MAX_CONTEXTS or \
                    lengths.size % contexts:
                raise ValueError(f"'contexts' {contexts!r} does not divide {lengths.size} lengths")
            trained_for = data.get("trained_for", {})
            if not isinstance(trained_for, dict) or not all(
                    k in TRAINED_FOR and type(v) is int for k, v in trained_for.items()):
                raise ValueError(f"'trained_for' must map some of {', '.join(TRAINED_FOR)} to "
                                 "integers")
            dictionary = cls(lengths.reshape(contexts, -1), data["layout"],
                             str(data.get("name", "")), trained_for)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if isinstance(error, FormatError):
                raise
            raise FormatError(f"{name}: malformed dictionary: {error}") from None
        if data.get("sha256") not in (None, dictionary.sha256()):
            raise FormatError(f"{name}: dictionary hash mismatch (corrupted)")
        return dictionary

    def _check_canonical(self):
        if np.any(np.diff(self.lengths.astype(int), axis=1) < 0):
            raise ParameterError("dictionary: lengths are not monotone (non-decreasing in the "
                                 "symbol); only the table layout fits")


DICTIONARY_DIR = Path(__file__).resolve().parent.parent / "dictionaries"


@functools.cache
def builtin_dictionaries() -> dict[str, Dictionary]:
    """The dictionaries shipped with neurocodec (``model/neurocodec/dictionaries/*.json``), by
    name. Containers refer to them by hash instead of embedding them."""
    found = {}
    for path in sorted(DICTIONARY_DIR.glob("*.json")):
        dictionary = Dictionary.from_json(json.loads(path.read_text()), str(path))
        found[dictionary.name or path.stem] = dictionary
    return found


def resolve_dictionary(spec, known=()) -> Dictionary:
    """A Dictionary from: a Dictionary; a dictionary file's JSON object; a reference
    ``{"sha256": ...}`` (a built-in dictionary, or one of ``known``); or a built-in's name."""
    if isinstance(spec, Dictionary):
        return spec
    if isinstance(spec, str):
        try:
            return builtin_dictionaries()[spec]
        except KeyError:
            raise ParameterError(f"no built-in dictionary {spec!r}; the built-in dictionaries "
                                 f"are: {', '.join(builtin_dictionaries()) or 'none'}") from None
    if isinstance(spec, dict) and "lengths" in spec:
        return Dictionary.from_json(spec)
    if isinstance(spec, dict) and isinstance(spec.get("sha256"), str):
        for dictionary in (*known, *builtin_dictionaries().values()):
            if dictionary.sha256() == spec["sha256"]:
                return dictionary
        raise ParameterError(f"dictionary {spec.get('name') or ''} sha256 {spec['sha256'][:16]}... "
                             "is neither built in nor given (pass its file with --dictionary)")
    raise FormatError(f"dhuff: malformed dictionary parameter {str(spec)[:60]!r}")


def train_dictionary(samples_list, params: DhuffParams, max_length: int = 16,
                     layout: str = "canonical") -> Dictionary:
    """Train a complete dictionary on recordings (arrays (T, C)): every symbol gets a code.

    Per context, counts c(h) of ``h = |r| >> L`` over all coded samples; the weights
    ceil(S / 1024) c(h) + 1 (values never seen still encode, and share at most about
    1024 / (samples) of the code space) give an optimal code with lengths <= ``max_length``
    (package-merge). For the canonical layout the lengths are then sorted and given to the
    symbols in order, which is optimal when counts fall with |r|, as they do for neural signals.
    Deterministic: the same inputs give the same bytes.
    """
    counts = np.zeros((params.contexts, params.n_symbols), np.int64)
    for samples in samples_list:
        x = _reduce(samples, params)
        raw_rows = np.arange(x.shape[0]) % params.block == 0
        r, ctx = _model(x, params.block, params.width, params.contexts, params.reversion)
        h = (np.abs(r[~raw_rows]) >> params.low_bits).reshape(-1)
        np.add.at(counts, (ctx[~raw_rows].reshape(-1), h), 1)
    weights = counts * -(-params.n_symbols // 1024) + 1
    tables = [dictionary_from_counts(w, max_length, layout).lengths[0] for w in weights]
    return Dictionary(np.array(tables), layout,
                      trained_for={k: getattr(params, k) for k in TRAINED_FOR})


def dictionary_from_counts(counts, max_length: int, layout: str = "canonical") -> Dictionary:
    """One table from symbol weights (all > 0)."""
    counts = np.asarray(counts, np.int64)
    if not np.ceil(np.log2(counts.size)) <= max_length <= 32:
        raise ParameterError(f"dictionary: max_length must be in "
                             f"{int(np.ceil(np.log2(counts.size)))}..32 for {counts.size} symbols, "
                             f"not {max_length}")
    lengths = package_merge(counts, max_length)
    if layout == "canonical":
        lengths = np.sort(lengths)
    return Dictionary(lengths, layout)


def default_dictionary(params: DhuffParams, max_length: int = 16) -> Dictionary:
    """The dictionary used when none is given: counts falling geometrically with the symbol
    (ratio 1/2), i.e. a Laplacian |r| whose scale is about 2^L; the same table in every
    context. No training data involved."""
    n = params.n_symbols
    counts = np.maximum(1, (2.0 ** (40 - np.minimum(np.arange(n), 40))).astype(np.int64))
    table = dictionary_from_counts(counts, max(max_length, int(np.log2(n))), "canonical")
    return Dictionary(np.repeat(table.lengths, params.contexts, axis=0), "canonical")


def encode(samples, params: DhuffParams, dictionary: Dictionary) -> bytes:
    """Encode samples (T, C) of ``sample_bits`` signed bits into dhuff frames (big-endian
    16-bit words). The whole-array form of :class:`StreamEncoder` (same bytes)."""
    x = _reduce(samples, params)
    _check_dictionary(dictionary, params)
    words, block_words = _encode_blocks(x, 0, params, dictionary)
    block_starts = np.cumsum(block_words) - block_words
    return _frame(words, block_starts, params.frame_words).astype(">u2").tobytes()


class StreamEncoder:
    """Push chunks of samples, pull whole frames: the encoder as a stream (as the gateware runs).

    ``push(chunk)`` takes scans (t, C) of any length; every complete block is coded at once.
    ``pull()`` returns the frames completed so far (bytes, whole M-word frames) and forgets
    them. ``close()`` codes the last, shorter block, pads the last frame and returns the rest.
    The concatenated output equals :func:`encode` of all the pushed samples.
    """

    def __init__(self, channels: int, params: DhuffParams, dictionary: Dictionary):
        _check_dictionary(dictionary, params)
        if not 1 <= channels <= 4096:
            raise ParameterError(f"dhuff: {channels} channels; the codec takes 1..4096")
        self.channels, self.params, self.dictionary = channels, params, dictionary
        self._pending = np.zeros((0, channels), np.int64)  # scans not yet in a block
        self._words = np.zeros(0, np.uint16)  # data words not yet in a frame
        self._starts = np.zeros(0, np.int64)  # block starts in _words
        self._blocks = 0  # blocks coded
        self._frames = 0  # frames handed out
        self._closed = False
        self._scans = 0

    @property
    def scans(self) -> int:
        """Scans pushed so far."""
        return self._scans

    def push(self, chunk) -> None:
        if self._closed:
            raise ParameterError("dhuff stream encoder: push after close")
        x = _reduce(chunk, self.params)
        if x.shape[1] != self.channels:
            raise ParameterError(f"dhuff stream encoder: chunk has {x.shape[1]} channels, the "
                                 f"stream {self.channels}")
        self._scans += x.shape[0]
        pending = np.concatenate((self._pending, x))
        whole = pending.shape[0] // self.params.block * self.params.block
        self._code(pending[:whole])
        self._pending = pending[whole:]

    def pull(self) -> bytes:
        m = self.params.frame_words
        n_frames = self._words.size // (m - 1)
        final = self._closed and (self._words.size > n_frames * (m - 1) or self._frames == 0)
        if not n_frames and not final:
            return b""
        take = self._words.size if final else n_frames * (m - 1)
        frames = _frame(self._words[:take], self._starts[self._starts < take], m, final)
        self._words = self._words[take:]
        self._starts = self._starts[self._starts >= take] - take
        self._frames += n_frames + final
        return frames.astype(">u2").tobytes()

    def close(self) -> bytes:
        if not self._closed:
            self._code(self._pending)
            self._pending = self._pending[:0]
            self._closed = True
        return self.pull()

    def _code(self, x):
        if not x.shape[0]:
            return
        words, block_words = _encode_blocks(x, self._blocks, self.params, self.dictionary)
        starts = self._words.size + np.cumsum(block_words) - block_words
        self._words = np.concatenate((self._words, words))
        self._starts = np.concatenate((self._starts, starts))
        self._blocks += block_words.size


def decode(data: bytes, channels: int, n_samples: int, params: DhuffParams,
           dictionary: Dictionary) -> np.ndarray:
    """Decode dhuff frames into samples (n_samples, channels), int16 (the dropped D bits as 0).

    Strict: any departure from the format raises FormatError with its byte offset."""
    _check_dictionary(dictionary, params)
    m = params.frame_words
    if len(data) % 2 or not data:
        raise FormatError(f"dhuff: {len(data)} bytes is not a stream of 16-bit words ending in a "
                          "boundary word", len(data) - len(data) % 2)
    stream = np.frombuffer(data, ">u2").astype(np.int64)
    first_word, data_words = _split_frames(stream.size, m)
    if data_words[-1] == 0 and stream.size > 1:
        raise FormatError(f"dhuff: the last frame (offset {2 * (stream.size - 1)}) holds no data "
                          "words", 2 * (stream.size - 1))
    boundary_at = first_word + data_words
    words = np.delete(stream, boundary_at)
    _check_shape(channels, n_samples, words.size, params)
    tables = _decoder_tables(dictionary)
    out = np.zeros((n_samples, channels), np.int64)
    n_blocks = -(-n_samples // params.block) if n_samples else 0
    block_starts = np.zeros(n_blocks, np.int64)
    status, where, detail, _, after = _decode_blocks(words, 0, words.size, out, block_starts, 0,
                                                     n_blocks, n_samples, params.block,
                                                     params.width, params.low_bits, params.contexts,
                                                     params.reversion, *tables)
    if not status and after != words.size:
        status, where = 6, after
    if status:
        offset = _byte_offset(where, m)
        raise FormatError(f"dhuff: {_ERRORS[status].format(detail=detail)} at byte offset "
                          f"{offset} (data word {where})", offset)
    expected = _boundaries(block_starts, np.arange(first_word.size) * (m - 1), data_words)
    bad = np.flatnonzero(stream[boundary_at] != expected)
    if bad.size:
        f = int(bad[0])
        raise FormatError(f"dhuff: boundary word of frame {f} (offset {2 * boundary_at[f]}) is "
                          f"{stream[boundary_at[f]]}, the blocks say {expected[f]}",
                          2 * int(boundary_at[f]))
    return (out << params.discard_bits).astype(np.int16)


# ---------------------------------------------------------------------------------------------
# Packet layer and loss-tolerant decoding (docs/formats/dhuff.md, "Packets")

PACKET_SYNC = 0x4E43  # "NC"


def packet_bytes(params: DhuffParams) -> int:
    """Size of one packet: sync, sequence number, the M-word frame, CRC-16."""
    return 2 * (params.frame_words + 3)


def packetize(frames: bytes, params: DhuffParams, first_sequence: int = 0) -> bytes:
    """Wrap each frame in a packet: sync word, sequence number (mod 65536), frame, CRC-16."""
    m = params.frame_words
    if len(frames) % 2 or not frames:
        raise ParameterError(f"dhuff: {len(frames)} bytes is not a stream of frames")
    stream = np.frombuffer(frames, ">u2")
    first_word, data_words = _split_frames(stream.size, m)
    n = first_word.size
    packets = np.zeros((n, m + 3), np.uint16)
    packets[:, 0] = PACKET_SYNC
    packets[:, 1] = (first_sequence + np.arange(n)) & 0xFFFF
    # A short last frame travels padded: zero data words up to M - 1, then its boundary word.
    body = np.zeros((n, m), np.uint16)
    body.reshape(-1)[: (n - 1) * m] = stream[: (n - 1) * m]
    body[-1, : data_words[-1]] = stream[(n - 1) * m: (n - 1) * m + data_words[-1]]
    body[-1, -1] = stream[-1]
    packets[:, 2:-1] = body
    raw = packets.astype(">u2")
    for i in range(n):
        packets[i, -1] = binascii.crc_hqx(raw[i, 1:-1].tobytes(), 0xFFFF)
    return packets.astype(">u2").tobytes()


@dataclass
class LossyDecode:
    """What a loss-tolerant decode recovered.

    ``samples`` (T, C) int16 holds every decoded scan; the scans in ``lost`` (half-open ranges
    [start, stop) of scan numbers, all channels) could not be decoded and are zeros there, never
    made up. ``received`` is False exactly on the lost scans. T is ``n_samples`` when it was given;
    without it the last block of the stream is never trusted (it could be a shorter last block),
    T ends before it and ``notes`` says so.
    """

    samples: np.ndarray
    lost: list[tuple[int, int]]
    packets: int = 0  # packets accepted
    bad_packets: int = 0  # packets whose CRC failed, or bytes that were not a packet (runs)
    missing_packets: int = 0  # gaps in the sequence numbers
    notes: list[str] = field(default_factory=list)

    @property
    def received(self) -> np.ndarray:
        mask = np.ones(self.samples.shape[0], bool)
        for start, stop in self.lost:
            mask[start:stop] = False
        return mask

    @property
    def lost_scans(self) -> int:
        return sum(stop - start for start, stop in self.lost)


def decode_packets(data: bytes, channels: int, params: DhuffParams, dictionary: Dictionary,
                   n_samples: int | None = None) -> LossyDecode:
    """Decode a packet stream from a lossy link: packets may be missing, corrupted (CRC) or cut.

    Bytes that do not form a packet with a valid CRC are skipped (the decoder looks for the next
    sync word); gaps in the sequence numbers mark missing frames. Decoding restarts at the next
    block after every loss; the scans of blocks it could not decode are reported in ``lost``."""
    m = params.frame_words
    size = packet_bytes(params)
    raw = np.frombuffer(data, np.uint8)
    # Candidate packet starts: the sync bytes; accepted when the CRC holds. After an accepted
    # packet the search continues after it, so a valid stream costs one CRC per packet.
    candidates = np.flatnonzero((raw[:-1] == PACKET_SYNC >> 8) & (raw[1:] == PACKET_SYNC & 0xFF))
    accepted, skipped_runs = [], 0
    next_free = 0
    for start in candidates:
        start = int(start)
        if start < next_free or start + size > len(data):
            continue
        body = data[start + 2:start + size - 2]
        if binascii.crc_hqx(body, 0xFFFF) != int.from_bytes(data[start + size - 2:start + size],
                                                             "big"):
            continue
        if start > next_free:
            skipped_runs += 1
        accepted.append(start)
        next_free = start + size
    if next_free < len(data):
        skipped_runs += 1
    if not accepted:
        result = decode_frames_lossy(np.zeros((0, m), np.uint16), np.zeros(0, bool), channels,
                                     params, dictionary, n_samples)
        result.bad_packets = skipped_runs
        result.notes.append("no valid packet")
        return result
    starts = np.array(accepted)
    sequence = (raw[starts + 2].astype(np.int64) << 8) | raw[starts + 3]
    # Unwrap the 16-bit sequence numbers: each step forward is taken mod 65536; a repeated
    # number (step 0) is a duplicate and dropped.
    step = np.diff(sequence) & 0xFFFF
    keep = np.concatenate(([True], step != 0))
    absolute = np.concatenate(([0], np.cumsum(step)))[keep]
    starts = starts[keep]
    n_frames = int(absolute[-1]) + 1
    frames = np.zeros((n_frames, m), np.uint16)
    present = np.zeros(n_frames, bool)
    body = np.stack([raw[s + 4:s + size - 2] for s in starts])
    frames[absolute] = body.view(">u2").reshape(-1, m)
    present[absolute] = True
    result = decode_frames_lossy(frames, present, channels, params, dictionary, n_samples,
                                 stream_start=sequence[0] == 0)
    result.packets = int(starts.size)
    result.bad_packets = skipped_runs
    result.missing_packets = int(n_frames - starts.size)
    if sequence[0] != 0:
        result.notes.append(f"the first packet has sequence number {int(sequence[0])}, not 0")
    return result


def decode_frames_lossy(frames: np.ndarray, present: np.ndarray, channels: int,
                        params: DhuffParams, dictionary: Dictionary,
                        n_samples: int | None = None, stream_start: bool = True) -> LossyDecode:
    """Decode frames (F, M) of which only those with ``present`` arrived. See LossyDecode.

    ``stream_start``: frame 0 is the first frame of the stream (block 0 starts at its word 0).
    Blocks are decoded from every restart point (a received frame whose boundary word names a
    block start) until the run of received words ends or the data break the format; a block is
    kept only when it decodes completely."""
    _check_dictionary(dictionary, params)
    m, n = params.frame_words, params.block
    frames = np.asarray(frames, np.int64).reshape(-1, m)
    present = np.asarray(present, bool)
    words = frames[:, :-1].reshape(-1)
    if n_samples is not None:
        _check_shape(channels, n_samples, words.size, params, bound=False)
    elif not 1 <= channels <= 4096:
        raise ParameterError(f"dhuff: {channels} channels; the codec takes 1..4096")
    tables = _decoder_tables(dictionary)
    word_present = np.repeat(present, m - 1)
    boundary = frames[:, -1]
    restart = np.flatnonzero(present & (boundary < m - 1))
    restart_pos = restart * (m - 1) + boundary[restart]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], word_present.astype(np.int8), [0]))))
    run_start, run_stop = edges[::2], edges[1::2]

    decoded = {}  # block number -> samples (rows, C)
    notes = []
    chunk = max(1, (1 << 20) // (n * channels))  # blocks per call: bounded memory
    total_blocks = -(-n_samples // n) if n_samples is not None else None
    next_block = 0  # the next block number that can still appear
    pos = 0 if (stream_start and present.size and present[0]) else None
    search_from = 0
    while True:
        if pos is None:
            i = int(np.searchsorted(restart_pos, search_from))
            if i >= restart_pos.size:
                break
            pos = int(restart_pos[i])
        end = int(run_stop[np.searchsorted(run_start, pos, side="right") - 1])
        index = int(words[pos])
        b = next_block + ((index - next_block) & 0xFFFF)
        if (pos == 0 and stream_start and index != 0) or \
                (total_blocks is not None and b >= total_blocks):
            notes.append(f"data word {pos}: block index {index} cannot follow block "
                         f"{next_block - 1}; skipped")
            search_from, pos = pos + 1, None
            continue
        while True:
            count = chunk if total_blocks is None else min(chunk, total_blocks - b)
            if count <= 0:
                pos = None
                search_from = words.size
                break
            rows = count * n if n_samples is None else min(count * n, n_samples - b * n)
            out = np.zeros((rows, channels), np.int64)
            starts = np.zeros(count, np.int64)
            status, where, detail, done, after = _decode_blocks(
                words, pos, end, out, starts, b, count, rows, n, params.width, params.low_bits,
                params.contexts, params.reversion, *tables)
            for k in range(done):
                decoded[b + k] = (out[k * n:(k + 1) * n] << params.discard_bits).astype(np.int16)
            next_block = max(next_block, b + done)
            if status:
                if status != 1:
                    notes.append(f"block {b + done}: {_ERRORS[status].format(detail=detail)} "
                                 f"(data word {where}); restarting at the next block start")
                elif end < words.size:
                    notes.append(f"block {b + done}: frames missing after data word {end}; "
                                 "restarting at the next block start")
                search_from = int(starts[done]) + 1
                pos = None
                break
            b += done
            pos = after
            if pos >= end:  # the run of received words ends on a block boundary
                search_from = pos
                pos = None
                break
        if search_from >= words.size:
            break

    if n_samples is None:
        if decoded:
            last = max(decoded)
            del decoded[last]
            notes.append(f"scans from {last * n} on are not returned: without the scan count the "
                         "last block of a stream could be a shorter final block")
            n_samples = last * n
        else:
            n_samples = 0
    samples = np.zeros((n_samples, channels), np.int16)
    got = np.zeros(-(-n_samples // n), bool)
    for block_number, rows in decoded.items():
        samples[block_number * n:block_number * n + rows.shape[0]] = rows
        got[block_number] = True
    edges = np.flatnonzero(np.diff(np.concatenate(([1], got.astype(np.int8), [1]))))
    lost = [(int(a) * n, min(int(z) * n, n_samples)) for a, z in zip(edges[::2], edges[1::2])]
    return LossyDecode(samples, lost, notes=notes)


def max_error(params: DhuffParams) -> int:
    """Largest |input - decoded| in LSB of the input: the dropped bits."""
    return (1 << params.discard_bits) - 1


def _reduce(samples, params: DhuffParams) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if x.ndim != 2 or x.dtype.kind not in "iu":
        raise ParameterError(f"dhuff: samples must be integers of shape (T, C), not "
                             f"{x.dtype} {x.shape}")
    low, high = -(1 << (params.sample_bits - 1)), (1 << (params.sample_bits - 1)) - 1
    if x.size and (x.min() < low or x.max() > high):
        t, c = np.argwhere((x < low) | (x > high))[0]
        raise ParameterError(f"dhuff: sample {x[t, c]} at t={t}, channel {c} is outside the "
                             f"{params.sample_bits}-bit range {low}..{high}")
    if not 1 <= x.shape[1] <= 4096:
        raise ParameterError(f"dhuff: {x.shape[1]} channels; the codec takes 1..4096")
    return x.astype(np.int64) >> params.discard_bits


def _encode_blocks(x: np.ndarray, first_block: int, params: DhuffParams,
                   dictionary: Dictionary):
    """Code reduced samples (T, C) as blocks numbered from ``first_block``: (data words, words
    per block). Every block but the last holds N scans."""
    t_count, channels = x.shape
    n_blocks = -(-t_count // params.block)
    widest = max(params.width, dictionary.max_length + params.low_bits + 1)
    bound = (t_count * channels * widest + n_blocks * 31) // 16 + 1
    out = np.empty(bound, np.uint16)
    block_words = np.zeros(n_blocks, np.int64)
    used = _encode_kernel(np.ascontiguousarray(x, np.int64), params.block, params.width,
                          params.low_bits, params.contexts, params.reversion, dictionary.codes,
                          dictionary.lengths.astype(np.int64), first_block, out, block_words)
    return out[:used].copy(), block_words


def _check_dictionary(dictionary: Dictionary, params: DhuffParams):
    if dictionary.n_symbols != params.n_symbols or dictionary.contexts != params.contexts:
        raise ParameterError(f"dhuff: the dictionary has {dictionary.contexts} tables of "
                             f"{dictionary.n_symbols} symbols; K={params.contexts}, "
                             f"W={params.width}, L={params.low_bits} need {params.contexts} of "
                             f"{params.n_symbols}")


def _check_shape(channels: int, n_samples: int, n_words: int, params: DhuffParams,
                 bound: bool = True):
    """Refuse impossible shapes before allocating: every sample takes at least one bit."""
    if not 1 <= channels <= 4096 or n_samples < 0:
        raise ParameterError(f"dhuff: impossible shape {n_samples} x {channels}")
    if bound and n_samples * channels > 16 * n_words:
        raise FormatError(f"dhuff: {n_samples} scans of {channels} channels cannot fit in "
                          f"{n_words} data words (each sample takes at least one bit)", None)


def _decoder_tables(dictionary: Dictionary):
    tables = [code_tables(row) for row in dictionary.lengths]
    counts, first_code, first_index, order = (np.array([t[i] for t in tables]) for i in range(4))
    return first_code, first_index, counts, order.astype(np.int64), dictionary.max_length


def _byte_offset(data_word: int, m: int) -> int:
    """Byte offset in the frames of a data word (frames interleave a boundary word)."""
    return 2 * (data_word // (m - 1) * m + data_word % (m - 1))


def _frame(words: np.ndarray, block_starts: np.ndarray, m: int, final: bool = True) -> np.ndarray:
    """Cut data words into frames of m-1 data words plus the boundary word, flat. ``final``: the
    words end the stream, so the last frame is short (its data end with the last block) and an
    empty stream is one frame of no data; else only whole frames are formed."""
    n = words.size
    n_frames = max(1, -(-n // (m - 1))) if final else n // (m - 1)
    first_word = np.arange(n_frames) * (m - 1)
    data_words = np.minimum(m - 1, n - first_word)
    boundary = _boundaries(block_starts, first_word, data_words)
    out = np.empty(n_frames * m - ((m - 1) * n_frames - min(n, (m - 1) * n_frames)), np.uint16)
    ends = np.cumsum(data_words + 1)
    out[ends - 1] = boundary
    mask = np.ones(out.size, bool)
    mask[ends - 1] = False
    out[mask] = words[: int(data_words.sum())]
    return out


def _boundaries(block_starts, first_word, data_words) -> np.ndarray:
    """Boundary word of each frame: the index in its data of the first block start, or 0xFFFF."""
    first = np.searchsorted(block_starts, first_word)
    index = np.append(block_starts, np.iinfo(np.int64).max)[first] - first_word
    return np.where(index < data_words, index, NO_BLOCK_START).astype(np.uint16)


def _split_frames(n_words: int, m: int):
    """(first word of each frame, its number of data words) of a stream of n_words words whose
    last frame may be short (it always holds the boundary word)."""
    n_frames = -(-n_words // m)
    sizes = np.full(n_frames, m - 1, np.int64)
    if n_frames:
        sizes[-1] = n_words - (n_frames - 1) * m - 1
    return np.arange(n_frames) * m, sizes


_ERRORS = {
    1: "the stream ends inside a block",
    2: "block index word is {detail}, expected another value (corrupted or out of order)",
    3: "no code of the dictionary starts here",
    4: "a sample leaves the W-bit range (value {detail})",
    5: "block padding bits are not zero",
    6: "data words follow the last block",
}


@njit(inline="always")
def _put(out, pos, acc, bits, value, n):
    """Append the n-bit value (n <= 32) MSB first; whole 16-bit words go to out[pos:]."""
    acc = (acc << n) | value
    bits += n
    while bits >= 16:
        bits -= 16
        out[pos] = (acc >> bits) & 0xFFFF
        pos += 1
    return pos, acc & ((1 << bits) - 1), bits


@njit(cache=True)
def _encode_kernel(x, block, width, low_bits, contexts, reversion, codes, lengths, first_block,
                   out, block_words):
    """The encoder of docs/formats/dhuff.md in one pass: blocks (index word, raw first scan,
    coded samples, padding to a word) into out; returns the number of words written."""
    t_count, channels = x.shape
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    raw_mask = (1 << width) - 1
    low_mask = (1 << low_bits) - 1
    prev = np.zeros(channels, np.int64)
    mean = np.zeros(channels, np.int64)
    activity = np.zeros(channels, np.int64)
    pos = 0
    acc = 0
    bits = 0
    start = 0
    nb = 0
    for t in range(t_count):
        if t % block == 0:
            if nb:  # pad the previous block to a word
                if bits:
                    pos, acc, bits = _put(out, pos, acc, bits, 0, 16 - bits)
                block_words[nb - 1] = pos - start
            start = pos
            pos, acc, bits = _put(out, pos, acc, bits, (first_block + nb) & 0xFFFF, 16)
            nb += 1
            for c in range(channels):
                v = x[t, c]
                pos, acc, bits = _put(out, pos, acc, bits, v & raw_mask, width)
                prev[c], mean[c], activity[c] = _start(v)
            continue
        for c in range(channels):
            v = x[t, c]
            j = _context(activity[c], contexts)
            d = v - _predict(prev[c], mean[c], reversion, lo, hi)
            m = abs(d)
            h = m >> low_bits
            pos, acc, bits = _put(out, pos, acc, bits, codes[j, h], lengths[j, h])
            if low_bits:
                pos, acc, bits = _put(out, pos, acc, bits, m & low_mask, low_bits)
            if d:
                pos, acc, bits = _put(out, pos, acc, bits, 1 if d < 0 else 0, 1)
            prev[c], mean[c], activity[c] = _advance(v, mean[c], activity[c], d)
    if nb:
        if bits:
            pos, acc, bits = _put(out, pos, acc, bits, 0, 16 - bits)
        block_words[nb - 1] = pos - start
    return pos


@njit(inline="always")
def _read(words, end, pos, acc, bits, n):
    """Take n bits (MSB first) from words[pos:end]; value -1 when they end first."""
    while bits < n:
        if pos >= end:
            return -1, pos, acc, bits
        acc = (acc << 16) | words[pos]
        pos += 1
        bits += 16
    bits -= n
    value = (acc >> bits) & ((1 << n) - 1)
    return value, pos, acc & ((1 << bits) - 1), bits


@njit(inline="always")
def _bucket(acc):
    """Context bucket of the activity accumulator: q = acc >> 6; q for q < 2, else
    2 bitlen(q) - 2 + (the bit below q's top bit), i.e. half octaves: 0 1 2 3 4,5 6,7 8-11 ..."""
    q = acc >> ACTIVITY_SHIFT
    if q < 2:
        return q
    b = 0
    v = q
    while v:
        b += 1
        v >>= 1
    return 2 * b - 2 + ((q >> (b - 2)) & 1)


@njit(inline="always")
def _start(v):
    """A channel's (prev, mean, activity) at its raw first sample of a block."""
    return v, v << MEAN_SHIFT, ACTIVITY_RESET


@njit(inline="always")
def _context(activity, contexts):
    return min(_bucket(activity), contexts - 1)


@njit(inline="always")
def _advance(v, mean, activity, r):
    """(prev, mean, activity) after the coded sample v with residual r."""
    return v, mean + v - (mean >> MEAN_SHIFT), activity + abs(r) - (activity >> ACTIVITY_SHIFT)


@njit(inline="always")
def _predict(prev, mean, reversion, lo, hi):
    if reversion == 0:
        return prev
    p = prev - ((prev - (mean >> MEAN_SHIFT) + (1 << (reversion - 1))) >> reversion)
    return min(max(p, lo), hi)


@njit(cache=True)
def _model(x, block, width, contexts, reversion):
    """Residuals r = x - prediction and contexts of every sample (T, C) (0 at the raw first scan
    of each block), exactly as docs/formats/dhuff.md, "Prediction and contexts", says."""
    t_count, channels = x.shape
    r = np.zeros((t_count, channels), np.int64)
    ctx = np.zeros((t_count, channels), np.int64)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    for c in range(channels):
        prev = 0
        mean = 0
        acc = 0
        for t in range(t_count):
            v = x[t, c]
            if t % block == 0:
                prev, mean, acc = _start(v)
                continue
            j = _context(acc, contexts)
            d = v - _predict(prev, mean, reversion, lo, hi)
            r[t, c] = d
            ctx[t, c] = j
            prev, mean, acc = _advance(v, mean, acc, d)
    return r, ctx


@njit(cache=True)
def _decode_blocks(words, pos, end, out, block_starts, first_block, count, n_rows, block, width,
                   low_bits, contexts, reversion, first_code, first_index, counts, order,
                   max_length):
    """Decode up to ``count`` blocks numbered from ``first_block`` from words[pos:end] into
    out[0:n_rows] (block k at rows k*block ..). Returns (status, data word index, detail, blocks
    completed, position after them); status 0 = ok, else a key of _ERRORS."""
    channels = out.shape[1]
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    prev = np.zeros(channels, np.int64)
    mean = np.zeros(channels, np.int64)
    activity = np.zeros(channels, np.int64)
    for k in range(count):
        t0 = k * block
        if t0 >= n_rows:
            return 0, pos, 0, k, pos
        block_starts[k] = pos
        index, pos, acc, bits = _read(words, end, pos, 0, 0, 16)
        if index < 0:
            return 1, pos, 0, k, pos
        if index != ((first_block + k) & 0xFFFF):
            return 2, pos - 1, index, k, pos
        for r in range(min(block, n_rows - t0)):
            t = t0 + r
            for c in range(channels):
                if r == 0:
                    v, pos, acc, bits = _read(words, end, pos, acc, bits, width)
                    if v < 0:
                        return 1, pos, 0, k, pos
                    if v > hi:
                        v -= 1 << width
                    prev[c], mean[c], activity[c] = _start(v)
                    out[t, c] = v
                    continue
                j = _context(activity[c], contexts)
                # Canonical Huffman decoding with table j, one bit at a time.
                code = 0
                symbol = -1
                for length in range(1, max_length + 1):
                    bit, pos, acc, bits = _read(words, end, pos, acc, bits, 1)
                    if bit < 0:
                        return 1, pos, 0, k, pos
                    code = (code << 1) | bit
                    offset = code - first_code[j, length]
                    if 0 <= offset < counts[j, length]:
                        symbol = order[j, first_index[j, length] + offset]
                        break
                if symbol < 0:
                    return 3, pos - 1, 0, k, pos
                low, pos, acc, bits = _read(words, end, pos, acc, bits, low_bits)
                if low < 0:
                    return 1, pos, 0, k, pos
                d = (symbol << low_bits) | low
                if d:
                    negative, pos, acc, bits = _read(words, end, pos, acc, bits, 1)
                    if negative < 0:
                        return 1, pos, 0, k, pos
                    if negative:
                        d = -d
                v = _predict(prev[c], mean[c], reversion, lo, hi) + d
                if v < lo or v > hi:
                    return 4, pos - 1, v, k, pos
                prev[c], mean[c], activity[c] = _advance(v, mean[c], activity[c], d)
                out[t, c] = v
        if acc != 0:
            return 5, pos - 1, 0, k, pos
    return 0, pos, 0, count, pos
