"""The dhuff golden model against its format text (docs/formats/dhuff.md)."""

import json

import numpy as np
import pytest

from neurocodec import Recording, synthetic_recording
from neurocodec.codecs import decode_container, dhuff, encode_recording, get_codec
from neurocodec.container import Container
from neurocodec.errors import FormatError, ParameterError
from neurocodec.huffman import package_merge

SEED = 4242


def bits_of(data: bytes) -> str:
    return "".join(f"{b:08b}" for b in data)


def test_hand_computed_stream():
    """Two scans of one channel, N = 2, M = 8, L = 4, default dictionary (symbol 0 = '0')."""
    params = dhuff.DhuffParams(discard_bits=0, low_bits=4, block=2, frame_words=8)
    dictionary = dhuff.default_dictionary(params)
    assert dictionary.lengths[0, 0] == 1 and dictionary.codes[0, 0] == 0
    data = dhuff.encode(np.array([[5], [-5]]), params, dictionary)
    # block index 0 | raw 5 (16 bits) | d = -10: code '0', low '1010', sign '1' | pad to a word
    expected = "0" * 16 + f"{5:016b}" + "0" + "1010" + "1" + "0" * 10
    words = [int(expected[i:i + 16], 2) for i in range(0, len(expected), 16)]
    frame = words + [0]  # the last (only) frame is short; boundary: block 0 starts at word 0
    assert data == b"".join(w.to_bytes(2, "big") for w in frame)


def test_boundary_words_point_at_block_index_words():
    params = dhuff.DhuffParams(low_bits=2, block=3, frame_words=4)
    x = np.random.default_rng(SEED).integers(-3000, 3000, (20, 2))
    frames = np.frombuffer(dhuff.encode(x, params, dhuff.default_dictionary(params)), ">u2")
    frames = frames.reshape(-1, 4)
    pointed = [int(frames[f, frames[f, 3]]) for f in range(len(frames)) if frames[f, 3] != 0xFFFF]
    # Each boundary word points at the index word of the first block starting in its frame, so
    # the pointed-at words are block numbers, increasing from 0; 20 scans / 3 = 7 blocks.
    assert pointed[0] == 0 and pointed == sorted(set(pointed)) and pointed[-1] <= 6
    assert 0xFFFF in frames[:, 3]  # some frames lie inside a block


@pytest.mark.parametrize("discard_bits, low_bits, block, frame_words, channels", [
    (0, 4, 64, 256, 16), (0, 0, 1, 2, 1), (3, 1, 7, 33, 5), (8, 7, 100, 65534, 3),
    (0, 15, 5, 9, 2), (2, 3, 1024, 17, 32),
])
def test_round_trip_within_the_dropped_bits(discard_bits, low_bits, block, frame_words, channels):
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    params = dhuff.DhuffParams(discard_bits, low_bits, block, frame_words)
    x = rng.integers(-32768, 32768, (300, channels)).astype(np.int16)
    x[::17] = 32767
    x[5::23] = -32768
    for dictionary in (dhuff.default_dictionary(params),
                       dhuff.train_dictionary([x], params, 20, "table")):
        y = dhuff.decode(dhuff.encode(x, params, dictionary), channels, 300, params, dictionary)
        error = x.astype(int) - y
        assert error.min() >= 0 and error.max() <= dhuff.max_error(params)
        if discard_bits == 0:
            assert np.array_equal(x, y)


@pytest.mark.parametrize("signal", ["constant", "steps", "alternating", "empty"])
def test_extreme_signals(signal):
    params = dhuff.DhuffParams(block=16, frame_words=32)
    x = {"constant": np.full((100, 4), -7), "empty": np.zeros((0, 4), int),
         "steps": np.where(np.arange(100)[:, None] % 10 < 5, 32767, -32768) + np.zeros((1, 4), int),
         "alternating": np.where(np.arange(100)[:, None] % 2, 32767, -32768) * np.ones((1, 4), int)
         }[signal]
    dictionary = dhuff.default_dictionary(params)
    y = dhuff.decode(dhuff.encode(x, params, dictionary), 4, x.shape[0], params, dictionary)
    assert np.array_equal(x, y)


