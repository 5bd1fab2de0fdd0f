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


# ------------------------------------------------------------------------------------------------
# The main command: `neurocodec encode --codec isi|predictive|delta|streaming|aer` on rasters.


def main(*argv):
    from neurocodec.cli import main as neurocodec_main
    return neurocodec_main([str(a) for a in argv])


@pytest.mark.parametrize("codec, extra", [
    ("isi", ["--backend", "huffman"]), ("predictive", ["--predictor", "lfsr", "--alpha-q8", "16"]),
    ("delta", []), ("streaming", ["--window", "20"]), ("aer", []),
])
def test_main_encode_many_rasters_then_decode_beside_them(tmp_path, capsys, codec, extra):
    rasters = {f"r{seed}": synthetic_raster(channels=6, duration=0.1, seed=seed) for seed in (4, 5)}
    print("seeds 4, 5")
    for name, raster in rasters.items():
        np.save(tmp_path / f"{name}.npy", raster)
    out = tmp_path / "streams"
    assert main("encode", "--codec", codec, *extra, *(tmp_path / f"{n}.npy" for n in rasters),
                "-o", out, "--progress", "lines") == 0
    assert sorted(p.name for p in out.iterdir()) == ["r4.nsk", "r5.nsk"]
    printed = capsys.readouterr()
    assert "r4.nsk" in printed.out and "r5.nsk" in printed.out
    assert "2 of 2 files done" in printed.err
    assert main("decode", out / "r4.nsk", out / "r5.nsk", "--progress", "none") == 0
    for name, raster in rasters.items():
        back = np.load(out / f"{name}.npy")
        assert back.dtype == np.int8 and np.array_equal(back, raster)
    # A second decode would overwrite the rasters: refused without --force.
    assert main("decode", out / "r4.nsk") == 1
    assert "exists; give -o, or --force" in capsys.readouterr().err
    assert main("decode", out / "r4.nsk", "--force") == 0
    assert main("info", out / "r4.nsk") == 0
    assert f"spike stream, codec {codec}, raster 2000 x 6" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--codec", "isi", "--discard-bits", "3"], "--discard-bits do(es) not apply to spike codec isi"),
    (["--codec", "aer", "--shift", "2"], "--shift do(es) not apply to spike codec aer"),
    (["--codec", "dhuff", "--window", "20"], "--window do(es) not apply to codec dhuff"),
    (["--codec", "streaming", "--backend", "varint"], "--backend do(es) not apply to codec streaming"),
    (["--codec", "isi", "--predictor", "lfsr"], "--predictor do(es) not apply to codec isi"),
])
def test_main_encode_refuses_options_of_the_other_kind(tmp_path, capsys, argv, message):
    np.save(tmp_path / "r.npy", np.eye(4, dtype=np.int8))
    assert main("encode", *argv, tmp_path / "r.npy", "-o", tmp_path / "o") == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_main_encode_reports_a_bad_raster_and_goes_on(tmp_path, capsys):
    np.save(tmp_path / "good.npy", np.eye(4, dtype=np.int8))
    np.save(tmp_path / "bad.npy", np.full((2, 2), 3))
    assert main("encode", "--codec", "isi", tmp_path / "good.npy", tmp_path / "bad.npy",
                "-o", tmp_path / "out", "--progress", "lines") == 1
    err = capsys.readouterr().err
    assert "0 or 1" in err and "1 of 2 files done; failed:" in err
    assert (tmp_path / "out" / "good.nsk").is_file() and not (tmp_path / "out" / "bad.nsk").exists()


def test_the_context_predictor_pays_on_short_range_structure():
    """On a dense rhythmic raster (period 6) the context predictor leaves only the flipped bins:
    it must beat isi by 1.5x or more there (it cannot on sparse rasters, see the benchmark)."""
    from neurocodec.spikes import get_codec
    from neurocodec.spikes.synthetic import rhythmic_raster
    raster = rhythmic_raster(64, 20000, 6, 0.01, seed=0)
    print("seed 0")
    isi, _ = get_codec("isi", backend="huffman").compress(raster)
    context, result = get_codec("predictive", predictor="context").compress(raster)
    assert len(isi) / len(context) >= 1.5, (len(isi), len(context))
    assert np.array_equal(decompress(context), raster)
