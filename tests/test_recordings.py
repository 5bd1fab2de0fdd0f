"""Readers and writers of recordings, and the synthetic default input."""

import json
import struct
import wave
from fractions import Fraction

import numpy as np
import pytest

from neurocodec import Recording, read_recording, synthetic_recording, write_recording
from neurocodec.errors import FormatError, ParameterError
from neurocodec.recording import GRID_LEVELS, CodeGrid, detect_code_grid


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


# --- Code grids (Neuralink N1) ---------------------------------------------------------------------


@pytest.mark.parametrize("levels", GRID_LEVELS)
def test_code_grid_formulas_are_exact_inverses(levels):
    grid = CodeGrid(levels)
    values = grid.to_values(np.arange(levels))
    # The closed form against exact rationals: int() truncates toward zero.
    assert values.tolist() == [int(Fraction(k * 65535, levels - 1) - 32768) for k in range(levels)]
    assert values[0] == -32768 and values[-1] == 32767 and np.all(np.diff(values) > 0)
    assert np.array_equal(grid.to_codes(values), np.arange(levels))
    assert detect_code_grid(values) == grid


def test_code_grid_refuses_what_is_off_it():
    grid = CodeGrid(1024)
    on = grid.to_values(np.arange(100, 120))
    assert detect_code_grid(on) == grid and grid.to_codes(on).dtype == np.uint16
    assert detect_code_grid(np.arange(-100, 100)) is None
    assert detect_code_grid(np.append(on, on[3] + 1)) is None
    assert detect_code_grid(np.array([], np.int16)) is None
    assert detect_code_grid(np.array([-32768, 40000])) is None
    with pytest.raises(ParameterError, match=r"value -28474 at index \(1,\) is not on the 1024-level"):
        grid.to_codes([-28475, -28474])
    with pytest.raises(ParameterError, match=r"lie in 0\.\.1023, not 0\.\.1024"):
        grid.to_values([0, 1024])
    with pytest.raises(ParameterError, match="2 to 65536 levels, not 1"):
        CodeGrid(1)


def test_wav_reader_records_the_code_grid(tmp_path):
    on_grid = CodeGrid(1024).to_values(np.arange(0, 1024, 3)).reshape(-1, 1)
    write_recording(tmp_path / "grid.wav", Recording(on_grid, 19531.0))
    write_recording(tmp_path / "plain.wav", Recording(on_grid + 1, 19531.0))
    r = read_recording(tmp_path / "grid.wav")
    assert r.metadata["code_grid"] == {"levels": 1024} and np.array_equal(r.samples, on_grid)
    assert "code_grid" not in read_recording(tmp_path / "plain.wav").metadata


def _n1_files(shared_data):
    files = sorted((shared_data / "n1").glob("*.wav"))
    assert len(files) == 149
    return files


@pytest.mark.realdata
def test_n1_values_lie_on_the_1024_grid_in_every_file(shared_data):
    grid = CodeGrid(1024)
    for path in _n1_files(shared_data):
        raw = path.read_bytes()
        assert raw[36:40] == b"data", path  # canonical 44-byte header: samples start at byte 44
        values = np.frombuffer(raw, "<i2", offset=44)
        assert detect_code_grid(values) == grid, path
        codes = grid.to_codes(values)
        assert np.array_equal(codes, np.rint((values + 32768.0) * 1023 / 65535)), path
        assert np.array_equal(grid.to_values(codes), values), path


@pytest.mark.realdata
def test_n1_wav_is_rewritten_byte_for_byte_from_its_codes(shared_data, tmp_path):
    for path in _n1_files(shared_data):
        r = read_recording(path)
        grid = CodeGrid(r.metadata["code_grid"]["levels"])
        codes = grid.to_codes(r.samples)
        write_recording(tmp_path / "back.wav", Recording(grid.to_values(codes), r.rate))
        assert (tmp_path / "back.wav").read_bytes() == path.read_bytes(), path


# --- SpikeGLX -------------------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize("suffix", [".bin", ".meta"])
def test_spikeglx(shared_data, suffix):
    data = shared_data / "spikeglx-np-ultra" / "p5_g0_t0.imec0.ap.bin"
    r = read_recording(data.with_suffix(suffix))
    assert r.samples.shape == (5000, 385) and r.rate == 30000 and r.metadata["format"] == "spikeglx"
    direct = np.fromfile(data, "<i2").reshape(-1, 385)
    assert np.array_equal(r.samples[:3], direct[:3]) and np.array_equal(r.samples[-1], direct[-1])
    # This older meta has no imMaxInt: the volts per bit is not stated, so it is not guessed.
    assert "imMaxInt" not in data.with_suffix(".meta").read_text() and r.uv_per_bit is None
    with pytest.raises(ParameterError, match="holds 385 channels, not 384"):
        read_recording(data.with_suffix(suffix), channels=384)


