"""``isi``: per-channel inter-spike intervals, entropy coded (docs/formats/spikes.md, "isi")."""

from dataclasses import dataclass

import numpy as np

from ._core import (as_raster, backend_name, check_int, decode_positions, encode_positions,
                    keys_to_raster, pack_stream, Reader, spike_keys, SpikeCodec, SpikeResult,
                    U32_MAX, varint)
from ..errors import ParameterError

MODES = ("lossless", "lossy")
ISI_BACKENDS = ("auto", "varint", "huffman")


@dataclass
class ISIResult(SpikeResult):
    backend: str = "varint"
    timing_precision: int = 1
    n_intervals: int = 0  # coded gaps: spikes + 1
    spikes_merged: int = 0  # lossy: spikes that fell in an already occupied bin of q samples
    max_timing_error: int = 0  # lossy: largest |t - decoded t| in samples

    def _extra(self):
        text = f", {self.backend}"
        if not self.lossless:
            text += (f", q={self.timing_precision}, {self.spikes_merged} spikes merged, max "
                     f"timing error {self.max_timing_error}")
        return text


def check_backend(backend, codec):
    if backend not in ISI_BACKENDS:
        raise ParameterError(f"{codec}: backend must be one of {', '.join(ISI_BACKENDS)}, "
                             f"not {backend!r}")
    return backend


class ISICodec(SpikeCodec):
    """Inter-spike intervals: the gaps between the ones of the raster read channel after channel
    (channel-major), LEB128 or Huffman coded. ``mode='lossy'`` quantises spike times to bins of
    ``timing_precision`` samples (decoded at the bin centre)."""

    name = "isi"

    def __init__(self, backend: str = "auto", mode: str = "lossless", timing_precision: int = 1):
        self.backend = check_backend(backend, "isi")
        if mode not in MODES:
            raise ParameterError(f"isi: mode must be 'lossless' or 'lossy', not {mode!r}")
        q = check_int(timing_precision, "timing_precision", 1, U32_MAX, "isi")
        if mode == "lossless" and q != 1:
            raise ParameterError("isi: timing_precision > 1 needs mode='lossy'")
        self.mode, self.timing_precision = mode, q

    def compress(self, spikes) -> tuple[bytes, ISIResult]:
        x = as_raster(spikes, "isi")
        t_count, n_count = x.shape
        keys = spike_keys(x)
        q = self.timing_precision
        tq = -(-t_count // q)
        merged = max_error = 0
        if q > 1:
            n = keys // max(t_count, 1)
            t = keys - n * t_count
            qkeys = np.unique(n * tq + t // q)
            merged = keys.size - qkeys.size
            decoded_t = np.minimum((t // q) * q + (q - 1) // 2, t_count - 1)
            max_error = int(np.abs(decoded_t - t).max()) if t.size else 0
            keys = qkeys
        block = encode_positions(keys, tq * n_count, self.backend)
        data = pack_stream("isi", t_count, n_count, varint(q) + block)
        result = ISIResult("isi", t_count, n_count, int(x.sum(dtype=np.int64)) if q > 1 else
                           int(keys.size), t_count * n_count, 8 * len(data), q == 1,
                           backend_name(block[0]), q, int(keys.size) + 1, merged, max_error)
        return data, result

    def _body(self, header) -> np.ndarray:
        return _decode_body(header)


def _decode_body(header) -> np.ndarray:
    t_count, n_count = header.t_count, header.n_count
    r = Reader(header.body, "isi")
    q = r.varint("timing precision q", U32_MAX)
    if q < 1:
        r.fail("timing precision q is 0", 0)
    tq = -(-t_count // q)
    keys = decode_positions(r, tq * n_count, "spike positions")
    r.end()
    if q == 1:
        return keys_to_raster(keys, t_count, n_count)
    n = keys // tq
    t = np.minimum((keys - n * tq) * q + (q - 1) // 2, t_count - 1)
    return keys_to_raster(n * t_count + t, t_count, n_count)
