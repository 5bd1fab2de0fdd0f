"""Maestro/Cntrlx delta bytes: the bit-true golden model.

The format is specified in ``docs/formats/maestro.md``; this module and the gateware
(``neurocodec_gateware.maestro.MaestroEncoder``) both follow that text.

Samples are 12-bit signed ([-2048, 2047]), C channels (1 to 16) interleaved in scan order. Each
sample is sent as its difference from the previous sample of the same channel (the first sample of
a channel is sent as its difference from 0):

* ``|D| < 64``: one byte ``D + 64`` (0x01..0x7F, bit 7 clear);
* otherwise: two bytes, high byte first, of ``(D + 4096) | 0x8000`` (bit 15 set).
"""

import numpy as np

from ..errors import FormatError, ParameterError

SAMPLE_BITS = 12
SAMPLE_MIN = -(1 << (SAMPLE_BITS - 1))  # -2048
SAMPLE_MAX = (1 << (SAMPLE_BITS - 1)) - 1  # 2047
MAX_CHANNELS = 16
SHORT_LIMIT = 64  # |D| < 64 fits one byte
SHORT_OFFSET = 64
LONG_OFFSET = 4096
LONG_FLAG = 0x8000


def check_channels(channels: int) -> int:
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
        raise ParameterError(f"maestro: channel count must be an integer, not {channels!r}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise ParameterError(
            f"maestro: channel count {channels} is outside the format's 1..{MAX_CHANNELS}"
        )
    return int(channels)


def check_samples(samples) -> np.ndarray:
    """Return ``samples`` as an int32 array of shape (T, C), or raise naming the first bad sample."""
    array = np.asarray(samples)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2:
        raise ParameterError(
            f"maestro: samples must have shape (T, C) or (T,), not {array.shape}"
        )
    if array.dtype.kind not in "iu":
        raise ParameterError(f"maestro: samples must be integers, not {array.dtype}")
    check_channels(array.shape[1])
    array = array.astype(np.int32)
    bad = (array < SAMPLE_MIN) | (array > SAMPLE_MAX)
    if bad.any():
        t, c = np.argwhere(bad)[0]
        raise ParameterError(
            f"maestro: sample {array[t, c]} at t={t}, channel {c} is outside the 12-bit range "
            f"[{SAMPLE_MIN}, {SAMPLE_MAX}] (reduce 16-bit data first, e.g. with shift=4)"
        )
    return array


def differences(samples: np.ndarray) -> np.ndarray:
    """Per-channel differences in scan order: D(m) = c(m) - c(m-1), with c(-1) = 0."""
    array = check_samples(samples)
    return np.diff(array, axis=0, prepend=np.zeros((1, array.shape[1]), np.int32)).reshape(-1)


def encode_differences(d: np.ndarray) -> bytes:
    """Code a sequence of differences (each in [-4095, 4095]) as Maestro bytes."""
    d = np.asarray(d, dtype=np.int32)
    long = np.abs(d) >= SHORT_LIMIT
    word = (d + LONG_OFFSET) | LONG_FLAG
    starts = np.concatenate(([0], np.cumsum(1 + long)[:-1])) if d.size else np.zeros(0, np.int64)
    out = np.empty(int(d.size + long.sum()), dtype=np.uint8)
    out[starts[~long]] = d[~long] + SHORT_OFFSET
    out[starts[long]] = word[long] >> 8
    out[starts[long] + 1] = word[long] & 0xFF
    return out.tobytes()


def encode(samples) -> bytes:
    """Encode 12-bit samples of shape (T, C) (or (T,) for one channel) into Maestro bytes."""
    return encode_differences(differences(samples))


def code_lengths(samples) -> np.ndarray:
    """Bytes spent on each sample, in scan order (1 or 2)."""
    return 1 + (np.abs(differences(samples)) >= SHORT_LIMIT)


