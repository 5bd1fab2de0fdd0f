"""Delta + partial-Huffman codec (Cuevas-Lopez et al., Sensors 2022): the bit-true golden model.

The format is specified in ``docs/formats/dhuff.md``; this module follows that text. In short:
samples lose ``discard_bits`` (D) low bits, leaving W = 16 - D bit words; each channel is delta
coded; ``|d| >> low_bits`` goes through a Huffman dictionary, the ``low_bits`` (L) low bits of
``|d|`` follow raw, then a sign bit when d != 0. Blocks of ``block`` (N) scans start with a block
index word and the first scan raw, and end on a 16-bit word; the word stream is cut into frames of
``frame_words`` (M) words whose last word points at the first block start in the frame.
"""

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import FormatError, ParameterError

NO_BLOCK_START = 0xFFFF  # boundary word of a frame in which no block starts
LAYOUTS = ("table", "canonical")


@dataclass(frozen=True)
class DhuffParams:
    discard_bits: int = 0  # D: low bits dropped before coding (0 = lossless)
    low_bits: int = 4  # L: low bits of |d| sent raw
    block: int = 64  # N: scans per block
    frame_words: int = 256  # M: 16-bit words per frame, the last one the boundary word

    def __post_init__(self):
        for name, low, high in (("discard_bits", 0, 8), ("block", 1, 1 << 16),
                                ("frame_words", 2, 0xFFFE)):
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
        return 16 - self.discard_bits

    @property
    def n_symbols(self) -> int:
        """Dictionary size: |d| < 2^W, so |d| >> L < 2^(W - L)."""
        return 1 << (self.width - self.low_bits)


