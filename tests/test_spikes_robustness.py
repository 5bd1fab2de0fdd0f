"""Every spike decoder rejects truncated, bit-flipped and garbage input with FormatError (naming
the offset), never a crash, a hang or an allocation sized by a corrupt header."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurocodec.errors import FormatError
from neurocodec.spikes import (AERCodec, DeltaCodec, ISICodec, PredictiveCodec, StreamingCodec,
                               WaveformCodec, decompress, get_codec)

SEED = 2024
CONFIGS = [("isi", {"backend": "varint"}), ("isi", {"backend": "huffman"}),
           ("isi", {"mode": "lossy", "timing_precision": 3}),
           ("predictive", {"predictor": "lfsr"}), ("predictive", {"predictor": "context"}),
           ("predictive", {"predictor": "ema"}), ("predictive", {"predictor": "world_model"}),
           ("delta", {"group_size": 2}), ("streaming", {"window": 5}), ("aer", {})]
IDS = [f"{n}-{'-'.join(map(str, k.values())) or 'default'}" for n, k in CONFIGS]


def sample_streams(name, kwargs):
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    codec = get_codec(name, **kwargs)
    out = []
    for shape, density in (((12, 3), 0.2), ((30, 5), 0.6), ((1, 1), 1.0), ((0, 4), 0.0)):
        out.append(codec.compress(rng.random(shape) < density)[0])
    return out


def restamp(data: bytes) -> bytes:
    """Recompute the CRC so that the body's own checks are exercised."""
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def decodes_or_format_error(data):
    """A decoder may accept a valid-CRC stream; then the raster must be well formed."""
    try:
        out = decompress(data)
    except FormatError as error:
        assert error.offset is None or 0 <= error.offset <= len(data)
        return "error"
    assert out.ndim == 2 and out.dtype == np.int8
    assert out.size == 0 or (out.min() >= 0 and out.max() <= 1)
    return "ok"


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
def test_every_truncation_is_rejected(name, kwargs):
    for data in sample_streams(name, kwargs):
        for cut in range(len(data)):
            with pytest.raises(FormatError):
                decompress(data[:cut])
        with pytest.raises(FormatError, match="trailing"):
            decompress(data + b"\x00")


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
def test_every_bit_flip_is_rejected(name, kwargs):
    for data in sample_streams(name, kwargs)[:2]:
        for bit in range(8 * len(data)):
            flipped = bytearray(data)
            flipped[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(FormatError):
                decompress(bytes(flipped))


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
def test_corrupt_bodies_with_a_valid_crc(name, kwargs):
    """Random byte changes in the body, CRC recomputed: FormatError or a well-formed raster."""
    rng = np.random.default_rng(SEED + 1)
    print(f"seed {SEED + 1}")
    outcomes = set()
    for data in sample_streams(name, kwargs):
        for _ in range(150):
            mutated = bytearray(data)
            for _ in range(rng.integers(1, 4)):
                i = rng.integers(20, len(data) - 4) if len(data) > 24 else 20
                if i < len(data) - 4:
                    mutated[i] = rng.integers(0, 256)
            outcomes.add(decodes_or_format_error(restamp(bytes(mutated))))
    assert "error" in outcomes


@settings(derandomize=True, deadline=None, max_examples=300)
@given(data=st.binary(max_size=80), codec_id=st.integers(0, 7), t=st.integers(0, 300),
       n=st.integers(0, 300))
def test_garbage_bodies_behind_a_valid_header(data, codec_id, t, n):
    head = b"NCSK" + bytes([1, codec_id, 0, 0]) + struct.pack("<III", t, n, len(data))
    decodes_or_format_error(restamp(head + data + b"\0\0\0\0"))


@settings(derandomize=True, deadline=None, max_examples=200)
@given(data=st.binary(max_size=64))
def test_random_bytes(data):
    with pytest.raises(FormatError):
        decompress(data)


@pytest.mark.parametrize("t, n", [(2**32 - 1, 2**32 - 1), (2**20, 2**12), (1, 2**31 + 1)])
def test_huge_shapes_are_refused_before_allocating(t, n):
    data, _ = AERCodec().compress(np.zeros((1, 1), np.int8))
    forged = restamp(data[:8] + struct.pack("<II", t, n) + data[16:])
    with pytest.raises(FormatError, match="max_bins") as error:
        decompress(forged)
    assert error.value.offset == 8


@pytest.mark.parametrize("mutate, match, offset", [
    (lambda d: b"NCSX" + d[4:], "bad magic", 0),
    (lambda d: d[:4] + b"\x02" + d[5:], "version 2", 4),
    (lambda d: d[:5] + b"\x09" + d[6:], "unknown codec id 9", 5),
    (lambda d: d[:6] + b"\x01" + d[7:], "reserved", 6),
])
def test_header_errors_name_the_offset(mutate, match, offset):
    data, _ = ISICodec().compress(np.eye(3, dtype=np.int8))
    with pytest.raises(FormatError, match=match) as error:
        decompress(restamp(mutate(data)))
    assert error.value.offset == offset


def test_crc_mismatch_names_the_crc_offset():
    data, _ = ISICodec().compress(np.eye(3, dtype=np.int8))
    bad = bytearray(data)
    bad[22] ^= 0x10
    with pytest.raises(FormatError, match="CRC-32 mismatch") as error:
        decompress(bytes(bad))
    assert error.value.offset == len(data) - 4


def body_stream(codec_id, t, n, body):
    head = b"NCSK" + bytes([1, codec_id, 0, 0]) + struct.pack("<III", t, n, len(body))
    return head + body + struct.pack("<I", zlib.crc32(head + body))


@pytest.mark.parametrize("codec_id, t, n, body, match, offset", [
    # isi: the gaps end at bin 5, the raster has 6.
    (1, 3, 2, "01 00 03 03 00 01 02", "end at bin 5, the raster has 6", None),
    (1, 3, 2, "01 00 02 02 07 00", "exceeds its limit 6", 24),  # gap 7 > total 6
    (1, 3, 2, "01 02 01 01 00", "backend byte", 21),
    (1, 3, 2, "01 00 01 01 06 00", "unexpected bytes", 25),
    (1, 3, 2, "01 00 01 02 80 00", "not canonical", 25),
    (1, 3, 2, "00 00 01 01 06", "timing precision q is 0", 20),
    # huffman, m = 0, U = 2: symbols 0 and 1 ('1' '00001', '1' '00010'), lengths 1 and 2: an
    # incomplete code (Kraft sum 3/4).
    (1, 3, 2, "01 01 03 04 00 02 86 20", "complete prefix code", 26),
    # predictive: unknown predictor, lfsr seed 0
    (2, 3, 2, "07", "unknown predictor id 7", 20),
    (2, 3, 2, "02 20 00 00 00 00 01 01 06", "parameter 1 is 0", 21),
    # delta: reference 2 in a group of 2 channels
    (3, 3, 2, "02 00 01 01 02 00 01 01 02 00 01 01 06", "exceeds its limit 1", 24),
    # streaming: zero mask, skip past the end, odd header 3, window 0
    (4, 3, 2, "14 02 00 00", "mask is all zero", 23),
    (4, 3, 2, "14 02 02 01", "skip runs past the last channel", 22),
    (4, 3, 2, "14 03", "no such mode", 21),
    (4, 3, 2, "00", "window W is 0", 20),
    (4, 3, 2, "14 02 00 08", "mask bits beyond the window", 23),
    (4, 3, 2, "14 00 00", "unexpected bytes", 22),
    # aer (N = 2, B = 2): id 2 is neither a channel nor the escape 3
    (5, 3, 2, "00 01 00 00 80", "names channel 2", 22),
    (5, 3, 2, "00 01 00 00 c0", "escape with a zero count", 22),
    (5, 3, 2, "00 01 00 05 00", "falls at or after T", 22),  # d = 5 >= T
    (5, 3, 2, "00 02 00 00 40 00 10", "repeats or goes back", 24),  # id 1 then id 0 at t 0
    (5, 3, 2, "00 01 00 00 00 01", "unexpected bytes", 25),
    (5, 3, 2, "02 00", "flags byte is 2", 20),
    (5, 3, 2, "00 05 00", "5 events of 18 bits need 12 bytes", 21),
])
def test_body_errors(codec_id, t, n, body, match, offset):
    data = body_stream(codec_id, t, n, bytes.fromhex(body))
    with pytest.raises(FormatError, match=match) as error:
        decompress(data)
    if offset is not None:
        assert error.value.offset == offset


def test_streaming_frame_decoder_rejects_bad_frames():
    codec = StreamingCodec(8)
    for frame in (b"", b"\x02", b"\x02\x00", b"\x02\x00\x00", b"\x05", b"\x00\x00",
                  b"\x01\x04\x01"):
        with pytest.raises(FormatError):
            codec.decompress_frame(frame, 2)


def test_waveform_decoder_rejects_corruption():
    rng = np.random.default_rng(SEED)
    x = rng.normal(0, 30, (500, 2)).astype(np.int16)
    x[100:104, 1] -= 500
    data, _ = WaveformCodec().compress(x)
    for cut in range(0, len(data), 7):
        with pytest.raises(FormatError):
            decompress(data[:cut])
    for i in range(20, len(data) - 4):
        mutated = bytearray(data)
        mutated[i] ^= 0x5A
        try:
            out = decompress(restamp(bytes(mutated)))
        except FormatError:
            continue
        assert out.shape == x.shape and out.dtype == np.int16


def test_codecs_refuse_other_codecs_streams():
    data, _ = StreamingCodec().compress(np.eye(4, dtype=bool))
    for codec in (ISICodec(), PredictiveCodec(), DeltaCodec(), AERCodec(), WaveformCodec()):
        with pytest.raises(FormatError, match="holds codec 'streaming'"):
            codec.decompress(data)
