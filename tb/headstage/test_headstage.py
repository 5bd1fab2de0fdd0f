"""The whole headstage chain: recording -> RHD2132 chip model -> headstage RTL -> radio SPI words
-> the model's packet decoder -> the recording again.

Two halves in one file, as tb/maestro/test_maestro.py:

* cocotb: one test per case of the JSON list named by ``NEUROCODEC_CASES``. The chip model
  (``rhd2132.py``) answers CONVERT commands with the case's recording (served in a loop); a radio
  processor model reads whole packets over SPI when ``irq`` is high, pausing ``pause_us`` after
  each. Every received packet is compared word for word with the model's packet of the same
  sequence number (``dhuff.StreamEncoder`` on the samples the chip served, then
  ``dhuff.packetize``), and the host decoder (``dhuff.decode_packets``) must give back every
  received scan exactly (D = 0) or with its D low bits cleared (D > 0), and report as lost exactly
  the scans the model's own loss-tolerant decoder loses with the same packets missing. A case
  with ``overflow`` reads too slowly: ``overflow`` must rise and ``dropped_count`` must cover
  the missing sequence numbers.
* pytest: writes the stimuli to build/, runs the cases on Icarus and Verilator.
"""

import os
from pathlib import Path

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer

from neurocodec.codecs import dhuff
from support.compare import assert_same_words
from support import cases as support_cases

HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------------------------
# cocotb side


class RadioMaster:
    """The radio processor: an SPI master (mode 0) that reads ``packet_words`` words whenever
    ``irq`` is high, then pauses ``pause_ns``."""

    def __init__(self, dut, packet_words: int, half_ns: float, pause_ns: float):
        self.dut, self.packet_words = dut, packet_words
        self.half_ns, self.pause_ns = half_ns, pause_ns
        self.words = []
        self.running = True
        self.stopped = False
        dut.radio_sclk.value = 0
        dut.radio_cs_n.value = 1

    async def word(self) -> int:
        dut = self.dut
        dut.radio_cs_n.value = 0
        await Timer(max(self.half_ns, 72), "ns")  # CS falls >= 3 clocks before SCLK rises
        value = 0
        for _ in range(16):
            dut.radio_sclk.value = 1
            value = (value << 1) | int(dut.radio_miso.value)  # MISO is stable at the rise
            await Timer(self.half_ns, "ns")
            dut.radio_sclk.value = 0
            await Timer(self.half_ns, "ns")
        dut.radio_cs_n.value = 1
        await Timer(2 * self.half_ns, "ns")
        return value

    async def run(self):
        while self.running:
            if self.dut.irq.value:
                for _ in range(self.packet_words):
                    self.words.append(await self.word())
                if self.pause_ns:
                    await Timer(self.pause_ns, "ns")
            else:
                await Timer(2, "us")
        self.stopped = True


def model_dictionary(params: dict):
    from neurocodec_gateware.headstage import headstage_dictionary
    spec = headstage_dictionary(params["dictionary"], params["discard_bits"],
                                params["low_bits"])
    return spec if isinstance(spec, dhuff.Dictionary) else dhuff.resolve_dictionary(spec)


def dhuff_params(params: dict) -> dhuff.DhuffParams:
    return dhuff.DhuffParams(params["discard_bits"], params["low_bits"], params["block"],
                             params["frame_words"], 16)


def packets_of(words: list[int], packet_words: int) -> dict[int, list[int]]:
    """Received packets by sequence number (the radio reads whole packets)."""
    assert len(words) % packet_words == 0
    out = {}
    for start in range(0, len(words), packet_words):
        packet = words[start:start + packet_words]
        assert packet[0] == 0x4E43, (f"word {start}: 0x{packet[0]:04x} where a packet's sync "
                                     "word 0x4e43 should be")
        out[packet[1]] = packet
    return out


