"""Canonical prefix codes, shared by the codecs (``dhuff``'s dictionaries, the spike codecs'
integer tables): optimal length-limited code lengths and the canonical code of given lengths."""

import numpy as np


def code_tables(lengths: np.ndarray):
    """The canonical code (the DEFLATE rule), by length l = 0..33: (count of symbols of length l,
    first code of length l, index in ``order`` of its first symbol, ``order``: the symbols sorted
    by (length, symbol))."""
    counts = np.bincount(lengths, minlength=34).astype(np.int64)
    first_code = np.zeros(34, np.int64)
    first_index = np.zeros(34, np.int64)
    for length in range(1, 34):
        first_code[length] = (first_code[length - 1] + counts[length - 1]) << 1
        first_index[length] = first_index[length - 1] + counts[length - 1]
    order = np.lexsort((np.arange(lengths.size), lengths)).astype(np.int64)
    return counts, first_code, first_index, order


def package_merge(counts: np.ndarray, max_length: int) -> np.ndarray:
    """Optimal code lengths <= max_length (Larmore-Hirschberg package-merge), deterministic."""
    n = counts.size
    order = np.argsort(counts, kind="stable")
    leaves = counts[order]
    lists, is_package = [leaves], [np.zeros(n, bool)]
    for _ in range(max_length - 1):
        previous = lists[-1]
        pairs = previous[: previous.size // 2 * 2].reshape(-1, 2).sum(axis=1)
        merged = np.concatenate((leaves, pairs))
        kind = np.concatenate((np.zeros(n, bool), np.ones(pairs.size, bool)))
        rank = np.argsort(merged, kind="stable")  # leaves before packages on ties
        lists.append(merged[rank])
        is_package.append(kind[rank])
    lengths = np.zeros(n, np.int64)
    take = 2 * n - 2
    for level in range(max_length - 1, -1, -1):
        chosen = is_package[level][:take]
        lengths[order[: int((~chosen).sum())]] += 1
        take = 2 * int(chosen.sum())
    return lengths


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """The code of every symbol (lengths 1..33): symbols sorted by (length, symbol) take
    consecutive codes, the first code of length l being (first code of l-1 + count of l-1) << 1
    (the DEFLATE rule)."""
    lengths = np.asarray(lengths, np.int64)
    _, first_code, first_index, order = code_tables(lengths)
    rank = np.empty(lengths.size, np.int64)
    rank[order] = np.arange(lengths.size)
    return first_code[lengths] + rank - first_index[lengths]