_META = {"nSavedChans": "3", "imSampRate": "30000", "fileSizeBytes": "60", "snsApLfSy": "2,0,1",
         "imAiRangeMax": "0.6", "imAiRangeMin": "-0.6", "imMaxInt": "512",
         "~imroTbl": "(0,2)(0 0 0 500 250 1)(1 0 0 500 250 1)"}
_SCANS = np.arange(30, dtype=np.int16).reshape(10, 3) * 7 - 100


def _spikeglx(folder, changes=(), scans=_SCANS, data=None):
    """Write x.imec0.ap.bin/.meta (``changes``: meta keys to set, or to drop with None)."""
    meta = {key: value for key, value in {**_META, **dict(changes)}.items() if value is not None}
    lines = [f"{key}={value}\n" for key, value in meta.items()]
    (folder / "x.imec0.ap.meta").write_text("".join(lines))
    (folder / "x.imec0.ap.bin").write_bytes(scans.astype("<i2").tobytes() if data is None else data)
    return folder / "x.imec0.ap.meta"


@pytest.mark.parametrize("changes, uv_per_bit", [
    ({}, 1.2 / 1024 * 1e6 / 500),
    ({"snsApLfSy": "0,2,1"}, 1.2 / 1024 * 1e6 / 250),  # an LF file takes the LF gain
    ({"imMaxInt": None}, None),
    ({"~imroTbl": "(0,2)(0 0 0 500 250 1)(1 0 0 250 250 1)"}, None),  # gains differ
    ({"~imroTbl": "(21,2)(0 0 0 0 0)(1 0 0 0 1)"}, None),  # Neuropixels 2.0: gain not in the table
])
def test_spikeglx_synthetic(tmp_path, changes, uv_per_bit):
    meta = _spikeglx(tmp_path, changes)
    r = read_recording(meta.with_suffix(".bin"))
    assert np.array_equal(r.samples, _SCANS) and r.rate == 30000.0 and r.uv_per_bit == uv_per_bit


@pytest.mark.parametrize("changes, match", [
    ({"nSavedChans": "4"}, "nSavedChans=4 but snsApLfSy=2,0,1 adds up to 3"),
    ({"nSavedChans": "4", "snsApLfSy": None}, "60 bytes is not a whole number of 4-channel"),
    ({"nSavedChans": None}, "no nSavedChans"),
    ({"nSavedChans": "three"}, r"nSavedChans 'three' \(line at byte 0\) is not a valid value"),
    ({"nSavedChans": "0"}, "nSavedChans '0'"),
    ({"imSampRate": None}, "no imSampRate or niSampRate"),
    ({"imSampRate": "nan"}, "imSampRate 'nan'"),
    ({"fileSizeBytes": "66"}, "holds 60 bytes but x.imec0.ap.meta says fileSizeBytes=66"),
    ({"snsApLfSy": "2,x,1"}, "snsApLfSy '2,x,1' .* not a list of channel counts"),
    ({"imAiRangeMax": "-0.7"}, "imAiRangeMax '-0.7'"),
])
def test_spikeglx_bad_meta(tmp_path, changes, match):
    with pytest.raises(FormatError, match=match):
        read_recording(_spikeglx(tmp_path, changes))


@pytest.mark.parametrize("cut", [0, 1, 31, 59])  # never a whole number of 6-byte scans
def test_spikeglx_truncated_bin(tmp_path, cut):
    data = _SCANS.astype("<i2").tobytes()[:cut]
    with pytest.raises(FormatError, match=f"holds {cut} bytes but .* fileSizeBytes=60") as error:
        read_recording(_spikeglx(tmp_path, data=data))
    assert error.value.offset == cut
    expected = "empty" if cut == 0 else f"{cut} bytes is not a whole number of 3-channel"
    with pytest.raises(FormatError, match=expected):
        read_recording(_spikeglx(tmp_path, {"fileSizeBytes": None}, data=data))


def test_spikeglx_garbage_and_missing_pieces(tmp_path):
    meta = _spikeglx(tmp_path)
    meta.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(FormatError, match="no nSavedChans"):
        read_recording(meta)
    meta.write_bytes(b"nSavedChans=3\n" * 80000)
    with pytest.raises(FormatError, match="too large for a SpikeGLX .meta"):
        read_recording(meta)
    meta.unlink()  # a .bin alone is raw int16 again
    with pytest.raises(ParameterError, match="--channels, --rate"):
        read_recording(meta.with_suffix(".bin"))
    _spikeglx(tmp_path).with_suffix(".bin").unlink()
    with pytest.raises(FileNotFoundError, match="x.imec0.ap.bin: no such file"):
        read_recording(meta)


# --- Neuralynx .ncs -------------------------------------------------------------------------------


