"""Head pose (batchface.faces.pose): its conventions on a face made to measure, and its geometry on real
photos turned in their plane and mirrored."""

from __future__ import annotations

import numpy as np
import pose_geometry
import pytest
from shipped import photo_for

from batchface.faces import pose
from batchface.faces.landmarks import IBUG68_NAMES


def projected(yaw: float, pitch: float, roll: float, width=640, height=480) -> np.ndarray:
    """The mean face's 68 points in a ``width`` x ``height`` image of the guessed camera, turned by
    the angles of batchface.faces.pose's conventions, 60 cm from the camera."""
    rx, ry, rz = (np.radians(a) for a in (-pitch, -yaw, roll))
    x = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
    y = np.array([[np.cos(ry), 0, np.sin(ry)], [0, 1, 0], [-np.sin(ry), 0, np.cos(ry)]])
    z = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    camera_points = pose.mean_face() @ (z @ y @ x).T + [0, 0, 600]
    image = camera_points @ pose.camera(width, height).T
    return image[:, :2] / image[:, 2:]


@pytest.mark.parametrize("angles", [(0, 0, 0), (20, 0, 0), (0, 15, 0), (0, 0, 25), (-30, -10, 12)])
def test_a_face_made_to_measure_reads_its_own_angles(angles):
    found, error = pose.head_pose(projected(*angles)[None], 640, 480)
    np.testing.assert_allclose(found[0], angles, atol=1e-3)
    assert error[0] < 1e-4


def test_the_angles_say_which_way_the_subject_turns():
    centre = lambda points: points[30]  # the nose tip
    eyes = lambda points: (points[36:42].mean(0), points[42:48].mean(0))
    # turning to their own left, the subject's nose moves to the image's right
    assert centre(projected(20, 0, 0))[0] > centre(projected(0, 0, 0))[0] + 10
    # looking up, the nose tip rises in the image
    assert centre(projected(0, 15, 0))[1] < centre(projected(0, 0, 0))[1] - 5
    # tilting towards their left shoulder, the eye on the image's right goes down: clockwise
    right_of_image, left_of_image = eyes(projected(0, 0, 20))[1], eyes(projected(0, 0, 20))[0]
    assert right_of_image[1] > left_of_image[1] + 10


def test_keypoints_of_a_shape_that_is_no_head_fit_badly():
    points = projected(0, 0, 0)
    noisy = points + np.random.default_rng(0).normal(0, 8, points.shape)  # 8 px on a 90-px eye distance
    assert pose.head_pose(points[None], 640, 480)[1][0] < 1e-4
    assert pose.head_pose(noisy[None], 640, 480)[1][0] > 0.08


def test_the_shipped_keypoints_are_those_the_pose_fits(analyzer):
    assert pose.has_pose(analyzer.keypoints.names) and pose.has_pose(IBUG68_NAMES)
    assert not pose.has_pose(IBUG68_NAMES[:-1])


# --- real photos -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portraits(samples, analyzer):
    """(image, its face) of each single-face photo of the samples."""
    found = pose_geometry.portraits(analyzer, samples / "deepface")
    assert len(found) >= 12
    return found


@pytest.fixture(scope="module")
def geometry(portraits, analyzer):
    return pose_geometry.geometry(analyzer, portraits)


def test_a_photo_turned_in_its_plane_turns_the_roll_alone(geometry):
    roll_misses, other_moves = geometry["roll_miss"], geometry["others"]
    assert np.median(roll_misses) <= 2.0 and np.percentile(roll_misses, 90) <= 4.0, np.round(roll_misses, 1)
    assert np.median(other_moves) < 3.0 and np.percentile(other_moves, 90) < 5.0, np.round(other_moves, 1)


def test_a_mirrored_photo_turns_the_other_way(geometry):
    assert np.median(geometry["yaw_sums"]) <= 3.0, np.round(geometry["yaw_sums"], 1)
    assert np.median(geometry["pitch_moves"]) <= 3.0, np.round(geometry["pitch_moves"], 1)
    # portraits that look about at the camera read near zero
    assert np.median(geometry["frontal"]) < 10.0, np.round(geometry["frontal"], 1)


def test_faces_whose_keypoints_fit_no_head_stand_out(samples, analyzer, portraits):
    """The README's filter: the profile faces of the Hamilton clip (keypoints over cheek and hair)
    misfit a head by more than 0.08 eye distances; the hand at the border of the Bill Gates clip
    fits a head turned beyond any face the keypoint model was trained on (|yaw| <= 35)."""
    videos = samples / "videos"
    for index in (30, 45):
        faces = analyzer.analyze(pose_geometry.video_frame(videos / "short_hamilton_clip.mp4", index))
        profile = max(faces, key=lambda f: f.box[2])
        assert profile.pose_error > 0.08, (index, profile.pose_error)
    hand = min(
        analyzer.analyze(pose_geometry.video_frame(videos / "0492_03_009_bill_gates.avi", 26)), key=lambda f: f.box[0]
    )
    assert hand.box[0] < 5 and abs(hand.pose[0]) > 40, (hand.box, hand.pose)
    errors = [face.pose_error for _, face in portraits]
    assert np.median(errors) < 0.06 and max(errors) < 0.09, np.round(errors, 3)


@pytest.mark.parametrize("name, faces", [("group_photo", 6), ("dlib_faces/bald_guys.jpg", 24)])
def test_the_table_carries_the_pose_of_each_face(request, tmp_path, name, faces):
    from batchface import run
    from batchface.output.writers import read_table

    photo = photo_for(request, name)
    run([photo], tmp_path / "r.parquet", workers=0, progress=False)
    rows = read_table(tmp_path / "r.parquet").to_pylist()
    assert len(rows) == faces and all(r["status"] == "ok" for r in rows)
    for r in rows:
        assert -90 < r["yaw_deg"] < 90 and -90 < r["pitch_deg"] < 90 and -90 < r["roll_deg"] < 90
        assert 0 < r["pose_error"] < 0.12
    # the faces are upright, frontal portraits: the misfit is small for most
    assert sorted(r["pose_error"] for r in rows)[faces // 2] < 0.06
