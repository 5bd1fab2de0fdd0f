"""The `neurocodec` command, run as a user runs it (a subprocess of the installed entry point)."""

import subprocess
import sys

import numpy as np
import pytest

from neurocodec import Recording, read_recording, write_recording

SUBCOMMANDS = ["encode", "decode", "info", "train", "bench", "codecs", "synth", "spikes"]


def neurocodec(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "neurocodec.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    result = neurocodec(command, "--help")
    assert result.returncode == 0 and "usage: neurocodec " + command in result.stdout


def test_codecs_lists_every_codec():
    result = neurocodec("codecs")
    assert result.returncode == 0
    words = [line.split()[0] for line in result.stdout.splitlines()]
    assert words == ["dhuff", "maestro", "spike", "isi", "predictive", "delta", "streaming", "aer"]


def test_encode_decode_round_trip_through_files(tmp_path):
    samples = np.random.default_rng(9).integers(-2048, 2048, (1000, 4)).astype(np.int16)
    write_recording(tmp_path / "in.wav", Recording(samples, 25000.0))
    result = neurocodec("encode", tmp_path / "in.wav", "--codec", "maestro", "-o", tmp_path / "x.ncd")
    assert result.returncode == 0, result.stderr
    info = neurocodec("info", tmp_path / "x.ncd")
    assert "codec maestro" in info.stdout and "4 channels x 1000 samples at 25000 Hz" in info.stdout
    result = neurocodec("decode", tmp_path / "x.ncd", "-o", tmp_path / "out.wav")
    assert result.returncode == 0, result.stderr
    back = read_recording(tmp_path / "out.wav")
    assert np.array_equal(back.samples, samples) and back.rate == 25000.0


def test_raw_stream_decodes_with_its_parameters(tmp_path):
    samples = np.arange(-40, 40, dtype=np.int16).reshape(-1, 2) * 50
    np.save(tmp_path / "in.npy", samples)
    assert neurocodec("encode", tmp_path / "in.npy", "--rate", 1000, "--codec", "maestro",
                      "--raw", "-o", tmp_path / "x.bin").returncode == 0
    result = neurocodec("decode", tmp_path / "x.bin", "--raw", "--codec", "maestro",
                        "--channels", 2, "--rate", 1000, "-o", tmp_path / "out.npy")
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(tmp_path / "out.npy"), samples)


def test_auto_shift_reduces_16_bit_input(tmp_path):
    samples = np.array([[-32768], [32767], [100]], np.int16)
    write_recording(tmp_path / "in.wav", Recording(samples, 1000.0))
    refused = neurocodec("encode", tmp_path / "in.wav", "--codec", "maestro", "-o", tmp_path / "a")
    assert refused.returncode == 1 and "outside the 12-bit range" in refused.stderr
    result = neurocodec("encode", tmp_path / "in.wav", "--codec", "maestro", "--shift", "auto",
                        "-o", tmp_path / "x.ncd")
    assert result.returncode == 0 and "shift 4" in result.stdout


@pytest.mark.parametrize("args, words", [
    (["encode", "missing.wav", "--codec", "maestro", "-o", "x"], "missing.wav: no such file"),
    (["encode", "in.wav", "--codec", "lzma", "-o", "x"], "unknown codec 'lzma'"),
    (["encode", "in.wav", "--codec", "maestro", "--select", "0-99", "-o", "x"], "--select: channel 20"),
    (["encode", "in.wav", "--codec", "maestro", "-o", "x"], "at most 16 channels; the recording has 20"),
    (["decode", "in.wav", "-o", "x.npy"], "not a neurocodec container"),
    (["decode", "in.wav", "--raw", "-o", "x.npy"], "--raw needs --codec, --channels and --rate"),
    (["train", "--codec", "maestro", "in.wav", "-o", "d.json"], "has no dictionary to train"),
    (["encode", "in.wav", "--codec", "maestro", "--block", "8", "-o", "x"], "codec 'maestro'"),
    (["encode", "in.wav", "--codec", "dhuff", "--low-bits", "16", "-o", "x"], "low_bits must be"),
    (["decode", "in.wav", "--raw", "--codec", "maestro", "--channels", "1", "--rate", "1",
      "--shift", "-1", "-o", "x.npy"], "--shift must be in 0..15, not -1"),
])
def test_bad_input_exits_nonzero_with_a_clear_message(tmp_path, args, words):
    write_recording(tmp_path / "in.wav", Recording(np.zeros((10, 20), np.int16), 1000.0))
    result = neurocodec(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert words in result.stderr and "Traceback" not in result.stderr


def test_corrupted_raw_stream_names_the_offset(tmp_path):
    (tmp_path / "x.bin").write_bytes(bytes([0x40, 0x41, 0x00, 0x40]))
    result = neurocodec("decode", tmp_path / "x.bin", "--raw", "--codec", "maestro",
                        "--channels", 1, "--rate", 1000, "-o", tmp_path / "o.npy")
    assert result.returncode == 1 and "byte 0x00 at offset 2" in result.stderr


def test_usage_errors_exit_2():
    assert neurocodec("encode").returncode == 2
    assert neurocodec("frobnicate").returncode == 2


def test_synth_then_bench(tmp_path):
    result = neurocodec("synth", "-o", tmp_path / "s.wav", "--channels", 4, "--duration", 0.1)
    assert result.returncode == 0, result.stderr
    bench = neurocodec("bench", tmp_path / "s.wav", "--repeat", 1, "--out", tmp_path / "reports")
    assert bench.returncode == 0, bench.stderr
    rows = [line for line in bench.stdout.splitlines() if line.startswith("| s |")]
    assert {row.split("|")[3].strip() for row in rows} >= {"dhuff (codec)", "maestro (codec)",
                                                          "flac", "zstd-19"}
    assert all(row.rstrip(" |").endswith("ok") for row in rows)
    assert (tmp_path / "reports" / "bench.csv").is_file()
