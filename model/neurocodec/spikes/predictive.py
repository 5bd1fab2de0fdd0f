"""``predictive``: a predictor guesses each bin from the past, the XOR of guess and truth (the
surprises) is coded like ``isi`` (docs/formats/spikes.md, "predictive").

Every predictor is integer-only, so that the decoder, which runs the same predictor on the bins it
has rebuilt, reproduces the encoder's guesses bit for bit on any machine. Bins are visited in
**scan order**: timestep t = 0..T-1, and within a timestep channel n = 0..N-1.
"""

import struct
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._core import (as_raster, backend_name, check_int, decode_positions, encode_positions,
                    keys_to_raster, pack_stream, Reader, spike_keys, SpikeCodec, SpikeResult)
from .isi import check_backend
from ..errors import ParameterError

PREDICTOR_IDS = {"ema": 1, "lfsr": 2, "context": 3, "world_model": 4}
PREDICTOR_NAMES = {v: k for k, v in PREDICTOR_IDS.items()}
LFSR_SEED = 0xACE1
CONTEXT_COUNT_MAX = 0xFFFF
WM_WEIGHT_LIMIT = 1 << 24


# --------------------------------------------------------------------------------------------
# Predictor kernels. x is the input (truth when encoding, residual when decoding); each returns
# the other one: out = x XOR guess. The state is updated with the true bin s.


@njit(inline="always")
def lfsr_step(state):
    """16-bit Fibonacci LFSR, x^16 + x^14 + x^13 + x^11 + 1, shifting right: the feedback bit
    (bits 0, 2, 3, 5 XORed) enters at bit 15."""
    bit = (state ^ (state >> 2) ^ (state >> 3) ^ (state >> 5)) & 1
    return (state >> 1) | (bit << 15)


@njit(cache=True)
def _run_rate(x, decode, alpha, frac_bits, seed, threshold):
    """The two rate predictors: a rate per channel in Q(frac_bits), updated by
    r += (alpha * ((s << frac_bits) - r)) >> frac_bits. ``lfsr`` (seed > 0, Q8.8): step the LFSR,
    guess 1 iff its high byte < r. ``ema`` (seed = 0, Q0.16): guess 1 iff r > threshold."""
    t_count, n_count = x.shape
    out = np.empty_like(x)
    rate = np.zeros(n_count, np.int64)
    state = np.int64(seed)
    for t in range(t_count):
        for n in range(n_count):
            if seed:
                state = lfsr_step(state)
                guess = 1 if (state >> 8) < rate[n] else 0
            else:
                guess = 1 if rate[n] > threshold else 0
            v = x[t, n]
            out[t, n] = v ^ guess
            s = (v ^ guess) if decode else v
            rate[n] += (alpha * ((s << frac_bits) - rate[n])) >> frac_bits
    return out


@njit(cache=True)
def _run_context(x, decode, k):
    t_count, n_count = x.shape
    out = np.empty_like(x)
    mask = (1 << k) - 1
    c0 = np.zeros(1 << k, np.int64)
    c1 = np.zeros(1 << k, np.int64)
    history = np.zeros(n_count, np.int64)
    for t in range(t_count):
        for n in range(n_count):
            h = history[n]
            guess = 1 if c1[h] > c0[h] else 0
            v = x[t, n]
            out[t, n] = v ^ guess
            s = (v ^ guess) if decode else v
            if s:
                c1[h] += 1
                if c1[h] == 0xFFFF:
                    c1[h] >>= 1
                    c0[h] >>= 1
            else:
                c0[h] += 1
                if c0[h] == 0xFFFF:
                    c1[h] >>= 1
                    c0[h] >>= 1
            history[n] = ((h << 1) | s) & mask
    return out


