"""The neurocodec file container (``.ncd``), specified in ``docs/formats/container.md``.

Layout, all integers little-endian::

    magic        4 bytes   b"NCDC"
    version      u16       1
    header_len   u32       length of the JSON header, at most 1 MiB
    header       JSON      UTF-8 object: codec, params, channels, rate, n_samples, shift, payload_bytes
    payload      bytes     the codec's bitstream
    crc32        u32       CRC-32 (zlib) of every byte before it
"""

import json
import struct
import zlib
from dataclasses import dataclass, field

from .errors import FormatError

MAGIC = b"NCDC"
VERSION = 1
MAX_HEADER_BYTES = 1 << 20
_PREFIX = struct.Struct("<4sHI")
_CRC = struct.Struct("<I")
_REQUIRED = {
    "codec": str,
    "params": dict,
    "channels": int,
    "rate": (int, float),
    "n_samples": int,
    "shift": int,
    "payload_bytes": int,
}


@dataclass
class Container:
    codec: str
    channels: int
    rate: float
    n_samples: int
    payload: bytes
    params: dict = field(default_factory=dict)
    shift: int = 0  # low bits dropped before encoding; the decoder shifts them back as zeros
    metadata: dict = field(default_factory=dict)
    grid: int | None = None  # code grid levels: the payload codes grid codes, not values
    payload_offset: int = field(default=0, compare=False)  # in the file; set by from_bytes

    def header(self) -> dict:
        return {
            "codec": self.codec,
            "params": self.params,
            "channels": self.channels,
            "rate": self.rate,
            "n_samples": self.n_samples,
            "shift": self.shift,
            "payload_bytes": len(self.payload),
            "metadata": self.metadata,
        } | ({"grid": self.grid} if self.grid is not None else {})

    def to_bytes(self) -> bytes:
        header = json.dumps(self.header(), sort_keys=True, separators=(",", ":")).encode()
        body = _PREFIX.pack(MAGIC, VERSION, len(header)) + header + self.payload
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "container") -> "Container":
        data = bytes(data)
        if len(data) < _PREFIX.size:
            raise FormatError(f"{name}: {len(data)} bytes is too short for a neurocodec container", 0)
        magic, version, header_len = _PREFIX.unpack_from(data)
        if magic != MAGIC:
            raise FormatError(f"{name}: not a neurocodec container (magic {magic!r} at offset 0, "
                              f"expected {MAGIC!r})", 0)
        if version != VERSION:
            raise FormatError(f"{name}: container version {version} at offset 4 is not supported "
                              f"(this neurocodec reads version {VERSION})", 4)
        if header_len > MAX_HEADER_BYTES:
            raise FormatError(f"{name}: header length {header_len} at offset 6 exceeds "
                              f"{MAX_HEADER_BYTES} bytes", 6)
        header_end = _PREFIX.size + header_len
        if len(data) < header_end + _CRC.size:
            raise FormatError(f"{name}: truncated: {len(data)} bytes, but the header alone ends "
                              f"at offset {header_end}", len(data))
        try:
            header = json.loads(data[_PREFIX.size:header_end].decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise FormatError(f"{name}: header at offset {_PREFIX.size} is not valid JSON: "
                              f"{error}", _PREFIX.size) from None
        if not isinstance(header, dict):
            raise FormatError(f"{name}: header at offset {_PREFIX.size} is not a JSON object",
                              _PREFIX.size)
        for key, kind in _REQUIRED.items():
            if key not in header:
                raise FormatError(f"{name}: header lacks the field {key!r}", _PREFIX.size)
            if not isinstance(header[key], kind) or isinstance(header[key], bool):
                raise FormatError(f"{name}: header field {key!r} has the wrong type "
                                  f"({type(header[key]).__name__})", _PREFIX.size)
        if header["payload_bytes"] < 0:
            raise FormatError(f"{name}: header field 'payload_bytes' is negative "
                              f"({header['payload_bytes']})", _PREFIX.size)
        expected = header_end + header["payload_bytes"] + _CRC.size
        if len(data) != expected:
            raise FormatError(f"{name}: size is {len(data)} bytes, but the header says "
                              f"{expected} ({header['payload_bytes']} payload bytes)"
                              + (" (truncated)" if len(data) < expected else " (trailing bytes)"),
                              min(len(data), expected))
        (crc,) = _CRC.unpack_from(data, expected - _CRC.size)
        actual = zlib.crc32(data[: expected - _CRC.size])
        if crc != actual:
            raise FormatError(f"{name}: CRC mismatch: stored 0x{crc:08x} at offset "
                              f"{expected - _CRC.size}, computed 0x{actual:08x} (file corrupted)",
                              expected - _CRC.size)
        if (header["channels"] < 1 or header["n_samples"] < 0 or not 0 <= header["shift"] < 16
                or not 0 < header["rate"] < float("inf")):
            raise FormatError(f"{name}: header has impossible values: channels="
                              f"{header['channels']}, n_samples={header['n_samples']}, "
                              f"shift={header['shift']}, rate={header['rate']}", _PREFIX.size)
        if not isinstance(header.get("metadata", {}), dict):
            raise FormatError(f"{name}: header field 'metadata' is not a JSON object", _PREFIX.size)
        grid = header.get("grid")
        if grid is not None and (not isinstance(grid, int) or isinstance(grid, bool)
                                 or not 2 <= grid <= 65536 or header["shift"]):
            raise FormatError(f"{name}: header field 'grid' must be an integer in 2..65536 with "
                              f"shift 0, not {grid!r} (shift {header['shift']})", _PREFIX.size)
        return cls(
            codec=header["codec"],
            channels=header["channels"],
            rate=float(header["rate"]),
            n_samples=header["n_samples"],
            payload=data[header_end : expected - _CRC.size],
            params=header["params"],
            shift=header["shift"],
            metadata=header.get("metadata", {}),
            grid=grid,
            payload_offset=header_end,
        )
