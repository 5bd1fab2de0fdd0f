"""A deterministic synthetic extracellular recording: the embedded default input.

It is what ``make sim`` and the tests use when no recording is given, so that a new user needs no
download. The same ``seed`` and parameters give the same samples on the same NumPy version
(PCG64 stream). NumPy's SIMD ``sin``/``exp`` may differ in the last ulp between CPU types, which
can move a rare sample by one LSB: the tests therefore never compare against stored samples, they
compare model and RTL on the same generated input.

What it contains, in microvolts before quantisation:

* **Units**: ``units`` neurons firing as Poisson processes with a 2 ms refractory period, each with
  a biphasic waveform (a sharp negative trough, then a slower positive repolarisation hump, about
  1.5 ms long) whose amplitude falls off with distance from the unit's home channel, as on a probe.
* **LFP-like background**: theta (6-10 Hz), slow (1-3 Hz) and beta (15-30 Hz) oscillations
  shared across channels with per-channel gains, plus a leaky random walk (1/f-like drift).
* **Background neural noise** (spatially uncorrelated) and **amplifier noise** (2.4 uV rms, the
  Intan RHD2132 input-referred noise).

Quantised to int16 at 0.195 uV/bit (the RHD2132 step), clipped to the int16 range.
"""

import numpy as np

from .errors import ParameterError
from .recording import Recording

UV_PER_BIT = 0.195
AMPLIFIER_NOISE_UV = 2.4


def synthetic_recording(
    channels: int = 16,
    rate: float = 30000.0,
    duration: float = 1.0,
    seed: int = 0,
    units: int | None = None,
    noise_uv: float = 6.0,
) -> Recording:
    """Generate a synthetic recording of shape (round(duration * rate), channels), int16."""
    if not 1 <= channels <= 4096:
        raise ParameterError(f"synthetic: channels must be in 1..4096, not {channels}")
    if not 1000 <= rate <= 100000:
        raise ParameterError(f"synthetic: rate must be in 1000..100000 Hz, not {rate}")
    n = int(round(duration * rate))
    if not 1 <= n <= 50_000_000:
        raise ParameterError(f"synthetic: duration {duration} s gives {n} samples per channel; "
                             "the generator makes 1 to 50,000,000")
    units = max(3, channels // 2) if units is None else units
    if units < 0:
        raise ParameterError(f"synthetic: units must be >= 0, not {units}")
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate

    uv = _lfp(rng, t, channels)
    uv += rng.normal(0.0, noise_uv, (n, channels))
    uv += rng.normal(0.0, AMPLIFIER_NOISE_UV, (n, channels))
    for _ in range(units):
        _add_unit(rng, uv, rate, channels)

    samples = np.clip(np.round(uv / UV_PER_BIT), -32768, 32767).astype(np.int16)
    return Recording(samples, float(rate), UV_PER_BIT, metadata={
        "source": "synthetic", "seed": seed, "channels": channels, "rate": rate,
        "duration": duration, "units": units, "noise_uv": noise_uv,
    })


def _lfp(rng, t, channels):
    """Oscillations shared across channels (per-channel gain and phase lag) plus slow drift."""
    n = t.size
    uv = np.zeros((n, channels))
    for low, high, amplitude in ((1.0, 3.0, 120.0), (6.0, 10.0, 80.0), (15.0, 30.0, 15.0)):
        frequency = rng.uniform(low, high)
        phase = rng.uniform(0, 2 * np.pi) + rng.normal(0, 0.2, channels)
        gain = amplitude * rng.uniform(0.7, 1.3, channels)
        uv += gain * np.sin(2 * np.pi * frequency * t[:, np.newaxis] + phase)
    # A leaky random walk gives the 1/f-like drift of real LFP; shared, with per-channel gain.
    steps = rng.normal(0.0, 1.5, n)
    leak = 1.0 - 1.0 / (0.5 * (n / t[-1] if n > 1 else 1000.0))  # ~0.5 s time constant
    walk = np.empty(n)
    acc = 0.0
    for start in range(0, n, 65536):  # chunked so memory and time stay linear
        chunk = steps[start : start + 65536]
        powers = leak ** np.arange(chunk.size)
        walk[start : start + chunk.size] = acc * leak * powers + _leaky_sum(chunk, leak, powers)
        acc = walk[start + chunk.size - 1]
    uv += walk[:, np.newaxis] * rng.uniform(0.8, 1.2, channels)
    return uv


def _leaky_sum(x, leak, powers):
    """y[k] = sum_{j<=k} leak^(k-j) x[j], computed stably for one chunk."""
    return powers * np.cumsum(x / powers)


def _add_unit(rng, uv, rate, channels):
    n = uv.shape[0]
    firing_hz = rng.uniform(2.0, 20.0)
    refractory = int(0.002 * rate)
    # Poisson spike train with a refractory period: exponential gaps plus the dead time.
    expected = int(n / rate * firing_hz * 1.5) + 10
    gaps = refractory + rng.exponential(rate / firing_hz, expected).astype(np.int64)
    times = np.cumsum(gaps)
    times = times[times < n - int(0.002 * rate)]

    # Biphasic waveform: trough at 0.4 ms (width ~0.15 ms), hump at 0.8 ms (width ~0.35 ms).
    wave_t = np.arange(int(0.0016 * rate)) / rate
    trough = rng.uniform(60.0, 250.0)
    waveform = (-trough * np.exp(-(((wave_t - 0.0004) / 0.00015) ** 2))
                + 0.35 * trough * np.exp(-(((wave_t - 0.0008) / 0.00035) ** 2)))

    home = rng.uniform(0, channels - 1) if channels > 1 else 0.0
    spread = rng.uniform(0.7, 2.0)
    footprint = np.exp(-(((np.arange(channels) - home) / spread) ** 2))
    jitter = rng.uniform(0.9, 1.1, times.size)  # amplitude varies spike to spike
    index = times[:, np.newaxis] + np.arange(waveform.size)
    for ch in np.flatnonzero(footprint > 0.05):
        np.add.at(uv[:, ch], index, (jitter[:, np.newaxis] * waveform) * footprint[ch])
