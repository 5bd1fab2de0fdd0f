"""Every lossless spike codec gives back its raster exactly (hypothesis property tests): densities
from empty to full, T = 0, N = 0, N = 1, single spikes, gaps longer than 2^16, N > 2^16."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurocodec.spikes import decompress, get_codec, synthetic_raster

CONFIGS = [
    ("isi", {"backend": "varint"}), ("isi", {"backend": "huffman"}), ("isi", {}),
    ("predictive", {"predictor": "lfsr"}), ("predictive", {"predictor": "lfsr", "alpha_q8": 256,
                                                           "seed": 1}),
    ("predictive", {"predictor": "ema"}), ("predictive", {"predictor": "ema", "alpha": 1.0,
                                                          "threshold": 0.0}),
    ("predictive", {"predictor": "context"}), ("predictive", {"predictor": "context", "k": 1}),
    ("predictive", {"predictor": "world_model"}),
    ("predictive", {"predictor": "world_model", "k": 3, "group": 5, "mu": 0.5}),
    ("delta", {}), ("delta", {"group_size": 1}), ("delta", {"group_size": 3, "backend": "huffman"}),
    ("streaming", {}), ("streaming", {"window": 1}), ("streaming", {"window": 9}),
    ("aer", {}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
       for name, kw in CONFIGS]


@st.composite
def rasters(draw):
    kind = draw(st.sampled_from(["small", "small", "small", "single", "long_gap", "wide"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "small":
        t, n = draw(st.integers(0, 40)), draw(st.integers(0, 12))
        density = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3, 0.5, 0.51, 0.7, 0.95, 1.0]))
        return rng.random((t, n)) < density
    if kind == "single":
        t, n = draw(st.integers(1, 30)), draw(st.integers(1, 9))
        x = np.zeros((t, n), np.int8)
        x[rng.integers(t), rng.integers(n)] = 1
        return x
    if kind == "long_gap":  # gaps > 2^16 within a channel
        t, n = draw(st.integers(65537, 140000)), draw(st.integers(1, 2))
        x = np.zeros((t, n), bool)
        times = draw(st.lists(st.integers(0, t - 1), max_size=4))
        for i, time in enumerate(times):
            x[time, i % n] = True
        return x
    t, n = draw(st.integers(1, 2)), draw(st.integers(65537, 70000))  # N > 2^16
    x = np.zeros((t, n), np.uint8)
    x[rng.integers(0, t, 20), rng.integers(0, n, 20)] = 1
    if draw(st.booleans()):
        x[:, -1] = 1
    return x


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
@settings(derandomize=True, deadline=None, max_examples=35)
@given(raster=rasters())
def test_round_trip(name, kwargs, raster):
    data, result = get_codec(name, **kwargs).compress(raster)
    back = decompress(data)
    assert back.shape == raster.shape and back.dtype == np.int8
    assert np.array_equal(back, raster.astype(np.int8))
    assert result.lossless and result.n_spikes == int(raster.sum())
    assert result.compressed_bits == 8 * len(data)


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
def test_round_trip_synthetic(name, kwargs):
    """The bursty synthetic raster (seed 5, 64 channels, 0.5 s at 20 kHz)."""
    raster = synthetic_raster(channels=64, duration=0.5, seed=5)
    data, result = get_codec(name, **kwargs).compress(raster)
    assert np.array_equal(decompress(data), raster)
    assert result.compression_ratio > 1


@pytest.mark.parametrize("q", [1, 2, 3, 20, 1000])
@settings(derandomize=True, deadline=None, max_examples=25)
@given(raster=rasters())
def test_isi_lossy_bounds(q, raster):
    """Lossy isi: every decoded spike is within q div 2 of a true one of its channel, each true
    spike has a decoded one within q div 2, and the counts add up with the merges."""
    data, result = get_codec("isi", mode="lossy", timing_precision=q).compress(raster)
    back = decompress(data)
    t_count = raster.shape[0]
    for n in range(min(raster.shape[1], 5)):
        true_t = np.flatnonzero(raster[:, n])
        got_t = np.flatnonzero(back[:, n])
        assert got_t.size == np.unique(true_t // q).size
        if true_t.size:
            assert np.abs(true_t[:, None] - got_t[None, :]).min(axis=1).max() <= q // 2
            assert got_t.max() < t_count
    assert result.spikes_merged == int(raster.sum()) - int(back.sum())
