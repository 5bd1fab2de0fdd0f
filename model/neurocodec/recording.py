"""Multichannel recordings and the file formats labs record them in.

A :class:`Recording` is an integer array of shape (T, C) (T samples of C channels), a sample rate and,
when known, the size of one ADC step in microvolts.

Readers (chosen by :func:`read_recording` from the path):

* ``.wav``: PCM WAV, 8/16/24/32-bit integer, any number of channels; a 16-bit WAV whose values all
  lie on a :class:`CodeGrid` (the Neuralink N1 files) gets ``metadata["code_grid"] = {"levels": L}``;
* ``.npy``: a NumPy integer array of shape (T,) or (T, C) (no pickles);
* ``structure.oebin`` or a folder holding one: Open Ephys binary format, first continuous stream;
* SpikeGLX: a ``.meta`` file, or a ``.bin`` with its ``.meta`` beside it: int16 LE interleaved,
  ``nSavedChans`` channels at ``imSampRate`` (or ``niSampRate``); the ``.bin`` size must be a whole
  number of scans and equal ``fileSizeBytes`` when the meta has it;
* ``.ncs``: Neuralynx continuous channel: a 16 KiB text header (``-SamplingFrequency``,
  ``-ADBitVolts``), then 1044-byte records (u64 timestamp in us, u32 channel, u32 rate, u32 n_valid,
  512 x int16) of which the first n_valid samples count;
* anything else (``.dat``, ``.bin``, ``.raw``...): raw interleaved int16 little-endian, which
  needs ``channels`` and ``rate``.

Writers: ``.wav`` (16-bit), ``.npy``, Open Ephys binary (a path named ``structure.oebin``), raw
int16 (any other suffix).

Code grids. The N1 WAV files hold 10-bit ADC codes stretched over int16. With L = 1024 levels,
every value v of all 149 files of the development set (936 distinct values) and its code k follow,
exactly::

    k = round((v + 32768) * (L - 1) / 65535)    never a tie: 2 (v + 32768) (L - 1) is even, 65535 odd
    v = trunc(k * 65535 / (L - 1) - 32768)      truncated toward zero (ceil below 0, floor above)

so values -> codes -> values is the identity and a WAV rewritten from the codes is byte for byte
the original (its header is the canonical 44 bytes that :func:`write_recording` writes).
:class:`CodeGrid` applies the same pair of formulas, in integer arithmetic, to any L, and
:func:`detect_code_grid` finds the grid of an array.
"""

import json
import math
import re
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import FormatError, ParameterError

GRID_LEVELS = (1024, 256, 512, 2048, 4096, 8192, 16384, 32768)  # N1's 10 bits first
_NCS_HEADER = 16 * 1024
_NCS_RECORD = np.dtype([("timestamp", "<u8"), ("channel", "<u4"), ("rate", "<u4"),
                        ("n_valid", "<u4"), ("samples", "<i2", (512,))])  # 1044 bytes, packed
