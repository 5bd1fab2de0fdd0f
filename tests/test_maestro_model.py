"""The Maestro golden model against the format text (docs/formats/maestro.md)."""

import numpy as np
import pytest

from neurocodec.codecs import maestro
from neurocodec.errors import FormatError, ParameterError

SEED = 20261120


def reference_decode(data: bytes, channels: int) -> np.ndarray:
    """A plain byte-by-byte decoder written from the format text, to check the vectorised one."""
    out, prev, i = [], [0] * channels, 0
    while i < len(data):
        b0 = data[i]
        if b0 & 0x80:
            d, i = ((b0 & 0x7F) << 8 | data[i + 1]) - 4096, i + 2
        else:
            d, i = b0 - 64, i + 1
        ch = len(out) % channels
        prev[ch] += d
        out.append(prev[ch])
    return np.array(out).reshape(-1, channels)


@pytest.mark.parametrize("samples, expected", [
    # Hand-computed from the rule: |D| < 64 -> D + 64; else (D + 4096) | 0x8000, high byte first.
    ([0], [0x40]),
    ([63], [0x7F]),
    ([-63], [0x01]),
    ([64], [0x90, 0x40]),
    ([-64], [0x8F, 0xC0]),
    ([2047, -2048], [0x97, 0xFF, 0x80, 0x01]),  # D = 2047, then D = -4095
    ([-2048, 2047], [0x88, 0x00, 0x9F, 0xFF]),  # D = -2048, then D = +4095
    ([10, 10, 73, 9], [0x4A, 0x40, 0x7F, 0x8F, 0xC0]),  # 10, 0, +63, -64
])
def test_encode_matches_hand_computed_bytes(samples, expected):
    assert maestro.encode(np.array(samples)) == bytes(expected)


def test_channels_are_differenced_separately_in_scan_order():
    samples = np.array([[5, -5], [6, 100]])  # ch0: 5, +1; ch1: -5, +105
    assert maestro.encode(samples) == bytes([0x45, 0x3B, 0x41, 0x90, 0x69])


def test_every_difference_round_trips():
    d = np.arange(1, 4096)
    walk = np.empty(2 * d.size + 1, np.int64)
    walk[0], walk[1::2], walk[2::2] = -2048, -2048 + d, -2048
    data = maestro.encode(walk)
    assert np.array_equal(maestro.decode(data, 1)[:, 0], walk)
    assert np.array_equal(reference_decode(data, 1)[:, 0], walk)


@pytest.mark.parametrize("channels", [1, 3, 16])
def test_random_round_trip_and_reference_decoder(channels):
    print(f"seed {SEED + channels}")
    rng = np.random.default_rng(SEED + channels)
    # A mix of small and large steps so both code lengths and long runs of high bytes occur.
    steps = np.where(rng.random((3000, channels)) < 0.5, rng.integers(-70, 71, (3000, channels)),
                     rng.integers(-4095, 4096, (3000, channels)))
    samples = np.clip(np.cumsum(steps, axis=0), -2048, 2047)
    data = maestro.encode(samples)
    assert np.array_equal(maestro.decode(data, channels), samples)
    assert np.array_equal(reference_decode(data, channels), samples)
    assert len(data) == maestro.code_lengths(samples).sum()


def test_empty_stream():
    assert maestro.encode(np.zeros((0, 4), np.int16)) == b""
    assert maestro.decode(b"", 4).shape == (0, 4)


@pytest.mark.parametrize("data, channels, offset, words", [
    ([0x40, 0x00, 0x40], 1, 1, "byte 0x00 at offset 1"),
    ([0x40, 0x90], 1, 1, "ends inside the two-byte word that starts at offset 1"),
    ([0x40, 0x90, 0x05], 1, 1, "holds difference 5, which the format writes as one byte"),
    ([0x97, 0xFF, 0x41], 1, 2, "takes the sample to 2048"),
    ([0xFF, 0xFF], 1, 0, "takes the sample to 28671"),
    ([0x40, 0x40, 0x40], 2, 2, "ends in the middle of a scan"),
    ([0x40, 0x90, 0x05, 0x00], 1, 1, "holds difference 5"),  # the earliest of two errors
    ([0x41, 0x40, 0x90, 0x3F], 2, 2, "holds difference 63,"),  # a bad code before an odd end
    ([0x40, 0x80], 2, 1, "ends inside the two-byte word"),  # the cut word explains the odd end
])
def test_decode_errors_name_the_first_bad_offset(data, channels, offset, words):
    with pytest.raises(FormatError) as error:
        maestro.decode(bytes(data), channels)
    assert error.value.offset == offset
    assert words in str(error.value)


@pytest.mark.parametrize("channels", [0, 17, 2.5, True])
def test_channel_count_outside_the_format_is_refused(channels):
    with pytest.raises(ParameterError, match="channel count"):
        maestro.decode(b"", channels)


def test_encoder_names_the_first_sample_out_of_range():
    with pytest.raises(ParameterError, match=r"sample 2048 at t=1, channel 1 "):
        maestro.encode(np.array([[0, 0], [5, 2048], [-3000, 0]]))


def test_encoder_refuses_floats_and_too_many_channels():
    with pytest.raises(ParameterError, match="integers"):
        maestro.encode(np.zeros((4, 2)))
    with pytest.raises(ParameterError, match="channel count 17"):
        maestro.encode(np.zeros((4, 17), np.int16))


def test_fuzzed_streams_decode_or_fail_cleanly():
    """Random bytes either decode to in-range samples or raise FormatError; nothing else."""
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    outcomes = set()
    for _ in range(300):
        data = rng.integers(0, 256, rng.integers(0, 40)).astype(np.uint8).tobytes()
        try:
            samples = maestro.decode(data, 2)
        except FormatError as error:
            assert error.offset is not None and 0 <= error.offset < len(data)
            outcomes.add("error")
        else:
            assert samples.min(initial=0) >= -2048 and samples.max(initial=0) <= 2047
            assert np.array_equal(samples, reference_decode(data, 2))
            outcomes.add("ok")
    assert outcomes == {"ok", "error"}