def test_dictionary_is_complete_and_deterministic():
    params = dhuff.DhuffParams(discard_bits=3, low_bits=1)
    r = synthetic_recording(4, 30000.0, 0.2, seed=1)
    a = dhuff.train_dictionary([r.samples], params, 16)
    b = dhuff.train_dictionary([r.samples], params, 16)
    assert a.to_json() == b.to_json() and a.n_symbols == 4096
    assert a.lengths.min() >= 1 and a.max_length <= 16
    assert np.sum(np.ldexp(1.0, -a.lengths.astype(int))) == pytest.approx(1.0)
    # A value never seen in training still encodes (here: full-scale steps).
    x = np.array([[-32768], [32767], [-32768]])
    assert np.array_equal(dhuff.decode(dhuff.encode(x, params, a), 1, 3, params, a) >> 3, x >> 3)


def test_package_merge_is_optimal_on_a_known_case():
    # Counts 1, 1, 2, 4: Huffman lengths 3, 3, 2, 1; limited to 2 bits: all 2.
    assert package_merge(np.array([4, 2, 1, 1]), 3).tolist() == [1, 2, 3, 3]
    assert package_merge(np.array([4, 2, 1, 1]), 2).tolist() == [2, 2, 2, 2]


def test_rom_layouts_and_images():
    params = dhuff.DhuffParams(discard_bits=3, low_bits=4)
    d = dhuff.train_dictionary([synthetic_recording(4, 30000.0, 0.2).samples], params, 13, "table")
    assert d.n_symbols == 512
    assert d.rom_bits("table") == 512 * (4 + d.max_length)
    canonical = dhuff.Dictionary(np.sort(d.lengths[0]), "canonical")
    assert canonical.rom_bits() == canonical.max_length * (9 + 1 + canonical.max_length)
    first_symbol, first_code = canonical.canonical_table()
    for s in range(0, 512, 7):  # the per-length table gives every code
        length = max(l for l in range(1, canonical.max_length + 1) if first_symbol[l] <= s)
        assert canonical.lengths[0, s] == length
        assert first_code[length] + s - first_symbol[length] == canonical.codes[0, s]
    image = canonical.readmemh().split()
    assert len(image) == canonical.max_length
    assert [int(w, 16) >> canonical.max_length for w in image] == first_symbol[1:].tolist()
    assert len(d.readmemh("table").split()) == 512
    with pytest.raises(ParameterError, match="not monotone"):
        dhuff.Dictionary(d.lengths[0, ::-1].copy(), "table").rom_bits("canonical")


@pytest.mark.parametrize("damage, words", [
    (lambda b: b[:-1], "not a stream of 16-bit words"),
    (lambda b: b[:-4] + b[-2:], "stream ends inside a block"),
    (lambda b: b[:1] + bytes([b[1] ^ 0x01]) + b[2:], "block index word is 1"),
    (lambda b: b[:-2] + b"\x00\x07", "boundary word of frame"),
])
def test_corruption_is_reported_with_its_offset(damage, words):
    params = dhuff.DhuffParams(block=4, frame_words=16)
    d = dhuff.default_dictionary(params)
    x = np.random.default_rng(SEED).integers(-100, 100, (40, 3))
    with pytest.raises(FormatError, match=words) as error:
        dhuff.decode(damage(dhuff.encode(x, params, d)), 3, 40, params, d)
    assert error.value.offset is not None


def test_data_after_the_last_block_is_refused():
    params = dhuff.DhuffParams(block=4, frame_words=256)
    d = dhuff.default_dictionary(params)
    data = dhuff.encode(np.arange(30).reshape(10, 3), params, d)
    with pytest.raises(FormatError, match="data words follow the last block") as error:
        dhuff.decode(data[:-2] + b"\x00\x00" + data[-2:], 3, 10, params, d)
    assert error.value.offset == len(data) - 2


def test_random_bit_flips_never_crash():
    params = dhuff.DhuffParams(block=8, frame_words=32)
    d = dhuff.default_dictionary(params)
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    x = rng.integers(-500, 500, (64, 4))
    clean = bytearray(dhuff.encode(x, params, d))
    for _ in range(300):
        data = bytearray(clean)
        data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        try:
            y = dhuff.decode(bytes(data), 4, 64, params, d)
        except FormatError as error:
            assert 0 <= error.offset < len(data)
        else:
            assert y.shape == (64, 4)


