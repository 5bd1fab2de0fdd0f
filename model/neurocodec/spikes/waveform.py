"""``waveform``: raw int16 recordings in, spike times (lossless), template-matched snippets with
quantised residuals, and a downsampled, quantised background out (docs/formats/spikes.md,
"waveform"). **Lossy**: ``compress`` reports the SNR and the largest error, measured.

The detector (``detect``) is also what ``neurocodec spikes detect`` uses to turn recordings into
rasters. It is deterministic: integer filtering, a median-absolute-deviation noise estimate, and
IEEE-exact float comparisons.
"""

import struct
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._core import (check_int, decode_ints, decode_positions, encode_ints, encode_positions,
                    pack_stream, Reader, spike_keys, SpikeCodec, SpikeResult)
from ..errors import ParameterError

PARAMS = struct.Struct("<HHHHHH")  # pre, post, background factor F, Qb, Qs, templates K
MAD_SCALE = 0.6745  # MAD of a normal distribution / sigma


def _as_samples(samples, codec="waveform") -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if x.ndim != 2 or x.dtype.kind not in "iu":
        raise ParameterError(f"{codec}: samples must be integers of shape (T, N), not "
                             f"{x.dtype} {x.shape}")
    if x.size and (x.min() < -32768 or x.max() > 32767):
        t, n = np.argwhere((x < -32768) | (x > 32767))[0]
        raise ParameterError(f"{codec}: sample {x[t, n]} at t={t}, channel {n} is outside int16")
    if x.shape[0] > (1 << 32) - 1 or x.shape[1] > (1 << 32) - 1:
        raise ParameterError(f"{codec}: shape {x.shape} exceeds 2^32 - 1")
    return x.astype(np.int64)


def highpass(x: np.ndarray, window: int) -> np.ndarray:
    """x minus its moving average over ``window`` samples (edges replicated), floor division."""
    if x.shape[0] == 0:
        return x.copy()
    h = window // 2
    padded = np.concatenate([np.repeat(x[:1], h, 0), x, np.repeat(x[-1:], window - h, 0)])
    c = np.concatenate([np.zeros((1, x.shape[1]), np.int64), np.cumsum(padded, 0)])
    return x - (c[window:window + x.shape[0]] - c[:x.shape[0]]) // window


def noise_mad(y: np.ndarray) -> np.ndarray:
    """Per-channel median absolute deviation (from the median) of y."""
    if y.shape[0] == 0:
        return np.zeros(y.shape[1])
    return np.median(np.abs(y - np.median(y, axis=0)), axis=0)


@njit(cache=True)
def _crossings(y, thr, refractory):
    t_count, n_count = y.shape
    out = np.zeros((t_count, n_count), np.uint8)
    for n in range(n_count):
        below_prev = False
        last = -refractory - 1
        for t in range(t_count):
            below = y[t, n] < -thr[n]
            if below and not below_prev and t - last >= refractory:
                out[t, n] = 1
                last = t
            below_prev = below
    return out


def detect(samples, threshold: float = 4.5, refractory: int = 30, hp_window: int = 32
           ) -> np.ndarray:
    """Spike raster (T, N) of int8 0/1: onsets of negative crossings of -threshold x sigma by the
    high-passed signal (x minus its ``hp_window``-sample moving average), sigma = MAD / 0.6745
    per channel, at least ``refractory`` samples apart on a channel. Channels with MAD 0 (flat)
    never fire."""
    x = _as_samples(samples, "detect")
    refractory = check_int(refractory, "refractory", 1, 1 << 30, "detect")
    hp_window = check_int(hp_window, "hp_window", 1, 1 << 20, "detect")
    if not (isinstance(threshold, (int, float)) and threshold > 0):
        raise ParameterError(f"detect: threshold must be > 0, not {threshold!r}")
    y = highpass(x, hp_window)
    thr = threshold * noise_mad(y) / MAD_SCALE
    thr[thr == 0] = np.inf
    return _crossings(y, thr.astype(np.float64), refractory).view(np.int8)


def zigzag(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.int64)
    return (v << 1) ^ (v >> 63)


def unzigzag(z: np.ndarray) -> np.ndarray:
    return (z >> 1) ^ -(z & 1)