@njit(cache=True)
def _run_world_model(x, decode, k, group, mu_q16):
    """Per channel n: z = b[n] + sum of w[n, j, i] over the ones of the last k steps (j = 0 the
    previous step) of the channels i of n's group; guess z > 0; hard sigmoid q = clamp(32768 +
    (z >> 2), 0, 65536); err = (s << 16) - q; d = (mu * err) >> 16; b and the weights of the
    active inputs += d, clamped to +-2^24."""
    t_count, n_count = x.shape
    out = np.empty_like(x)
    weights = np.zeros((n_count, k, group), np.int64)
    bias = np.zeros(n_count, np.int64)
    past = np.zeros((k, n_count), np.int64)  # past[j] = bins of step t-1-j
    active_j = np.empty(k * group, np.int64)
    active_i = np.empty(k * group, np.int64)
    limit = 1 << 24
    for t in range(t_count):
        for g0 in range(0, n_count, group):
            size = min(group, n_count - g0)
            na = 0
            for j in range(k):
                for i in range(size):
                    if past[j, g0 + i]:
                        active_j[na] = j
                        active_i[na] = i
                        na += 1
            for n in range(g0, g0 + size):
                z = bias[n]
                for a in range(na):
                    z += weights[n, active_j[a], active_i[a]]
                guess = 1 if z > 0 else 0
                v = x[t, n]
                out[t, n] = v ^ guess
                s = (v ^ guess) if decode else v
                q = min(max(32768 + (z >> 2), 0), 65536)
                d = (mu_q16 * ((s << 16) - q)) >> 16
                if d != 0:
                    bias[n] = min(max(bias[n] + d, -limit), limit)
                    for a in range(na):
                        w = weights[n, active_j[a], active_i[a]] + d
                        weights[n, active_j[a], active_i[a]] = min(max(w, -limit), limit)
        for j in range(k - 1, 0, -1):
            past[j, :] = past[j - 1, :]
        if k:
            for n in range(n_count):
                past[0, n] = out[t, n] if decode else x[t, n]
    return out


# --------------------------------------------------------------------------------------------
# Predictor parameters: (name, struct format of the stored fields, defaults)


@dataclass
class PredictiveResult(SpikeResult):
    predictor: str = "lfsr"
    backend: str = "varint"
    n_errors: int = 0  # ones of the residual (surprises)
    prediction_accuracy: float = 1.0  # fraction of bins predicted right
    error_sparsity: float = 1.0  # fraction of residual bins that are 0 (= prediction_accuracy)
    errors_per_spike: float = 0.0  # < 1: the predictor removed work from the ISI coder

    def _extra(self):
        return (f", {self.predictor}, {self.n_errors} surprises ({self.errors_per_spike:.3f} per "
                f"spike), accuracy {self.prediction_accuracy:.6f}, {self.backend}")


class PredictiveCodec(SpikeCodec):
    """Predictor + XOR + ISI coding of the surprises.

    Predictors and parameters (stored in the stream, all integers):

    * ``ema``: ``alpha`` (float in (0, 1], stored as round(alpha * 65536)) and ``threshold``
      (float in [0, 1], stored as round(threshold * 65536)): guess 1 when the channel's Q0.16 rate
      exceeds the threshold;
    * ``lfsr``: ``alpha_q8`` (1..256, 1 = 1/256), ``seed`` (1..0xFFFF, default 0xACE1);
    * ``context``: ``k`` (1..16, default 8): the last k bins of the channel index a shared table
      of counts; guess the more frequent outcome;
    * ``world_model``: ``k`` (1..8 past steps, default 2), ``group`` (1..64 channels, default 16),
      ``mu`` (learning rate, float, stored as round(mu * 65536), 1..65536).
    """

    name = "predictive"

    def __init__(self, predictor: str = "lfsr", backend: str = "auto", **params):
        if predictor not in PREDICTOR_IDS:
            raise ParameterError(f"predictive: predictor must be one of "
                                 f"{', '.join(PREDICTOR_IDS)}, not {predictor!r}")
        self.predictor = predictor
        self.backend = check_backend(backend, "predictive")
        self.fields = _fields(predictor, params)

    def compress(self, spikes) -> tuple[bytes, PredictiveResult]:
        x = as_raster(spikes, "predictive")
        t_count, n_count = x.shape
        residual = run_predictor(self.predictor, self.fields, x, decode=False)
        keys = spike_keys(residual)
        body = bytes([PREDICTOR_IDS[self.predictor]]) + _pack_fields(self.predictor, self.fields)
        block = encode_positions(keys, t_count * n_count, self.backend)
        data = pack_stream("predictive", t_count, n_count, body + block)
        bins = t_count * n_count
        n_spikes = int(x.sum(dtype=np.int64))
        accuracy = 1.0 - keys.size / bins if bins else 1.0
        return data, PredictiveResult(
            "predictive", t_count, n_count, n_spikes, bins, 8 * len(data), True, self.predictor,
            backend_name(block[0]), int(keys.size), accuracy, accuracy,
            keys.size / n_spikes if n_spikes else float(keys.size))

    def _body(self, header) -> np.ndarray:
        return _decode_body(header)


