"""The live LFSR event stream: the bytes the ``lfsr`` gateware core (``LfsrSpikeEncoder``) emits
(docs/formats/spikes.md, "Live LFSR event stream (gateware)").

The core runs the ``predictive``/``lfsr`` predictor on a raster fed to it bin by bin in scan order
and codes the residual (the surprises, S XOR P) as the event words of an ``aer`` body with
inverted = 0. What goes out is that body's bit stream only: no header, no flags byte, no event
count, no CRC; the host knows T, N, ``alpha_q8`` and ``seed`` and adds them. Both functions here
are built from the model's own code: the predictor of ``predictive.py`` and the ``aer`` packer and
decoder of ``aer.py``.

    data = encode_live_lfsr(raster, alpha_q8=32, seed=0xACE1)    # what the RTL must emit
    assert (decode_live_lfsr(data, T, N, 32, 0xACE1) == raster).all()
"""

from dataclasses import dataclass

import numpy as np

from ._core import (as_raster, check_int, DEFAULT_MAX_BINS, HARD_MAX_BINS, HEADER_BYTES,
                    pack_stream, U32_MAX, varint)
from .aer import _pack, AERCodec, DELTA_BITS, event_words, id_bits
from .predictive import LFSR_SEED, run_predictor
from ..errors import FormatError, ParameterError

NAME = "live lfsr"


@dataclass
class LiveWords:
    """The words of a live stream in stream order, and for each word the bin (t, n) of the event
    it codes (an escape word: the event it precedes)."""

    words: np.ndarray  # int64, 16 + B bits each: delta << B | id
    t: np.ndarray
    n: np.ndarray
    escape: np.ndarray  # bool
    width: int  # 16 + B

    def bin_of_byte(self, index: int) -> tuple[int, int]:
        """The bin (t, n) of the word holding the first bit of byte ``index``."""
        word = min(8 * index // self.width, self.words.size - 1)
        return int(self.t[word]), int(self.n[word])


def _check(alpha_q8, seed) -> tuple[int, int]:
    return (check_int(alpha_q8, "alpha_q8", 1, 256, NAME),
            check_int(seed, "seed", 1, 0xFFFF, NAME))


def _residual(raster, alpha_q8, seed) -> np.ndarray:
    x = as_raster(raster, NAME)
    if x.shape[1] < 1:
        raise ParameterError(f"{NAME}: the raster needs at least one channel, not shape {x.shape}")
    return run_predictor("lfsr", _check(alpha_q8, seed), x, decode=False)


def live_words(raster, alpha_q8: int = 32, seed: int = LFSR_SEED) -> LiveWords:
    """The event words of the residual of ``raster`` (T, N), as the ``aer`` encoder makes them
    with inverted = 0: d = t - (time of the previous event), the first from 0, preceded by an
    escape word (d >> 16, id 2^B - 1) when d >= 2^16."""
    residual = _residual(raster, alpha_q8, seed)
    n_count = residual.shape[1]
    b = id_bits(n_count)
    p = np.flatnonzero(residual)
    t, n = p // n_count, p % n_count
    words, escaped = event_words(t, n, b)
    escape = np.insert(np.zeros(t.size, bool), escaped, True)
    t, n = np.insert(t, escaped, t[escaped]), np.insert(n, escaped, n[escaped])
    return LiveWords(words, t.astype(np.int64), n.astype(np.int64), escape, DELTA_BITS + b)


def encode_live_lfsr(raster, alpha_q8: int = 32, seed: int = LFSR_SEED) -> bytes:
    """The exact bytes ``LfsrSpikeEncoder(channels=N, alpha_q8, seed)`` emits for ``raster``
    (T, N) fed in scan order and then flushed: the words of :func:`live_words` packed MSB first
    (the ``aer`` packer), the last byte padded with zero bits. A raster without surprises (T = 0,
    or nothing the predictor missed) gives ``b""``."""
    w = live_words(raster, alpha_q8, seed)
    return _pack(w.words, w.width, -(-w.words.size * w.width // 8)).tobytes()


def decode_live_lfsr(data, T: int, N: int, alpha_q8: int = 32, seed: int = LFSR_SEED,
                     max_bins: int = DEFAULT_MAX_BINS) -> np.ndarray:
    """The raster (T, N) of int8 0/1 that a live stream of ``data`` bytes codes.

    E = (8 * len(data)) // (16 + B) words; the ``aer`` body (flags 0, varint E, ``data``) is
    wrapped in an NCSK stream with its CRC and decoded by the ``aer`` decoder (every check of the
    format applies: events within T, ids < N, increasing ids within a timestep, escape rules,
    zero padding, no byte left over) into the residual; the ``lfsr`` predictor then rebuilds
    the raster. FormatError names the offending byte of ``data``."""
    t_count = check_int(T, "T", 0, U32_MAX, NAME)
    n_count = check_int(N, "N", 1, U32_MAX, NAME)
    fields = _check(alpha_q8, seed)
    limit = min(int(max_bins), HARD_MAX_BINS)
    if t_count * n_count > limit:
        raise FormatError(f"{NAME}: a {t_count} x {n_count} raster has {t_count * n_count} bins, "
                          f"above the decoder limit max_bins={limit}")
    data = bytes(data)
    width = DELTA_BITS + id_bits(n_count)
    n_words = 8 * len(data) // width
    head = bytes([0]) + varint(n_words)
    stream = pack_stream("aer", t_count, n_count, head + data)
    try:
        residual = AERCodec().decompress(stream, max_bins=max_bins)
    except FormatError as error:
        # Offsets of the wrapped stream -> offsets in ``data``.
        message, offset = str(error), error.offset
        if offset is not None:
            message = message.removesuffix(f" at offset {offset}")
            offset = max(0, offset - HEADER_BYTES - len(head))
        where = f" at byte {offset} of the live stream" if offset is not None else ""
        raise FormatError(f"{NAME}: T={t_count}, N={n_count}, {len(data)} bytes = {n_words} "
                          f"words of {width} bits: {message}{where}", offset) from None
    return run_predictor("lfsr", fields, residual.view(np.uint8), decode=True).view(np.int8)
