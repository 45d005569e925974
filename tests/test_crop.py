import cv2
import numpy as np
import pytest

from batchface.faces import crop


def similarity(angle_deg, scale, tx, ty):
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


@pytest.mark.parametrize("angle", [0, 17, -40, 90, 180])
def test_points_that_are_a_similarity_of_the_template_land_on_it(angle):
    size = 96
    world = similarity(angle, 2.5, 310, 120)
    points = crop.to_crop(crop.TEMPLATE * size, world)  # template placed into an "image"
    m = crop.alignment_matrix(points, size)
    np.testing.assert_allclose(crop.to_crop(points, m), crop.TEMPLATE * size, atol=1e-9)


def test_round_trip_crop_to_image():
    points = np.array([[120.0, 80.0], [170.0, 90.0], [140.0, 150.0]])
    m = crop.alignment_matrix(points, 48)
    probe = np.array([[0.0, 0.0], [47.0, 47.0], [10.5, 33.25]])
    np.testing.assert_allclose(crop.to_crop(crop.to_image(probe, m), m), probe, atol=1e-9)


def test_points_of_many_crops_map_back_at_once_as_one_by_one():
    rng = np.random.default_rng(3)
    matrices = np.stack(
        [
            crop.alignment_matrix(np.array([[40, 50], [80, 52], [60, 95]]) + rng.normal(0, 9, (3, 2)), 96)
            for _ in range(5)
        ]
    )
    points = rng.uniform(0, 96, (5, 68, 2))
    one_by_one = np.stack([crop.to_image(p, m) for p, m in zip(points, matrices)])
    np.testing.assert_allclose(crop.to_image_all(points, matrices), one_by_one, atol=1e-9)
    assert crop.to_image_all(np.zeros((0, 68, 2)), np.zeros((0, 2, 3))).shape == (0, 68, 2)


def test_crop_is_upright_and_never_mirrored():
    # a face rotated by 30 degrees: after alignment its eyes are level and the image-left eye stays left
    world = similarity(30, 1.0, 0, 0)
    eyes_mouth = crop.to_crop(np.array([[-20.0, 0.0], [20.0, 0.0], [0.0, 35.0]]), world) + 200
    m = crop.alignment_matrix(eyes_mouth, 96)
    left, right, mouth = crop.to_crop(eyes_mouth, m)
    assert abs(left[1] - right[1]) < 1e-6 and left[0] < right[0] and mouth[1] > left[1]
    assert np.linalg.det(m[:, :2]) > 0


def test_cut_samples_the_right_pixels():
    image = np.zeros((200, 200), np.uint8)
    image[100, 50] = 255  # a single bright pixel
    m = crop.alignment_matrix(np.array([[40.0, 90.0], [80.0, 90.0], [60.0, 130.0]]), 96)
    patch = crop.cut(image, m, 96)
    x, y = crop.to_crop([[50.0, 100.0]], m)[0]
    assert patch[int(round(y)), int(round(x))] > 100


def test_coincident_points_are_refused():
    with pytest.raises(ValueError):
        crop.alignment_matrix(np.ones((3, 2)), 48)


def test_a_crop_from_an_image_decoded_at_half_size_matches_the_crop_from_the_full_image():
    """libjpeg's reduced decoding puts a half-size pixel's centre between two full-size pixels."""
    yy, xx = np.mgrid[0:400, 0:600].astype(np.float32)
    full = (127 + 60 * np.sin(xx / 23.0) * np.cos(yy / 17.0)).astype(np.uint8)  # smooth, so both samplings agree
    half = cv2.resize(full, (300, 200), interpolation=cv2.INTER_AREA)  # 2x2 means, as a 2x JPEG decode
    m = crop.alignment_matrix([[250.0, 180.0], [330.0, 182.0], [291.0, 262.0]], 96)
    from_full = crop.cut(full, m, 96).astype(float)
    from_half = crop.cut(half, crop.for_reduced(m, 2.0, 2.0), 96).astype(float)
    shifted = crop.cut(half, np.hstack([m[:, :2] * 2, m[:, 2:]]), 96).astype(float)  # without the half-pixel offset
    assert np.abs(from_half - from_full).mean() < 0.5 < np.abs(shifted - from_full).mean()
    assert crop.for_reduced(m, 1.0, 1.0) is m
