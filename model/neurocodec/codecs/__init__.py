"""Registry of the sample codecs (multichannel recordings in, bytes out).

``get_codec(name, **params)`` returns a codec object; ``list_codecs()`` names them. Each codec's
bitstream is specified in ``docs/formats/<name>.md``.
"""

from abc import ABC, abstractmethod

import numpy as np

from ..container import Container
from ..errors import FormatError, ParameterError
from ..recording import CodeGrid, Recording
from . import dhuff, maestro


class Codec(ABC):
    """A codec of integer sample arrays of shape (T, C)."""

    name: str
    summary: str
    sample_bits: int  # signed input width the codec accepts
    max_channels: int

    @abstractmethod
    def encode(self, samples: np.ndarray) -> bytes:
        """Encode samples of shape (T, C); raise ParameterError on input the codec cannot take."""

    @abstractmethod
    def decode(self, payload: bytes, channels: int, n_samples: int | None = None) -> np.ndarray:
        """Decode a payload into samples of shape (T, channels); raise FormatError on bad input.
        ``n_samples`` (T) is needed by codecs whose stream does not end on a sample."""

    def params(self) -> dict:
        """Parameters a decoder needs besides the channel count (stored in the container)."""
        return {}


class MaestroCodec(Codec):
    name = "maestro"
    summary = "Maestro/Cntrlx delta bytes: 12-bit samples, 1 or 2 bytes per sample, up to 16 channels"
    sample_bits = maestro.SAMPLE_BITS
    max_channels = maestro.MAX_CHANNELS

    def encode(self, samples):
        return maestro.encode(samples)

    def decode(self, payload, channels, n_samples=None):
        return maestro.decode(payload, channels)


class DhuffCodec(Codec):
    name = "dhuff"
    summary = ("delta + partial Huffman (Cuevas-Lopez 2022): 16-bit samples, D dropped bits, "
               "ROM dictionary, blocks and frames")
    sample_bits = 16
    max_channels = 4096

    def __init__(self, discard_bits=0, low_bits=4, block=64, frame_words=256, sample_bits=16,
                 contexts=1, reversion=0, dictionary=None, known_dictionaries=(),
                 embed_dictionary=True):
        self.dhuff_params = dhuff.DhuffParams(discard_bits, low_bits, block, frame_words,
                                              sample_bits, contexts, reversion)
        self.sample_bits = sample_bits
        self.embed_dictionary = embed_dictionary
        if dictionary is None:
            dictionary = dhuff.default_dictionary(self.dhuff_params)
        self.dictionary = dhuff.resolve_dictionary(dictionary, known_dictionaries)
        dhuff._check_dictionary(self.dictionary, self.dhuff_params)

    def encode(self, samples):
        return dhuff.encode(samples, self.dhuff_params, self.dictionary)

    def decode(self, payload, channels, n_samples=None):
        if n_samples is None:
            raise ParameterError("dhuff: decoding needs the sample count (from the container)")
        return dhuff.decode(payload, channels, n_samples, self.dhuff_params, self.dictionary)

    def params(self):
        p = self.dhuff_params
        builtin = dhuff.builtin_dictionaries().get(self.dictionary.name)
        is_builtin = builtin is not None and builtin.sha256() == self.dictionary.sha256()
        stored = (self.dictionary.reference() if is_builtin or not self.embed_dictionary
                  else self.dictionary.to_json())
        return {"discard_bits": p.discard_bits, "low_bits": p.low_bits, "block": p.block,
                "frame_words": p.frame_words, "sample_bits": p.sample_bits,
                "contexts": p.contexts, "reversion": p.reversion, "dictionary": stored}


_CODECS = {codec.name: codec for codec in (DhuffCodec, MaestroCodec)}


def list_codecs() -> list[str]:
    return sorted(_CODECS)


def get_codec(name: str, **params) -> Codec:
    try:
        cls = _CODECS[name]
    except KeyError:
        raise ParameterError(
            f"unknown codec {name!r}; the codecs are: {', '.join(list_codecs())}"
        ) from None
    try:
        return cls(**params)
    except TypeError as error:
        raise ParameterError(f"codec {name!r}: {error}") from None


def reduce_samples(samples: np.ndarray, shift: int) -> np.ndarray:
    """Drop ``shift`` low bits (arithmetic shift right: rounds towards minus infinity)."""
    if not 0 <= shift < 16:
        raise ParameterError(f"shift must be in 0..15, not {shift}")
    return np.asarray(samples).astype(np.int32) >> shift


