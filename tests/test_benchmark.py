"""The benchmark (neurocodec.benchmark, `make bench`) on tiny synthetic inputs."""

import csv
import json
import zlib

import numpy as np
import pytest

from neurocodec import synthetic_recording
from neurocodec.benchmark import (BenchInput, ByteCompressor, default_comparators, main,
                                  run_benchmark, write_reports)
from neurocodec.codecs import Codec, fitting_shift, get_codec, list_codecs


def tiny(name="tiny", channels=4, seconds=0.05, seed=0):
    rec = synthetic_recording(channels, 30000.0, seconds, seed=seed)
    return BenchInput(name, f"synthetic {channels} ch", rec.rate, [rec.samples], subset="tiny")


def flip_first_bit(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


def expected_rows(inputs, n_comparators):
    """One row per codec, plus one per comparator for each distinct reduced version of an input."""
    total = 0
    for bench_input in inputs:
        reductions = set()
        for name in list_codecs():
            codec = get_codec(name)
            cut = [p[:, : codec.max_channels] for p in bench_input.parts]
            reductions.add((tuple(p.shape[1] for p in cut),
                            tuple(fitting_shift(p, codec.sample_bits) for p in cut)))
        total += len(list_codecs()) + len(reductions) * n_comparators
    return total


@pytest.fixture(scope="module")
def rows():
    return run_benchmark([tiny()], repeat=1)


def test_every_method_round_trips_with_a_positive_size(rows):
    comparators = [m.name for m in default_comparators()]
    assert {"zlib-9", "bz2-9", "lzma-9e", "zstd-3", "zstd-19", "flac"} <= set(comparators)
    assert {r["method"] for r in rows} == set(list_codecs()) | set(comparators)
    for r in rows:
        assert r["status"] == "ok", (r["method"], r["error"])
        assert r["compressed_bytes"] > 0 and r["encode_msps"] > 0 and r["decode_msps"] > 0
        assert r["ratio"] == pytest.approx(r["original_bytes"] / r["compressed_bytes"])
        assert r["original_bytes"] == 2 * r["samples"] == 2 * 4 * 1500


def test_zlib_compresses_the_synthetic_recording(rows):
    zlib_rows = [r for r in rows if r["method"] == "zlib-9"]
    assert zlib_rows
    for r in zlib_rows:
        assert 0 < r["compressed_bytes"] < r["original_bytes"]
        assert r["percent"] < 100 and r["ratio"] > 1


def test_real_time_counts_channels_and_rate():
    # Two 1-channel recordings one after another (like the N1 files): real time is 1 x 1000 S/s.
    parts = [np.arange(200, dtype=np.int16)[:, None] % 50, np.zeros((300, 1), np.int16)]
    sequential = BenchInput("seq", "seq", 1000.0, parts, concurrent=False)
    zlib9 = [ByteCompressor("zlib-9", lambda d: zlib.compress(d, 9), zlib.decompress)]
    row = run_benchmark([sequential], codecs=[], comparators=zlib9, repeat=1)[0]
    assert row["realtime_msps"] == pytest.approx(1000 / 1e6)
    assert row["encode_x_realtime"] == pytest.approx(row["encode_msps"] * 1e6 / 1000)
    # Two 2-channel groups of one recording (like openephys-32ch): 4 x 1000 S/s.
    groups = BenchInput("grp", "grp", 1000.0, [np.zeros((250, 2), np.int16)] * 2)
    row = run_benchmark([groups], codecs=[], comparators=zlib9, repeat=1)[0]
    assert row["realtime_msps"] == pytest.approx(4000 / 1e6)


def test_reports_have_one_row_per_input_and_method(tmp_path):
    inputs = [tiny("a", channels=4), tiny("b", channels=2, seed=1)]
    comparators = default_comparators()
    result = run_benchmark(inputs, comparators=comparators, repeat=1)
    paths = write_reports(result, tmp_path, [(i.name, i.label, i.subset) for i in inputs], ["n"])
    n = expected_rows(inputs, len(comparators))
    assert len(result) == n

    with open(paths["csv"]) as source:
        table = list(csv.DictReader(source))
    assert len(table) == n
    keys = [(r["input"], r["reduction"], r["method"]) for r in table]
    assert len(set(keys)) == n
    assert {r["input"] for r in table} == {"a", "b"}
    for name in ["a", "b"]:
        methods = {r["method"] for r in table if r["input"] == name}
        assert methods == set(list_codecs()) | {m.name for m in comparators}

    markdown = paths["md"].read_text()
    body = [line for line in markdown.splitlines() if line.startswith("| a |") or
            line.startswith("| b |")]
    assert len(body) == n
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["json"].stat().st_size > 0


class BrokenCodec(Codec):
    """A registry-style codec whose decoder is off by one: must be reported FAILED."""

    name = "broken-codec"
    summary = "test"
    sample_bits = 12
    max_channels = 16

    def encode(self, samples):
        return np.asarray(samples).astype("<i2").tobytes()

    def decode(self, payload, channels, n_samples=None):
        return np.frombuffer(payload, "<i2").reshape(-1, channels) + 1


def test_a_method_that_decodes_wrong_data_is_failed_with_no_size(tmp_path):
    def raises(data):
        raise ValueError("cannot decode")

    comparators = [
        ByteCompressor("zlib-9", lambda d: zlib.compress(d, 9), zlib.decompress),
        ByteCompressor("flips-a-bit", zlib.compress, lambda p: flip_first_bit(zlib.decompress(p))),
        ByteCompressor("drops-a-byte", zlib.compress, lambda p: zlib.decompress(p)[:-1]),
        ByteCompressor("raises", zlib.compress, raises),
    ]
    inputs = [tiny()]
    result = run_benchmark(inputs, codecs=[BrokenCodec()], comparators=comparators, repeat=1)
    status = {r["method"]: r for r in result}
    assert status["zlib-9"]["status"] == "ok"
    for name in ["broken-codec", "flips-a-bit", "drops-a-byte", "raises"]:
        r = status[name]
        assert r["status"] == "FAILED", name
        assert r["compressed_bytes"] is None and r["ratio"] is None and r["percent"] is None
        assert r["bits_per_sample"] is None and r["encode_msps"] is None
    assert "round trip" in status["flips-a-bit"]["error"]
    assert "cannot decode" in status["raises"]["error"]

    paths = write_reports(result, tmp_path, [(i.name, i.label, i.subset) for i in inputs],
                          with_plot=False)
    with open(paths["csv"]) as source:
        table = {r["method"]: r for r in csv.DictReader(source)}
    assert table["flips-a-bit"]["status"] == "FAILED"
    assert table["flips-a-bit"]["compressed_bytes"] == "" and table["flips-a-bit"]["ratio"] == ""
    assert table["zlib-9"]["compressed_bytes"] != ""
    line = next(x for x in paths["md"].read_text().splitlines() if "| flips-a-bit |" in x)
    assert "FAILED" in line and "| ok |" not in line


def test_main_writes_the_reports_and_fails_on_a_bad_input_name(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["--inputs", "synthetic", "--seconds", "0.02", "--repeat", "1", "--no-pin",
                 "--no-spikes", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| synthetic |" in printed and "used: 0.02 s generated" in printed
    with open(out / "bench.csv") as source:
        table = list(csv.DictReader(source))
    assert table and all(r["status"] == "ok" for r in table)
    assert {p.name for p in out.iterdir()} == {"bench.csv", "bench.md", "bench.json", "bench.png"}
    with pytest.raises(SystemExit):
        main(["--inputs", "nonexistent", "--no-pin", "--out", str(out)])


def test_main_measures_the_spike_codecs_on_rasters_detected_from_given_files(tmp_path, capsys):
    from neurocodec import Recording, write_recording
    rng = np.random.default_rng(5)
    print("seed 5")
    samples = rng.normal(0, 10, (20000, 2)).astype(np.int16)
    samples[1000:1005, 0] -= 300
    samples[9000:9005, 1] -= 300
    write_recording(tmp_path / "rec.wav", Recording(samples, 20000.0))
    out = tmp_path / "reports"
    assert main([str(tmp_path / "rec.wav"), "--seconds", "0.2", "--repeat", "1", "--no-pin",
                 "--spike-seconds", "0.01", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "bench-spikes.json").read_text())["rows"]
    names = {r["input"] for r in rows}
    assert names == {"synthetic 1024ch 20kHz 0.01s seed 0", "rec (detected)",
                     "rhythmic 64ch period 6, 1% flips, seed 0"}
    assert all(r["lossless_ok"] and r["bits"] > 0 and r["encode_msps"] > 0 for r in rows)
    detected = [r for r in rows if r["input"] == "rec (detected)"]
    assert {r["spikes"] for r in detected} == {2} and detected[0]["T"] == 20000
    assert "| rec (detected) | isi-huffman | 20000 x 2 | 2 |" in printed