_META_MAX = 1 << 20  # real .meta files are tens of KiB: refuse to load a huge impostor


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
    """Read a recording, choosing the reader from the path (see the module docstring).

    ``channels``, when given for a format that stores the channel count, must match it; ``rate`` is
    only used by the formats that do not store it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir() or path.name == "structure.oebin":
        recording = _read_open_ephys(path)
    elif not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    elif suffix == ".wav":
        recording = _read_wav(path)
    elif suffix == ".npy":
        recording = _read_npy(path, rate)
    elif suffix == ".ncs":
        recording = _read_neuralynx(path)
    elif suffix == ".meta" or suffix == ".bin" and path.with_suffix(".meta").is_file():
        recording = _read_spikeglx(path.with_suffix(".meta"))
    else:
        return _read_raw(path, channels, rate)
    if channels is not None and channels != recording.channels:
        raise ParameterError(f"{path}: holds {recording.channels} channels, not {channels}")
    return recording


def write_recording(path, recording: Recording) -> None:
    """Write a recording as 16-bit WAV, ``.npy``, Open Ephys binary (a path named
    ``structure.oebin``: the folder gets it and ``continuous/neurocodec-100.0/continuous.dat``)
    or raw int16 (any other suffix), chosen by the path."""
    path = Path(path)
    samples = recording.samples
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, samples)
        return
    if samples.min(initial=0) < -32768 or samples.max(initial=0) > 32767:
        raise ParameterError(f"{path}: samples do not fit 16 bits; write .npy instead")
    samples16 = samples.astype("<i2")
    if path.name == "structure.oebin":
        _write_open_ephys(path, recording, samples16)
        return
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


def _write_open_ephys(oebin: Path, recording: Recording, samples16: np.ndarray) -> None:
    """Open Ephys binary format (GUI 0.4 layout): structure.oebin, continuous.dat (int16 LE,
    interleaved) and timestamps.npy (sample numbers), as the reader above reads it back."""
    stream = "neurocodec-100.0"
    data = oebin.parent / "continuous" / stream
    data.mkdir(parents=True, exist_ok=True)
    samples16.tofile(data / "continuous.dat")
    np.save(data / "timestamps.npy", np.arange(recording.n_samples, dtype=np.int64))
    volts = recording.uv_per_bit if recording.uv_per_bit else 1.0
    structure = {
        "GUI version": "0.4.4.1",
        "continuous": [{
            "folder_name": stream + "/", "sample_rate": recording.rate,
            "source_processor_name": "neurocodec", "source_processor_id": 100,
            "source_processor_sub_idx": 0, "recorded_processor": "neurocodec",
            "recorded_processor_id": 100, "num_channels": recording.channels,
            "channels": [{"channel_name": f"CH{c + 1}", "description": "decoded by neurocodec",
                          "identifier": "genericdata.continuous", "history": "neurocodec",
                          "bit_volts": volts, "units": "uV", "source_processor_index": c,
                          "recorded_processor_index": c} for c in range(recording.channels)],
        }],
        "events": [], "spikes": [],
    }
    oebin.write_text(json.dumps(structure, indent=2) + "\n")


@dataclass(frozen=True)
class CodeGrid:
    """``levels`` ADC codes stretched evenly over int16, as in the N1 files (see the module docstring).

    A codec that knows the grid compresses the codes (10 bits for N1) instead of the stretched int16
    values, and still restores the values exactly.
    """

    levels: int

    def __post_init__(self):
        if not 2 <= self.levels <= 65536:
            raise ParameterError(f"a code grid has 2 to 65536 levels, not {self.levels}")

    def to_codes(self, values) -> np.ndarray:
        """The codes (uint16) of values on the grid; a value off the grid is a ParameterError."""
        values = np.asarray(values)
        codes = self._nearest_codes(values)
        off = np.flatnonzero(self.to_values(codes) != values)
        if off.size:
            where = np.unravel_index(off[0], values.shape)
            raise ParameterError(f"value {values[where]} at index {tuple(map(int, where))} is not on "
                                 f"the {self.levels}-level code grid")
        return codes

    def to_values(self, codes) -> np.ndarray:
        """The int16 values of codes 0..levels-1 (exact integer arithmetic, no float rounding)."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size and (codes.min() < 0 or codes.max() >= self.levels):
            raise ParameterError(f"codes of a {self.levels}-level grid lie in 0..{self.levels - 1}, "
                                 f"not {codes.min()}..{codes.max()}")
        scaled = codes * 65535 - 32768 * (self.levels - 1)
        return (np.sign(scaled) * (np.abs(scaled) // (self.levels - 1))).astype(np.int16)

    def _nearest_codes(self, values) -> np.ndarray:
        # round(x) as floor(x + 1/2) in integers; clipped so that values outside int16 come back
        # from to_values changed (hence refused) instead of wrapping around.
        stretched = np.asarray(values, dtype=np.int64) + 32768
        codes = (stretched * 2 * (self.levels - 1) + 65535) // 131070
        return np.clip(codes, 0, self.levels - 1).astype(np.uint16)


def detect_code_grid(samples) -> CodeGrid | None:
    """The first grid of :data:`GRID_LEVELS` that every value of an int16 array lies on, or None.

    Only the distinct values are tested, so the cost is one pass over the samples. An empty array,
    or one with values outside int16, has no grid.
    """
    values = np.asarray(samples)
    if (values.size == 0 or values.dtype.kind not in "iu"
            or values.min() < -32768 or values.max() > 32767):
        return None
    present = np.zeros(65536, bool)
    present[values.astype(np.int16, copy=False).view(np.uint16) ^ 0x8000] = True
    distinct = np.flatnonzero(present) - 32768
    for levels in GRID_LEVELS:
        grid = CodeGrid(levels)
        if np.array_equal(grid.to_values(grid._nearest_codes(distinct)), distinct):
            return grid
    return None


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
    metadata = {"source": str(path), "format": "wav"}
    grid = detect_code_grid(samples) if width == 2 else None
    if grid:
        metadata["code_grid"] = {"levels": grid.levels}
    return Recording(samples.reshape(-1, channels).copy(), float(rate), metadata=metadata)


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


def _read_spikeglx(meta: Path) -> Recording:
    data = meta.with_suffix(".bin")
    if not data.is_file():
        raise FileNotFoundError(f"{data}: no such file (the samples that {meta.name} describes)")
    if meta.stat().st_size > _META_MAX:
        raise FormatError(f"{meta}: {meta.stat().st_size} bytes, too large for a SpikeGLX .meta file",
                          _META_MAX)
    fields = _text_fields(meta.read_bytes().decode("latin-1"), r"([^=]+)=(.*)")
    channels = _number(fields, "nSavedChans", meta, int)
    rate = _number(fields, next((key for key in ("imSampRate", "niSampRate") if key in fields),
                                "imSampRate or niSampRate"), meta)
    for key in ("snsApLfSy", "snsMnMaXaDw"):  # the saved channels by kind must add up
        if key in fields and (total := sum(_counts(fields, key, meta))) != channels:
            raise FormatError(f"{meta}: nSavedChans={channels} but {key}={fields[key][0]} adds up "
                              f"to {total}", fields[key][1])
    size = data.stat().st_size
    announced = _number(fields, "fileSizeBytes", meta, int) if "fileSizeBytes" in fields else size
    if announced != size:
        raise FormatError(f"{data}: holds {size} bytes but {meta.name} says fileSizeBytes={announced} "
                          "(truncated or not its data file)", min(size, announced))
    if size == 0:
        raise FormatError(f"{data}: empty, no samples", 0)
    recording = _read_raw(data, channels, rate)
    recording.uv_per_bit = _spikeglx_uv_per_bit(fields, meta)
    recording.metadata = {"source": str(data), "format": "spikeglx"}
    return recording


def _spikeglx_uv_per_bit(fields: dict, meta: Path) -> float | None:
    """(imAiRangeMax - imAiRangeMin) / (2 imMaxInt) volts per bit at the ADC, over the probe gain.

    None unless the meta states every term: older metas (like the development file) lack
    ``imMaxInt``, and the gain is only known from a Neuropixels-1.0-layout imro table (probe type 0,
    entries ``(chan bank ref apGain lfGain apFilter)``) giving one gain to every channel of a stream
    that saves only AP or only LF channels. Defaults would be guesses.
    """
    if not all(key in fields for key in ("imAiRangeMax", "imAiRangeMin", "imMaxInt", "~imroTbl",
                                         "snsApLfSy")):
        return None
    counts = _counts(fields, "snsApLfSy", meta)
    table = re.findall(r"\(([^()]*)\)", fields["~imroTbl"][0])
    entries = [entry.split() for entry in table[1:]]
    if (len(counts) != 3 or counts[0] and counts[1] or not table
            or table[0].split(",")[0].strip() != "0" or any(len(entry) != 6 for entry in entries)):
        return None
    gains = {entry[3 if counts[1] == 0 else 4] for entry in entries}
    if len(gains) != 1 or not (gain := gains.pop()).isdecimal() or int(gain) == 0:
        return None
    low = _number(fields, "imAiRangeMin", meta, low=-math.inf)
    high = _number(fields, "imAiRangeMax", meta, low=low)
    return (high - low) / (2 * _number(fields, "imMaxInt", meta, int)) * 1e6 / int(gain)


def _read_neuralynx(path: Path) -> Recording:
    size = path.stat().st_size
    if size < _NCS_HEADER:
        raise FormatError(f"{path}: truncated: {size} bytes, shorter than the {_NCS_HEADER}-byte "
                          "Neuralynx header", size)
    with path.open("rb") as source:
        header = source.read(_NCS_HEADER)
    fields = _text_fields(header.split(b"\0", 1)[0].decode("latin-1"), r"-(\w+)\s*(.*)")
    rate = _number(fields, "SamplingFrequency", path)
    volts = _number(fields, "ADBitVolts", path) if "ADBitVolts" in fields else None
    count, partial = divmod(size - _NCS_HEADER, _NCS_RECORD.itemsize)
    if partial:
        raise FormatError(f"{path}: truncated record {count} (counting from 0) at byte offset "
                          f"{size - partial}: {partial} of its {_NCS_RECORD.itemsize} bytes",
                          size - partial)
    if count == 0:
        raise FormatError(f"{path}: no records after the header", _NCS_HEADER)
    records = np.fromfile(path, _NCS_RECORD, offset=_NCS_HEADER)
    n_valid = records["n_valid"]
    if (bad := np.flatnonzero(n_valid > 512)).size:
        offset = _NCS_HEADER + int(bad[0]) * _NCS_RECORD.itemsize + _NCS_RECORD.fields["n_valid"][1]
        raise FormatError(f"{path}: record {bad[0]} (counting from 0) at byte offset {offset} claims "
                          f"{n_valid[bad[0]]} valid samples, more than 512", offset)
    samples = records["samples"][np.arange(512) < n_valid[:, np.newaxis]]
    return Recording(samples, rate, volts * 1e6 if volts else None, metadata={
        "source": str(path), "format": "neuralynx-ncs", "records": count,
        "first_timestamp_us": int(records["timestamp"][0])})


def _text_fields(text: str, pattern: str) -> dict:
    """``{key: (value, byte offset of its line)}`` of the lines of a text header matching ``pattern``.

    Any line ending is accepted and other lines are skipped: headers carry comments and free text.
    Offsets count characters, which are bytes because the headers are decoded as Latin-1.
    """
    fields, offset = {}, 0
    for line in text.splitlines(keepends=True):
        if match := re.fullmatch(pattern, line.strip()):
            fields[match[1].strip()] = (match[2].strip(), offset)
        offset += len(line)
    return fields


def _number(fields: dict, key: str, where, kind=float, low=0.0):
    """``fields[key]`` as a finite ``kind`` above ``low``; a FormatError naming the key otherwise."""
    if key not in fields:
        raise FormatError(f"{where}: no {key} in the header")
    text, offset = fields[key]
    try:
        value = kind(text)
    except ValueError:
        value = math.nan
    if not low < value < math.inf:
        raise FormatError(f"{where}: {key} {text!r} (line at byte {offset}) is not a valid value",
                          offset)
    return value


def _counts(fields: dict, key: str, where) -> list[int]:
    """A comma-separated list of channel counts, such as SpikeGLX ``snsApLfSy=384,0,1``."""
    text, offset = fields[key]
    try:
        return [int(count) for count in text.split(",")]
    except ValueError:
        raise FormatError(f"{where}: {key} {text!r} (line at byte {offset}) is not a list of "
                          "channel counts", offset) from None