_FIELD_FORMATS = {"ema": "<II", "lfsr": "<HH", "context": "<B", "world_model": "<BBI"}


def _fields(predictor: str, params: dict) -> tuple:
    def pop(name, default):
        return params.pop(name, default)

    codec = f"predictive/{predictor}"
    if predictor == "ema":
        alpha, threshold = pop("alpha", 0.1), pop("threshold", 0.5)
        if not (isinstance(alpha, (int, float)) and 0 < alpha <= 1):
            raise ParameterError(f"{codec}: alpha must be in (0, 1], not {alpha!r}")
        if not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
            raise ParameterError(f"{codec}: threshold must be in [0, 1], not {threshold!r}")
        fields = (max(1, round(alpha * 65536)), round(threshold * 65536))
    elif predictor == "lfsr":
        fields = (check_int(pop("alpha_q8", 32), "alpha_q8", 1, 256, codec),
                  check_int(pop("seed", LFSR_SEED), "seed", 1, 0xFFFF, codec))
    elif predictor == "context":
        fields = (check_int(pop("k", 8), "k", 1, 16, codec),)
    else:
        mu = pop("mu", 1 / 64)
        if not (isinstance(mu, (int, float)) and 0 < mu <= 1):
            raise ParameterError(f"{codec}: mu must be in (0, 1], not {mu!r}")
        fields = (check_int(pop("k", 2), "k", 1, 8, codec),
                  check_int(pop("group", 16), "group", 1, 64, codec), max(1, round(mu * 65536)))
    if params:
        raise ParameterError(f"{codec}: unknown parameter(s) {', '.join(sorted(params))}")
    return fields


def _pack_fields(predictor, fields) -> bytes:
    return struct.pack(_FIELD_FORMATS[predictor], *fields)


def run_predictor(predictor: str, fields: tuple, x: np.ndarray, decode: bool) -> np.ndarray:
    """The residual (decode=False, x = raster) or the raster (decode=True, x = residual)."""
    x = np.ascontiguousarray(x, np.uint8)
    if predictor == "lfsr":
        return _run_rate(x, decode, fields[0], 8, fields[1], 0)
    if predictor == "ema":
        return _run_rate(x, decode, fields[0], 16, 0, fields[1])
    if predictor == "context":
        return _run_context(x, decode, *fields)
    return _run_world_model(x, decode, *fields)


def _decode_body(header) -> np.ndarray:
    t_count, n_count = header.t_count, header.n_count
    r = Reader(header.body, "predictive")
    pid = r.u8("the predictor id")
    if pid not in PREDICTOR_NAMES:
        r.fail(f"unknown predictor id {pid}", 0)
    predictor = PREDICTOR_NAMES[pid]
    fmt = _FIELD_FORMATS[predictor]
    start = r.pos
    fields = struct.unpack(fmt, r.take(struct.calcsize(fmt), f"the {predictor} parameters"))
    _check_fields(r, predictor, fields, start)
    keys = decode_positions(r, t_count * n_count, "surprise positions")
    r.end()
    residual = keys_to_raster(keys, t_count, n_count).view(np.uint8)
    return run_predictor(predictor, fields, residual, decode=True).view(np.int8)


def _check_fields(r: Reader, predictor: str, fields: tuple, start: int):
    ranges = {"ema": ((1, 65536), (0, 65536)), "lfsr": ((1, 256), (1, 0xFFFF)),
              "context": ((1, 16),), "world_model": ((1, 8), (1, 64), (1, 65536))}[predictor]
    for i, (value, (low, high)) in enumerate(zip(fields, ranges)):
        if not low <= value <= high:
            r.fail(f"{predictor} parameter {i} is {value}, outside {low}..{high}", start)
