"""Shared fixtures for the lab's own tests: one in-process lab per session, reset per test."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))

from kklab.lab import Lab  # noqa: E402


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    instance = Lab(tmp_path_factory.mktemp("lab")).start()
    yield instance
    instance.stop()


@pytest.fixture
def fresh_lab(lab):
    """The session lab, back in its seed state (faults cleared, counters at zero)."""
    lab.reset()
    return lab
