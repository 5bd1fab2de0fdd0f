"""``delta``: channels in groups; per group a reference channel, the others XORed with it where that
removes spikes; ISI coding of the result (docs/formats/spikes.md, "delta")."""

from dataclasses import dataclass

import numpy as np

from ._core import (as_raster, backend_name, check_int, decode_ints, decode_positions, encode_ints,
                    encode_positions, keys_to_raster, pack_stream, Reader, spike_keys, SpikeCodec,
                    SpikeResult, varint)
from .isi import check_backend


@dataclass
class DeltaResult(SpikeResult):
    backend: str = "varint"
    group_size: int = 8
    n_groups: int = 0
    n_xored: int = 0  # channels sent XORed with their reference
    n_coded: int = 0  # ones of the transformed raster
    delta_sparsity: float = 1.0  # fraction of zero bins in the transformed raster

    def _extra(self):
        return (f", {self.n_groups} groups of {self.group_size}, {self.n_xored} channels XORed, "
                f"{self.n_coded} ones coded, {self.backend}")


class DeltaCodec(SpikeCodec):
    """Groups of ``group_size`` (1..256) neighbouring channels; the channel with the most spikes
    (lowest index on ties) is the reference, sent as is; every other channel is XORed with it
    when that gives fewer ones (a per-channel flag says which)."""

    name = "delta"

    def __init__(self, group_size: int = 8, backend: str = "auto"):
        self.group_size = check_int(group_size, "group_size", 1, 256, "delta")
        self.backend = check_backend(backend, "delta")

    def compress(self, spikes) -> tuple[bytes, DeltaResult]:
        x = as_raster(spikes, "delta")
        t_count, n_count = x.shape
        g = self.group_size
        keys = spike_keys(x)
        chan = keys // max(t_count, 1)
        counts = np.bincount(chan, minlength=n_count)
        n_groups = -(-n_count // g)
        padded = np.full(n_groups * g, -1, np.int64)
        padded[:n_count] = counts
        refs = np.argmax(padded.reshape(n_groups, g), axis=1).astype(np.int64)  # first maximum
        ref_of = np.repeat(refs + np.arange(n_groups) * g, g)[:n_count]
        # ones of (channel XOR its reference) = own + reference - 2 * coincidences
        is_ref = ref_of == np.arange(n_count)
        t = keys - chan * t_count
        ref_keyset = keys[is_ref[chan]]
        probe = ref_of[chan] * t_count + t
        coincide = np.isin(probe, ref_keyset) & ~is_ref[chan]
        both = np.bincount(chan[coincide], minlength=n_count)
        xored = ~is_ref & (counts[ref_of] - 2 * both < 0)
        coded = _toggle(keys, xored, ref_of, t_count)
        body = (varint(g) + encode_ints(refs, "auto")
                + encode_positions(np.flatnonzero(xored), n_count, "auto"))
        block = encode_positions(coded, t_count * n_count, self.backend)
        data = pack_stream("delta", t_count, n_count, body + block)
        bins = t_count * n_count
        return data, DeltaResult("delta", t_count, n_count, int(keys.size), bins, 8 * len(data),
                                 True, backend_name(block[0]), g, n_groups, int(xored.sum()),
                                 int(coded.size), 1 - coded.size / bins if bins else 1.0)

    def _body(self, header) -> np.ndarray:
        return _decode_body(header)


def _toggle(keys, xored, ref_of, t_count):
    """XOR every flagged channel with its reference (never flagged itself), on sorted keys."""
    if keys.size == 0 or not xored.any():
        return keys
    chan = keys // t_count
    flagged = np.flatnonzero(xored)
    refs = ref_of[flagged]
    starts = np.searchsorted(chan, refs, "left")
    ends = np.searchsorted(chan, refs, "right")
    moved = [keys[a:b] + (c - r) * t_count
             for c, r, a, b in zip(flagged.tolist(), refs.tolist(), starts.tolist(), ends.tolist())
             if b > a]
    if not moved:
        return keys
    merged = np.sort(np.concatenate([keys] + moved))
    same = merged[1:] == merged[:-1]  # a key present twice cancels (XOR)
    dup = np.zeros(merged.size, bool)
    dup[1:] |= same
    dup[:-1] |= same
    return merged[~dup]


def _decode_body(header) -> np.ndarray:
    t_count, n_count = header.t_count, header.n_count
    r = Reader(header.body, "delta")
    g = r.varint("group size", 256)
    if g < 1:
        r.fail("group size is 0", 0)
    n_groups = -(-n_count // g)
    start = r.offset
    refs = decode_ints(r, "reference channels", n_groups, g - 1)
    if refs.size != n_groups:
        r.fail(f"{refs.size} reference channels for {n_groups} groups", start - r.base)
    sizes = np.minimum(g, n_count - np.arange(n_groups) * g)
    bad = np.flatnonzero(refs >= sizes)
    if bad.size:
        gi = int(bad[0])
        r.fail(f"reference {refs[gi]} of the last group is outside its {sizes[gi]} channels",
               start - r.base)
    ref_of = np.repeat(refs + np.arange(n_groups) * g, g)[:n_count]
    start = r.pos
    xored = np.zeros(n_count, bool)
    xored[decode_positions(r, n_count, "XORed channel list")] = True
    bad = np.flatnonzero(xored & (ref_of == np.arange(n_count)))
    if bad.size:
        r.fail(f"reference channel {int(bad[0])} is listed as XORed", start)
    coded = decode_positions(r, t_count * n_count, "transformed spike positions")
    r.end()
    return keys_to_raster(_toggle(coded, xored, ref_of, t_count), t_count, n_count)
