"""The case lists that the pytest side of a testbench hands to its cocotb side."""

import json
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
