"""Bit-exact comparison of an output stream with the golden model's."""

from collections.abc import Callable, Sequence


def assert_same_words(expected: Sequence[int], actual: Sequence[int], *, unit: str = "word",
                      width: int = 4, where: Callable[[int], str] | None = None) -> None:
    """Raise AssertionError naming the first differing ``unit``, its index and both values.

    ``width`` is the number of hex digits to print; ``where(index)`` may add context (e.g. the
    sample and channel that produced the word).
    """
    n = min(len(expected), len(actual))
    first = next((i for i in range(n) if expected[i] != actual[i]), None)
    if first is None and len(expected) == len(actual):
        return
    context = ""
    if first is not None:
        message = (f"first differing {unit} at index {first}: expected 0x{expected[first]:0{width}x}, "
                   f"got 0x{actual[first]:0{width}x}")
        if where is not None:
            context = f" ({where(first)})"
    else:
        first = n
        message = (f"{unit}s agree up to index {n}, then the output "
                   + (f"stops: {len(expected) - n} {unit}(s) missing, the next expected is "
                      f"0x{expected[n]:0{width}x}" if len(expected) > n else
                      f"has {len(actual) - n} extra {unit}(s), the first is 0x{actual[n]:0{width}x}"))
        if where is not None and len(expected) > n:
            context = f" ({where(n)})"
    raise AssertionError(f"{message}{context}; {len(expected)} {unit}s expected, {len(actual)} received")
