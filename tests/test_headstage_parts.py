"""Headstage parts without the whole chain: the RHD2000 command list and timing rules, the
packetizer against the model's packets (Amaranth simulator), and `neurocodec capture`."""

import gc
import json
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from neurocodec.cli import main as neurocodec
from neurocodec.codecs import dhuff
from neurocodec_gateware import rhd2000
from neurocodec_gateware.link import Packetizer, crc16_word


def test_command_words_follow_the_datasheet_table():
    assert rhd2000.convert(5) == 0x0500 and rhd2000.convert(31) == 0x1F00
    assert rhd2000.write(4, 0xD6) == 0x84D6 and rhd2000.read(63) == 0xFF00
    assert rhd2000.CALIBRATE == 0x5500 and rhd2000.CLEAR == 0x6A00
    commands = rhd2000.startup_commands(rhd2000.default_registers(30000))
    words = [c for c, _ in commands]
    calibrate = words.index(rhd2000.CALIBRATE)
    assert words[calibrate + 1:calibrate + 10] == [rhd2000.DUMMY] * 9  # 9 commands, no CONVERT
    assert [e for c, e in commands if c == rhd2000.read(40)] == [ord("I")]
    registers = rhd2000.default_registers(30000)
    assert (registers[1], registers[2], registers[4]) == (2, 4, 0xD6)
    assert (rhd2000.bias_registers(30000), rhd2000.bias_registers(1000)) == ((2, 4), (32, 40))


def test_timing_limits_are_refused_with_the_highest_rate():
    with warnings.catch_warnings():  # components made here are never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        master = rhd2000.RhdMaster(1, 48e6, 30000)
        assert master.command_clocks == 41 and master.command_clocks * 34 <= master.period == 1600
        with pytest.raises(ValueError, match=r"the highest rate is 34433 S/s per channel"):
            rhd2000.RhdMaster(1, 48e6, 40000)
        with pytest.raises(ValueError, match="above the RHD2000's 24 MHz; use sclk_half >= 2"):
            rhd2000.RhdMaster(1, 96e6, 30000, sclk_half=1)
        with pytest.raises(ValueError, match="chips must be in 1..8"):
            rhd2000.RhdMaster(0)
        del master
        gc.collect()


def test_crc_of_a_word_stream_is_crc16_ccitt_false():
    import binascii
    data = bytes(range(40))
    crc = 0xFFFF
    for i in range(0, len(data), 2):
        crc = crc16_word(crc, int.from_bytes(data[i:i + 2], "big"))
    assert crc == binascii.crc_hqx(data, 0xFFFF)


@pytest.mark.parametrize("room, expect_drops", [(10_000, False), (40, True)])
def test_packetizer_matches_the_model_packets(room, expect_drops):
    """Frames in, packets out, checked against dhuff.packetize; with too little room every
    other packet (when the room check fails) is dropped and counted, its sequence number used."""
    m, frames = 16, 6
    rng = np.random.default_rng(7)
    print("seed 7")
    words = rng.integers(0, 1 << 16, m * frames)
    params = dhuff.DhuffParams(frame_words=m)
    model = np.frombuffer(dhuff.packetize(words.astype(">u2").tobytes(), params),
                          ">u2").reshape(frames, m + 3)
    dut = Packetizer(m)
    out, fifo_level = [], [0]

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        feed = list(words)
        for _ in range(2000):
            # a FIFO of `room` words that drains one word every 2 clocks
            ctx.set(dut.fits, room - fifo_level[0] >= m + 3)
            ctx.set(dut.i.valid, bool(feed))
            ctx.set(dut.i.payload, int(feed[0]) if feed else 0)
            took = ctx.get(dut.i.valid) and ctx.get(dut.i.ready)
            if ctx.get(dut.o.valid):
                out.append(ctx.get(dut.o.payload))
                fifo_level[0] += 1
            await ctx.tick()
            fifo_level[0] = max(0, fifo_level[0] - 1) if len(out) % 2 else fifo_level[0]
            if took:
                feed.pop(0)
        assert not feed, "the packetizer stopped taking words"
        sent = len(out) // (m + 3)
        assert ctx.get(dut.dropped_count) == frames - sent
        assert ctx.get(dut.dropped) == (frames != sent)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    packets = np.array(out).reshape(-1, m + 3)
    sequences = packets[:, 1].tolist()
    assert all(np.array_equal(packets[i], model[s]) for i, s in enumerate(sequences))
    assert (len(sequences) < frames) == expect_drops
    if expect_drops:
        assert sequences[0] == 0 and len(sequences) >= 2


