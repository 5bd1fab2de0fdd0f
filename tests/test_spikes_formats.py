"""The spike codecs against the byte layouts of docs/formats/spikes.md (hand-computed examples)."""

import struct
import zlib

import numpy as np
import pytest

from neurocodec.errors import FormatError, ParameterError
from neurocodec.spikes import (AERCodec, DeltaCodec, ISICodec, PredictiveCodec, StreamingCodec,
                               WaveformCodec, decompress, get_codec, info, list_codecs,
                               recommend_codec, worst_case_frame_bytes)
from neurocodec.spikes import _core
from neurocodec.spikes._core import Reader, decode_ints, encode_ints, varint
from neurocodec.spikes.predictive import lfsr_step

# The 3 x 2 raster of the docs: ones at (0,0), (2,0), (2,1).
RASTER = np.array([[1, 0], [0, 0], [1, 1]], np.int8)


def stream(codec_id: int, t: int, n: int, body: bytes) -> bytes:
    """The common header and CRC, written from the table of the docs (not by the model)."""
    head = b"NCSK" + bytes([1, codec_id, 0, 0]) + struct.pack("<III", t, n, len(body))
    return head + body + struct.pack("<I", zlib.crc32(head + body))


def test_isi_example_bytes():
    data, result = ISICodec(backend="varint").compress(RASTER)
    body = bytes.fromhex("01 00 04 04 00 01 02 00")
    assert data == stream(1, 3, 2, body)
    assert data[:28].hex(" ") == ("4e 43 53 4b 01 01 00 00 03 00 00 00 02 00 00 00 08 00 00 00 "
                                  "01 00 04 04 00 01 02 00")
    assert (result.n_spikes, result.original_bits, result.compressed_bits) == (3, 6, 8 * 32)
    assert result.lossless and result.compression_ratio == 6 / 256
    assert np.array_equal(decompress(data), RASTER)
    assert decompress(data).dtype == np.int8


def test_huffman_block_example():
    """Values 0, 1, 2, 0: m = 1, table 18 bits, codes 6 bits (docs, worked example)."""
    block = encode_ints(np.array([0, 1, 2, 0]), "huffman")
    assert block == bytes.fromhex("01 04 05 01 03 86 28 96")
    assert encode_ints(np.array([0, 1, 2, 0]), "auto") == bytes.fromhex("00 04 04 00 01 02 00")
    values = decode_ints(Reader(block, "test", 0), "values", 10, 10)
    assert values.tolist() == [0, 1, 2, 0]


def test_huffman_buckets_and_extra_bits():
    """m = 0, one value 5 = 0b101: symbol 3 (bit length), extra bits '01'; U = 1, length 1.
    Table: d = 4 -> gamma '00100', length '00001'; code '0'; extra '01' -> 13 bits."""
    block = encode_ints(np.array([5]), "huffman")
    bits = "00100" + "00001" + "0" + "01"
    payload = bytes([0, 1]) + int(bits.ljust(16, "0"), 2).to_bytes(2, "big")
    # m = 1 (symbol 4, 1 extra bit: 12 bits), m = 2 (symbol 5: 11 bits), m = 3 (symbol 5: 11
    # bits) all take 2 bytes too: the tie keeps m = 0.
    assert block == bytes([1, 1, len(payload)]) + payload
    assert decode_ints(Reader(block, "t", 0), "v", 1, 5).tolist() == [5]


def test_varints():
    assert [varint(v).hex() for v in (0, 127, 128, 300)] == ["00", "7f", "8001", "ac02"]
    assert _core.read_varint(bytes.fromhex("8000"), 0)[1] == -2  # not canonical
    assert _core.read_varint(bytes.fromhex("80"), 0)[1] == -1  # truncated


def test_lfsr_sequence_from_the_docs():
    states, s = [], 0xACE1
    for _ in range(6):
        s = lfsr_step(s)
        states.append(s)
    assert states == [0x5670, 0xAB38, 0x559C, 0x2ACE, 0x1567, 0x8AB3]


def test_lfsr_is_maximal_length():
    seen, s = set(), 1
    for _ in range(65535):
        s = lfsr_step(s)
        seen.add(s)
    assert s == 1 and len(seen) == 65535 and 0 not in seen


def test_predictive_lfsr_example_bytes():
    data, result = PredictiveCodec("lfsr", backend="varint", alpha_q8=32).compress(RASTER)
    assert data == stream(2, 3, 2, bytes.fromhex("02 20 00 e1 ac 00 03 03 00 04 00"))
    assert result.n_errors == 2 and result.prediction_accuracy == pytest.approx(4 / 6)
    assert np.array_equal(decompress(data), RASTER)


