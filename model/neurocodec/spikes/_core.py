"""Shared parts of the spike codecs: the common header, varints, bit I/O, the integer-sequence code
(LEB128 or canonical Huffman over bucketed values) and the spike-position (gap) code.

Every layout here is specified in ``docs/formats/spikes.md`` ("Common header", "Varints",
"Integer-sequence block", "Spike positions"); this module follows that text.
"""

import struct
import zlib
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..huffman import canonical_codes, package_merge
from ..errors import FormatError, ParameterError

MAGIC = b"NCSK"
VERSION = 1
HEADER = struct.Struct("<4sBBHIII")  # magic, version, codec id, reserved, T, N, body length
HEADER_BYTES = HEADER.size  # 20
CRC_BYTES = 4
CODEC_IDS = {"isi": 1, "predictive": 2, "delta": 3, "streaming": 4, "aer": 5, "waveform": 6}
CODEC_NAMES = {v: k for k, v in CODEC_IDS.items()}
U32_MAX = (1 << 32) - 1
DEFAULT_MAX_BINS = 1 << 31  # decoders refuse T*N above this unless told otherwise
HARD_MAX_BINS = 1 << 40

BACKEND_VARINT = 0
BACKEND_HUFFMAN = 1
BACKENDS = {"varint": BACKEND_VARINT, "huffman": BACKEND_HUFFMAN}
MAX_CODE_LENGTH = 24
MAX_MANTISSA_BITS = 12
LENGTH_FIELD_BITS = 5


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class SpikeResult:
    """What ``compress`` reports. ``compressed_bits`` counts every byte of the stream (header and
    CRC included); ``original_bits`` is one bit per raster bin (T*N)."""

    codec: str
    n_timesteps: int
    n_neurons: int
    n_spikes: int
    original_bits: int
    compressed_bits: int
    lossless: bool

    @property
    def compression_ratio(self) -> float:
        return self.original_bits / self.compressed_bits if self.compressed_bits else 0.0

    def _extra(self) -> str:
        return ""

    def summary(self) -> str:
        kind = "lossless" if self.lossless else "LOSSY"
        return (f"{self.codec}: {self.n_timesteps} x {self.n_neurons} raster, {self.n_spikes} "
                f"spikes, {self.original_bits} -> {self.compressed_bits} bits, ratio "
                f"{self.compression_ratio:.2f}, {kind}{self._extra()}")


# --------------------------------------------------------------------------------------------
# Input checks


def as_raster(spikes, codec: str) -> np.ndarray:
    """A C-contiguous uint8 (T, N) array of 0/1, or ParameterError naming the first bad bin."""
    x = np.asarray(spikes)
    if x.ndim != 2:
        raise ParameterError(f"{codec}: spikes must be a 2-D array (T, N), not shape {x.shape}")
    if x.dtype == np.bool_:
        x = x.view(np.uint8)
    elif x.dtype.kind in "iu":
        if x.size:
            bad = (x != 0) & (x != 1)
            if bad.any():
                t, n = np.argwhere(bad)[0]
                raise ParameterError(f"{codec}: spikes must be 0 or 1; found {x[t, n]} at "
                                     f"t={t}, channel {n}")
        x = x.astype(np.uint8, copy=False)
    else:
        raise ParameterError(f"{codec}: spikes must be bool or integer 0/1, not {x.dtype}")
    t_count, n_count = x.shape
    if t_count > U32_MAX or n_count > U32_MAX:
        raise ParameterError(f"{codec}: shape {x.shape} exceeds the format's 2^32 - 1 limit")
    return np.ascontiguousarray(x)


