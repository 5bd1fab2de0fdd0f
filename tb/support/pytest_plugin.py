"""pytest fixtures shared by ``tests/`` and ``tb/`` (loaded with ``-p support.pytest_plugin``).

``shared_data``: the real recordings in ``../shared/data`` (relative to the project root, or
``$NEUROCODEC_DATA``). When the folder is absent the test is skipped with a message saying so,
unless ``NEUROCODEC_REQUIRE_DATA=1`` (set by CI), where it fails instead: CI never passes a run
that silently skipped the real-data tests.
"""

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    return Path(os.environ.get("NEUROCODEC_DATA", PROJECT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    folder = shared_data_dir()
    if not (folder / "README.md").is_file():
        message = (f"real recordings not found at {folder} (clone the project beside shared/, or "
                   "set NEUROCODEC_DATA)")
        if os.environ.get("NEUROCODEC_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return folder