def test_predictive_lfsr_rate_update_rounds_toward_minus_infinity():
    """alpha_q8 = 256: r jumps to 256 on a spike, back to 0 on a silence; the next bin of a
    channel at rate 256 is always guessed 1. A raster 1,1,0,0 on one channel: guesses 0,1,1,0,
    surprises at t = 0 and t = 2."""
    x = np.array([[1], [1], [0], [0]])
    data, result = PredictiveCodec("lfsr", backend="varint", alpha_q8=256).compress(x)
    assert data == stream(2, 4, 1, bytes.fromhex("02 00 01 e1 ac 00 03 03 00 01 01"))
    # alpha 1: after one spike r = 1, after a silence r = 1 + floor(-1/256) = 0.
    x = np.zeros((40, 1), np.int8)
    x[0] = 1
    _, result = PredictiveCodec("lfsr", alpha_q8=1).compress(x)
    assert result.n_errors == 1  # r = 1 at t = 1 needs (L >> 8) < 1: L = 0x5670 >> 8 = 0x56, no


def test_predictive_ema_and_context_examples():
    # ema alpha 1 (65536), threshold 0.5: guess = previous bin. Raster 1,1,1,0: guesses 0,1,1,1.
    x = np.array([[1], [1], [1], [0]])
    data, result = PredictiveCodec("ema", backend="varint", alpha=1.0, threshold=0.5).compress(x)
    body = bytes([1]) + struct.pack("<II", 65536, 32768) + bytes.fromhex("00 03 03 00 02 00")
    assert data == stream(2, 4, 1, body)
    # context k=1: 0,1,0,1,0,1 on one channel. t0 h=0 c=(0,0) guess 0 s=0 -> c0[0]=1;
    # t1 h=0 guess 0 s=1 -> c1[0]=1; t2 h=1 (0,0) guess 0 s=0 -> c0[1]=1; t3 h=0 (1,1) guess 0
    # s=1 -> c1[0]=2; t4 h=1 (1,0) guess 0 s=0; t5 h=0 (1,2) guess 1 s=1. Surprises t1, t3.
    x = np.array([[0], [1], [0], [1], [0], [1]])
    data, result = PredictiveCodec("context", backend="varint", k=1).compress(x)
    assert data == stream(2, 6, 1, bytes.fromhex("03 01 00 03 03 01 01 02"))


def test_context_table_is_shared_across_channels_in_scan_order():
    """k=1, two channels, all ones: channel 0's update is seen by channel 1 in the same step."""
    x = np.array([[1, 1], [1, 1]])
    data, result = PredictiveCodec("context", backend="varint", k=1).compress(x)
    # t0: ch0 h=0 (c0, c1) = (0, 0) guess 0, surprise, c1[0] = 1; ch1 h=0 (0, 1) guess 1, right.
    # t1: ch0 h=1 (0, 0) guess 0, surprise, c1[1] = 1; ch1 h=1 (0, 1) guess 1, right.
    # Surprises at channel-major positions 0, 1 of 4: gaps 0, 0, 2.
    assert result.n_errors == 2
    assert data == stream(2, 2, 2, bytes.fromhex("03 01 00 03 03 00 00 02"))


def test_world_model_learns_a_copied_channel():
    """Channel 1 repeats channel 0 one step later: the world model (group covers both) learns it
    and ends up with far fewer surprises than spikes."""
    rng = np.random.default_rng(7)
    print("seed 7")
    a = (rng.random(4000) < 0.3).astype(np.int8)
    x = np.stack([a, np.roll(a, 1)], axis=1)
    x[0, 1] = 0
    data, result = PredictiveCodec("world_model", k=1, group=2, mu=0.25).compress(x)
    ones_ch1 = int(x[:, 1].sum())
    assert np.array_equal(decompress(data), x)
    assert result.n_errors < ones_ch1 + 0.5 * int(x[:, 0].sum())


