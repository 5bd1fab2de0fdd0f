"""dhuff streaming encoder, packet layer and loss-tolerant decoding (docs/formats/dhuff.md,
"Streaming" and "Packets"), code grids and dictionary references in the container."""

import binascii
import json

import numpy as np
import pytest

from neurocodec import Recording, synthetic_recording
from neurocodec.codecs import decode_container, dhuff, encode_recording, get_codec
from neurocodec.container import Container
from neurocodec.errors import FormatError, ParameterError
from neurocodec.recording import CodeGrid

SEED = 20261120


def walk(channels=4, scans=3000, seed=SEED):
    rng = np.random.default_rng(seed)
    return np.clip(np.cumsum(rng.integers(-40, 41, (scans, channels)), axis=0), -32768, 32767)


@pytest.mark.parametrize("block, frame_words, channels", [(16, 32, 4), (1, 2, 1), (64, 256, 3),
                                                          (7, 5, 2)])
def test_stream_encoder_equals_whole_array_encoder(block, frame_words, channels):
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    params = dhuff.DhuffParams(low_bits=2, block=block, frame_words=frame_words)
    d = dhuff.default_dictionary(params)
    x = walk(channels, 700)
    expected = dhuff.encode(x, params, d)
    for _ in range(5):
        cuts = np.sort(rng.integers(0, 701, rng.integers(0, 12)))
        stream = dhuff.StreamEncoder(channels, params, d)
        out = []
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, 700]):
            stream.push(x[a:b])
            pulled = stream.pull()
            assert len(pulled) % (2 * frame_words) == 0
            out.append(pulled)
        out.append(stream.close())
        assert b"".join(out) == expected
        assert stream.scans == 700


def test_stream_encoder_of_nothing_is_one_frame_and_refuses_late_pushes():
    params = dhuff.DhuffParams(block=4, frame_words=8)
    stream = dhuff.StreamEncoder(2, params, dhuff.default_dictionary(params))
    assert stream.pull() == b""
    assert stream.close() == b"\xff\xff"  # no data words, boundary "no block starts here"
    with pytest.raises(ParameterError, match="after close"):
        stream.push(np.zeros((1, 2), int))
    with pytest.raises(ParameterError, match="3 channels"):
        dhuff.StreamEncoder(2, params, dhuff.default_dictionary(params)).push(np.zeros((1, 3), int))


def test_packet_layout_by_hand():
    """sync 0x4E43, sequence number, the frame, CRC-16/CCITT-FALSE of sequence + frame."""
    params = dhuff.DhuffParams(block=4, frame_words=4)
    frames = bytes(range(16))  # two 4-word frames
    packets = dhuff.packetize(frames, params, first_sequence=0xFFFF)
    assert len(packets) == 2 * dhuff.packet_bytes(params) == 2 * 14
    first, second = packets[:14], packets[14:]
    assert first[:4] == b"\x4e\x43\xff\xff" and second[:4] == b"\x4e\x43\x00\x00"
    assert first[4:12] == frames[:8] and second[4:12] == frames[8:]
    # CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection; check value of "123456789"
    assert binascii.crc_hqx(b"123456789", 0xFFFF) == 0x29B1
    assert int.from_bytes(first[12:], "big") == binascii.crc_hqx(first[2:12], 0xFFFF)


def setup_stream(channels=4, scans=3000, block=16, frame_words=32, low_bits=3):
    params = dhuff.DhuffParams(low_bits=low_bits, block=block, frame_words=frame_words)
    d = dhuff.default_dictionary(params)
    x = walk(channels, scans)
    frames = dhuff.encode(x, params, d)
    # Word span of every block (from its index word to the next block's), from the encoder.
    _, block_words = dhuff._encode_blocks(x.astype(np.int64), 0, params, d)
    ends = np.cumsum(block_words)
    return params, d, x, frames, ends - block_words, ends


