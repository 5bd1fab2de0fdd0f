"""``aer``: address-event representation, (timestamp delta, channel id) words
(docs/formats/spikes.md, "aer")."""

from dataclasses import dataclass

import numpy as np
from numba import njit

from ._core import (as_raster, _bits, pack_stream, _put, Reader, SpikeCodec, SpikeResult, varint)

DELTA_BITS = 16


def id_bits(n_channels: int) -> int:
    """B = bit length of N (at least 1): ids 0..N-1 and the escape id 2^B - 1 >= N never meet."""
    return max(1, int(n_channels).bit_length())


@dataclass
class AERResult(SpikeResult):
    id_bits: int = 1
    n_events: int = 0  # words, escapes included
    n_escapes: int = 0
    inverted: bool = False  # the silences were coded (density above 50%)
    bytes_per_event: float = 0.0  # payload bytes per coded bin (escapes included)

    def _extra(self):
        what = "silences" if self.inverted else "spikes"
        return (f", {self.n_events} events ({what}, {self.n_escapes} escapes) of "
                f"{DELTA_BITS + self.id_bits} bits")


def event_words(t, n, b: int) -> tuple[np.ndarray, np.ndarray]:
    """The words of events at timesteps ``t`` (non-decreasing) with ids ``n``: d << B | id with
    d = t - (the previous event's t), the first from 0, and before each d >= 2^16 an escape word
    (d >> 16) << B | (2^B - 1). Returns the words (int64) and the indices into ``t`` of the
    events that got an escape (``np.insert`` positions)."""
    dt = np.diff(t, prepend=0)
    big = dt >= (1 << DELTA_BITS)
    words = (dt & 0xFFFF) << b | n
    escaped = np.flatnonzero(big)
    if escaped.size:
        words = np.insert(words, escaped, (dt[big] >> DELTA_BITS) << b | ((1 << b) - 1))
    return words.astype(np.int64), escaped


@njit(cache=True)
def _pack(words, width, nbytes):
    out = np.zeros(nbytes, np.uint8)
    state = np.zeros(3, np.int64)
    for i in range(words.size):
        _put(out, state, words[i], width)
    if state[2]:
        out[state[0]] = (state[1] << (8 - state[2])) & 0xFF
    return out


@njit(cache=True)
def _unpack(buf, n_events, b, t_count, n_count, keys):
    """Events -> time-major keys t*N + n. (status, event index, count of keys)."""
    esc = (1 << b) - 1
    width = 16 + b
    now = np.int64(0)
    last_id = np.int64(-1)
    last_t = np.int64(-1)
    escaped = False
    k = 0
    for i in range(n_events):
        word = _bits(buf, i * width, width)
        delta = word >> b
        cid = word & esc
        if cid == esc:
            if delta == 0:
                return 1, i, k
            if escaped:
                return 2, i, k
            now += delta << 16
            escaped = True
            continue
        escaped = False
        now += delta
        if cid >= n_count:
            return 3, i, k
        if now >= t_count:
            return 4, i, k
        if now == last_t and cid <= last_id:
            return 5, i, k
        keys[k] = now * n_count + cid
        k += 1
        last_t = now
        last_id = cid
    if escaped:
        return 6, n_events - 1, k
    total = n_events * width
    rest = buf.size * 8 - total
    if rest and _bits(buf, total, rest) != 0:
        return 7, n_events, k
    return 0, 0, k


_ERRORS = {1: "event {i} is an escape with a zero count", 2: "event {i} is a second escape in a "
           "row", 3: "event {i} names channel {c}, the raster has {n}", 4: "event {i} falls at or "
           "after T", 5: "event {i} repeats or goes back on a channel within its timestep",
           6: "the last event is an escape", 7: "padding bits after the last event are not zero"}


class AERCodec(SpikeCodec):
    """Fixed-width words: a 16-bit time delta, then a B-bit channel id (B = bit length of N).
    Gaps of 2^16 samples or more take an escape word (id 2^B - 1) first. Above 50% density the
    silent bins are coded instead."""

    name = "aer"

    def compress(self, spikes) -> tuple[bytes, AERResult]:
        x = as_raster(spikes, "aer")
        t_count, n_count = x.shape
        n_spikes = int(np.count_nonzero(x))
        inverted = 2 * n_spikes > t_count * n_count
        p = np.flatnonzero(x == 0) if inverted else np.flatnonzero(x)
        b = id_bits(n_count)
        t = p // max(n_count, 1)
        n = p - t * n_count
        words, escaped = event_words(t, n, b)
        width = DELTA_BITS + b
        payload = _pack(words, width, -(-words.size * width // 8))
        body = bytes([1 if inverted else 0]) + varint(words.size) + payload.tobytes()
        data = pack_stream("aer", t_count, n_count, body)
        return data, AERResult("aer", t_count, n_count, n_spikes, t_count * n_count,
                               8 * len(data), True, b, int(words.size), int(escaped.size),
                               bool(inverted), payload.size / p.size if p.size else 0.0)

    def _body(self, header) -> np.ndarray:
        return _decode_body(header)


def _decode_body(header) -> np.ndarray:
    t_count, n_count = header.t_count, header.n_count
    r = Reader(header.body, "aer")
    flags = r.u8("the flags byte")
    if flags > 1:
        r.fail(f"flags byte is {flags}; only bit 0 (inverted) is defined", 0)
    b = id_bits(n_count)
    width = DELTA_BITS + b
    count_pos = r.pos
    n_events = r.varint("event count")
    nbytes = -(-n_events * width // 8)
    if nbytes > len(r.buf) - r.pos:
        r.fail(f"{n_events} events of {width} bits need {nbytes} bytes, {len(r.buf) - r.pos} "
               "follow", count_pos)
    start = r.pos
    buf = np.frombuffer(r.take(nbytes, "the events"), np.uint8)
    r.end()
    keys = np.empty(n_events, np.int64)
    status, i, k = _unpack(buf, n_events, b, t_count, n_count, keys)
    if status:
        c = _bits(buf, i * width, width) & ((1 << b) - 1) if i < n_events else 0
        r.fail(_ERRORS[status].format(i=i, c=c, n=n_count) + f" (bit {(i * width) % 8})",
               start + (i * width) // 8)
    out = np.full((t_count, n_count), 1 if flags else 0, np.int8)
    out.reshape(-1)[keys[:k]] = 0 if flags else 1
    return out
