"""Detectors on the real sample photos, against dlib's checked face boxes."""
import cv2
import numpy as np
import pytest

from batchface.detection import BlazeFace, YuNet, _tile_starts, create_detector, nms
from groundtruth import annotated_boxes, matched


@pytest.fixture(params=["blazeface", "yunet"])
def detector(request):
    if request.param == "yunet":
        return YuNet(request.getfixturevalue("yunet_file"))
    return BlazeFace()


def test_every_annotated_face_is_found(detector, samples):
    for name, truth in annotated_boxes(samples).items():
        found = detector.detect(cv2.imread(str(samples / "dlib_faces" / name)))
        assert matched(truth, found.boxes) == len(truth), name
        assert len(found) == len(truth), f"{name}: {len(found)} detections for {len(truth)} faces"


def test_small_faces_of_a_group_photo(detector, samples):
    assert len(detector.detect(cv2.imread(str(samples / "dlib_faces" / "bald_guys.jpg")))) == 24


@pytest.mark.parametrize("name", ["blazeface", "yunet"])
@pytest.mark.parametrize("photo,min_face", [("2007_007763.jpg", 35), ("bald_guys.jpg", 150)])
def test_min_face_still_finds_every_face_that_wide(name, photo, min_face, samples, request):
    path = request.getfixturevalue("yunet_file") if name == "yunet" else None
    image = cv2.imread(str(samples / "dlib_faces" / photo))
    everything = create_detector(name, path).detect(image)
    wide = [box for box in everything.boxes if box[2] >= 1.1 * min_face]   # 10 % margin: box sizes vary a little
    found = create_detector(name, path, min_face=min_face).detect(image)
    assert 0 < len(wide) < len(everything)
    assert matched(wide, found.boxes) == len(wide)
    assert (found.boxes[:, 2] >= min_face).all()   # narrower faces are left out


def test_min_face_must_be_a_width():
    with pytest.raises(ValueError, match="at least 1 pixel"):
        create_detector("blazeface", min_face=0)


def test_blazeface_finds_no_face_among_dogs(samples):
    assert len(BlazeFace().detect(cv2.imread(str(samples / "dlib_faces" / "dogs.jpg")))) == 0


def test_alignment_points_are_eyes_left_to_right_above_the_mouth(detector, samples):
    found = detector.detect(cv2.imread(str(samples / "dlib_faces" / "Tom_Cruise_avp_2014_4.jpg")))
    (left, right, mouth), = found.points
    assert left[0] < mouth[0] < right[0] and mouth[1] > max(left[1], right[1])
    x, y, w, h = found.boxes[0]
    assert x <= left[0] and right[0] <= x + w and y <= left[1] and mouth[1] <= y + h


def test_faces_are_ordered_left_to_right(detector, samples):
    found = detector.detect(cv2.imread(str(samples / "dlib_faces" / "2008_002470.jpg")))
    centres = found.boxes[:, 0] + found.boxes[:, 2] / 2
    assert (np.diff(centres) > 0).all()


def test_nothing_in_a_blank_image(detector):
    assert len(detector.detect(np.full((300, 400, 3), 127, np.uint8))) == 0


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 10000, 3), (9000, 3, 3)])
def test_images_of_extreme_shapes_are_searched_without_error(detector, shape):
    assert len(detector.detect(np.full(shape, 127, np.uint8))) == 0


@pytest.mark.parametrize("length", [100, 192, 193, 500, 769])
def test_tiles_cover_the_image_and_overlap_by_a_quarter(length):
    starts = _tile_starts(length, 192)
    covered = np.zeros(max(length, 192), bool)
    for s in starts:
        covered[s:s + 192] = True
    assert covered[:length].all() and starts[0] == 0 and starts[-1] == max(0, length - 192)
    assert all(48 <= a + 192 - b for a, b in zip(starts, starts[1:]))


def test_pyramid_levels_run_from_the_whole_image_to_the_finest_tile():
    levels = BlazeFace()._levels
    assert levels(300, 200) == [300]
    assert levels(500, 375) == [500, 384]
    assert levels(800, 600) == [800, 384]          # not 800, 400, 384: 400 finds nothing 384 misses
    assert levels(1200, 800) == [1200, 600, 384]
    assert levels(1986, 1545) == [1986, 993, 496]  # finest: a quarter of the longer side
    assert BlazeFace(min_face=80)._levels(1986, 1545) == [1986, 800]   # tiles ten times the smallest face
    assert BlazeFace(min_face=80)._levels(800, 600) == [800]
    assert BlazeFace(min_face=20)._levels(1200, 800) == [1200, 600, 384]   # never finer than without it


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10]], float)
    assert sorted(nms(boxes, np.array([0.9, 0.8, 0.7]), 0.3).tolist()) == [0, 2]


def test_auto_uses_blazeface_without_a_yunet_file(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCHFACE_CACHE", str(tmp_path))
    assert isinstance(create_detector("auto"), BlazeFace)
    with pytest.raises(FileNotFoundError, match="models fetch yunet"):
        create_detector("yunet")
    with pytest.raises(ValueError, match="unknown detector"):
        create_detector("haar")