@pytest.mark.realdata
def test_neuralynx_ncs(shared_data):
    path = shared_data / "neuralynx-tetrode" / "Tet3a.ncs"
    r = read_recording(path)
    assert r.samples.shape == (1705984, 1) and r.rate == 32000
    assert r.uv_per_bit == pytest.approx(3.05185e-8 * 1e6)  # -ADBitVolts 3.05185e-008 in the header
    raw = path.read_bytes()
    timestamp, _, rate, n_valid = struct.unpack_from("<QIII", raw, 16384)
    assert rate == 32000 and n_valid == 512
    first_two = [np.frombuffer(raw, "<i2", 512, 16384 + 1044 * i + 20) for i in (0, 1)]
    assert np.array_equal(r.samples[:1024, 0], np.concatenate(first_two))
    assert r.metadata["records"] == (len(raw) - 16384) // 1044 == 3332
    assert r.metadata["first_timestamp_us"] == timestamp


_NCS_HEADER = ("######## Neuralynx Data File Header\r\n-SamplingFrequency 32000\r\n"
               "-ADBitVolts 3.05185e-008 \r\n")


def _ncs(path, n_valid=(512, 100, 0, 512), header=_NCS_HEADER):
    """Write an .ncs of records whose sample j of record i is 1000 i + j; return the valid ones."""
    records, valid = [], []
    for i, n in enumerate(n_valid):
        samples = np.arange(512, dtype="<i2") + 1000 * i
        records.append(struct.pack("<QIII", 5000 + 16000 * i, 0, 32000, n) + samples.tobytes())
        valid.append(samples[:n])
    text = header.encode("latin-1") if isinstance(header, str) else header
    path.write_bytes(text.ljust(16384, b"\0") + b"".join(records))
    return np.concatenate(valid)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_ncs_keeps_the_valid_samples_of_each_record(tmp_path, newline):
    valid = _ncs(tmp_path / "x.ncs", header=_NCS_HEADER.replace("\r\n", newline))
    r = read_recording(tmp_path / "x.ncs")
    assert np.array_equal(r.samples[:, 0], valid) and r.n_samples == 512 + 100 + 512
    assert r.rate == 32000.0 and r.uv_per_bit == pytest.approx(0.0305185)
    assert r.metadata["records"] == 4 and r.metadata["first_timestamp_us"] == 5000


@pytest.mark.parametrize("cut, match, offset", [
    (0, "truncated: 0 bytes, shorter than the 16384-byte Neuralynx header", 0),
    (100, "truncated: 100 bytes", 100),
    (16383, "truncated: 16383 bytes", 16383),
    (16384, "no records after the header", 16384),
    (16385, r"truncated record 0 \(counting from 0\) at byte offset 16384: 1 of its 1044", 16384),
    (16384 + 1044 + 500, "truncated record 1 .* at byte offset 17428: 500 of its 1044", 17428),
    (16384 + 3 * 1044 - 1, "truncated record 2 .* at byte offset 18472: 1043 of its", 18472),
])
def test_ncs_truncated(tmp_path, cut, match, offset):
    _ncs(tmp_path / "x.ncs", n_valid=(512, 512, 512))
    (tmp_path / "x.ncs").write_bytes((tmp_path / "x.ncs").read_bytes()[:cut])
    with pytest.raises(FormatError, match=match) as error:
        read_recording(tmp_path / "x.ncs")
    assert error.value.offset == offset


@pytest.mark.parametrize("header, match", [
    (np.random.default_rng(2).integers(1, 256, 16384, np.uint8).tobytes(), "no SamplingFrequency"),
    ("-SamplingFrequency abc\r\n", r"SamplingFrequency 'abc' \(line at byte 0\) is not a valid"),
    ("# x\r\n-SamplingFrequency -5\r\n", r"SamplingFrequency '-5' \(line at byte 5\)"),
    (_NCS_HEADER.replace("3.05185e-008", "1e400"), "ADBitVolts '1e400'"),
])
def test_ncs_header_garbage(tmp_path, header, match):
    _ncs(tmp_path / "x.ncs", header=header)
    with pytest.raises(FormatError, match=match):
        read_recording(tmp_path / "x.ncs")


def test_ncs_n_valid_over_512(tmp_path):
    _ncs(tmp_path / "x.ncs", n_valid=(512, 513, 512))
    with pytest.raises(FormatError, match=r"record 1 .* byte offset 17444 claims 513 valid samples, "
                                          "more than 512") as error:
        read_recording(tmp_path / "x.ncs")
    assert error.value.offset == 17444


def test_open_ephys_writer_round_trips_through_the_reader(tmp_path):
    samples = np.random.default_rng(11).integers(-32768, 32768, (300, 5)).astype(np.int16)
    write_recording(tmp_path / "rec" / "structure.oebin", Recording(samples, 30000.0, 0.195))
    back = read_recording(tmp_path / "rec")
    assert np.array_equal(back.samples, samples) and back.rate == 30000.0
    assert back.uv_per_bit == 0.195 and back.metadata["format"] == "open-ephys-binary"
    data = tmp_path / "rec" / "continuous" / "neurocodec-100.0"
    assert (data / "continuous.dat").read_bytes() == samples.astype("<i2").tobytes()
    assert np.array_equal(np.load(data / "timestamps.npy"), np.arange(300))