async def check_case(dut, case):
    from rhd2132 import Rhd2132Bus  # noqa: E402 (the tb folder is on the path in the simulator)

    recording = case["samples"] if "samples" in case else np.load(case["stimulus"])
    params = case["params"]
    chips, scans = params["chips"], case["scans"]
    channels = 32 * chips
    dut._log.info(f"case {case['name']}: {recording.shape[0]} scans x {channels} channels "
                  f"served in a loop, {scans} scans simulated, radio pause {case['pause_us']} us")
    cocotb.start_soon(Clock(dut.clk, round(1e12 / params["clk_hz"]), unit="ps").start())
    dut.rst.value = 1
    bus = Rhd2132Bus(dut.rhd_sclk, dut.rhd_cs_n, dut.rhd_mosi, dut.rhd_miso,
                     [recording[:, j::chips] for j in range(chips)], wrap=True)
    packet_words = params["frame_words"] + 3
    radio = RadioMaster(dut, packet_words, case["half_ns"], case["pause_us"] * 1000)
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    cocotb.start_soon(bus.run())
    cocotb.start_soon(radio.run())
    rate = params.get("sample_rate", 30000)
    limit_us = 1e6 * scans / rate * 1.2 + 1000  # the scans' real time, plus start-up
    waited = 0
    while bus.conversions() < scans:
        assert waited < limit_us, (f"after {waited} us the chips saw {bus.words} commands and "
                                   f"{bus.conversions()} complete scans, not {scans}")
        await Timer(500, "us")
        waited += 500
    radio.running = False
    while not radio.stopped:  # the packet being read is read to its end
        await Timer(20, "us")
    bus.check()
    assert int(dut.running.value) == 1, "start-up did not finish"
    assert int(dut.id_ok.value) == (1 << chips) - 1, (
        f"id_ok = {int(dut.id_ok.value):b}: a start-up answer was not an RHD2132's")
    assert int(dut.overrun_count.value) == 0, "samples were lost before the encoder"

    # The model's packets of the samples the chips served (the recording in a loop). The RTL
    # codes each sample as it comes, the model whole blocks: give the model enough scans beyond
    # those converted so far for every frame the RTL may have completed.
    ahead = bus.conversions() + 4 * params["block"] + params["frame_words"]
    served = np.take(recording, np.arange(ahead) % recording.shape[0], axis=0)
    p = dhuff_params(params)
    dictionary = model_dictionary(params)
    encoder = dhuff.StreamEncoder(channels, p, dictionary)
    encoder.push(served)
    expected = np.frombuffer(dhuff.packetize(encoder.pull(), p), ">u2").reshape(-1, packet_words)
    received = packets_of(radio.words, packet_words)
    assert received, "no packet arrived"
    dropped = int(dut.dropped_count.value)
    dut._log.info(f"{len(received)} packets received, {dropped} dropped by the headstage, "
                  f"overflow={int(dut.overflow.value)}")
    for sequence, packet in sorted(received.items()):
        assert sequence < len(expected), f"packet {sequence} is beyond the model's packets"
        assert_same_words([int(w) for w in expected[sequence]], packet,
                          where=lambda i, s=sequence: f"packet {s}, word {i} of {packet_words}")

    data = b"".join(w.to_bytes(2, "big") for w in radio.words)
    result = dhuff.decode_packets(data, channels, p, dictionary)
    decoded = result.samples
    keep = result.received
    want = (served[: decoded.shape[0]].astype(np.int32) >> p.discard_bits) << p.discard_bits
    bad = np.flatnonzero((decoded[keep] != want[keep]).any(axis=1))
    assert bad.size == 0, f"received scan {np.flatnonzero(keep)[bad[0]]} decodes wrong"
    assert not decoded[~keep].any(), "lost scans must be zeros"
    missing = sorted(set(range(max(received) + 1)) - set(received))
    present = np.ones(max(received) + 1, bool)
    present[missing] = False
    frames = expected[: max(received) + 1, 2:-1]
    reference = dhuff.decode_frames_lossy(frames, present, channels, p, dictionary)
    assert result.lost == reference.lost, (f"lost {result.lost}, the model loses "
                                           f"{reference.lost} with the same packets missing")
    if case["overflow"]:
        assert int(dut.overflow.value) == 1 and dropped > 0, "the slow radio caused no overflow"
        assert result.missing_packets > 0 and result.lost, "no loss reported"
        assert keep.sum() >= 32, f"only {keep.sum()} scans survived the overflow"
        assert len(missing) <= dropped, f"{len(missing)} packets missing, {dropped} dropped"
    else:
        assert int(dut.overflow.value) == 0 and dropped == 0 and not result.lost
        assert decoded.shape[0] >= scans // 2, f"only {decoded.shape[0]} scans decoded"
    dut._log.info(f"{decoded.shape[0]} scans decoded, lost {result.lost}")


