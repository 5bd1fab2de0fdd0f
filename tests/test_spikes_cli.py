"""`neurocodec spikes ...` through its own argparse parser (spikes.cli.add_commands)."""

import argparse

import numpy as np
import pytest

from neurocodec import Recording, write_recording
from neurocodec.errors import FormatError, ParameterError
from neurocodec.spikes import decompress, synthetic_raster
from neurocodec.spikes.cli import add_commands


def run(*argv):
    parser = argparse.ArgumentParser(prog="neurocodec")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = parser.parse_args([str(a) for a in argv])
    return args.run(args)


@pytest.mark.parametrize("codec, extra", [
    ("isi", []), ("isi", ["--backend", "varint"]), ("predictive", ["--predictor", "context"]),
    ("predictive", ["--alpha-q8", "64", "--seed", "0x1234"]), ("delta", ["--group-size", "4"]),
    ("streaming", ["--window", "10"]), ("aer", []),
])
def test_encode_decode_info(tmp_path, capsys, codec, extra):
    raster = synthetic_raster(channels=8, duration=0.2, seed=3)
    np.save(tmp_path / "r.npy", raster)
    assert run("spikes", "encode", "--codec", codec, *extra, tmp_path / "r.npy",
               "-o", tmp_path / "r.spk") == 0
    assert f"{codec}: 4000 x 8 raster" in capsys.readouterr().out
    assert run("spikes", "decode", tmp_path / "r.spk", "-o", tmp_path / "back.npy") == 0
    assert np.array_equal(np.load(tmp_path / "back.npy"), raster)
    assert run("spikes", "info", tmp_path / "r.spk") == 0
    assert f"codec {codec}, raster 4000 x 8" in capsys.readouterr().out


def test_lossy_isi_from_the_command_line(tmp_path):
    raster = synthetic_raster(channels=4, duration=0.2, seed=1)
    np.save(tmp_path / "r.npy", raster)
    run("spikes", "encode", "--codec", "isi", "--timing-precision", "20", tmp_path / "r.npy",
        "-o", tmp_path / "r.spk")
    back = decompress((tmp_path / "r.spk").read_bytes())
    assert back.shape == raster.shape and not np.array_equal(back, raster)


def test_detect(tmp_path, capsys):
    rng = np.random.default_rng(11)
    print("seed 11")
    samples = rng.normal(0, 10, (20000, 2)).astype(np.int16)
    spikes_at = [1000, 5000, 5010, 12000]  # 5010 falls in the refractory period of 5000
    for t in spikes_at:
        samples[t:t + 5, 1] -= 300
    write_recording(tmp_path / "rec.wav", Recording(samples, 20000.0))
    assert run("spikes", "detect", tmp_path / "rec.wav", "-o", tmp_path / "raster.npy") == 0
    raster = np.load(tmp_path / "raster.npy")
    assert raster.shape == (20000, 2) and raster.dtype == np.int8
    assert np.flatnonzero(raster[:, 1]).tolist() == [1000, 5000, 12000]
    assert "3 spikes" in capsys.readouterr().out


@pytest.mark.parametrize("argv, error, match", [
    (["encode", "--codec", "isi", "--window", "5"], ParameterError, "--window"),
    (["encode", "--codec", "aer", "--seed", "3"], ParameterError, "--seed"),
    (["encode", "--codec", "delta", "--group-size", "0"], ParameterError, "group_size"),
])
def test_bad_options(tmp_path, argv, error, match):
    np.save(tmp_path / "r.npy", np.eye(3, dtype=np.int8))
    with pytest.raises(error, match=match):
        run("spikes", *argv, tmp_path / "r.npy", "-o", tmp_path / "o.spk")


def test_bad_inputs(tmp_path):
    np.save(tmp_path / "f.npy", np.full((3, 3), 2))
    with pytest.raises(ParameterError, match="0 or 1"):
        run("spikes", "encode", "--codec", "isi", tmp_path / "f.npy", "-o", tmp_path / "o.spk")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(FormatError, match="not a readable"):
        run("spikes", "encode", "--codec", "isi", tmp_path / "bad.npy", "-o", tmp_path / "o")
    (tmp_path / "bad.spk").write_bytes(b"NCSK\x01\x01")
    with pytest.raises(FormatError, match="shorter"):
        run("spikes", "decode", tmp_path / "bad.spk", "-o", tmp_path / "o.npy")
    with pytest.raises(FormatError, match="shorter"):
        run("spikes", "info", tmp_path / "bad.spk")


def test_bench_rows_on_a_small_raster():
    from neurocodec.spikes.bench import bench_rows, interval_entropy, markdown
    raster = np.array([[1, 0], [0, 0], [1, 1]], np.int8)
    # isi gaps 0, 1, 2, 0: H0 = 2 * 1 + 1 * 2 + 1 * 2 = 6 bits.
    assert interval_entropy(raster)[0] == pytest.approx(6.0)
    rows = bench_rows({"tiny": raster, "synthetic": synthetic_raster(16, 20000.0, 0.2, seed=2)})
    assert len(rows) == 18 and all(r["lossless_ok"] for r in rows)
    isi = next(r for r in rows if r["input"] == "tiny" and r["codec"] == "isi-varint")
    assert isi["bits"] == 8 * 32 and isi["ratio"] == 6 / 256
    assert isi["gap_percent"] == pytest.approx(100 * (256 - 6) / 6)
    assert "| tiny | isi-varint | 3 x 2 | 3 | 256 |" in markdown(rows)
