"""neurocodec: golden models of neural-data codecs for tiny FPGAs.

The model is the specification: every codec here is bit-true to its format text in ``docs/formats``
and to the gateware in ``neurocodec_gateware``.

Public API::

    from neurocodec import Recording, synthetic_recording, read_recording, write_recording
    from neurocodec.codecs import get_codec, list_codecs
    from neurocodec.container import write_container, read_container
"""

from .errors import FormatError, NeurocodecError, ParameterError
from .recording import Recording, read_recording, write_recording
from .synthetic import synthetic_recording

__version__ = "0.1.0"

__all__ = [
    "FormatError",
    "NeurocodecError",
    "ParameterError",
    "Recording",
    "read_recording",
    "synthetic_recording",
    "write_recording",
    "__version__",
]
