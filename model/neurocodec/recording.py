"""Multichannel recordings and the file formats labs record them in.

A :class:`Recording` is an integer array of shape (T, C) (T samples of C channels), a sample rate and,
when known, the size of one ADC step in microvolts.

Readers (chosen by :func:`read_recording` from the path):

* ``.wav``: PCM WAV, 8/16/24/32-bit integer, any number of channels;
* ``.npy``: a NumPy integer array of shape (T,) or (T, C) (no pickles);
* ``structure.oebin`` or a folder holding one: Open Ephys binary format, first continuous stream;
* anything else (``.dat``, ``.bin``, ``.raw``...): raw interleaved int16 little-endian, which
  needs ``channels`` and ``rate``.

Writers: ``.wav`` (16-bit), ``.npy``, raw int16 (any other suffix).
"""

import json
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import FormatError, ParameterError


@dataclass
class Recording:
    samples: np.ndarray  # integers, shape (T, C)
    rate: float  # samples per second per channel
    uv_per_bit: float | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        samples = np.asarray(self.samples)
        if samples.ndim == 1:
            samples = samples[:, np.newaxis]
        if samples.ndim != 2 or samples.dtype.kind not in "iu":
            raise ParameterError(
                f"a recording is an integer array of shape (T, C), not {samples.dtype} {samples.shape}"
            )
        if not self.rate > 0:
            raise ParameterError(f"sample rate must be positive, not {self.rate}")
        self.samples = samples

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def n_samples(self) -> int:
        return self.samples.shape[0]

    @property
    def duration(self) -> float:
        return self.n_samples / self.rate


def read_recording(path, *, channels: int | None = None, rate: float | None = None) -> Recording:
    """Read a recording, choosing the reader from the path (see the module docstring)."""
    path = Path(path)
    if path.is_dir() or path.name == "structure.oebin":
        return _read_open_ephys(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".wav":
        recording = _read_wav(path)
    elif suffix == ".npy":
        recording = _read_npy(path, rate)
    else:
        recording = _read_raw(path, channels, rate)
    if channels is not None and suffix in (".wav", ".npy") and channels != recording.channels:
        raise ParameterError(f"{path}: holds {recording.channels} channels, not {channels}")
    return recording


def write_recording(path, recording: Recording) -> None:
    """Write a recording as 16-bit WAV, ``.npy`` or raw int16, chosen by the suffix."""
    path = Path(path)
    samples = recording.samples
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, samples)
        return
    if samples.min(initial=0) < -32768 or samples.max(initial=0) > 32767:
        raise ParameterError(f"{path}: samples do not fit 16 bits; write .npy instead")
    samples16 = samples.astype("<i2")
    if suffix == ".wav":
        if recording.rate != int(recording.rate):
            raise ParameterError(f"{path}: WAV needs an integer sample rate, not {recording.rate}")
        with wave.open(str(path), "wb") as out:
            out.setnchannels(recording.channels)
            out.setsampwidth(2)
            out.setframerate(int(recording.rate))
            out.writeframes(samples16.tobytes())
    else:
        path.write_bytes(samples16.tobytes())


def _read_wav(path: Path) -> Recording:
    try:
        with wave.open(str(path), "rb") as source:
            channels = source.getnchannels()
            width = source.getsampwidth()
            rate = source.getframerate()
            frames = source.getnframes()
            raw = source.readframes(frames)
    except (wave.Error, EOFError) as error:
        raise FormatError(f"{path}: not a readable PCM WAV file: {error}") from None
    if len(raw) != frames * channels * width:
        raise FormatError(f"{path}: truncated: header announces {frames} frames, data holds "
                          f"{len(raw) // max(1, channels * width)}")
    if width == 1:
        samples = np.frombuffer(raw, np.uint8).astype(np.int16) - 128
    elif width == 2:
        samples = np.frombuffer(raw, "<i2")
    elif width == 3:
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        samples = (triples[:, 0] | triples[:, 1] << 8 | triples[:, 2] << 16) << 8 >> 8
    elif width == 4:
        samples = np.frombuffer(raw, "<i4")
    else:
        raise FormatError(f"{path}: {8 * width}-bit WAV samples are not supported")
    return Recording(samples.reshape(-1, channels).copy(), float(rate),
                     metadata={"source": str(path), "format": "wav"})


def _read_npy(path: Path, rate: float | None) -> Recording:
    try:
        samples = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as error:
        raise FormatError(f"{path}: not a readable .npy array: {error}") from None
    if samples.ndim not in (1, 2) or samples.dtype.kind not in "iu":
        raise FormatError(f"{path}: needs an integer array of shape (T,) or (T, C), found "
                          f"{samples.dtype} {samples.shape}")
    if rate is None:
        raise ParameterError(f"{path}: a .npy file does not store the sample rate; give it (--rate)")
    return Recording(np.array(samples), float(rate), metadata={"source": str(path), "format": "npy"})


def _read_raw(path: Path, channels: int | None, rate: float | None) -> Recording:
    if channels is None or rate is None:
        raise ParameterError(f"{path}: raw int16 data needs the channel count and the sample rate "
                             "(--channels, --rate)")
    if channels < 1:
        raise ParameterError(f"{path}: channel count must be at least 1, not {channels}")
    size = path.stat().st_size
    if size % (2 * channels):
        raise FormatError(f"{path}: {size} bytes is not a whole number of {channels}-channel "
                          f"int16 scans ({2 * channels} bytes each)", size - size % (2 * channels))
    samples = np.fromfile(path, "<i2").reshape(-1, channels)
    return Recording(samples, float(rate), metadata={"source": str(path), "format": "raw-int16"})


def _read_open_ephys(path: Path) -> Recording:
    oebin = path / "structure.oebin" if path.is_dir() else path
    if not oebin.is_file():
        found = sorted(path.rglob("structure.oebin")) if path.is_dir() else []
        if not found:
            raise FileNotFoundError(f"{path}: no structure.oebin (Open Ephys binary format) here")
        oebin = found[0]
    try:
        structure = json.loads(oebin.read_text())
        stream = structure["continuous"][0]
        folder = oebin.parent / "continuous" / stream["folder_name"]
        channels = int(stream["num_channels"])
        rate = float(stream["sample_rate"])
        bit_volts = {float(ch.get("bit_volts", 0)) for ch in stream.get("channels", [])}
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as error:
        raise FormatError(f"{oebin}: not an Open Ephys structure.oebin: {error!r}") from None
    recording = _read_raw(folder / "continuous.dat", channels, rate)
    recording.uv_per_bit = bit_volts.pop() if len(bit_volts) == 1 else None
    recording.metadata = {"source": str(oebin), "format": "open-ephys-binary"}
    return recording
