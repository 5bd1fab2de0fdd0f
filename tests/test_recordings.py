"""Readers and writers of recordings, and the synthetic default input."""

import json
import wave

import numpy as np
import pytest

from neurocodec import Recording, read_recording, synthetic_recording, write_recording
from neurocodec.errors import FormatError, ParameterError


@pytest.mark.parametrize("suffix", [".wav", ".npy", ".dat"])
def test_write_then_read_round_trips(tmp_path, suffix):
    samples = np.random.default_rng(3).integers(-32768, 32768, (500, 3)).astype(np.int16)
    path = tmp_path / f"x{suffix}"
    write_recording(path, Recording(samples, 20000.0))
    back = read_recording(path, channels=3, rate=20000.0)
    assert np.array_equal(back.samples, samples) and back.rate == 20000.0


def test_raw_needs_channels_and_rate(tmp_path):
    path = tmp_path / "x.raw"
    path.write_bytes(bytes(12))
    with pytest.raises(ParameterError, match="--channels, --rate"):
        read_recording(path)
    with pytest.raises(FormatError, match="12 bytes is not a whole number of 4-channel"):
        read_recording(path, channels=4, rate=1000.0)


def test_truncated_wav_is_refused(tmp_path):
    path = tmp_path / "x.wav"
    write_recording(path, Recording(np.zeros((100, 2), np.int16), 1000.0))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(FormatError, match="truncated"):
        read_recording(path)


def test_garbage_wav_and_npy_are_refused(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"not a wav file at all")
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(FormatError, match="not a readable PCM WAV"):
        read_recording(tmp_path / "x.wav")
    with pytest.raises(FormatError, match="not a readable .npy"):
        read_recording(tmp_path / "x.npy", rate=1.0)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        read_recording(tmp_path / "nope.wav")


def test_wav_keeps_its_rate_and_channels(tmp_path):
    path = tmp_path / "x.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2), out.setsampwidth(2), out.setframerate(19531)
        out.writeframes(np.array([[1, -1], [2, -2]], "<i2").tobytes())
    r = read_recording(path)
    assert r.rate == 19531 and r.channels == 2 and r.samples.tolist() == [[1, -1], [2, -2]]


@pytest.mark.realdata
def test_open_ephys_binary(shared_data):
    folder = shared_data / "openephys-32ch"
    structure = json.loads(next(folder.rglob("structure.oebin")).read_text())
    stream = structure["continuous"][0]
    r = read_recording(folder)
    assert r.channels == stream["num_channels"] == 32
    assert r.rate == stream["sample_rate"] == 30000
    dat = next(folder.rglob("continuous.dat"))
    assert r.n_samples * r.channels * 2 == dat.stat().st_size
    assert np.array_equal(r.samples[:3].reshape(-1), np.fromfile(dat, "<i2", count=96))
    assert r.uv_per_bit == pytest.approx(0.195)


@pytest.mark.realdata
def test_n1_wav(shared_data):
    path = sorted((shared_data / "n1").glob("*.wav"))[0]
    r = read_recording(path)
    assert r.channels == 1 and r.rate == 19531 and r.n_samples > 90000


def test_synthetic_is_deterministic_and_seeded():
    a = synthetic_recording(channels=4, duration=0.1, seed=5)
    b = synthetic_recording(channels=4, duration=0.1, seed=5)
    c = synthetic_recording(channels=4, duration=0.1, seed=6)
    assert np.array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    assert a.samples.shape == (3000, 4) and a.samples.dtype == np.int16
    assert a.uv_per_bit == 0.195 and a.rate == 30000.0


def test_synthetic_has_spikes_lfp_and_noise():
    r = synthetic_recording(channels=8, duration=2.0, seed=0)
    uv = r.samples.astype(float) * r.uv_per_bit
    # Noise floor: sample-to-sample differences are dominated by the white noise.
    white = np.median(np.abs(np.diff(uv, axis=0)), axis=0) / 0.6745 / np.sqrt(2)
    assert np.all((4 < white) & (white < 12)), white
    # LFP: most of the power sits below 40 Hz.
    spectrum = np.abs(np.fft.rfft(uv[:, 0] - uv[:, 0].mean())) ** 2
    freqs = np.fft.rfftfreq(uv.shape[0], 1 / r.rate)
    assert spectrum[freqs < 40].sum() > 0.5 * spectrum.sum()
    # Spikes: negative threshold crossings (5x the noise) after removing the slow background.
    kernel = np.ones(31) / 31
    high = uv - np.apply_along_axis(lambda x: np.convolve(x, kernel, "same"), 0, uv)
    crossings = ((high[1:] < -5 * white) & (high[:-1] >= -5 * white)).sum(axis=0)
    assert crossings.sum() > 20 and (crossings > 0).sum() >= 3, crossings


@pytest.mark.parametrize("kwargs", [{"channels": 0}, {"rate": 10.0}, {"duration": -1.0}])
def test_synthetic_refuses_bad_parameters(kwargs):
    with pytest.raises(ParameterError):
        synthetic_recording(**kwargs)
