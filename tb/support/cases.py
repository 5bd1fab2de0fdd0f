"""The case lists that the pytest side of a testbench hands to its cocotb side."""

import json
import os
from pathlib import Path

import numpy as np


def write_cases(folder: Path, cases: list[dict], key: str = "samples", dtype=None,
                drop: tuple = ()) -> Path:
    """Write each case's array ``case[key]`` as ``folder/<name>.npy`` and the case list (the other
    fields, plus ``stimulus``: the array's path) as ``folder/cases.json``; return the list's path.
    ``dtype`` converts the arrays first; fields named in ``drop`` are left out of the list."""
    folder.mkdir(parents=True, exist_ok=True)
    listing = []
    for case in cases:
        path = folder / f"{case['name']}.npy"
        array = case[key] if dtype is None else np.asarray(case[key], dtype)
        np.save(path, array)
        listing.append({k: v for k, v in case.items() if k != key and k not in drop}
                       | {"stimulus": str(path)})
    path = folder / "cases.json"
    path.write_text(json.dumps(listing, indent=1))
    return path


def register_cases(namespace: dict, check_case, default_cases) -> None:
    """Inside the simulator: add to ``namespace`` (a testbench module's globals) one cocotb test
    per case, running ``check_case(dut, case)``. The cases are the JSON list named by
    ``NEUROCODEC_CASES``, or, without it (as under ``fusesoc run``), ``default_cases()``."""
    import cocotb

    path = os.environ.get("NEUROCODEC_CASES")
    cases = json.loads(Path(path).read_text()) if path else default_cases()
    for case in cases:
        async def test(dut, case=case):
            await check_case(dut, case)
        namespace[f"case_{case['name']}"] = cocotb.test(name=case["name"])(test)