def test_delta_example_bytes():
    # Group size 2: counts 2, 1 -> reference channel 0; channel 1 XOR channel 0 = [1,0,0] has 1
    # one, as many as channel 1: not fewer, so not XORed. References block: auto -> varint
    # [0]; XORed list: none, gaps [2] (total N=2); then the isi positions of the raster.
    data, result = DeltaCodec(group_size=2, backend="varint").compress(RASTER)
    body = bytes.fromhex("02 | 00 01 01 00 | 00 01 01 02 | 00 04 04 00 01 02 00".replace("|", ""))
    assert data == stream(3, 3, 2, body)
    x = np.array([[1, 1], [0, 0], [1, 1], [0, 1]])  # channel 0 XOR channel 1 = [0,0,0,1]
    data, result = DeltaCodec(group_size=2, backend="varint").compress(x)
    # counts 2, 3 -> reference channel 1 (offset 1); channel 0 XOR ref = [0,0,0,1]: 1 < 2, XORed.
    # XORed list [0] of total 2: gaps 0, 1. D: channel 0 -> t=3 (position 3), channel 1
    # unchanged -> positions 4, 6, 7; total 8: gaps 3, 0, 1, 0, 0.
    body = bytes.fromhex("02 00 01 01 01 00 02 02 00 01 00 05 05 03 00 01 00 00")
    assert data == stream(3, 4, 2, body)
    assert result.n_xored == 1 and result.n_coded == 4
    assert np.array_equal(decompress(data), x)


def test_streaming_example_bytes():
    data, result = StreamingCodec(20).compress(RASTER)
    assert data == stream(4, 3, 2, bytes.fromhex("14 01 03 05 04"))
    codec = StreamingCodec(20)
    assert codec.compress_frame(RASTER) == bytes.fromhex("01 03 05 04")
    only = np.array([[0, 0], [0, 0], [0, 1]])
    assert codec.compress_frame(only) == bytes.fromhex("02 01 04")  # tie -> list mode
    assert codec.compress_frame(np.zeros((20, 5), bool)) == b"\x00"
    assert np.array_equal(codec.decompress_frame(bytes.fromhex("01 03 05 04"), 2, 3), RASTER)
    assert np.array_equal(codec.decompress_frame(bytes.fromhex("04 00 05 00 04"), 2, 3), RASTER)
    assert result.n_frames == 1 and result.max_frame_bytes == 4


def test_streaming_frames_split_at_the_window():
    """W = 2, T = 3: frames (t 0-1) and (t 2); each frame's masks cover its own window."""
    data, _ = StreamingCodec(2).compress(RASTER)
    # frame 0: channel 0 mask 0b01, list 02 00 01 (3) vs bitmap 01 01 01 (3): list.
    # frame 1 (w=1): both channels, mask 0b1: list 04 00 01 00 01 (5) vs bitmap 01 03 01 01 (4).
    assert data == stream(4, 3, 2, bytes.fromhex("02 02 00 01 01 03 01 01"))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 9, 63, 64, 127, 128, 200, 1024])