def expected_lost_blocks(starts, ends, missing_frames, frame_words):
    """Blocks with a data word in a missing frame (frame f holds data words f(M-1)..)."""
    missing = set(missing_frames)
    m1 = frame_words - 1
    return {b for b, (s, e) in enumerate(zip(starts, ends))
            if any(f in missing for f in range(s // m1, (e - 1) // m1 + 1))}


def check_loss(result, x, lost_blocks, block):
    """Every sample outside the lost ranges is exact; the lost ranges are exactly the lost
    blocks; lost samples are zeros, not made up."""
    scans = x.shape[0]
    reported = np.zeros(scans, bool)
    for start, stop in result.lost:
        assert 0 <= start < stop <= scans
        reported[start:stop] = True
    expected = np.zeros(scans, bool)
    for b in lost_blocks:
        expected[b * block:(b + 1) * block] = True
    assert np.array_equal(reported, expected)
    assert np.array_equal(result.received, ~expected)
    assert np.array_equal(result.samples[~reported], x[~reported])
    assert not result.samples[reported].any()
    assert result.lost_scans == reported.sum()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_percent_of_packets_dropped(seed):
    print(f"seed {seed}")
    params, d, x, frames, starts, ends = setup_stream(4, 6000)
    packets = dhuff.packetize(frames, params)
    size = dhuff.packet_bytes(params)
    n = len(packets) // size
    rng = np.random.default_rng(seed)
    dropped = np.flatnonzero(rng.random(n) < 0.01)
    assert dropped.size  # the seeds are chosen so that something is lost
    kept = b"".join(packets[i * size:(i + 1) * size] for i in range(n) if i not in set(dropped))
    result = dhuff.decode_packets(kept, 4, params, d, n_samples=x.shape[0])
    assert result.missing_packets == dropped.size - (dropped[-1] == n - 1)
    check_loss(result, x, expected_lost_blocks(starts, ends, dropped, params.frame_words),
               params.block)


def test_corrupted_packets_and_garbage_between_packets():
    params, d, x, frames, starts, ends = setup_stream(3, 2000, block=8, frame_words=16)
    packets = bytearray(dhuff.packetize(frames, params))
    size = dhuff.packet_bytes(params)
    n = len(packets) // size
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    flipped = sorted(rng.choice(np.arange(1, n - 1), 6, replace=False).tolist())
    for i in flipped:  # one bit flip inside the packet (sync, sequence, frame or CRC)
        packets[i * size + int(rng.integers(size))] ^= 1 << int(rng.integers(8))
    # Garbage (including a fake sync word) between two good packets, and a torn last packet.
    cut = 5 * size
    stream = bytes(packets[:cut]) + b"\x4e\x43garbage" + bytes(packets[cut:-3])
    result = dhuff.decode_packets(stream, 3, params, d, n_samples=x.shape[0])
    assert result.bad_packets >= 2
    lost = expected_lost_blocks(starts, ends, flipped + [n - 1], params.frame_words)
    check_loss(result, x, lost, params.block)


def test_without_the_scan_count_the_last_block_is_withheld():
    params, d, x, frames, _, _ = setup_stream(2, 1000, block=64)
    result = dhuff.decode_packets(dhuff.packetize(frames, params), 2, params, d)
    last_block = (1000 - 1) // 64
    assert result.samples.shape == (last_block * 64, 2) and result.lost == []
    assert np.array_equal(result.samples, x[: last_block * 64])
    assert any("last block" in note for note in result.notes)


def test_stream_that_starts_late_and_wraps_sequence_numbers():
    """A capture that begins mid-stream: the first frames are absent, sequence numbers wrap."""
    params, d, x, frames, starts, ends = setup_stream(2, 2000, block=8, frame_words=8)
    size = dhuff.packet_bytes(params)
    packets = dhuff.packetize(frames, params, first_sequence=65530)
    late = packets[3 * size:]
    result = dhuff.decode_packets(late, 2, params, d, n_samples=2000)
    lost = expected_lost_blocks(starts, ends, [0, 1, 2], params.frame_words)
    check_loss(result, x, lost, params.block)


def test_nothing_valid_is_all_lost_not_an_error():
    params = dhuff.DhuffParams(block=8, frame_words=8)
    d = dhuff.default_dictionary(params)
    result = dhuff.decode_packets(b"\x4e\x43" * 100 + bytes(50), 2, params, d, n_samples=40)
    assert result.lost == [(0, 40)] and result.packets == 0 and not result.samples.any()


def test_absurd_scan_count_is_refused_before_allocating():
    params = dhuff.DhuffParams(block=8, frame_words=8)
    d = dhuff.default_dictionary(params)
    data = dhuff.encode(np.zeros((10, 2), int), params, d)
    with pytest.raises(FormatError, match="cannot fit"):
        dhuff.decode(data, 2, 10**12, params, d)


def test_code_grid_container_restores_n1_like_values_exactly():
    grid = CodeGrid(1024)
    codes = np.clip(np.cumsum(np.random.default_rng(SEED).integers(-9, 10, 5000)) + 512, 0, 1023)
    values = grid.to_values(codes)[:, None]
    recording = Recording(values, 19531.0, metadata={"code_grid": {"levels": 1024},
                                                     "format": "wav"})
    codec = get_codec("dhuff", sample_bits=10, low_bits=0)
    container = Container.from_bytes(encode_recording(recording, codec, grid=1024).to_bytes())
    assert container.grid == 1024 and container.params["sample_bits"] == 10
    back = decode_container(container)
    assert back.samples.dtype == np.int16 and np.array_equal(back.samples, values)
    assert back.metadata["format"] == "wav"
    # 10-bit codes cost less than the same values coded as 16-bit samples.
    plain = encode_recording(recording, get_codec("dhuff", low_bits=0))
    assert len(container.payload) < len(plain.payload)


def test_grid_and_shift_exclude_each_other():
    recording = Recording(np.zeros((10, 1), np.int16), 1000.0)
    with pytest.raises(ParameterError, match="exclude"):
        encode_recording(recording, get_codec("dhuff"), shift=2, grid=1024)


def test_dictionary_reference_resolves_only_known_dictionaries(tmp_path, monkeypatch):
    params = dhuff.DhuffParams(low_bits=6)
    d = dhuff.train_dictionary([walk(2, 500)], params, 16)
    d.name = "lab-rat-7"
    # Pretend it is built in: the container then stores only its hash.
    monkeypatch.setattr(dhuff, "builtin_dictionaries", lambda: {"lab-rat-7": d})
    codec = get_codec("dhuff", low_bits=6, dictionary=d)
    container = encode_recording(Recording(walk(2, 500), 1000.0), codec)
    assert container.params["dictionary"] == {"sha256": d.sha256(), "name": "lab-rat-7"}
    data = container.to_bytes()
    assert np.array_equal(decode_container(Container.from_bytes(data)).samples, walk(2, 500))
    monkeypatch.setattr(dhuff, "builtin_dictionaries", lambda: {})
    with pytest.raises(ParameterError, match="neither built in nor given"):
        decode_container(Container.from_bytes(data))
    same = dhuff.Dictionary.from_json(json.loads(json.dumps(d.to_json())))
    assert np.array_equal(decode_container(Container.from_bytes(data), [same]).samples,
                          walk(2, 500))


def test_dhuff_container_truncated_or_flipped_anywhere_is_refused():
    r = synthetic_recording(2, 30000.0, 0.01, seed=5)
    data = encode_recording(r, get_codec("dhuff", block=16, frame_words=16)).to_bytes()
    for cut in range(0, len(data), 7):
        with pytest.raises(FormatError):
            Container.from_bytes(data[:cut])
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    for _ in range(200):
        flipped = bytearray(data)
        flipped[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        with pytest.raises(FormatError):
            decode_container(Container.from_bytes(bytes(flipped)))


def reference_model(x, block, width, contexts, reversion):
    """docs/formats/dhuff.md, "Prediction and contexts", written out plainly: (r, j) per sample."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1

    def bucket(q):
        return q if q < 2 else 2 * q.bit_length() - 2 + ((q >> (q.bit_length() - 2)) & 1)

    out = []
    for c in range(x.shape[1]):
        column = []
        for t in range(x.shape[0]):
            v = int(x[t, c])
            if t % block == 0:
                prev, mean, activity = v, v * 8, 256
                column.append((0, 0))
                continue
            if reversion == 0:
                p = prev
            else:
                p = min(max(prev - ((prev - (mean >> 3) + (1 << (reversion - 1))) >> reversion),
                            lo), hi)
            r = v - p
            column.append((r, min(contexts - 1, bucket(activity >> 6))))
            activity += abs(r) - (activity >> 6)
            mean += v - (mean >> 3)
            prev = v
        out.append(column)
    return np.array(out).transpose(1, 0, 2)  # (T, C, 2)


@pytest.mark.parametrize("contexts, reversion, width", [(1, 0, 16), (9, 2, 10), (16, 1, 13),
                                                        (4, 8, 16)])
def test_prediction_and_contexts_follow_the_format_text(contexts, reversion, width):
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    x = np.cumsum(rng.integers(-300, 301, (400, 3)), axis=0)
    x = np.clip(x, -(1 << (width - 1)), (1 << (width - 1)) - 1)
    x[100:140] = (1 << (width - 1)) - 1  # the clamp at full scale
    x[200:260:2] = -(1 << (width - 1))
    r, ctx = dhuff._model(x.astype(np.int64), 50, width, contexts, reversion)
    expected = reference_model(x, 50, width, contexts, reversion)
    assert np.array_equal(r, expected[..., 0]) and np.array_equal(ctx, expected[..., 1])
    assert ctx.max() == contexts - 1 or contexts > 8  # busy enough to reach the top context


def test_bucket_by_hand():
    """q: 0 1 2 3 4 5 6 7 8 11 12 15 16 24 -> 0 1 2 3 4 4 5 5 6 6 7 7 8 9 (q = activity >> 6)."""
    qs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 24]
    got = [dhuff._bucket(q << 6) for q in qs]
    assert got == [0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9]


@pytest.mark.parametrize("contexts, reversion, layout", [(9, 2, "canonical"), (3, 0, "table"),
                                                         (1, 3, "canonical")])
def test_context_dictionaries_round_trip_stream_and_lose_only_lost_blocks(contexts, reversion,
                                                                          layout):
    print(f"seed {SEED}")
    params = dhuff.DhuffParams(low_bits=1, block=32, frame_words=64, sample_bits=12,
                               contexts=contexts, reversion=reversion)
    x = np.clip(walk(3, 4000) // 8, -2048, 2047)
    x[1000:1010] = [[2047, -2048, 0]]
    d = dhuff.train_dictionary([x[:2000]], params, 18, layout)
    assert d.contexts == contexts and d.trained_for["contexts"] == contexts
    data = dhuff.encode(x, params, d)
    assert np.array_equal(dhuff.decode(data, 3, 4000, params, d), x)
    stream = dhuff.StreamEncoder(3, params, d)
    pieces = [stream.push(x[a:a + 333]) or stream.pull() for a in range(0, 4000, 333)]
    assert b"".join(pieces) + stream.close() == data
    json_back = dhuff.Dictionary.from_json(json.loads(json.dumps(d.to_json())))
    assert np.array_equal(json_back.lengths, d.lengths) and json_back.sha256() == d.sha256()
    # Drop every 7th packet: only the blocks touching them are lost.
    packets = dhuff.packetize(data, params)
    size = dhuff.packet_bytes(params)
    kept = b"".join(packets[i:i + size] for i in range(0, len(packets), size)
                    if (i // size) % 7 != 3)
    result = dhuff.decode_packets(kept, 3, params, d, n_samples=4000)
    assert result.lost and np.array_equal(result.samples[result.received], x[result.received])


def test_context_rom_images_concatenate_the_tables():
    params = dhuff.DhuffParams(low_bits=2, sample_bits=10, contexts=3)
    d = dhuff.train_dictionary([walk(2, 3000) // 64], params, 14, "canonical")
    lines = d.readmemh().split()
    assert len(lines) == 3 * d.max_length
    assert d.rom_bits() == 3 * d.max_length * (8 + 1 + d.max_length)
    assert len(set(d.lengths.max(axis=1))) > 1  # tables of different longest codes
    for j in range(3):
        first_symbol, first_code = d.canonical_table(j)
        block = lines[j * d.max_length:(j + 1) * d.max_length]
        used = first_symbol[1:] < 256
        assert [int(w, 16) >> d.max_length for w in block] == first_symbol[1:].tolist()
        assert [int(w, 16) & ((1 << d.max_length) - 1) for w in block] == \
            np.where(used, first_code[1:], 0).tolist()
    table_lines = d.readmemh("table").split()
    assert len(table_lines) == 3 * 256
    assert int(table_lines[256 + 5], 16) == (int(d.lengths[1, 5]) << d.max_length) | d.codes[1, 5]
