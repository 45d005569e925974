"""Shared fixtures. Tests that need the real data of ``../shared/data`` skip when it is absent; those
that need only real photos and videos of faces run on the public-domain photos of ``tests/fixtures``
and the media made from them (``shipped.py``), on a fresh clone too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import shipped

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
    """The models as onnxruntime optimized them (:func:`batchface.faces.sessions.optimized_copy`) kept in a
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


@pytest.fixture(scope="session")
def portrait() -> Path:
    """A photo of one face (Grace Hopper, 341 x 400)."""
    return shipped.FIXTURES / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def faceless_photo() -> Path:
    """A photo without a face (a cup of coffee, 400 x 267)."""
    return shipped.FACELESS


@pytest.fixture(scope="session")
def group_photo(tmp_path_factory) -> tuple[Path, list]:
    """(a JPEG of six faces of 56 to 132 pixels wide, their boxes left to right): ``shipped.write_group_photo``."""
    path = tmp_path_factory.mktemp("group") / "group.jpg"
    return path, shipped.write_group_photo(path)


@pytest.fixture(scope="session")
def face_video(tmp_path_factory) -> tuple[Path, list[int]]:
    """(an H.264 MP4 of 90 frames, 320 x 240 at 25 fps, the first frame of each of its four shots):
    a face, a cut to another face, a cut to a cup, a cut back to the first face (``shipped.write_face_video``)."""
    path = tmp_path_factory.mktemp("video") / "faces.mp4"
    return path, shipped.write_face_video(path)


@pytest.fixture(scope="session")
def large_photo(group_photo) -> Path:
    """The group photo enlarged to 3600 x 2400 (faces of 280 to 660 pixels), a JPEG that is decoded at half size."""
    import cv2

    path = group_photo[0].with_name("large.jpg")
    cv2.imwrite(str(path), cv2.resize(cv2.imread(str(group_photo[0])), (3600, 2400), interpolation=cv2.INTER_CUBIC))
    return path
