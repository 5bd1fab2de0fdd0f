#!/usr/bin/env python3
"""How many RHD2132 chips one headstage serves in real time: the radio link's budget against the
packet stream the golden model makes from real data, and (when `make synth` has run) whether the
design for that many chips fits the device with timing met.

For each input (the embedded synthetic recording and, when present, the Open Ephys recording in
../shared/data, 32 channels each) and each coding setting, the model encodes the recording with
the headstage's parameters and wraps the frames in packets (``dhuff.encode`` + ``dhuff.packetize``:
exactly the words the headstage sends, which the testbench checks word for word). Its rate per
chip at the sample rate, mean and worst block, gives the chips one link carries:

* the SPI slave at its fastest (SCLK = clk / 4: 10.5 Mbit/s at 42 MHz; the testbench reads at
  10.4 MHz);
* the UART at 3 Mbaud, 8N1 (2.4 Mbit/s of data).

Writes build/reports/headstage-capacity.{md,json} and prints the table. docs/headstage.md
(Capacity) explains the columns.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from neurocodec import read_recording, synthetic_recording
from neurocodec.codecs import dhuff
from neurocodec_gateware.boards import CLK_HZ
from neurocodec_gateware.cores import get_core
from neurocodec_gateware.rhd2000 import AMPLIFIERS, MAX_CHIPS

PROJECT = Path(__file__).resolve().parents[1]
HEADSTAGE = get_core("headstage").defaults
SAMPLE_RATE = HEADSTAGE["sample_rate"]
LINKS = {"spi": CLK_HZ / 4, "uart": 3e6 * 8 / 10}
_CODING = {key: HEADSTAGE[key] for key in ("discard_bits", "low_bits", "block", "frame_words")}
SETTINGS = {
    # name: (DhuffParams fields, dictionary): the headstage's defaults, and lossless with the
    # model's default dictionary
    "D=3 (default)": (_CODING, HEADSTAGE["dictionary"]),
    "D=0 lossless": (_CODING | {"discard_bits": 0, "low_bits": 4}, "default"),
}


def inputs(shared: Path, seconds: float) -> dict[str, np.ndarray]:
    found = {"synthetic (seed 3)": synthetic_recording(
        channels=AMPLIFIERS, rate=SAMPLE_RATE, duration=seconds, seed=3).samples}
    openephys = shared / "openephys-32ch"
    if openephys.exists():
        samples = read_recording(openephys).samples
        found["Open Ephys 32 ch (Intan)"] = samples[: int(seconds * SAMPLE_RATE), :AMPLIFIERS]
    return found


def measure(samples: np.ndarray, fields: dict, dictionary_name: str) -> dict:
    params = dhuff.DhuffParams(sample_bits=16, **fields)
    dictionary = (dhuff.default_dictionary(params) if dictionary_name == "default"
                  else dhuff.resolve_dictionary(dictionary_name))
    scans = samples.shape[0] - samples.shape[0] % params.block
    frames = dhuff.encode(samples[:scans], params, dictionary)
    packets = dhuff.packetize(frames, params)
    words_per_scan = len(packets) / 2 / scans
    # The worst block: a block coded alone is the same data words (its raw first scan, index word
    # and codes) in frames of its own; leave out those frames' boundary words.
    worst = 0.0
    for start in range(0, scans, params.block):
        words = len(dhuff.encode(samples[start:start + params.block], params, dictionary)) // 2
        worst = max(worst, (words - math.ceil(words / params.frame_words)) / params.block)
    overhead = (params.frame_words + 3) / (params.frame_words - 1)  # packet words per data word
    return {"scans": scans, "words_per_scan": words_per_scan,
            "bits_per_sample": 16 * words_per_scan / AMPLIFIERS,
            "worst_block_words_per_scan": worst * overhead}


def chips_for(link_bps: float, words_per_scan: float) -> int:
    per_chip = words_per_scan * 16 * SAMPLE_RATE
    return min(MAX_CHIPS, math.floor(link_bps / per_chip))


def synth_fit(reports: Path) -> dict:
    """device -> {chips: whether its `make synth` build met its target clock}, for the chip
    counts that have a report."""
    fit = {}
    for device in ("up5k", "hx8k"):
        fit[device] = {}
        for chips in range(1, MAX_CHIPS + 1):
            path = reports / f"headstage-chips{chips}-{device}.json"
            if path.exists():
                fit[device][chips] = bool(json.loads(path.read_text()).get("timing_met"))
    return fit


def describe_fit(device: str, met: dict) -> str:
    if not met:
        return f"{device.upper()}: no report (run make synth)"
    said = [f"met for {', '.join(str(c) for c, ok in met.items() if ok) or 'none'}"]
    if not all(met.values()):
        said.append(f"missed for {', '.join(str(c) for c, ok in met.items() if not ok)}")
    return f"{device.upper()} {' and '.join(said)} chips"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=PROJECT.parent / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="seconds of each input (default 2)")
    parser.add_argument("--out", type=Path, default=PROJECT / "build" / "reports")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 60:
        parser.error("--seconds must be in (0, 60]")

    rows = []
    for source, samples in inputs(args.shared, args.seconds).items():
        for setting, (fields, dictionary) in SETTINGS.items():
            result = measure(samples, fields, dictionary)
            row = {"input": source, "setting": setting, **result}
            for link, bps in LINKS.items():
                row[f"chips_{link}"] = chips_for(bps, result["words_per_scan"])
                row[f"chips_{link}_worst_block"] = chips_for(bps, result["worst_block_words_per_scan"])
            rows.append(row)
    fit = synth_fit(args.out)

    lines = ["| input | setting | bits/sample (packets) | Mbit/s per chip | chips on SPI "
             "(clk/4) mean / worst block | chips on UART 3 Mbaud |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        mbps = r["words_per_scan"] * 16 * SAMPLE_RATE / 1e6
        lines.append(f"| {r['input']} | {r['setting']} | {r['bits_per_sample']:.2f} | {mbps:.2f} | "
                     f"{r['chips_spi']} / {r['chips_spi_worst_block']} | {r['chips_uart']} |")
    lines.append("")
    lines.append("`make synth` builds at 42 MHz: " + "; ".join(
        describe_fit(device, met) for device, met in fit.items()))
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "headstage-capacity.md").write_text(table + "\n")
    (args.out / "headstage-capacity.json").write_text(json.dumps(
        {"clk_hz": CLK_HZ, "sample_rate": SAMPLE_RATE, "links_bps": LINKS, "rows": rows,
         "synth_fit": fit}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