def test_truncated_at_every_byte():
    params = dhuff.DhuffParams(block=4, frame_words=8)
    d = dhuff.default_dictionary(params)
    data = dhuff.encode(np.arange(60).reshape(20, 3) * 37, params, d)
    for cut in range(len(data)):
        with pytest.raises(FormatError):
            dhuff.decode(data[:cut], 3, 20, params, d)


def test_container_round_trip_with_dictionary(tmp_path):
    r = synthetic_recording(8, 30000.0, 0.1, seed=3)
    codec = get_codec("dhuff", discard_bits=3, low_bits=1)
    container = Container.from_bytes(encode_recording(r, codec).to_bytes())
    assert container.params["dictionary"]["sha256"] == codec.dictionary.sha256()
    back = decode_container(container)
    assert np.all((r.samples.astype(int) - back.samples >= 0) & (r.samples - back.samples <= 7))


def test_parameters_are_checked():
    with pytest.raises(ParameterError, match="low_bits must be in 0..12"):
        dhuff.DhuffParams(discard_bits=3, low_bits=13)
    with pytest.raises(ParameterError, match="frame_words"):
        dhuff.DhuffParams(frame_words=1)
    params = dhuff.DhuffParams(low_bits=4)
    with pytest.raises(ParameterError, match="need 1 of 4096"):
        dhuff.encode(np.zeros((3, 1), int), params, dhuff.default_dictionary(dhuff.DhuffParams(low_bits=5)))
    with pytest.raises(FormatError, match="hash mismatch"):
        data = dhuff.default_dictionary(params).to_json()
        data["lengths"] = "02" + data["lengths"][2:]
        dhuff.Dictionary.from_json(data)


def test_cli_train_encode_decode(tmp_path):
    import subprocess
    import sys
    from neurocodec import read_recording, write_recording
    r = synthetic_recording(4, 20000.0, 0.2, seed=5)
    write_recording(tmp_path / "in.wav", r)
    run = [sys.executable, "-m", "neurocodec.cli"]
    out = subprocess.run(run + ["train", "--codec", "dhuff", str(tmp_path / "in.wav"),
                                "--discard-bits", "3", "--low-bits", "1", "-o",
                                str(tmp_path / "d.json"), "--readmemh", str(tmp_path / "d.hex")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "canonical layout" in out.stdout and (tmp_path / "d.hex").read_text().count("\n") > 5
    assert json.loads((tmp_path / "d.json").read_text())["n_symbols"] == 4096
    enc = subprocess.run(run + ["encode", str(tmp_path / "in.wav"), "--codec", "dhuff",
                                "--discard-bits", "3", "--low-bits", "1", "--dictionary",
                                str(tmp_path / "d.json"), "-o", str(tmp_path / "x.ncd")],
                         capture_output=True, text=True)
    assert enc.returncode == 0, enc.stderr
    dec = subprocess.run(run + ["decode", str(tmp_path / "x.ncd"), "-o", str(tmp_path / "o.wav")],
                         capture_output=True, text=True)
    assert dec.returncode == 0, dec.stderr
    error = r.samples.astype(int) - read_recording(tmp_path / "o.wav").samples
    assert error.min() >= 0 and error.max() <= 7


def test_canonical_codes_by_hand():
    # Lengths 2, 1, 3, 3 -> sorted by (length, symbol): s1 '0', s0 '10', s2 '110', s3 '111'.
    d = dhuff.Dictionary(np.array([2, 1, 3, 3]), "table")
    assert [f"{c:0{l}b}" for c, l in zip(d.codes[0], d.lengths[0])] == ["10", "0", "110", "111"]
    monotone = dhuff.Dictionary(np.array([1, 2, 3, 3]), "canonical")
    first_symbol, first_code = monotone.canonical_table()
    assert first_symbol[1:].tolist() == [0, 1, 2] and first_code[1:].tolist() == [0, 2, 6]
    assert monotone.readmemh().split() == ["00", "0a", "16"]  # (first_symbol << 3) | first_code