@dataclass
class Dictionary:
    """A prefix code over the symbols 0 .. n_symbols-1 (``|d| >> L``), given by its code lengths.

    Codes are canonical: symbols sorted by (length, symbol) get consecutive codes. In the
    ``canonical`` layout lengths are non-decreasing in the symbol, so the symbols of one length
    are contiguous and a per-length table (first symbol, first code) replaces the per-symbol ROM.
    """

    lengths: np.ndarray  # uint8, one per symbol, 1..max_length
    layout: str = "canonical"
    codes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.lengths = np.asarray(self.lengths, dtype=np.uint8)
        n = self.lengths.size
        if n < 2 or n & (n - 1):
            raise ParameterError(f"dictionary: {n} symbols; needs a power of two >= 2")
        if self.layout not in LAYOUTS:
            raise ParameterError(f"dictionary: layout must be one of {LAYOUTS}, not {self.layout!r}")
        if self.lengths.min() < 1 or self.lengths.max() > 32:
            raise ParameterError("dictionary: code lengths must be in 1..32")
        kraft = np.sum(np.ldexp(1.0, -self.lengths.astype(np.int64)))
        if kraft > 1.0:
            raise ParameterError(f"dictionary: lengths violate the Kraft inequality (sum {kraft})")
        if self.layout == "canonical":
            self._check_canonical()
        counts, first_code, first_index, order = _code_tables(self.lengths)
        rank = np.empty(self.n_symbols, np.int64)
        rank[order] = np.arange(self.n_symbols)
        self.codes = first_code[self.lengths] + rank - first_index[self.lengths]

    @property
    def n_symbols(self) -> int:
        return self.lengths.size

    @property
    def max_length(self) -> int:
        return int(self.lengths.max())

    def rom_bits(self, layout: str | None = None) -> int:
        """ROM size of the layout: the paper's per-symbol table stores (length, code) per symbol;
        the canonical table stores (first symbol, first code) per length."""
        layout = layout or self.layout
        if layout == "table":
            return self.n_symbols * (self.max_length.bit_length() + self.max_length)
        self._check_canonical()
        return self.max_length * (self.symbol_bits + 1 + self.max_length)

    @property
    def symbol_bits(self) -> int:
        return self.n_symbols.bit_length() - 1

    def canonical_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(first_symbol, first_code), indexed by length 1..max_length (index 0 unused)."""
        self._check_canonical()
        _, first_code, first_index, _ = _code_tables(self.lengths)
        # Lengths rise with the symbol, so the symbols of length l start at first_index[l].
        return first_index[: self.max_length + 1], first_code[: self.max_length + 1]

    def readmemh(self, layout: str | None = None) -> str:
        """The ROM image for ``$readmemh``: see docs/formats/dhuff.md, "ROM images"."""
        layout = layout or self.layout
        lmax = self.max_length
        if layout == "table":
            words = (self.lengths.astype(np.int64) << lmax) | self.codes
            digits = -(-(lmax.bit_length() + lmax) // 4)
        else:
            first_symbol, first_code = self.canonical_table()
            words = (first_symbol[1:] << lmax) | first_code[1:]
            digits = -(-(self.symbol_bits + 1 + lmax) // 4)
        return "".join(f"{int(w):0{digits}x}\n" for w in words)

    def to_json(self) -> dict:
        return {"format": "neurocodec-dhuff-dictionary", "version": 1, "layout": self.layout,
                "n_symbols": self.n_symbols, "max_length": self.max_length,
                "lengths": self.lengths.tobytes().hex(), "sha256": self.sha256()}

    def sha256(self) -> str:
        return hashlib.sha256(self.lengths.tobytes()).hexdigest()

    @classmethod
    def from_json(cls, data: dict, name: str = "dictionary") -> "Dictionary":
        try:
            if data.get("format") != "neurocodec-dhuff-dictionary" or data.get("version") != 1:
                raise FormatError(f"{name}: not a version-1 neurocodec dhuff dictionary")
            lengths = np.frombuffer(bytes.fromhex(data["lengths"]), np.uint8)
            dictionary = cls(lengths, data["layout"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if isinstance(error, FormatError):
                raise
            raise FormatError(f"{name}: malformed dictionary: {error}") from None
        if data.get("sha256") not in (None, dictionary.sha256()):
            raise FormatError(f"{name}: dictionary hash mismatch (corrupted)")
        return dictionary

    def _check_canonical(self):
        if np.any(np.diff(self.lengths.astype(int)) < 0):
            raise ParameterError("dictionary: lengths are not monotone (non-decreasing in the "
                                 "symbol); only the table layout fits")


def train_dictionary(samples_list, params: DhuffParams, max_length: int = 16,
                     layout: str = "canonical") -> Dictionary:
    """Train a complete dictionary on recordings (arrays (T, C)): every symbol gets a code.

    Counts of ``|d| >> L`` over all coded samples, plus one for every symbol (so values never
    seen still encode), give an optimal code with lengths <= ``max_length`` (package-merge). For
    the canonical layout the lengths are then sorted and given to the symbols in order, which is
    optimal when counts fall with |d|, as they do for neural signals. Deterministic.
    """
    counts = np.ones(params.n_symbols, np.int64)
    for samples in samples_list:
        d = _deltas(_reduce(samples, params), params)[1]
        np.add.at(counts, np.abs(d) >> params.low_bits, 1)
    return dictionary_from_counts(counts, max_length, layout)


def dictionary_from_counts(counts, max_length: int, layout: str = "canonical") -> Dictionary:
    counts = np.asarray(counts, np.int64)
    if not np.ceil(np.log2(counts.size)) <= max_length <= 32:
        raise ParameterError(f"dictionary: max_length must be in "
                             f"{int(np.ceil(np.log2(counts.size)))}..32 for {counts.size} symbols, "
                             f"not {max_length}")
    lengths = _package_merge(counts, max_length)
    if layout == "canonical":
        lengths = np.sort(lengths)
    return Dictionary(lengths, layout)


def default_dictionary(params: DhuffParams, max_length: int = 16) -> Dictionary:
    """The dictionary used when none is given: counts falling geometrically with the symbol
    (ratio 1/2), i.e. a Laplacian |d| whose scale is about 2^L. No training data involved."""
    n = params.n_symbols
    counts = np.maximum(1, (2.0 ** (40 - np.minimum(np.arange(n), 40))).astype(np.int64))
    return dictionary_from_counts(counts, max(max_length, int(np.log2(n))), "canonical")


def encode(samples, params: DhuffParams, dictionary: Dictionary) -> bytes:
    """Encode int16-range samples (T, C) into dhuff frames (big-endian 16-bit words)."""
    x = _reduce(samples, params)
    _check_dictionary(dictionary, params)
    t_count, channels = x.shape
    raw_rows, d = _deltas(x, params)
    starts = np.arange(0, t_count, params.block)

    # One bit field per sample, in scan order: raw W bits, or code | low bits | sign.
    magnitude = np.abs(d)
    high = magnitude >> params.low_bits
    sign_len = (d != 0).astype(np.int64)
    value = ((dictionary.codes[high].astype(np.int64) << params.low_bits
              | (magnitude & ((1 << params.low_bits) - 1))) << sign_len) | (d < 0)
    length = dictionary.lengths[high].astype(np.int64) + params.low_bits + sign_len
    value[raw_rows] = x[raw_rows] & ((1 << params.width) - 1)
    length[raw_rows] = params.width

    # Bits per block, with its 16-bit index word, padded to a word.
    row_bits = length.sum(axis=1)
    block_bits = np.add.reduceat(row_bits, starts) + 16 if t_count else np.zeros(0, np.int64)
    pad = (-block_bits) % 16
    block_words = (block_bits + pad) // 16
    words = _pack(value.reshape(-1), length.reshape(-1), starts * channels, pad,
                  int(block_words.sum()))
    block_starts = np.cumsum(block_words) - block_words
    return _frame(words, block_starts, params.frame_words).astype(">u2").tobytes()


def decode(data: bytes, channels: int, n_samples: int, params: DhuffParams,
           dictionary: Dictionary) -> np.ndarray:
    """Decode dhuff frames into samples (n_samples, channels), int16 (the dropped D bits as 0)."""
    _check_dictionary(dictionary, params)
    if not 1 <= channels <= 4096 or n_samples < 0:
        raise ParameterError(f"dhuff: impossible shape {n_samples} x {channels}")
    m = params.frame_words
    if len(data) % (2 * m):
        raise FormatError(f"dhuff: {len(data)} bytes is not a whole number of {m}-word frames "
                          f"(the last frame starts at offset {len(data) - len(data) % (2 * m)})",
                          len(data) - len(data) % (2 * m))
    frames = np.frombuffer(data, ">u2").reshape(-1, m).astype(np.int64)
    words = frames[:, :-1].reshape(-1)
    counts, first_code, first_index, order = _code_tables(dictionary.lengths)
    out = np.zeros((n_samples, channels), np.int64)
    block_starts = np.zeros(-(-n_samples // params.block) if n_samples else 0, np.int64)
    status, where, detail = _decode(words, out, block_starts, channels, params.block,
                                    params.width, params.low_bits, first_code, first_index,
                                    counts, order.astype(np.int64), dictionary.max_length)
    if status:
        offset = 2 * (where // (m - 1) * m + where % (m - 1))
        raise FormatError(f"dhuff: {_ERRORS[status].format(detail=detail)} at byte offset "
                          f"{offset} (data word {where})", offset)
    expected = _frame(np.zeros(words.size, np.uint16), block_starts, m)[:, -1]
    bad = np.flatnonzero(frames[:, -1] != expected)
    if bad.size:
        f = int(bad[0])
        raise FormatError(f"dhuff: boundary word of frame {f} (offset {2 * (f * m + m - 1)}) is "
                          f"{frames[f, -1]}, the blocks say {expected[f]}", 2 * (f * m + m - 1))
    return (out << params.discard_bits).astype(np.int16)


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
    if x.size and (x.min() < -32768 or x.max() > 32767):
        t, c = np.argwhere((x < -32768) | (x > 32767))[0]
        raise ParameterError(f"dhuff: sample {x[t, c]} at t={t}, channel {c} is outside int16")
    if not 1 <= x.shape[1] <= 4096:
        raise ParameterError(f"dhuff: {x.shape[1]} channels; the codec takes 1..4096")
    return x.astype(np.int64) >> params.discard_bits


def _deltas(x: np.ndarray, params: DhuffParams):
    """(raw-row mask (T,), per-channel differences (T, C)); raw rows start blocks."""
    d = np.diff(x, axis=0, prepend=x[:1])
    raw_rows = np.arange(x.shape[0]) % params.block == 0
    d[raw_rows] = 0
    return raw_rows, d


def _check_dictionary(dictionary: Dictionary, params: DhuffParams):
    if dictionary.n_symbols != params.n_symbols:
        raise ParameterError(f"dhuff: the dictionary has {dictionary.n_symbols} symbols; "
                             f"W={params.width}, L={params.low_bits} need {params.n_symbols}")


def _frame(words: np.ndarray, block_starts: np.ndarray, m: int) -> np.ndarray:
    """Cut data words into frames of m-1 words (zero-padded) plus the boundary word."""
    n_frames = max(1, -(-words.size // (m - 1)))
    data = np.zeros(n_frames * (m - 1), np.uint16)
    data[: words.size] = words
    frames = np.zeros((n_frames, m), np.uint16)
    frames[:, :-1] = data.reshape(n_frames, m - 1)
    first = np.searchsorted(block_starts, np.arange(n_frames) * (m - 1))
    index = np.append(block_starts, np.iinfo(np.int64).max)[first] - np.arange(n_frames) * (m - 1)
    frames[:, -1] = np.where(index < m - 1, index, NO_BLOCK_START)
    return frames


def _code_tables(lengths: np.ndarray):
    """The canonical code (the DEFLATE rule), by length l = 0..33: (count of symbols of length l,
    first code of length l, index in ``order`` of its first symbol, ``order``: the symbols sorted
    by (length, symbol))."""
    counts = np.bincount(lengths, minlength=34).astype(np.int64)
    first_code = np.zeros(34, np.int64)
    first_index = np.zeros(34, np.int64)
    for length in range(1, 34):
        first_code[length] = (first_code[length - 1] + counts[length - 1]) << 1
        first_index[length] = first_index[length - 1] + counts[length - 1]
    order = np.lexsort((np.arange(lengths.size), lengths)).astype(np.int64)
    return counts, first_code, first_index, order


def _package_merge(counts: np.ndarray, max_length: int) -> np.ndarray:
    """Optimal code lengths <= max_length (Larmore-Hirschberg package-merge), deterministic."""
    n = counts.size
    order = np.argsort(counts, kind="stable")
    leaves = counts[order]
    lists, is_package = [leaves], [np.zeros(n, bool)]
    for _ in range(max_length - 1):
        previous = lists[-1]
        pairs = previous[: previous.size // 2 * 2].reshape(-1, 2).sum(axis=1)
        merged = np.concatenate((leaves, pairs))
        kind = np.concatenate((np.zeros(n, bool), np.ones(pairs.size, bool)))
        rank = np.argsort(merged, kind="stable")  # leaves before packages on ties
        lists.append(merged[rank])
        is_package.append(kind[rank])
    lengths = np.zeros(n, np.int64)
    take = 2 * n - 2
    for level in range(max_length - 1, -1, -1):
        chosen = is_package[level][:take]
        lengths[order[: int((~chosen).sum())]] += 1
        take = 2 * int(chosen.sum())
    return lengths


_ERRORS = {
    1: "the stream ends inside a block",
    2: "block index word is {detail}, expected another value (corrupted or out of order)",
    3: "no code of the dictionary starts here",
    4: "a sample leaves the W-bit range (value {detail})",
    5: "block padding bits are not zero",
}


@njit(cache=True)
def _pack(value, length, block_first_field, pad, n_words):
    out = np.zeros(n_words, np.uint16)
    acc = np.uint64(0)
    bits = 0
    pos = 0
    block = 0
    n_blocks = block_first_field.size
    for i in range(value.size + 1):
        # The block index word goes before the first field of each block; the padding after its
        # last field (which is just before the next block's first field, or the end).
        while block < n_blocks and block_first_field[block] == i:
            if block:
                acc <<= np.uint64(pad[block - 1])
                bits += pad[block - 1]
            acc = (acc << np.uint64(16)) | np.uint64(block & 0xFFFF)
            bits += 16
            while bits >= 16:
                out[pos] = (acc >> np.uint64(bits - 16)) & np.uint64(0xFFFF)
                pos += 1
                bits -= 16
            acc &= (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
            block += 1
        if i == value.size:
            break
        acc = (acc << np.uint64(length[i])) | np.uint64(value[i])
        bits += length[i]
        while bits >= 16:
            out[pos] = (acc >> np.uint64(bits - 16)) & np.uint64(0xFFFF)
            pos += 1
            bits -= 16
        acc &= (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
    if n_blocks:
        acc <<= np.uint64(pad[n_blocks - 1])
        bits += pad[n_blocks - 1]
        while bits >= 16:
            out[pos] = (acc >> np.uint64(bits - 16)) & np.uint64(0xFFFF)
            pos += 1
            bits -= 16
    return out


@njit(inline="always")
def _read(words, pos, acc, bits, n):
    """Take n bits (MSB first) from the word stream; value -1 when the stream ends first."""
    while bits < n:
        if pos >= words.size:
            return -1, pos, acc, bits
        acc = (acc << 16) | words[pos]
        pos += 1
        bits += 16
    bits -= n
    value = (acc >> bits) & ((1 << n) - 1)
    return value, pos, acc & ((1 << bits) - 1), bits


@njit(cache=True)
def _decode(words, out, block_starts, channels, block, width, low_bits, first_code, first_index,
            counts, order, max_length):
    """Returns (status, data word index, detail); status 0 = ok, else a key of _ERRORS."""
    n_samples = out.shape[0]
    pos = 0  # next word
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    prev = np.zeros(channels, np.int64)
    for b in range(block_starts.size):
        block_starts[b] = pos
        index, pos, acc, bits = _read(words, pos, 0, 0, 16)
        if index < 0:
            return 1, pos, 0
        if index != (b & 0xFFFF):
            return 2, pos - 1, index
        for r in range(min(block, n_samples - b * block)):
            t = b * block + r
            for c in range(channels):
                if r == 0:
                    v, pos, acc, bits = _read(words, pos, acc, bits, width)
                    if v < 0:
                        return 1, pos, 0
                    if v > hi:
                        v -= 1 << width
                    prev[c] = v
                    out[t, c] = v
                    continue
                # Canonical Huffman decoding, one bit at a time.
                code = 0
                symbol = -1
                for length in range(1, max_length + 1):
                    bit, pos, acc, bits = _read(words, pos, acc, bits, 1)
                    if bit < 0:
                        return 1, pos, 0
                    code = (code << 1) | bit
                    offset = code - first_code[length]
                    if 0 <= offset < counts[length]:
                        symbol = order[first_index[length] + offset]
                        break
                if symbol < 0:
                    return 3, pos - 1, 0
                low, pos, acc, bits = _read(words, pos, acc, bits, low_bits)
                if low < 0:
                    return 1, pos, 0
                d = (symbol << low_bits) | low
                if d:
                    negative, pos, acc, bits = _read(words, pos, acc, bits, 1)
                    if negative < 0:
                        return 1, pos, 0
                    if negative:
                        d = -d
                v = prev[c] + d
                if v < lo or v > hi:
                    return 4, pos - 1, v
                prev[c] = v
                out[t, c] = v
        if acc != 0:
            return 5, pos - 1, 0
    return 0, 0, 0