def test_capture_from_a_serial_port_then_decode(tmp_path, capsys):
    """`neurocodec capture` reads a headstage's bytes from a serial port (here the far end of a
    pseudo-terminal, written by a thread as a UART would), `neurocodec decode --packets` turns
    them into the recording."""
    import os
    import tty
    from neurocodec import synthetic_recording
    samples = synthetic_recording(channels=4, duration=0.05, seed=2).samples
    params = dhuff.DhuffParams(discard_bits=0, low_bits=4, block=16, frame_words=64)
    dictionary = dhuff.default_dictionary(params)
    stream = b"\x00\x00" + dhuff.packetize(dhuff.encode(samples, params, dictionary), params)
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)

    def uart():
        time.sleep(1.0)  # pyserial empties the input buffer when it opens the port
        for start in range(0, len(stream), 1000):
            os.write(master, stream[start:start + 1000])
    thread = threading.Thread(target=uart, daemon=True)
    thread.start()
    capture = tmp_path / "cap.ncp"
    try:
        assert neurocodec(["capture", "--port", port, "--bytes", str(len(stream)), "--seconds",
                           "20", "-o", str(capture)]) == 0
    finally:
        thread.join(5)
        os.close(master)
        os.close(slave)
    assert capture.read_bytes() == stream
    assert f"{len(stream)} bytes" in capsys.readouterr().out
    out = tmp_path / "rec.npy"
    assert neurocodec(["decode", str(capture), "--packets", "--codec", "dhuff", "--channels", "4",
                       "--rate", "30000", "--low-bits", "4", "--block", "16", "--frame-words",
                       "64", "--samples", str(samples.shape[0]), "-o", str(out)]) == 0
    assert np.array_equal(np.load(out), samples)


def test_capture_names_a_port_it_cannot_open(tmp_path, capsys):
    assert neurocodec(["capture", "--port", str(tmp_path / "no-such-tty"), "-o",
                       str(tmp_path / "c.ncp")]) == 1
    assert "cannot open" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# scripts/headstage_capacity.py: the link budget from the model's packet stream


def load_capacity_script():
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "scripts" / "headstage_capacity.py"
    spec = importlib.util.spec_from_file_location("headstage_capacity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chips_per_link_is_the_floor_of_the_budget_capped_at_eight():
    capacity = load_capacity_script()
    per_chip_words = 7.62  # words per scan of 32 channels: 3.66 Mbit/s at 30 kS/s
    assert capacity.chips_for(10.5e6, per_chip_words) == 2
    assert capacity.chips_for(3 * per_chip_words * 16 * 30000, per_chip_words) == 3  # exactly
    assert capacity.chips_for(1e6, per_chip_words) == 0
    assert capacity.chips_for(1e12, per_chip_words) == 8


def test_capacity_report_counts_the_packets_the_headstage_sends(tmp_path):
    from neurocodec import synthetic_recording
    from neurocodec.codecs import dhuff
    capacity = load_capacity_script()
    assert capacity.main(["--shared", str(tmp_path / "none"), "--seconds", "0.1",
                          "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "headstage-capacity.json").read_text())
    rows = {row["setting"]: row for row in report["rows"]}
    assert set(rows) == set(capacity.SETTINGS) and report["synth_fit"] == {"up5k": {},
                                                                           "hx8k": {}}
    # Independently: the synthetic input's packets at D = 3, counted word by word.
    samples = synthetic_recording(channels=32, rate=30000, duration=0.1, seed=3).samples
    params = dhuff.DhuffParams(3, 1, block=64, frame_words=256, sample_bits=16)
    scans = samples.shape[0] // 64 * 64
    packets = dhuff.packetize(dhuff.encode(samples[:scans], params,
                                           dhuff.resolve_dictionary("intan-d3")), params)
    assert rows["D=3 (default)"]["words_per_scan"] == pytest.approx(len(packets) / 2 / scans)
    assert rows["D=0 lossless"]["words_per_scan"] > rows["D=3 (default)"]["words_per_scan"]
    for row in rows.values():
        assert row["chips_spi"] >= row["chips_uart"]
        assert row["worst_block_words_per_scan"] >= 0.9 * row["words_per_scan"]
    assert "chips on SPI" in (tmp_path / "headstage-capacity.md").read_text()


def test_capacity_report_says_which_chip_counts_met_timing():
    capacity = load_capacity_script()
    assert capacity.describe_fit("up5k", {1: True, 2: True, 4: False, 8: True}) == \
        "UP5K met for 1, 2, 8 and missed for 4 chips"
    assert capacity.describe_fit("hx8k", {1: True}) == "HX8K met for 1 chips"
    assert capacity.describe_fit("hx8k", {}) == "HX8K: no report (run make synth)"
