"""Spike codecs on rasters detected from the real recordings of ../shared/data."""

import numpy as np
import pytest

from neurocodec import read_recording
from neurocodec.spikes import LOSSLESS_CODECS, WaveformCodec, decompress, detect, get_codec


def recordings(shared_data):
    yield "locust-4ch", read_recording(shared_data / "locust-4ch" / "locust_trial_01.raw",
                                       channels=4, rate=15000.0)
    yield "openephys-32ch", read_recording(shared_data / "openephys-32ch")
    yield "neuralynx", read_recording(shared_data / "neuralynx-tetrode" / "Tet3a.ncs")
    yield "n1", read_recording(sorted((shared_data / "n1").glob("*.wav"))[0])
    yield "np-ultra", read_recording(shared_data / "spikeglx-np-ultra" / "p5_g0_t0.imec0.ap.meta")


@pytest.mark.realdata
def test_detected_rasters_round_trip(shared_data):
    for name, rec in recordings(shared_data):
        raster = detect(rec.samples[:200000], refractory=max(1, round(rec.rate / 1000)))
        rate_hz = raster.sum() / (raster.shape[0] / rec.rate) / raster.shape[1]
        print(name, raster.shape, int(raster.sum()), f"{rate_hz:.1f} Hz per channel")
        assert raster.sum() > 0 and rate_hz < 500  # spikes found, not noise everywhere
        for codec in LOSSLESS_CODECS:
            data, result = get_codec(codec).compress(raster)
            assert np.array_equal(decompress(data), raster), (name, codec)
            assert result.compression_ratio > 1, (name, codec)


@pytest.mark.realdata
def test_waveform_on_a_real_recording_reports_its_error(shared_data):
    rec = read_recording(shared_data / "openephys-32ch")
    x = rec.samples[:15000, :4]
    data, result = WaveformCodec().compress(x)
    y = decompress(data)
    error = x.astype(np.int64) - y
    assert result.max_abs_error == np.abs(error).max() > 0 and not result.lossless
    signal = x - x.mean(axis=0)
    snr = 10 * np.log10((signal.astype(float) ** 2).sum() / (error.astype(float) ** 2).sum())
    assert result.snr_db == pytest.approx(snr)
    print(result.summary())
