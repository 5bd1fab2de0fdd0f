"""Exceptions raised by the golden model.

Every error about a file or a bitstream says *what* is wrong and *where* (a byte offset, a sample
index, a channel), so that the CLI can print it verbatim and exit non-zero.
"""


class NeurocodecError(Exception):
    """Base class of every error the model raises on purpose."""


class FormatError(NeurocodecError, ValueError):
    """A file or bitstream does not follow its format.

    ``offset`` is the byte offset (from the start of the stream or file being parsed) of the first
    byte that breaks the format, or ``None`` when the problem has no single position.
    """

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset


class ParameterError(NeurocodecError, ValueError):
    """A parameter or an input array is outside what a codec accepts."""
