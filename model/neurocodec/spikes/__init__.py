"""Spike codecs: binary spike rasters (T timesteps x N channels) in, bytes out.

Every stream starts with the common versioned header (codec id, T, N) and ends with a CRC-32, so
``decompress(data)`` needs nothing else. The formats are specified in ``docs/formats/spikes.md``.

    from neurocodec.spikes import get_codec, decompress, recommend_codec
    data, result = get_codec("isi", backend="huffman").compress(raster)   # raster: (T, N) 0/1
    print(result.summary())
    assert (decompress(data) == raster).all()

Codecs: ``isi`` (ISICodec), ``predictive`` (PredictiveCodec: ema, lfsr, context, world_model),
``delta`` (DeltaCodec), ``streaming`` (StreamingCodec), ``aer`` (AERCodec), and the lossy
``waveform`` (WaveformCodec: int16 samples in, int16 samples out).
"""

from ._core import (CODEC_IDS, DEFAULT_MAX_BINS, SpikeResult, parse_header)
from .aer import AERCodec, AERResult
from .delta import DeltaCodec, DeltaResult
from .isi import ISICodec, ISIResult
from .predictive import PREDICTOR_IDS, PredictiveCodec, PredictiveResult
from .streaming import StreamingCodec, StreamingResult, worst_case_frame_bytes
from .synthetic import synthetic_raster
from .waveform import WaveformCodec, WaveformResult, detect
from ..errors import ParameterError

_CODECS = {"isi": ISICodec, "predictive": PredictiveCodec, "delta": DeltaCodec,
           "streaming": StreamingCodec, "aer": AERCodec, "waveform": WaveformCodec}
LOSSLESS_CODECS = ("isi", "predictive", "delta", "streaming", "aer")


def list_codecs() -> list[str]:
    """The codec names, in the order of their codec ids."""
    return sorted(_CODECS, key=CODEC_IDS.get)


def get_codec(name: str, **kwargs):
    """A codec object; unknown names raise ParameterError (a ValueError) listing the names."""
    try:
        cls = _CODECS[name]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown spike codec {name!r}; the codecs are: "
                             f"{', '.join(list_codecs())}") from None
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise ParameterError(f"spike codec {name!r}: {error}") from None


def recommend_codec(n_channels: int, firing_rate: float, latency_ms: float = 10,
                    correlated: bool = False, neuromorphic: bool = False) -> str:
    """The issue's rule: neuromorphic -> aer; latency <= 1 ms -> streaming; correlated with >= 16
    channels -> delta; >= 64 channels -> predictive; else isi. ``firing_rate`` (Hz) is checked
    but does not change the choice."""
    if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
        raise ParameterError(f"recommend_codec: n_channels must be a positive integer, not "
                             f"{n_channels!r}")
    if not firing_rate >= 0 or not latency_ms >= 0:
        raise ParameterError("recommend_codec: firing_rate and latency_ms must be >= 0")
    if neuromorphic:
        return "aer"
    if latency_ms <= 1:
        return "streaming"
    if correlated and n_channels >= 16:
        return "delta"
    if n_channels >= 64:
        return "predictive"
    return "isi"


def decompress(data, max_bins: int = DEFAULT_MAX_BINS):
    """Decode any spike stream: the codec, T and N come from its header."""
    header = parse_header(data, None, max_bins)
    return _CODECS[header.codec]().decompress(data, max_bins=max_bins)


def info(data, max_bins: int = DEFAULT_MAX_BINS) -> dict:
    """The header fields of a stream (after checking the header and the CRC)."""
    header = parse_header(data, None, max_bins)
    return {"codec": header.codec, "T": header.t_count, "N": header.n_count,
            "body_bytes": len(header.body), "bytes": len(data)}


__all__ = ["AERCodec", "AERResult", "DeltaCodec", "DeltaResult", "ISICodec", "ISIResult",
           "LOSSLESS_CODECS", "PREDICTOR_IDS", "PredictiveCodec", "PredictiveResult",
           "SpikeResult", "StreamingCodec", "StreamingResult", "WaveformCodec", "WaveformResult",
           "decompress", "detect", "get_codec", "info", "list_codecs", "recommend_codec",
           "synthetic_raster", "worst_case_frame_bytes"]
