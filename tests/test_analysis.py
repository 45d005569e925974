"""The Python API on real photos: Analyzer().analyze(image) -> faces in original-image pixels. The
portraits of tests/fixtures, and one of ../shared's sample photos where it is here."""

import cv2
import numpy as np
import pytest
from shipped import FIXTURES, PORTRAITS, photo_for

from batchface.faces.landmarks import KAGGLE_NAMES


@pytest.fixture(scope="module", params=[*PORTRAITS, "dlib_faces/Tom_Cruise_avp_2014_4.jpg"])
def photo(request):
    """A photo of one face."""
    if request.param in PORTRAITS:
        return cv2.imread(str(FIXTURES / request.param))
    return cv2.imread(str(request.getfixturevalue("samples") / request.param))


def eye_distance(face):
    (lx, ly), (rx, ry) = face.keypoints["left_eye_center"], face.keypoints["right_eye_center"]
    return np.hypot(lx - rx, ly - ry)


def test_one_face_with_keypoints_inside_its_box(analyzer, photo):
    (face,) = analyzer.analyze(photo)
    x, y, w, h = face.box
    assert len(face.landmarks) == 68 and list(face.keypoints) == list(KAGGLE_NAMES)
    for name, (px, py) in face.keypoints.items():
        assert x - 0.1 * w <= px <= x + 1.1 * w and y - 0.1 * h <= py <= y + 1.1 * h, name
    k = face.keypoints
    assert k["right_eye_center"][0] < k["nose_tip"][0] < k["left_eye_center"][0]
    assert k["left_eye_center"][1] < k["nose_tip"][1] < k["mouth_center_bottom_lip"][1]
    assert face.emotion in face.probabilities and face.emotion_score == max(face.probabilities.values())
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)


def test_keypoints_agree_with_the_detectors_eyes(analyzer, photo):
    (face,) = analyzer.analyze(photo)
    ((left, right, _),) = analyzer.detect(photo).points
    d = eye_distance(face)
    assert np.hypot(*(np.array(face.keypoints["right_eye_center"]) - left)) < 0.25 * d
    assert np.hypot(*(np.array(face.keypoints["left_eye_center"]) - right)) < 0.25 * d


def test_a_rotated_photo_gives_the_same_points_rotated(analyzer, photo):
    """Crops are upright whatever the head's roll, and points map back to the original pixels."""
    (face,) = analyzer.analyze(photo)
    h, w = photo.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0)
    (turned,) = analyzer.analyze(cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    expected = np.array(list(face.keypoints.values())) @ m[:, :2].T + m[:, 2]
    got = np.array(list(turned.keypoints.values()))
    assert np.median(np.hypot(*(got - expected).T)) < 0.1 * eye_distance(face)


def test_a_batch_of_images_equals_images_one_by_one(analyzer, photo, group_photo):
    other = cv2.imread(str(group_photo[0]))
    batch = analyzer.analyze_batch([photo, other])
    single = [analyzer.analyze(photo), analyzer.analyze(other)]
    assert [len(f) for f in batch] == [len(f) for f in single] == [1, 6]
    for a, b in zip(sum(batch, []), sum(single, [])):
        assert a.box == b.box and a.emotion == b.emotion
        np.testing.assert_allclose(list(a.keypoints.values()), list(b.keypoints.values()), atol=1e-2)


def test_no_face_gives_an_empty_list(analyzer):
    assert analyzer.analyze(np.full((240, 320, 3), 90, np.uint8)) == []


@pytest.mark.parametrize(
    "name, reduced, faces",
    [
        ("large_photo", (1200, 1800), 6),  # 3600 x 2400
        ("udacity_p1/the_beatles.jpg", (1203, 1824), 4),  # 3648 x 2406
    ],
)
def test_a_large_jpeg_decoded_reduced_gives_the_faces_of_the_full_image(analyzer, request, name, reduced, faces):
    """Decoded at half size, its faces are large enough there to be cut from it."""
    from batchface.media.decoding import read_image, read_picture

    path = photo_for(request, name)
    picture = read_picture(path, analyzer.detector.side_needed)
    assert picture.image.shape[:2] == reduced and (picture.width, picture.height) == (2 * reduced[1], 2 * reduced[0])
    reduced, full = analyzer.analyze_pictures([picture])[0], analyzer.analyze(read_image(path))
    assert len(reduced) == len(full) == faces
    for a, b in zip(reduced, full):
        d = eye_distance(b)
        assert np.abs(np.array(a.box) - b.box).max() < 0.1 * d
        assert np.median(np.hypot(*(np.array(list(a.keypoints.values())) - list(b.keypoints.values())).T)) < 0.05 * d


def test_faces_too_small_in_the_reduced_image_are_cut_from_the_full_one(analyzer, samples, monkeypatch):
    from batchface.media.decoding import Picture, read_picture

    picture = read_picture(samples / "dlib_faces" / "bald_guys.jpg", lambda w, h: 960)  # 24 faces of 60-75 px eyes
    assert picture.reduced and not analyzer.large_enough(
        analyzer.detect(picture.image).scaled(*picture.scale), min(picture.scale)
    )
    decoded_again = []
    monkeypatch.setattr(Picture, "full", lambda self: decoded_again.append(self) or read_picture(self.path))
    assert len(analyzer.analyze_pictures([picture])[0]) == 24 and decoded_again == [picture]