def decode(data: bytes, channels: int) -> np.ndarray:
    """Decode Maestro bytes into int16 samples of shape (T, channels).

    Raises :class:`FormatError` naming the byte offset of the first thing outside the format: a
    0x00 byte, a two-byte word cut off by the end of the stream, a two-byte word that holds a
    difference the format writes in one byte, a sample leaving the 12-bit range, or a stream that
    ends in the middle of a scan.
    """
    channels = check_channels(channels)
    b = np.frombuffer(bytes(data), dtype=np.uint8)
    starts = _code_starts(b)
    truncated = starts.size > 0 and b[starts[-1]] >= 0x80 and starts[-1] + 1 >= b.size
    if truncated:
        starts = starts[:-1]
    high = b[starts] >= 0x80
    d = b[starts].astype(np.int32) - SHORT_OFFSET
    long_starts = starts[high]
    d[high] = ((b[long_starts].astype(np.int32) & 0x7F) << 8 | b[long_starts + 1]) - LONG_OFFSET

    n = d.size
    scans, partial = divmod(n, channels)
    per_channel = np.cumsum(d[: scans * channels].reshape(scans, channels), axis=0, dtype=np.int64)
    last = per_channel[-1] if scans else np.zeros(channels, np.int64)
    samples = np.concatenate((per_channel.reshape(-1), last[:partial] + d[scans * channels :]))

    # Every kind of error is located, and the one earliest in the stream is reported. At equal
    # offsets a fault of the code itself (rank 0) comes before the sample range (1), and an
    # incomplete last scan (2) is reported only when nothing else is wrong.
    errors = []
    zero = ~high & (d == -SHORT_OFFSET)
    if zero.any():
        offset = int(starts[np.argmax(zero)])
        errors.append((offset, 0, f"maestro: byte 0x00 at offset {offset} is not a valid code"))
    overlong = high & (np.abs(d) < SHORT_LIMIT)
    if overlong.any():
        i = int(np.argmax(overlong))
        offset = int(starts[i])
        errors.append((offset, 0, f"maestro: two-byte word at offset {offset} holds difference "
                       f"{d[i]}, which the format writes as one byte (|D| < {SHORT_LIMIT})"))
    out_of_range = (samples < SAMPLE_MIN) | (samples > SAMPLE_MAX)
    if out_of_range.any():
        i = int(np.argmax(out_of_range))
        offset = int(starts[i])
        errors.append((offset, 1, f"maestro: the code at offset {offset} (sample {i // channels}, "
                       f"channel {i % channels}) takes the sample to {samples[i]}, outside the "
                       f"12-bit range [{SAMPLE_MIN}, {SAMPLE_MAX}]"))
    if truncated:
        offset = b.size - 1
        errors.append((offset, 0, f"maestro: the stream ends inside the two-byte word that starts "
                       f"at offset {offset}"))
    elif partial and not errors:
        offset = int(starts[scans * channels])
        errors.append((offset, 2, f"maestro: the stream ends in the middle of a scan: {n} samples "
                       f"is not a multiple of {channels} channels (the incomplete scan starts at "
                       f"offset {offset})"))
    if errors:
        offset, _, message = min(errors)
        raise FormatError(message, offset)
    return per_channel.astype(np.int16)


def _code_starts(b: np.ndarray) -> np.ndarray:
    """Offsets of the first byte of every code, found without a Python loop.

    A byte starts a code if it follows a one-byte code (bit 7 clear) or ends a two-byte word. So
    the byte after a byte with bit 7 clear always starts a code, and within a run of bytes with
    bit 7 set that begins on a code, starts alternate: the 1st, 3rd, 5th... of the run. A byte with
    bit 7 clear that follows such a run starts a code unless the run had an odd length (then it is
    the second byte of the run's last word).
    """
    n = b.size
    if n == 0:
        return np.zeros(0, np.int64)
    high = b >= 0x80
    index = np.arange(n)
    # Start index of the run of high bytes each high byte belongs to.
    run_begin = np.where(high & ~np.concatenate(([False], high[:-1])), index, 0)
    run_begin = np.maximum.accumulate(run_begin)
    starts_code = np.where(high, (index - run_begin) % 2 == 0, True)
    # A low byte right after a high byte that starts a word is that word's second byte.
    prev_high_start = np.concatenate(([False], high[:-1] & starts_code[:-1]))
    starts_code &= ~(~high & prev_high_start)
    return np.flatnonzero(starts_code)
