"""The .ncd container (docs/formats/container.md): round trip and every check of the reader."""

import json
import struct
import zlib

import numpy as np
import pytest

from neurocodec import Recording
from neurocodec.codecs import decode_container, encode_recording
from neurocodec.container import Container
from neurocodec.errors import FormatError


def sample_container():
    samples = np.array([[0, 100], [5, -100], [2047, -2048]], np.int16)
    return encode_recording(Recording(samples, 30000.0, 0.195), "maestro")


def test_round_trip_restores_samples_and_header():
    container = sample_container()
    again = Container.from_bytes(container.to_bytes())
    assert again == container
    recording = decode_container(again)
    assert np.array_equal(recording.samples, [[0, 100], [5, -100], [2047, -2048]])
    assert recording.rate == 30000.0 and recording.uv_per_bit == 0.195


def test_layout_matches_the_format_text():
    data = sample_container().to_bytes()
    magic, version, header_len = struct.unpack_from("<4sHI", data)
    assert (magic, version) == (b"NCDC", 1)
    header = json.loads(data[10:10 + header_len])
    assert header["codec"] == "maestro" and header["channels"] == 2
    assert len(data) == 10 + header_len + header["payload_bytes"] + 4
    assert struct.unpack_from("<I", data, len(data) - 4)[0] == zlib.crc32(data[:-4])


def test_shift_is_stored_and_undone_as_zeros():
    samples = np.array([[0], [17], [-33], [32767]], np.int16)
    container = encode_recording(Recording(samples, 1000.0), "maestro", shift=4)
    back = decode_container(Container.from_bytes(container.to_bytes())).samples[:, 0]
    assert list(back) == [0, 16, -48, 32752]


def _rewrite(data: bytes, header_change) -> bytes:
    header_len = struct.unpack_from("<I", data, 6)[0]
    header = json.loads(data[10:10 + header_len])
    header_change(header)
    text = json.dumps(header).encode()
    body = data[:6] + struct.pack("<I", len(text)) + text + data[10 + header_len:-4]
    return body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize("damage, words", [
    (lambda d: d[:5], "too short"),
    (lambda d: b"RIFF" + d[4:], "not a neurocodec container"),
    (lambda d: d[:4] + b"\x02\x00" + d[6:], "version 2"),
    (lambda d: d[:6] + struct.pack("<I", 1 << 30) + d[10:], "exceeds"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\x00", "trailing bytes"),
    (lambda d: d[:-6] + bytes([d[-6] ^ 1]) + d[-5:], "CRC mismatch"),
    (lambda d: _rewrite(d, lambda h: h.pop("channels")), "lacks the field 'channels'"),
    (lambda d: _rewrite(d, lambda h: h.update(rate="fast")), "'rate' has the wrong type"),
    (lambda d: _rewrite(d, lambda h: h.update(channels=0)), "impossible values"),
    (lambda d: _rewrite(d, lambda h: h.update(rate=float("inf"))), "impossible values"),
    (lambda d: _rewrite(d, lambda h: h.update(rate=0)), "impossible values"),
    (lambda d: _rewrite(d, lambda h: h.update(metadata=[1])), "'metadata' is not a JSON object"),
    (lambda d: _rewrite(d, lambda h: h.update(payload_bytes=-5)), "'payload_bytes' is negative"),
])
def test_damaged_containers_are_refused_with_the_reason(damage, words):
    with pytest.raises(FormatError, match=words):
        Container.from_bytes(damage(sample_container().to_bytes()))


def test_header_that_disagrees_with_the_payload_is_refused():
    data = _rewrite(sample_container().to_bytes(), lambda h: h.update(n_samples=7))
    with pytest.raises(FormatError, match="holds 3 samples per channel, the header says 7"):
        decode_container(Container.from_bytes(data))


def test_unknown_codec_is_named():
    data = _rewrite(sample_container().to_bytes(), lambda h: h.update(codec="zip"))
    with pytest.raises(ValueError, match="unknown codec 'zip'; the codecs are: dhuff, maestro"):
        decode_container(Container.from_bytes(data))


def test_payload_errors_also_give_the_file_offset():
    container = sample_container()
    container.payload = bytes([0x40, 0x40, 0x00, 0x40])
    container.n_samples = 2
    data = container.to_bytes()
    parsed = Container.from_bytes(data)
    with pytest.raises(FormatError) as error:
        decode_container(parsed)
    assert error.value.offset == parsed.payload_offset + 2
    assert data[error.value.offset] == 0x00
    assert f"file offset {parsed.payload_offset + 2}" in str(error.value)