@pytest.mark.parametrize("w", [1, 8, 9, 20])
def test_streaming_worst_case_formula(n, w):
    """The all-active frame is exactly the bound; random frames never exceed it."""
    codec = StreamingCodec(w)
    m = -(-w // 8)
    bound = n * m + min(1 + -(-n // 8), len(varint(2 * n)) + n)
    assert worst_case_frame_bytes(n, w) == bound
    assert len(codec.compress_frame(np.ones((w, n), np.int8))) == bound
    rng = np.random.default_rng(n * 100 + w)
    print(f"seed {n * 100 + w}")
    for density in (0.01, 0.1, 0.5, 0.9):
        for _ in range(5):
            frame = codec.compress_frame(rng.random((w, n)) < density)
            assert len(frame) <= bound


def test_aer_example_bytes_and_escape():
    data, result = AERCodec().compress(RASTER)
    assert data == stream(5, 3, 2, bytes.fromhex("00 03 00 00 00 00 80 00 04"))
    assert result.id_bits == 2 and result.n_events == 3
    # T = 70001, N = 1 (B = 1, escape id 1): one spike at 70000 = 1 * 65536 + 4464.
    x = np.zeros((70001, 1), np.int8)
    x[70000] = 1
    data, result = AERCodec().compress(x)
    words = [(1 << 1) | 1, (4464 << 1) | 0]  # escape d = 1, then event d = 4464, id 0
    bits = "".join(f"{w:017b}" for w in words).ljust(40, "0")
    assert data == stream(5, 70001, 1, bytes([0, 2]) + int(bits, 2).to_bytes(5, "big"))
    assert result.n_escapes == 1
    assert np.array_equal(decompress(data), x)


@pytest.mark.parametrize("n, b", [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3), (7, 3), (8, 4),
                                  (1023, 10), (1024, 11), (70000, 17)])
def test_aer_escape_id_is_never_a_channel(n, b):
    from neurocodec.spikes.aer import id_bits
    assert id_bits(n) == b and (1 << b) - 1 >= n


def test_aer_inverts_above_half_density():
    x = np.ones((4, 3), np.int8)
    x[1, 2] = 0
    data, result = AERCodec().compress(x)
    # B = 2, one silence at t=1, n=2: word (1 << 2) | 2 = 6 in 18 bits, flags 1.
    assert data == stream(5, 4, 3, bytes([1, 1]) + (6 << 6).to_bytes(3, "big"))
    assert result.inverted and np.array_equal(decompress(data), x)


def test_isi_lossy_bins_and_centres():
    x = np.zeros((10, 1), np.int8)
    x[[0, 1, 5, 9]] = 1  # q = 4: bins 0 (t 0,1 merge), 1 (t 5), 2 (t 9, partial bin 8-9)
    data, result = ISICodec(mode="lossy", timing_precision=4, backend="varint").compress(x)
    # T' = 3, positions 0, 1, 2, total 3 -> gaps 0, 0, 0, 0
    assert data == stream(1, 10, 1, bytes.fromhex("04 00 04 04 00 00 00 00"))
    y = decompress(data)
    assert np.flatnonzero(y[:, 0]).tolist() == [1, 5, 9]  # centres 0+1, 4+1, min(8+1, 9)
    assert not result.lossless and result.spikes_merged == 1 and result.max_timing_error == 1


def test_waveform_is_reported_lossy():
    rng = np.random.default_rng(3)
    print("seed 3")
    x = rng.normal(0, 20, (3000, 2)).astype(np.int16)
    x[1000:1010, 0] -= 400
    data, result = WaveformCodec().compress(x)
    y = decompress(data)
    assert y.dtype == np.int16 and y.shape == x.shape
    error = np.abs(x.astype(int) - y)
    assert not result.lossless and result.max_abs_error == error.max() > 0
    assert result.n_spikes >= 1
    assert info(data)["codec"] == "waveform"


def test_registry():
    assert list_codecs() == ["isi", "predictive", "delta", "streaming", "aer", "waveform"]
    assert isinstance(get_codec("isi", backend="huffman"), ISICodec)
    with pytest.raises(ValueError, match="isi, predictive, delta, streaming, aer, waveform"):
        get_codec("zip")
    with pytest.raises(ParameterError):
        get_codec("isi", nonsense=1)
    with pytest.raises(ParameterError):
        get_codec("predictive", predictor="lfsr", alpha=0.5)  # an ema parameter


@pytest.mark.parametrize("kwargs, name", [
    ({"n_channels": 4, "firing_rate": 5, "neuromorphic": True, "latency_ms": 0.5}, "aer"),
    ({"n_channels": 4, "firing_rate": 5, "latency_ms": 1}, "streaming"),
    ({"n_channels": 16, "firing_rate": 5, "correlated": True}, "delta"),
    ({"n_channels": 15, "firing_rate": 5, "correlated": True}, "isi"),
    ({"n_channels": 64, "firing_rate": 5}, "predictive"),
    ({"n_channels": 63, "firing_rate": 5}, "isi"),
    ({"n_channels": 1024, "firing_rate": 5, "latency_ms": 1.5}, "predictive"),
])
def test_recommend_codec(kwargs, name):
    assert recommend_codec(**kwargs) == name


@pytest.mark.parametrize("make, match", [
    (lambda: ISICodec(backend="zstd"), "backend"),
    (lambda: ISICodec(timing_precision=2), "lossy"),
    (lambda: PredictiveCodec("lfsr", seed=0), "seed"),
    (lambda: PredictiveCodec("lfsr", alpha_q8=257), "alpha_q8"),
    (lambda: PredictiveCodec("oracle"), "predictor"),
    (lambda: DeltaCodec(group_size=0), "group_size"),
    (lambda: StreamingCodec(window=0), "window"),
    (lambda: ISICodec().compress(np.array([[0, 2]])), "found 2 at t=0, channel 1"),
    (lambda: AERCodec().compress(np.zeros(5)), "2-D"),
    (lambda: StreamingCodec().compress(np.zeros((2, 2), float)), "bool or integer"),
    (lambda: WaveformCodec().compress(np.array([[40000]])), "outside int16"),
])
def test_bad_parameters(make, match):
    with pytest.raises(ParameterError, match=match):
        make()


def test_given_shape_must_match_the_header():
    data, _ = ISICodec().compress(RASTER)
    assert ISICodec().decompress(data, 3, 2).shape == (3, 2)
    with pytest.raises(ParameterError, match="T=4 given"):
        ISICodec().decompress(data, 4, 2)
    with pytest.raises(FormatError, match="holds codec 'isi'"):
        AERCodec().decompress(data)