# ------------------------------------------------------------------------------------------------
# pytest side

SIM_PARAMS = {"chips": 1, "clk_hz": 42_000_000, "discard_bits": 3, "low_bits": 1, "block": 16,
              "frame_words": 64, "dictionary": "intan-d3", "fifo_words": 512,
              "startup_clocks": 64}


def synthetic_input(channels: int = 32, scans: int = 400) -> np.ndarray:
    from neurocodec import synthetic_recording
    return synthetic_recording(channels=channels, duration=scans / 30000, seed=3).samples


def make_case(name, samples, params, scans, *, pause_us=0.0, overflow=False, half_ns=48):
    return {"name": name, "samples": samples, "params": params, "scans": scans,
            "pause_us": pause_us, "overflow": overflow, "half_ns": half_ns}


def write_cases(folder: Path, cases: list[dict]) -> Path:
    return support_cases.write_cases(folder, cases)


def sim_cases(recording=None, max_scans: int = 10000):
    """`make sim`: the whole chain on the input (default: the embedded synthetic recording, 32
    channels), 100 scans at 30 kS/s."""
    if recording is None:
        samples, description = synthetic_input(), "synthetic recording: 32 ch, seed 3"
    else:
        samples = recording.samples[:max_scans, :32]
        if samples.shape[1] < 32:
            samples = np.tile(samples, (1, -(-32 // samples.shape[1])))[:, :32]
        description = f"{recording.metadata.get('source', 'input')} -> 32 ch"
    cases = [make_case("chain", samples, SIM_PARAMS, 100)]
    return SIM_PARAMS, cases, description + "; RHD2132 model -> headstage -> SPI -> decoder"


if "COCOTB_TEST_MODULES" in os.environ:  # inside the simulator
    support_cases.register_cases(globals(), check_case, lambda: sim_cases()[1])

try:
    import pytest
except ImportError:
    pytest = None

if pytest is not None:
    from support.runner import BUILD, SIMULATORS

    def run_cases(simulator, params, cases, tag):
        from support.runner import run_cases
        listing = write_cases(BUILD / "stimuli" / f"headstage-{tag}-{simulator}", cases)
        results = run_cases("headstage", simulator, HERE, params, listing, f"results-{tag}.xml")
        assert len(results) == len(cases)

    # Icarus runs this 4000-cell design at about 3,000 clocks/s (a scan is 1,400 clocks at
    # 30 kS/s and 42 MHz), Verilator about 10x faster: Icarus gets the shorter runs.
    SCANS = {"icarus": 100, "verilator": 150}

    @pytest.mark.sim
    @pytest.mark.realdata
    @pytest.mark.parametrize("simulator", SIMULATORS)
    def test_chain_on_the_open_ephys_recording_d3(simulator, shared_data):
        from neurocodec import read_recording
        samples = read_recording(shared_data / "openephys-32ch").samples[:2000]
        run_cases(simulator, SIM_PARAMS,
                  [make_case("openephys_d3", samples, SIM_PARAMS, SCANS[simulator])], "oe-d3")

    @pytest.mark.sim
    @pytest.mark.realdata
    @pytest.mark.parametrize("simulator", SIMULATORS)
    def test_chain_lossless_and_a_slow_radio(simulator, shared_data):
        from neurocodec import read_recording
        # Lossless takes about 7 bits per sample here: 20 kS/s keeps it within the radio's
        # 10.4 MHz SPI; the slow radio reads a packet every 400 us, slower than they are made.
        # Blocks of 4 scans (about 75 words) are shorter than a frame (128 words), so most
        # blocks survive in a single received packet. Icarus runs the lossless chain for 40
        # scans (about 5 packets); Verilator for 100, and the slow radio.
        params = SIM_PARAMS | {"discard_bits": 0, "low_bits": 4, "dictionary": "default",
                               "fifo_words": 300, "frame_words": 128, "sample_rate": 20000,
                               "block": 4}
        samples = read_recording(shared_data / "openephys-32ch").samples[5000:7000]
        cases = [make_case("openephys_lossless", samples, params,
                           40 if simulator == "icarus" else 100)]
        if simulator == "verilator":
            cases.append(make_case("slow_radio", samples, params, 150, pause_us=400.0,
                                   overflow=True))
        run_cases(simulator, params, cases, "d0")
