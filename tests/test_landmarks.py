import numpy as np

from batchface.faces.landmarks import IBUG68_NAMES, KAGGLE_NAMES, alignment_points, kaggle_keypoints


def test_ibug_names_are_68_and_unique():
    assert len(IBUG68_NAMES) == 68 == len(set(IBUG68_NAMES))
    assert IBUG68_NAMES[36] == "right_eye_0" and IBUG68_NAMES[45] == "left_eye_3"
    assert IBUG68_NAMES[48] == "mouth_outer_00" and IBUG68_NAMES[67] == "mouth_inner_7"


def test_kaggle_points_follow_the_documented_ibug_mapping():
    points = np.stack([np.arange(68.0), np.arange(68.0) * 10], -1)  # point i = (i, 10 i)
    k = dict(zip(KAGGLE_NAMES, kaggle_keypoints(points, IBUG68_NAMES)))
    assert tuple(k["left_eye_center"]) == (44.5, 445.0)  # mean of 42..47
    assert tuple(k["right_eye_center"]) == (38.5, 385.0)  # mean of 36..41
    expect = {
        "left_eye_inner_corner": 42,
        "left_eye_outer_corner": 45,
        "right_eye_inner_corner": 39,
        "right_eye_outer_corner": 36,
        "left_eyebrow_inner_end": 22,
        "left_eyebrow_outer_end": 26,
        "right_eyebrow_inner_end": 21,
        "right_eyebrow_outer_end": 17,
        "nose_tip": 30,
        "mouth_left_corner": 54,
        "mouth_right_corner": 48,
        "mouth_center_top_lip": 51,
        "mouth_center_bottom_lip": 57,
    }
    for name, index in expect.items():
        assert tuple(k[name]) == (index, index * 10.0), name


def test_a_kaggle_model_is_read_as_is_and_unknown_names_give_none():
    points = np.random.default_rng(0).random((15, 2))
    np.testing.assert_array_equal(kaggle_keypoints(points, KAGGLE_NAMES), points)
    assert kaggle_keypoints(points, [f"p{i}" for i in range(15)]) is None


def test_alignment_points_are_eyes_then_mouth_corner_midpoint():
    points = np.stack([np.arange(68.0), np.zeros(68)], -1)
    np.testing.assert_allclose(alignment_points(points, IBUG68_NAMES)[:, 0], [38.5, 44.5, 51.0])
