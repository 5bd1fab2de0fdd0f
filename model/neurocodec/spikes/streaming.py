"""``streaming``: fixed windows of W samples, one self-contained frame each: silent channels are
skipped, active ones sent as W-bit masks (docs/formats/spikes.md, "streaming")."""

from dataclasses import dataclass

import numpy as np
from numba import njit

from ._core import (as_raster, check_int, pack_stream, Reader, SpikeCodec, SpikeResult, varint)
from ..errors import FormatError, ParameterError

MAX_WINDOW = 0xFFFF


def worst_case_frame_bytes(n_channels: int, window: int) -> int:
    """Largest frame the encoder can emit: every channel active (see the docs for the proof):
    N ceil(W/8) + min(1 + ceil(N/8), len(varint(2N)) + N)."""
    mask = -(-window // 8)
    return n_channels * mask + min(1 + -(-n_channels // 8), len(varint(2 * n_channels))
                                   + n_channels)


@dataclass
class StreamingResult(SpikeResult):
    window: int = 20
    n_frames: int = 0
    mean_active_channels: float = 0.0  # per frame
    max_frame_bytes: int = 0
    worst_case_frame_bytes: int = 0  # the bound of the docs for this N and W

    def _extra(self):
        return (f", {self.n_frames} frames of {self.window}, {self.mean_active_channels:.2f} "
                f"active channels per frame, largest frame {self.max_frame_bytes} bytes (bound "
                f"{self.worst_case_frame_bytes})")


@njit(inline="always")
def _vlen(v):
    n = 1
    while v >= 128:
        v >>= 7
        n += 1
    return n


@njit(inline="always")
def _vput(out, pos, v):
    while v >= 128:
        out[pos] = (v & 0x7F) | 0x80
        v >>= 7
        pos += 1
    out[pos] = v
    return pos + 1


@njit(inline="always")
def _vget(buf, pos, size):
    """Read a LEB128 varint at pos: (value, position after it, status): status 1 when the
    buffer ends inside it, 2 for a redundant zero byte or more than 5 bytes."""
    value = np.int64(0)
    shift = 0
    while True:
        if pos >= size:
            return value, pos, 1
        b = np.int64(buf[pos])
        if (shift > 0 and b == 0) or shift > 35:
            return value, pos, 2
        value |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if b < 128:
            return value, pos, 0


@njit(cache=True)
def _encode_frames(fkey, off, n_frames, n_count, window, t_count):
    """fkey = frame * N + channel and off = t - frame * W of every spike, sorted by (fkey, off).
    Returns (bytes, frame sizes, active channels per frame)."""
    sizes = np.zeros(n_frames, np.int64)
    active = np.zeros(n_frames, np.int64)
    modes = np.zeros(n_frames, np.int64)
    bitmap_bytes = (n_count + 7) // 8
    i = 0
    k = fkey.size
    for f in range(n_frames):
        w = min(window, t_count - f * window)
        m = (w + 7) // 8
        a = 0
        skip_bytes = 0
        prev = -1
        while i < k and fkey[i] // n_count == f:
            n = fkey[i] - f * n_count
            skip_bytes += _vlen(n - prev - 1)
            prev = n
            a += 1
            j = i
            while j < k and fkey[j] == fkey[i]:
                j += 1
            i = j
        listed = _vlen(2 * a) + skip_bytes + a * m
        mapped = 1 + bitmap_bytes + a * m
        active[f] = a
        if listed <= mapped:
            sizes[f] = listed
        else:
            sizes[f] = mapped
            modes[f] = 1
    out = np.zeros(sizes.sum(), np.uint8)
    pos = 0
    i = 0
    for f in range(n_frames):
        w = min(window, t_count - f * window)
        m = (w + 7) // 8
        start = pos
        if modes[f] == 0:
            pos = _vput(out, pos, 2 * active[f])
        else:
            pos = _vput(out, pos, 1)
            j = i
            while j < k and fkey[j] // n_count == f:
                n = fkey[j] - f * n_count
                out[pos + n // 8] |= 1 << (n % 8)
                j += 1
            pos += bitmap_bytes
        prev = -1
        while i < k and fkey[i] // n_count == f:
            n = fkey[i] - f * n_count
            if modes[f] == 0:
                pos = _vput(out, pos, n - prev - 1)
            prev = n
            while i < k and fkey[i] == f * n_count + n:
                out[pos + off[i] // 8] |= 1 << (off[i] % 8)
                i += 1
            pos += m
        assert pos - start == sizes[f]
    return out, sizes, active


@njit(cache=True)
def _decode_frames(buf, pos, n_frames, n_count, window, t_count, out):
    """Parse n_frames frames from buf[pos:] into out. (status, byte position, detail)."""
    size = buf.size
    bitmap_bytes = (n_count + 7) // 8
    for f in range(n_frames):
        t0 = f * window
        w = min(window, t_count - t0)
        m = (w + 7) // 8
        # frame header varint
        frame_start = pos
        h, pos, status = _vget(buf, pos, size)
        if status:
            return status, pos, f
        if h == 1:
            if pos + bitmap_bytes > size:
                return 1, pos, f
            bm = pos
            pos += bitmap_bytes
            if n_count % 8 and buf[bm + bitmap_bytes - 1] >> (n_count % 8):
                return 3, bm + bitmap_bytes - 1, f
            for n in range(n_count):
                if (buf[bm + n // 8] >> (n % 8)) & 1:
                    status = _mask(buf, pos, size, m, w, out, t0, n)
                    if status:
                        return status, pos, f
                    pos += m
        elif h % 2 == 0:
            a = h // 2
            if a > n_count:
                return 5, frame_start, f
            n = -1
            for _ in range(a):
                start = pos
                skip, pos, status = _vget(buf, pos, size)
                if status:
                    return status, pos, f
                n = n + 1 + skip
                if n >= n_count:
                    return 6, start, f
                status = _mask(buf, pos, size, m, w, out, t0, n)
                if status:
                    return status, pos, f
                pos += m
        else:
            return 7, frame_start, f
    return 0, pos, 0


@njit(inline="always")
def _mask(buf, pos, size, m, w, out, t0, n):
    """Write one channel's mask (m bytes at pos); 1 = the stream ends inside it, 8 = all zero,
    9 = bits beyond the window set."""
    if pos + m > size:
        return 1
    nonzero = False
    for byte in range(m):
        b = buf[pos + byte]
        if b:
            nonzero = True
        for bit in range(8):
            if (b >> bit) & 1:
                i = byte * 8 + bit
                if i >= w:
                    return 9
                out[t0 + i, n] = 1
    return 0 if nonzero else 8


_ERRORS = {1: "the stream ends inside frame {f}", 2: "frame {f}: a varint is too long or not "
           "canonical", 3: "frame {f}: bitmap bits past the last channel are set",
           5: "frame {f}: more active channels than N", 6: "frame {f}: a skip runs past the last "
           "channel", 7: "frame {f}: header value is odd but not 1 (no such mode)",
           8: "frame {f}: an active channel's mask is all zero", 9: "frame {f}: mask bits beyond "
           "the window are set"}


class StreamingCodec(SpikeCodec):
    """Windows of ``window`` samples (default 20 = 1 ms at 20 kHz), each a frame that decodes
    alone (``compress_frame``, ``decompress_frame``)."""

    name = "streaming"

    def __init__(self, window: int = 20):
        self.window = check_int(window, "window", 1, MAX_WINDOW, "streaming")

    def _frames(self, x):
        t_count, n_count = x.shape
        w = self.window
        n_frames = -(-t_count // w)
        p = np.flatnonzero(x)
        t = p // max(n_count, 1)
        n = p - t * n_count
        f = t // w
        fkey = f * n_count + n
        off = t - f * w
        if p.size:
            order = np.lexsort((off, fkey))
            fkey, off = fkey[order], off[order]
        return _encode_frames(fkey.astype(np.int64), off.astype(np.int64), n_frames, n_count, w,
                              t_count), int(p.size)

    def compress(self, spikes) -> tuple[bytes, StreamingResult]:
        x = as_raster(spikes, "streaming")
        t_count, n_count = x.shape
        (frames, sizes, active), n_spikes = self._frames(x)
        data = pack_stream("streaming", t_count, n_count, varint(self.window) + frames.tobytes())
        return data, StreamingResult(
            "streaming", t_count, n_count, n_spikes, t_count * n_count, 8 * len(data), True,
            self.window, sizes.size, float(active.mean()) if active.size else 0.0,
            int(sizes.max(initial=0)), worst_case_frame_bytes(n_count, self.window))

    def compress_frame(self, window_spikes) -> bytes:
        """One frame (no stream header) for a window of 1..W samples, shape (w, N)."""
        x = as_raster(window_spikes, "streaming")
        if not 1 <= x.shape[0] <= self.window:
            raise ParameterError(f"streaming: a frame holds 1..{self.window} samples, not "
                                 f"{x.shape[0]}")
        codec = StreamingCodec(self.window)
        (frames, _, _), _ = codec._frames(x)
        return frames.tobytes()

    def decompress_frame(self, frame, n_channels: int, samples: int | None = None) -> np.ndarray:
        """Decode one frame of ``samples`` (default W) samples of ``n_channels`` channels."""
        w = self.window if samples is None else check_int(samples, "samples", 1, self.window,
                                                           "streaming")
        n_channels = check_int(n_channels, "n_channels", 0, (1 << 32) - 1, "streaming")
        buf = np.frombuffer(bytes(frame), np.uint8)
        out = np.zeros((w, n_channels), np.uint8)
        status, pos, f = _decode_frames(buf, 0, 1, n_channels, w, w, out)
        if status:
            raise FormatError(f"streaming: {_ERRORS[status].format(f=f)} at offset {pos}", pos)
        if pos != len(buf):
            raise FormatError(f"streaming: {len(buf) - pos} bytes after the frame end at offset "
                              f"{pos}", pos)
        return out.view(np.int8)

    def _body(self, header) -> np.ndarray:
        return _decode_body(header)


def _decode_body(header) -> np.ndarray:
    t_count, n_count = header.t_count, header.n_count
    r = Reader(header.body, "streaming")
    w = r.varint("window W", MAX_WINDOW)
    if w < 1:
        r.fail("window W is 0", 0)
    n_frames = -(-t_count // w)
    if n_frames > len(r.buf) - r.pos:  # every frame takes at least one byte
        r.fail(f"{n_frames} frames announced (T={t_count}, W={w}) but only "
               f"{len(r.buf) - r.pos} bytes follow")
    out = np.zeros((t_count, n_count), np.uint8)
    buf = np.frombuffer(r.buf, np.uint8)
    status, pos, f = _decode_frames(buf, r.pos, n_frames, n_count, w, t_count, out)
    if status:
        r.fail(_ERRORS[status].format(f=f), pos)
    r.pos = pos
    r.end()
    return out.view(np.int8)