@dataclass
class WaveformResult(SpikeResult):
    snr_db: float = 0.0  # 10 log10(sum (x - mean)^2 / sum error^2) over the whole recording
    spike_snr_db: float = 0.0  # the same inside the snippet windows
    max_abs_error: int = 0
    rms_error: float = 0.0
    noise_sigma: float = 0.0  # median over channels of MAD / 0.6745 of the high-passed signal
    bits_times: int = 0
    bits_templates: int = 0
    bits_residuals: int = 0
    bits_background: int = 0

    def _extra(self):
        return (f", SNR {self.snr_db:.1f} dB (spikes {self.spike_snr_db:.1f} dB), max |error| "
                f"{self.max_abs_error}, rms error {self.rms_error:.1f}")


class WaveformCodec(SpikeCodec):
    """Lossy waveform codec. Parameters: detection ``threshold`` (sigmas, 4.5), ``refractory``
    (samples, 30), ``hp_window`` (32); snippet ``pre``/``post`` samples around the crossing (8,
    24); ``n_templates`` (16); ``residual_step`` Qs and ``background_step`` Qb (ADC units; None =
    round(sigma) and round(2 sigma), at least 1); ``background_factor`` F (16)."""

    name = "waveform"

    def __init__(self, threshold=4.5, refractory=30, hp_window=32, pre=8, post=24,
                 n_templates=16, residual_step=None, background_step=None, background_factor=16):
        self.threshold, self.refractory, self.hp_window = threshold, refractory, hp_window
        self.pre = check_int(pre, "pre", 0, 1024, "waveform")
        self.post = check_int(post, "post", 1, 1024, "waveform")
        self.n_templates = check_int(n_templates, "n_templates", 1, 255, "waveform")
        self.residual_step = None if residual_step is None else check_int(
            residual_step, "residual_step", 1, 0xFFFF, "waveform")
        self.background_step = None if background_step is None else check_int(
            background_step, "background_step", 1, 0xFFFF, "waveform")
        self.background_factor = check_int(background_factor, "background_factor", 1, 0xFFFF,
                                           "waveform")

    def compress(self, samples) -> tuple[bytes, WaveformResult]:
        x = _as_samples(samples)
        t_count, n_count = x.shape
        raster = detect(x, self.threshold, self.refractory, self.hp_window)
        keys = spike_keys(raster)
        sigma = float(np.median(noise_mad(highpass(x, self.hp_window)) / MAD_SCALE)) \
            if x.size else 0.0
        qs = self.residual_step or max(1, min(0xFFFF, round(sigma)))
        qb = self.background_step or max(1, min(0xFFFF, round(2 * sigma)))
        f = self.background_factor
        # Background: block means (floor), quantised (rounding half up), delta coded per channel.
        bq = _background_codes(x, f, qb)
        background = _background(bq, f, qb, t_count)
        # Snippets relative to the background.
        L = self.pre + self.post
        chan = keys // max(t_count, 1)
        times = keys - chan * t_count
        starts = times - self.pre
        full = (starts >= 0) & (starts + L <= t_count)
        e = x - background
        snippets = e[starts[full, None] + np.arange(L), chan[full, None]] if full.any() \
            else np.zeros((0, L), np.int64)
        templates = _kmeans(snippets, min(self.n_templates, max(1, snippets.shape[0])))
        k = templates.shape[0] if keys.size else 0
        templates = templates[:k]
        recon = background.copy()
        index = np.zeros(keys.size, np.int64)
        residuals = []
        for i in range(keys.size):  # snippet order = channel-major spike order
            lo, hi = max(starts[i], 0), min(starts[i] + L, t_count)
            seg = e[lo:hi, chan[i]]
            part = templates[:, lo - starts[i]:hi - starts[i]]
            j = int(np.argmin(((seg - part) ** 2).sum(axis=1)))
            q = np.floor_divide(seg - part[j] + qs // 2, qs)
            index[i] = j
            residuals.append(q)
            recon[lo:hi, chan[i]] = background[lo:hi, chan[i]] + part[j] + q * qs
        residuals = np.concatenate(residuals) if residuals else np.zeros(0, np.int64)
        params = PARAMS.pack(self.pre, self.post, f, qb, qs, k)
        times_block = encode_positions(keys, t_count * n_count, "auto")
        tmpl_block = encode_ints(zigzag(templates.reshape(-1)), "auto")
        index_block = encode_ints(index, "auto")
        res_block = encode_ints(zigzag(residuals), "auto")
        bg_block = encode_ints(zigzag(np.diff(bq, axis=0, prepend=0).T.reshape(-1)), "auto")
        data = pack_stream("waveform", t_count, n_count, params + times_block + tmpl_block
                           + index_block + res_block + bg_block)
        recon = np.clip(recon, -32768, 32767)
        err = x - recon
        centred = x - (x.mean(axis=0) if x.size else 0)
        mask = np.zeros(x.shape, bool)
        for i in range(keys.size):
            mask[max(starts[i], 0):min(starts[i] + L, t_count), chan[i]] = True
        return data, WaveformResult(
            "waveform", t_count, n_count, int(keys.size), 16 * t_count * n_count, 8 * len(data),
            False, _snr(centred, err), _snr(centred[mask], err[mask]),
            int(np.abs(err).max(initial=0)), float(np.sqrt((err ** 2).mean())) if x.size else 0.0,
            sigma, 8 * len(times_block), 8 * len(tmpl_block) + 8 * len(index_block),
            8 * len(res_block), 8 * len(bg_block))

    def _body(self, header) -> np.ndarray:
        return _decode_body(header)


def _snr(signal, err) -> float:
    e = float((err.astype(np.float64) ** 2).sum())
    s = float((signal.astype(np.float64) ** 2).sum())
    if e == 0:
        return float("inf")
    return float(10 * np.log10(s / e)) if s else float("-inf")


def _background_codes(x, f, qb):
    t_count, n_count = x.shape
    blocks = -(-t_count // f)
    if blocks == 0:
        return np.zeros((0, n_count), np.int64)
    starts = np.arange(blocks) * f
    sums = np.add.reduceat(x, starts, axis=0)
    sizes = np.minimum(f, t_count - starts)[:, None]
    means = np.floor_divide(sums, sizes)
    return np.floor_divide(means + qb // 2, qb)


def _background(bq, f, qb, t_count):
    return np.repeat(bq * qb, f, axis=0)[:t_count]


def _kmeans(snippets, k, iterations=8):
    """Deterministic integer k-means: start from k snippets evenly spaced in spike order,
    assign by squared distance (lowest index on ties), centroids = floor of the member mean."""
    if snippets.shape[0] == 0:
        return np.zeros((k, snippets.shape[1]), np.int64)
    centres = snippets[np.linspace(0, snippets.shape[0] - 1, k).astype(np.int64)].copy()
    for _ in range(iterations):
        d = ((snippets[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        assign = np.argmin(d, axis=1)
        for j in range(k):
            members = snippets[assign == j]
            if members.shape[0]:
                centres[j] = np.floor_divide(members.sum(axis=0), members.shape[0])
    return np.clip(centres, -32768, 32767)


def _decode_body(header) -> np.ndarray:
    t_count, n_count = header.t_count, header.n_count
    r = Reader(header.body, "waveform")
    pre, post, f, qb, qs, k = PARAMS.unpack(r.take(PARAMS.size, "the waveform parameters"))
    if post < 1 or f < 1 or qb < 1 or qs < 1:
        r.fail("a waveform parameter (post, F, Qb, Qs) is 0", 0)
    L = pre + post
    keys = decode_positions(r, t_count * n_count, "spike times")
    if keys.size and k == 0:
        r.fail("spikes but no templates")
    templates = unzigzag(decode_ints(r, "templates", k * L, 0xFFFF))
    if templates.size != k * L:
        r.fail(f"{templates.size} template samples, expected {k} x {L}")
    templates = templates.reshape(k, L)
    index = decode_ints(r, "template indices", keys.size, max(k - 1, 0))
    if index.size != keys.size:
        r.fail(f"{index.size} template indices for {keys.size} spikes")
    chan = keys // max(t_count, 1)
    starts = keys - chan * t_count - pre
    lo = np.maximum(starts, 0)
    hi = np.minimum(starts + L, t_count)
    n_res = int((hi - lo).sum())
    residuals = unzigzag(decode_ints(r, "residuals", n_res, (1 << 40)))
    if residuals.size != n_res:
        r.fail(f"{residuals.size} residuals, expected {n_res}")
    blocks = -(-t_count // f)
    deltas = unzigzag(decode_ints(r, "background", blocks * n_count, 1 << 40))
    if deltas.size != blocks * n_count:
        r.fail(f"{deltas.size} background values, expected {blocks} x {n_count}")
    r.end()
    bq = np.cumsum(deltas.reshape(n_count, blocks).T, axis=0)
    background = _background(bq, f, qb, t_count)
    recon = background.copy()
    pos = 0
    for i in range(keys.size):
        a, b = int(lo[i]), int(hi[i])
        q = residuals[pos:pos + b - a]
        pos += b - a
        recon[a:b, chan[i]] = background[a:b, chan[i]] + templates[index[i], a - starts[i]:
                                                                   b - starts[i]] + q * qs
    return np.clip(recon, -32768, 32767).astype(np.int16)
