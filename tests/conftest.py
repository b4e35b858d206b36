"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from s3server import s3_server, s3_url  # noqa: F401  (fixtures for every test file)

#: The real recordings corpus, beside the project root (``../shared/audio``).
CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "audio"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """Path of the recordings corpus; skips the test when the folder is absent."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"recordings corpus not found at {CORPUS_DIR}")
    return CORPUS_DIR
