"""The CLI on many files, packet streams with losses, built-in dictionaries and the Neuralink
challenge harness, run as a user runs them (subprocesses)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurocodec import Recording, read_recording, synthetic_recording, write_recording
from neurocodec.codecs import dhuff

PROJECT = Path(__file__).resolve().parents[1]


def neurocodec(*args):
    return subprocess.run([sys.executable, "-m", "neurocodec.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_many_files_in_parallel_to_a_folder_and_back_in_their_own_formats(tmp_path):
    r = synthetic_recording(4, 30000.0, 0.05, seed=7)
    write_recording(tmp_path / "a.wav", r)
    np.save(tmp_path / "b.npy", r.samples[:, :2])
    result = neurocodec("encode", tmp_path / "a.wav", tmp_path / "b.npy", "--rate", 30000,
                        "--codec", "dhuff", "--jobs", "2", "-o", tmp_path / "enc")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "enc").iterdir()) == ["a.ncd", "b.ncd"]
    assert "2 of 2 files done" in result.stderr
    result = neurocodec("decode", tmp_path / "enc" / "a.ncd", tmp_path / "enc" / "b.ncd")
    assert result.returncode == 0, result.stderr
    # Without -o, each goes beside its input in the format it was read from.
    assert np.array_equal(read_recording(tmp_path / "enc" / "a.wav").samples, r.samples)
    assert np.array_equal(np.load(tmp_path / "enc" / "b.npy"), r.samples[:, :2])
    again = neurocodec("decode", tmp_path / "enc" / "a.ncd")
    assert again.returncode == 1 and "exists; give -o, or --force" in again.stderr


def test_one_bad_file_among_many_fails_the_run_but_not_the_others(tmp_path):
    write_recording(tmp_path / "good.wav", synthetic_recording(2, 30000.0, 0.01))
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really")
    result = neurocodec("encode", tmp_path / "good.wav", tmp_path / "bad.wav", "--codec",
                        "dhuff", "-o", tmp_path / "out", "--progress", "lines")
    assert result.returncode == 1
    assert (tmp_path / "out" / "good.ncd").is_file() and not (tmp_path / "out" / "bad.ncd").exists()
    assert "bad.wav" in result.stderr and "1 of 2 files done" in result.stderr


def test_colliding_output_names_are_refused(tmp_path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        write_recording(tmp_path / folder / "same.wav", synthetic_recording(1, 1000.0, 0.01))
    result = neurocodec("encode", tmp_path / "x" / "same.wav", tmp_path / "y" / "same.wav",
                        "--codec", "maestro", "-o", tmp_path / "out")
    assert result.returncode == 1 and "would collide" in result.stderr


def test_packet_stream_with_lost_packets_reports_them(tmp_path):
    r = synthetic_recording(4, 30000.0, 0.2, seed=2)
    write_recording(tmp_path / "in.wav", r)
    assert neurocodec("encode", tmp_path / "in.wav", "--codec", "dhuff", "--packets", "-o",
                      tmp_path / "s.ncp", "--block", 32, "--frame-words", 64).returncode == 0
    data = (tmp_path / "s.ncp").read_bytes()
    size = 2 * (64 + 3)
    (tmp_path / "lossy.ncp").write_bytes(data[:10 * size] + data[12 * size:])  # 2 packets lost
    result = neurocodec("decode", tmp_path / "lossy.ncp", "--packets", "--channels", 4, "--rate",
                        30000, "--block", 32, "--frame-words", 64, "--samples", r.n_samples,
                        "--lost-report", tmp_path / "lost.json", "-o", tmp_path / "out.npy")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "lost.json").read_text())
    assert report["missing_packets"] == 2 and report["lost_scans"] > 0
    assert "LOST" in result.stdout
    out = np.load(tmp_path / "out.npy")
    lost = np.zeros(r.n_samples, bool)
    for start, stop in report["lost"]:
        lost[start:stop] = True
    assert np.array_equal(out[~lost], r.samples[~lost]) and not out[lost].any()


def test_builtin_dictionaries_load_and_are_referred_to_by_hash(tmp_path):
    found = dhuff.builtin_dictionaries()
    assert {"n1", "intan-d3", "intan-d3-table"} <= set(found)
    assert found["intan-d3-table"].rom_bits() <= 9 * 1024  # the paper's layout, <= 9 Kbit
    assert found["intan-d3"].rom_bits() < 1024  # canonical: well under 1 Kbit
    r = synthetic_recording(8, 30000.0, 0.05, seed=4)
    write_recording(tmp_path / "in.wav", r)
    result = neurocodec("encode", tmp_path / "in.wav", "--codec", "dhuff", "--dictionary",
                        "intan-d3", "-o", tmp_path / "x.ncd")
    assert result.returncode == 0, result.stderr
    info = neurocodec("info", tmp_path / "x.ncd")
    assert "intan-d3" in info.stdout and "discard_bits': 3" in info.stdout, info.stdout
    assert b'"lengths"' not in (tmp_path / "x.ncd").read_bytes()  # a reference, not a copy
    assert neurocodec("decode", tmp_path / "x.ncd", "-o", tmp_path / "y.npy").returncode == 0
    error = np.asarray(r.samples, int) - np.load(tmp_path / "y.npy")
    assert 0 <= error.min() and error.max() <= 7  # D = 3


@pytest.mark.realdata
def test_neuralink_harness_restores_n1_files_byte_for_byte(shared_data, tmp_path):
    folder = tmp_path / "n1"
    folder.mkdir()
    for wav in sorted((shared_data / "n1").glob("*.wav"))[:3]:
        (folder / wav.name).symlink_to(wav)
    result = subprocess.run([str(PROJECT / "scripts" / "neuralink" / "eval.sh"), str(folder),
                             "--work", str(tmp_path / "work"), "--jobs", "2"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "every file decodes byte for byte" in result.stdout
    ratio = float(result.stdout.split("compression ratio ")[1].split("x")[0])
    assert ratio > 2.5  # sanity: FLAC gets about 1.5x on these files