def check_int(value, name: str, low: int, high: int, codec: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not low <= value <= high:
        raise ParameterError(f"{codec}: {name} must be an integer in {low}..{high}, not {value!r}")
    return int(value)


def spike_keys(x: np.ndarray) -> np.ndarray:
    """Channel-major positions n*T + t of the ones of a (T, N) raster, increasing (int64)."""
    t_count, n_count = x.shape
    p = np.flatnonzero(x)
    if n_count <= 1 or p.size == 0:
        return p.astype(np.int64)
    t = p // n_count
    n = p - t * n_count
    return np.sort(n * t_count + t)


def keys_to_raster(keys: np.ndarray, t_count: int, n_count: int) -> np.ndarray:
    out = np.zeros((t_count, n_count), np.int8)
    if keys.size:
        n = keys // t_count
        out.reshape(-1)[(keys - n * t_count) * n_count + n] = 1
    return out


# --------------------------------------------------------------------------------------------
# Common header


def pack_stream(codec: str, t_count: int, n_count: int, body: bytes) -> bytes:
    if len(body) > U32_MAX:
        raise ParameterError(f"{codec}: the stream body ({len(body)} bytes) exceeds 2^32 - 1 bytes")
    head = HEADER.pack(MAGIC, VERSION, CODEC_IDS[codec], 0, t_count, n_count, len(body))
    data = head + body
    return data + struct.pack("<I", zlib.crc32(data))


@dataclass
class StreamHeader:
    codec: str
    t_count: int
    n_count: int
    body: memoryview  # the body bytes, starting at file offset HEADER_BYTES


def parse_header(data, expect: str | None = None, max_bins: int = DEFAULT_MAX_BINS
                 ) -> StreamHeader:
    """Check the common header and the CRC; return the body. FormatError names what and where."""
    data = memoryview(bytes(data) if not isinstance(data, (bytes, bytearray)) else data)
    label = expect or "spikes"
    size = len(data)
    if size < HEADER_BYTES + CRC_BYTES:
        raise FormatError(f"{label}: {size} bytes is shorter than the {HEADER_BYTES + CRC_BYTES}"
                          f"-byte minimum stream (header and CRC); truncated at offset {size}",
                          size)
    magic, version, codec_id, reserved, t_count, n_count, body_len = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise FormatError(f"{label}: bad magic {bytes(magic)!r} at offset 0 (expected {MAGIC!r}):"
                          " not a neurocodec spike stream", 0)
    if version != VERSION:
        raise FormatError(f"{label}: format version {version} at offset 4 is not supported "
                          f"(this decoder reads version {VERSION})", 4)
    if codec_id not in CODEC_NAMES:
        raise FormatError(f"{label}: unknown codec id {codec_id} at offset 5", 5)
    codec = CODEC_NAMES[codec_id]
    if expect is not None and codec != expect:
        raise FormatError(f"{label}: the stream holds codec {codec!r} (id {codec_id} at offset "
                          f"5), not {expect!r}", 5)
    if reserved:
        raise FormatError(f"{codec}: reserved field at offset 6 is {reserved}, must be 0", 6)
    end = HEADER_BYTES + body_len
    if size < end + CRC_BYTES:
        raise FormatError(f"{codec}: truncated: the header (offset 16) announces a {body_len}-byte"
                          f" body, so {end + CRC_BYTES} bytes in all; the stream has {size}", size)
    if size > end + CRC_BYTES:
        raise FormatError(f"{codec}: {size - end - CRC_BYTES} trailing bytes after the CRC at "
                          f"offset {end}", end + CRC_BYTES)
    (crc,) = struct.unpack_from("<I", data, end)
    actual = zlib.crc32(data[:end])
    if crc != actual:
        raise FormatError(f"{codec}: CRC-32 mismatch (stored 0x{crc:08x} at offset {end}, computed"
                          f" 0x{actual:08x}): the stream is corrupted", end)
    max_bins = min(int(max_bins), HARD_MAX_BINS)
    if t_count * n_count > max_bins:
        raise FormatError(f"{codec}: header (offset 8) claims a {t_count} x {n_count} raster, "
                          f"{t_count * n_count} bins, above the decoder limit max_bins={max_bins}",
                          8)
    return StreamHeader(codec, t_count, n_count, data[HEADER_BYTES:end])


def check_shape(header: StreamHeader, t_count, n_count):
    for name, given, stored in (("T", t_count, header.t_count), ("N", n_count, header.n_count)):
        if given is not None and given != stored:
            raise ParameterError(f"{header.codec}: {name}={given} given, the stream stores "
                                 f"{name}={stored}")


class SpikeCodec:
    """What every spike codec shares: ``decompress(data)`` takes T and N from the stream's
    header (given T and N are only checked against it); ``_body(header)`` decodes the body."""

    name: str

    def decompress(self, data, T: int | None = None, N: int | None = None,
                   max_bins: int = DEFAULT_MAX_BINS) -> np.ndarray:
        header = parse_header(data, self.name, max_bins)
        check_shape(header, T, N)
        return self._body(header)

    def _body(self, header) -> np.ndarray:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Byte reader (offsets are file offsets: body offset + HEADER_BYTES)


class Reader:
    def __init__(self, buf, codec: str, base: int = HEADER_BYTES):
        self.buf = memoryview(buf)
        self.pos = 0
        self.codec = codec
        self.base = base

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def fail(self, message: str, pos: int | None = None):
        offset = self.base + (self.pos if pos is None else pos)
        raise FormatError(f"{self.codec}: {message} at offset {offset}", offset)

    def u8(self, what: str) -> int:
        if self.pos >= len(self.buf):
            self.fail(f"stream ends where {what} (1 byte) should be")
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def take(self, n: int, what: str) -> memoryview:
        if n > len(self.buf) - self.pos:
            self.fail(f"stream ends inside {what} ({n} bytes, {len(self.buf) - self.pos} left)")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def varint(self, what: str, high: int = (1 << 63) - 1) -> int:
        start = self.pos
        value, length = read_varint(self.buf, self.pos)
        if length == -1:
            self.fail(f"stream ends inside the varint {what}", start)
        if length == -2:
            self.fail(f"varint {what} is longer than 9 bytes or not canonical", start)
        self.pos += length
        if value > high:
            self.fail(f"{what} is {value}, above its limit {high}", start)
        return value

    def end(self):
        if self.pos != len(self.buf):
            self.fail(f"{len(self.buf) - self.pos} unexpected bytes after the payload")


# --------------------------------------------------------------------------------------------
# Varints: unsigned LEB128, 7 bits per byte, least significant group first, bit 7 = "more";
# values below 2^63 (at most 9 bytes), canonical (no trailing 0x00 group after the first byte).


def varint(value: int) -> bytes:
    if not 0 <= value < 1 << 63:
        raise ParameterError(f"varint value {value} outside 0..2^63-1")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(buf, pos: int) -> tuple[int, int]:
    """(value, length); length -1 = truncated, -2 = too long or not canonical."""
    value = 0
    for i in range(9):
        if pos + i >= len(buf):
            return 0, -1
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                return 0, -2
            return value, i + 1
    return 0, -2


def varint_len(values: np.ndarray) -> np.ndarray:
    """Bytes of the LEB128 encoding of each value (int64 >= 0)."""
    v = np.asarray(values, np.int64)
    n = np.ones(v.shape, np.int64)
    for k in range(1, 9):
        n += v >= (1 << (7 * k))
    return n


@njit(cache=True)
def _varint_encode(values, total):
    out = np.empty(total, np.uint8)
    pos = 0
    for i in range(values.size):
        v = values[i]
        while v >= 128:
            out[pos] = (v & 0x7F) | 0x80
            v >>= 7
            pos += 1
        out[pos] = v
        pos += 1
    return out


@njit(cache=True)
def _varint_decode(buf, count, out):
    """Decode count varints from buf (which must be used exactly); (status, byte position)."""
    pos = 0
    n = buf.size
    for i in range(count):
        v = 0
        shift = 0
        while True:
            if pos >= n:
                return 1, pos
            b = np.int64(buf[pos])
            if shift == 56 and b & 0x80:
                return 2, pos
            if b == 0 and shift > 0:
                return 2, pos
            v |= (b & 0x7F) << shift
            pos += 1
            shift += 7
            if b < 128:
                break
        out[i] = v
    if pos != n:
        return 3, pos
    return 0, pos


# --------------------------------------------------------------------------------------------
# Bit I/O (MSB first) and the bucketed Huffman code


@njit(cache=True)
def _symbolize(values, m):
    """Bucketed symbols of values (int64 >= 0) with m mantissa bits: (symbol, extra bit count,
    extra bits). v < 2^m: symbol v. Else e = bit length - 1, symbol (e - m + 1) 2^m + the m bits
    below the leading one, then the e - m low bits raw."""
    n = values.size
    sym = np.empty(n, np.int64)
    nextra = np.empty(n, np.int64)
    extra = np.empty(n, np.int64)
    for i in range(n):
        v = values[i]
        if v < (1 << m):
            sym[i] = v
            nextra[i] = 0
            extra[i] = 0
        else:
            e = 0
            while (v >> (e + 1)) != 0:
                e += 1
            k = e - m
            sym[i] = ((k + 1) << m) | ((v >> k) & ((1 << m) - 1))
            nextra[i] = k
            extra[i] = v & ((np.int64(1) << k) - 1)
    return sym, nextra, extra


def _symbol_extra_bits(symbols: np.ndarray, m: int) -> np.ndarray:
    """Number of raw bits after the code of each symbol (vectorised)."""
    return np.maximum((symbols >> m) - 1, 0)


@njit(cache=True)
def _huffman_depths(w):
    """Code lengths of a Huffman code for the ascending weights w (n >= 2); ties: leaves first."""
    n = w.size
    weight = np.zeros(2 * n - 1, np.int64)
    parent = np.zeros(2 * n - 1, np.int64)
    weight[:n] = w
    leaf = 0
    internal = n
    nxt = n
    for _ in range(n - 1):
        for _pick in range(2):
            if leaf < n and (internal >= nxt or weight[leaf] <= weight[internal]):
                child = leaf
                leaf += 1
            else:
                child = internal
                internal += 1
            parent[child] = nxt
            weight[nxt] += weight[child]
        nxt += 1
    depth = np.zeros(2 * n - 1, np.int64)
    for i in range(2 * n - 3, -1, -1):
        depth[i] = depth[parent[i]] + 1
    return depth[:n]


def huffman_lengths(counts: np.ndarray) -> np.ndarray:
    """Code lengths (1..MAX_CODE_LENGTH) for symbols with counts > 0 (all given counts > 0)."""
    n = counts.size
    if n == 1:
        return np.ones(1, np.int64)
    order = np.lexsort((np.arange(n), counts))
    lengths = np.empty(n, np.int64)
    lengths[order] = _huffman_depths(counts[order].astype(np.int64))
    if lengths.max() > MAX_CODE_LENGTH:
        lengths = package_merge(counts.astype(np.int64), MAX_CODE_LENGTH)
    return lengths


def _gamma_bits(d: np.ndarray) -> np.ndarray:
    """Bits of the Elias-gamma code of d >= 1: 2 floor(log2 d) + 1."""
    e = np.zeros(d.shape, np.int64)
    for k in range(1, 63):
        e += d >= (np.int64(1) << k)
    return 2 * e + 1


@njit(cache=True)
def _put(out, state, value, nbits):
    """Append nbits (<= 62) of value MSB first. state = [byte pos, accumulator, bits in it]."""
    while nbits > 0:
        take = min(nbits, 32)
        nbits -= take
        chunk = (value >> nbits) & ((np.int64(1) << take) - 1)
        state[1] = (state[1] << take) | chunk
        state[2] += take
        while state[2] >= 8:
            state[2] -= 8
            out[state[0]] = (state[1] >> state[2]) & 0xFF
            state[0] += 1
        state[1] &= (np.int64(1) << state[2]) - 1


@njit(cache=True)
def _huffman_write(out, table_syms, table_lens, sym, nextra, extra, codes_by_sym, lens_by_sym):
    state = np.zeros(3, np.int64)
    prev = -1
    for i in range(table_syms.size):
        d = table_syms[i] - prev
        prev = table_syms[i]
        e = 0
        while (d >> (e + 1)) != 0:
            e += 1
        _put(out, state, 0, e)
        _put(out, state, d, e + 1)
        _put(out, state, table_lens[i], 5)
    for i in range(sym.size):
        s = sym[i]
        _put(out, state, codes_by_sym[s], lens_by_sym[s])
        if nextra[i]:
            _put(out, state, extra[i], nextra[i])
    if state[2]:
        out[state[0]] = (state[1] << (8 - state[2])) & 0xFF
        state[0] += 1
    return state[0]


@njit(cache=True)
def _bits(buf, p, n):
    """n (<= 62) bits MSB first from bit position p; the caller checks the bounds."""
    v = np.int64(0)
    while n > 0:
        byte = np.int64(buf[p >> 3])
        off = p & 7
        avail = 8 - off
        take = min(avail, n)
        v = (v << take) | ((byte >> (avail - take)) & ((1 << take) - 1))
        p += take
        n -= take
    return v


@njit(cache=True)
def _huffman_read_table(buf, n_used, max_symbol):
    """Parse the table. (status, bit position, symbols, lengths); status 0 ok, 1 truncated,
    2 gamma too long / symbol out of range, 3 length outside 1..24."""
    nbits = buf.size * 8
    p = 0
    syms = np.empty(n_used, np.int64)
    lens = np.empty(n_used, np.int64)
    prev = -1
    for i in range(n_used):
        e = 0
        while True:
            if p >= nbits:
                return 1, p, syms, lens
            if _bits(buf, p, 1):
                break
            e += 1
            p += 1
            if e > 40:
                return 2, p, syms, lens
        if p + e + 1 + 5 > nbits:
            return 1, p, syms, lens
        d = _bits(buf, p, e + 1)
        p += e + 1
        s = prev + d
        if s > max_symbol:
            return 2, p, syms, lens
        length = _bits(buf, p, 5)
        if length < 1 or length > 24:
            return 3, p, syms, lens
        p += 5
        syms[i] = s
        lens[i] = length
        prev = s
    return 0, p, syms, lens


@njit(cache=True)
def _huffman_decode(buf, p, count, m, first_code, count_by_len, first_index, sorted_syms,
                    max_len, limit, out):
    """Decode count values; (status, bit position). status 0 ok, 1 truncated, 2 no code,
    3 value above limit, 4 nonzero padding / leftover bytes."""
    nbits = buf.size * 8
    mask = (np.int64(1) << m) - 1
    for i in range(count):
        code = np.int64(0)
        s = np.int64(-1)
        for length in range(1, max_len + 1):
            if p >= nbits:
                return 1, p
            code = (code << 1) | _bits(buf, p, 1)
            p += 1
            off = code - first_code[length]
            if 0 <= off < count_by_len[length]:
                s = sorted_syms[first_index[length] + off]
                break
        if s < 0:
            return 2, p
        if s <= mask:
            v = s
        else:
            k = (s >> m) - 1
            if p + k > nbits:
                return 1, p
            v = (((np.int64(1) << m) | (s & mask)) << k) | _bits(buf, p, k)
            p += k
        if v > limit:
            return 3, p
        out[i] = v
    if nbits - p >= 8:
        return 4, p
    if p < nbits and _bits(buf, p, nbits - p) != 0:
        return 4, p
    return 0, p


@dataclass
class _Plan:
    backend: int
    m: int
    nbytes: int


def _unique_counts(values: np.ndarray):
    if values.size and values.max() < (1 << 20):
        counts = np.bincount(values)
        uniq = np.flatnonzero(counts)
        return uniq.astype(np.int64), counts[uniq].astype(np.int64)
    uniq, counts = np.unique(values, return_counts=True)
    return uniq.astype(np.int64), counts.astype(np.int64)


def _huffman_plan(uniq, counts, m):
    """(payload bytes, used symbols, their lengths) of the Huffman backend with m mantissa bits."""
    sym, nextra, _ = _symbolize(uniq, m)
    used, inverse = np.unique(sym, return_inverse=True)
    sym_counts = np.bincount(inverse, weights=counts).astype(np.int64) if used.size else counts
    lengths = huffman_lengths(sym_counts) if used.size else np.zeros(0, np.int64)
    deltas = np.diff(used, prepend=-1)
    table_bits = int(_gamma_bits(deltas).sum()) + LENGTH_FIELD_BITS * used.size
    data_bits = int((sym_counts * lengths).sum()) + int((counts * nextra).sum())
    nbytes = 1 + len(varint(used.size)) + -(-(table_bits + data_bits) // 8)
    return nbytes, used, lengths


def encode_ints(values, backend: str = "auto") -> bytes:
    """The integer-sequence block (docs/formats/spikes.md): backend byte, varint count, varint
    payload length, payload. ``auto`` picks the smaller backend (varint on a tie)."""
    values = np.ascontiguousarray(values, np.int64)
    if values.size and values.min() < 0:
        raise ParameterError("integer-sequence code: values must be >= 0")
    count = values.size
    varint_bytes = int(varint_len(values).sum())
    best = None
    if backend in ("auto", "huffman"):
        uniq, counts = _unique_counts(values)
        top = int(uniq.max()).bit_length() if uniq.size else 0
        for m in range(0, min(MAX_MANTISSA_BITS, max(top, 0)) + 1):
            nbytes, used, lengths = _huffman_plan(uniq, counts, m)
            if best is None or nbytes < best[0]:
                best = (nbytes, m, used, lengths)
    if backend == "varint" or (backend == "auto" and varint_bytes <= best[0]):
        payload = _varint_encode(values, varint_bytes).tobytes()
        return bytes([BACKEND_VARINT]) + varint(count) + varint(len(payload)) + payload
    if backend not in ("auto", "huffman"):
        raise ParameterError(f"unknown entropy backend {backend!r}; use varint, huffman or auto")
    nbytes, m, used, lengths = best
    codes = canonical_codes(lengths)
    size = int(used.max()) + 1 if used.size else 1
    codes_by_sym = np.zeros(size, np.int64)
    lens_by_sym = np.zeros(size, np.int64)
    codes_by_sym[used] = codes
    lens_by_sym[used] = lengths
    sym, nextra, extra = _symbolize(values, m)
    bitbuf = np.zeros(nbytes, np.uint8)
    written = _huffman_write(bitbuf, used, lengths, sym, nextra, extra, codes_by_sym, lens_by_sym)
    payload = bytes([m]) + varint(used.size) + bitbuf[:written].tobytes()
    assert len(payload) == nbytes
    return bytes([BACKEND_HUFFMAN]) + varint(count) + varint(len(payload)) + payload


_HUFF_ERRORS = {1: "the Huffman bit stream ends early", 2: "no code of the table starts here",
                3: "a decoded value exceeds its limit", 4: "padding bits are not zero, or bytes "
                "are left over after the last code"}


def decode_ints(reader: Reader, what: str, max_count: int, limit: int) -> np.ndarray:
    """Read an integer-sequence block; every value must be <= limit, the count <= max_count."""
    start = reader.pos
    backend = reader.u8(f"the backend byte of {what}")
    if backend not in (BACKEND_VARINT, BACKEND_HUFFMAN):
        reader.fail(f"backend byte of {what} is {backend}, not 0 (varint) or 1 (huffman)", start)
    count_pos = reader.pos
    count = reader.varint(f"count of {what}", max_count)
    nbytes = reader.varint(f"payload length of {what}")
    payload_pos = reader.pos
    payload = np.frombuffer(reader.take(nbytes, f"the payload of {what}"), np.uint8)
    # Every value costs at least one bit (Huffman) or one byte (varint): bounds the allocation.
    if count > (8 * nbytes if backend == BACKEND_HUFFMAN else nbytes):
        reader.fail(f"{what}: count {count} cannot fit in {nbytes} payload bytes", count_pos)
    out = np.empty(count, np.int64)
    if backend == BACKEND_VARINT:
        status, pos = _varint_decode(payload, count, out)
        if status:
            message = {1: "ends inside a varint", 2: "has a varint longer than 9 bytes or not "
                       "canonical", 3: "has bytes left after the last varint"}[status]
            reader.fail(f"{what} {message}", payload_pos + pos)
        if count and out.max() > limit:
            i = int(np.argmax(out > limit))
            reader.fail(f"{what}: value {out[i]} (number {i}) exceeds its limit {limit}",
                        payload_pos)
        return out
    sub = Reader(payload, reader.codec, reader.base + payload_pos)
    m = sub.u8(f"mantissa bits of {what}")
    if m > MAX_MANTISSA_BITS:
        sub.fail(f"{what}: mantissa bits {m} above {MAX_MANTISSA_BITS}", 0)
    n_used = sub.varint(f"table size of {what}", 1 << 20)
    if (n_used == 0) != (count == 0):
        sub.fail(f"{what}: table of {n_used} symbols for {count} values", 1)
    max_symbol = ((63 - m + 1) << m) - 1 if m < 63 else 0
    bits = np.frombuffer(payload[sub.pos:], np.uint8)
    status, p, syms, lens = _huffman_read_table(bits, n_used, max_symbol)
    here = sub.base + sub.pos + p // 8
    if status:
        message = {1: "the Huffman table is truncated", 2: "a Huffman table symbol is out of range",
                   3: "a Huffman code length is outside 1..24"}[status]
        raise FormatError(f"{reader.codec}: {what}: {message} at offset {here}", here)
    if n_used == 0:
        if p or bits.size:
            raise FormatError(f"{reader.codec}: {what}: bytes after an empty table at offset "
                              f"{here}", here)
        return out
    kraft = np.sum(np.ldexp(1.0, -lens))
    if (n_used == 1 and lens[0] != 1) or (n_used > 1 and kraft != 1.0):
        raise FormatError(f"{reader.codec}: {what}: the Huffman code lengths do not form a "
                          f"complete prefix code (Kraft sum {kraft}) at offset "
                          f"{sub.base + sub.pos}",
                          sub.base + sub.pos)
    count_by_len = np.bincount(lens, minlength=MAX_CODE_LENGTH + 2).astype(np.int64)
    first_code = np.zeros(MAX_CODE_LENGTH + 2, np.int64)
    first_index = np.zeros(MAX_CODE_LENGTH + 2, np.int64)
    for length in range(1, MAX_CODE_LENGTH + 2):
        first_code[length] = (first_code[length - 1] + count_by_len[length - 1]) << 1
        first_index[length] = first_index[length - 1] + count_by_len[length - 1]
    sorted_syms = syms[np.lexsort((syms, lens))]
    status, p = _huffman_decode(bits, p, count, m, first_code, count_by_len, first_index,
                                sorted_syms, int(lens.max()), limit, out)
    if status:
        here = sub.base + sub.pos + p // 8
        raise FormatError(f"{reader.codec}: {what}: {_HUFF_ERRORS[status]} at offset {here} "
                          f"(bit {p % 8})", here)
    return out


# --------------------------------------------------------------------------------------------
# Spike positions: gaps between the channel-major positions of the ones


def encode_positions(keys: np.ndarray, total: int, backend: str) -> bytes:
    """keys: increasing positions in 0..total-1; the K+1 gaps (the last one to position total)."""
    gaps = np.diff(keys, prepend=-1, append=total) - 1
    return encode_ints(gaps, backend)


def decode_positions(reader: Reader, total: int, what: str) -> np.ndarray:
    gaps = decode_ints(reader, what, total + 1, total)
    if gaps.size == 0:
        reader.fail(f"{what}: no gaps (at least the final one is required)")
    steps = gaps + 1
    if float(steps.sum(dtype=np.float64)) > 2.0 * (total + 1):
        reader.fail(f"{what}: the gaps run past the end of the raster ({total} bins)")
    pos = np.cumsum(steps) - 1
    if int(pos[-1]) != total:
        reader.fail(f"{what}: the gaps end at bin {int(pos[-1])}, the raster has {total} bins")
    return pos[:-1]


def backend_name(code: int) -> str:
    return {BACKEND_VARINT: "varint", BACKEND_HUFFMAN: "huffman"}[code]
