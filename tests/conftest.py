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


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory) -> Path:
    """The models as onnxruntime optimized them (:func:`batchface.faces.models.optimized_copy`) kept in a
    folder of this test session, not in the user's cache; the processes the tests start inherit it."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["BATCHFACE_CACHE"] = str(folder)
    return folder


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