def fitting_shift(samples: np.ndarray, sample_bits: int) -> int:
    """The fewest low bits to drop so that every sample fits ``sample_bits`` signed bits."""
    samples = np.asarray(samples)
    low, high = int(samples.min(initial=0)), int(samples.max(initial=0))
    for shift in range(16):
        if low >> shift >= -(1 << (sample_bits - 1)) and high >> shift < 1 << (sample_bits - 1):
            return shift
    raise ParameterError(f"samples span [{low}, {high}]: too wide for {sample_bits}-bit samples")


def recording_grid(recording) -> int | None:
    """The code grid (levels) a reader found in the recording (N1 WAV files), or None."""
    grid = recording.metadata.get("code_grid")
    return int(grid["levels"]) if isinstance(grid, dict) and "levels" in grid else None


def grid_sample_bits(levels: int) -> int:
    """Signed bits that hold the centred codes k - levels // 2 of a grid."""
    return max(2, (levels - 1).bit_length())


def encode_recording(recording, codec: str | Codec, shift: int = 0, grid: int | None = None):
    """Encode a Recording into a Container (the ``.ncd`` file, ``docs/formats/container.md``).

    ``grid``: code the recording's values as the codes of a ``grid``-level code grid, centred
    (k - grid // 2); the container records it and the decoder restores the values exactly."""
    codec = get_codec(codec) if isinstance(codec, str) else codec
    if recording.channels > codec.max_channels:
        raise ParameterError(
            f"codec {codec.name!r} takes at most {codec.max_channels} channels; the recording "
            f"has {recording.channels} (select channels first)"
        )
    if grid is not None:
        if shift:
            raise ParameterError("a code grid and a shift exclude each other")
        samples = CodeGrid(grid).to_codes(recording.samples).astype(np.int32) - grid // 2
    else:
        samples = reduce_samples(recording.samples, shift)
    payload = codec.encode(samples)
    metadata = {"uv_per_bit": recording.uv_per_bit} if recording.uv_per_bit else {}
    if recording.metadata.get("format"):
        metadata["source_format"] = recording.metadata["format"]
    return Container(
        codec=codec.name, channels=recording.channels, rate=recording.rate,
        n_samples=recording.n_samples, payload=payload, params=codec.params(), shift=shift,
        metadata=metadata, grid=grid,
    )


def restore_samples(samples, shift: int = 0, grid: int | None = None) -> np.ndarray:
    """Undo the container's sample transform: centred grid codes back to values, or the dropped
    ``shift`` low bits back as zeros. int16 when every value fits, else int32."""
    if grid is not None:
        samples = CodeGrid(grid).to_values(np.asarray(samples, np.int64) + grid // 2)
    samples = np.asarray(samples).astype(np.int32) << shift
    if samples.min(initial=0) >= -32768 and samples.max(initial=0) <= 32767:
        samples = samples.astype(np.int16)
    return samples


def decode_container(container, known_dictionaries=()):
    """Decode a Container back into a Recording (dropped low bits come back as zeros).

    ``known_dictionaries``: dhuff dictionaries a container may refer to by hash, besides the
    built-in ones."""
    if not 0 <= container.shift < 16:
        raise ParameterError(f"shift must be in 0..15, not {container.shift}")
    params = dict(container.params)
    if container.codec == "dhuff" and known_dictionaries:
        params["known_dictionaries"] = tuple(known_dictionaries)
    codec = get_codec(container.codec, **params)
    try:
        samples = codec.decode(container.payload, container.channels, container.n_samples)
    except FormatError as error:
        if not container.payload_offset or error.offset is None:
            raise
        offset = container.payload_offset + error.offset
        raise FormatError(f"{error} (offsets count from the payload, which starts at file offset "
                          f"{container.payload_offset}: file offset {offset})", offset) from None
    if samples.shape[0] != container.n_samples:
        raise FormatError(
            f"{container.codec} payload holds {samples.shape[0]} samples per channel, the header "
            f"says {container.n_samples}"
        )
    try:
        samples = restore_samples(samples, container.shift, container.grid)
    except ParameterError as error:
        raise FormatError(f"{container.codec} payload: {error}") from None
    metadata = {"codec": container.codec, "shift": container.shift}
    if isinstance(container.metadata.get("source_format"), str):
        metadata["format"] = container.metadata["source_format"]
    if container.grid is not None:
        metadata["code_grid"] = {"levels": container.grid}
    return Recording(samples, container.rate, container.metadata.get("uv_per_bit"),
                     metadata=metadata)
