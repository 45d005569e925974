"""Shared fixtures. Tests that need the real data of ``../shared/data`` skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BATCHFACE_SHARED_DATA", ROOT.parent / "shared" / "data"))
SAMPLES = SHARED / "samples"
YUNET = SHARED / "models" / "face_detection_yunet_2023mar.onnx"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the real data at {path} (../shared/data is not here)")
    return path


@pytest.fixture(scope="session")
def samples() -> Path:
    return need(SAMPLES)


@pytest.fixture(scope="session")
def fer_test() -> Path:
    """FER2013's PublicTest faces, one folder a class."""
    return need(SHARED / "fer2013" / "test")


@pytest.fixture(scope="session")
def yunet_file() -> Path:
    return need(YUNET)


@pytest.fixture(scope="session")
def analyzer():
    from batchface import Analyzer

    return Analyzer()
