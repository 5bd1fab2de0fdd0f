"""A seeded synthetic spike raster: Poisson firing with bursts and population synchrony.

What it contains (all times in samples of ``rate``):

* every channel fires as a Poisson process at its own rate, drawn uniformly in
  ``[rate_low, rate_high]`` Hz (0.5-5 Hz by default);
* each of those spikes starts a burst with probability ``burst_probability``: 1 to 4 more spikes,
  intra-burst intervals uniform in 2-6 ms;
* population events (Poisson, ``sync_rate`` per second): each channel joins with probability
  ``sync_fraction`` and fires once, jittered uniformly within +-``sync_jitter_ms``;
* a refractory period of ``refractory_ms``: a spike closer than that to the previous kept spike of
  its channel is dropped.

The same arguments give the same raster on every machine (integer times from NumPy's PCG64
stream; no transcendental functions touch the times).
"""

import numpy as np

from ..errors import ParameterError


def synthetic_raster(channels: int = 1024, rate: float = 20000.0, duration: float = 10.0,
                     seed: int = 0, rate_low: float = 0.5, rate_high: float = 5.0,
                     burst_probability: float = 0.2, sync_rate: float = 1.0,
                     sync_fraction: float = 0.2, sync_jitter_ms: float = 1.0,
                     refractory_ms: float = 1.0) -> np.ndarray:
    """A bool raster of shape (round(duration * rate), channels)."""
    if channels < 0 or rate <= 0 or duration < 0:
        raise ParameterError(f"synthetic_raster: bad shape/rate ({channels}, {rate}, {duration})")
    rng = np.random.default_rng(seed)
    t_count = int(round(duration * rate))
    ms = rate / 1000.0
    rates = rng.uniform(rate_low, rate_high, channels)
    counts = rng.poisson(rates * duration)
    chan = np.repeat(np.arange(channels), counts)
    times = rng.integers(0, max(t_count, 1), chan.size)
    # Bursts: 1-4 followers, each 2-6 ms after the previous one.
    starts = rng.random(chan.size) < burst_probability
    followers = rng.integers(1, 5, int(starts.sum()))
    b_chan = np.repeat(chan[starts], followers)
    b_first = np.repeat(times[starts], followers)
    step = rng.integers(int(2 * ms), int(6 * ms) + 1, b_chan.size)
    group_start = np.cumsum(followers) - followers
    csum = np.cumsum(step)
    b_times = b_first + csum - np.repeat(csum[group_start] - step[group_start], followers)
    # Population events.
    n_events = rng.poisson(sync_rate * duration)
    e_times = rng.integers(0, max(t_count, 1), n_events)
    joins = rng.random((n_events, channels)) < sync_fraction
    ev, s_chan = np.nonzero(joins)
    jitter = int(sync_jitter_ms * ms)
    s_times = e_times[ev] + rng.integers(-jitter, jitter + 1, ev.size)
    chan = np.concatenate([chan, b_chan, s_chan]).astype(np.int64)
    times = np.concatenate([times, b_times, s_times]).astype(np.int64)
    keep = (times >= 0) & (times < t_count)
    chan, times = chan[keep], times[keep]
    order = np.lexsort((times, chan))
    chan, times = chan[order], times[order]
    refractory = int(refractory_ms * ms)
    keep = np.ones(chan.size, bool)
    if chan.size:
        keep = _refractory(chan, times, refractory)
    raster = np.zeros((t_count, channels), bool)
    raster[times[keep], chan[keep]] = True
    return raster


def _refractory(chan, times, refractory):
    """Keep a spike unless it follows the last kept spike of its channel by < refractory."""
    keep = []
    last_c, last_t = -1, 0
    for c, t in zip(chan.tolist(), times.tolist()):
        ok = c != last_c or t - last_t >= refractory
        keep.append(ok)
        if ok:
            last_c, last_t = c, t
    return np.array(keep, bool)


def rhythmic_raster(channels: int = 64, timesteps: int = 20000, period: int = 6,
                    flip: float = 0.01, seed: int = 0) -> np.ndarray:
    """A dense raster with short-range structure, the kind a binary predictor can exploit (e.g.
    binned neuromorphic activity, or rasters at coarse time bins): every channel fires once every
    ``period`` timesteps at its own random phase, and each bin is then flipped with probability
    ``flip``. Seeded; bool array of shape (timesteps, channels)."""
    if channels < 0 or timesteps < 0 or period < 1 or not 0 <= flip <= 1:
        raise ParameterError(f"rhythmic_raster: bad arguments ({channels}, {timesteps}, "
                             f"{period}, {flip})")
    rng = np.random.default_rng(seed)
    phase = rng.integers(0, period, channels)
    regular = (np.arange(timesteps)[:, None] + phase) % period == 0
    return regular ^ (rng.random((timesteps, channels)) < flip)
