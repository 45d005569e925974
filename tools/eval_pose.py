"""The head pose columns on the sample photos and videos: reports/pose.md.

    PYTHONPATH=. python tools/eval_pose.py ../shared/data --out reports/pose.md

Measures what the README says of ``yaw_deg``, ``pitch_deg``, ``roll_deg`` and ``pose_error``: the
misfit of frontal faces, of profiles and of a hand; how roll follows a photo turned in its plane and
yaw a mirrored photo; the yaw range of the keypoint model's training faces; the time a face.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # the measure the tests assert
import pose_geometry  # noqa: E402

from batchface import Analyzer
from batchface.faces import pose
from batchface.media.video import VideoReader
from training.mean_face import read_points


def video_faces(analyzer, path: Path) -> list[tuple[int, object]]:
    """(frame index, face) of every face of every frame of a video."""
    return [(frame.index, face) for frame in VideoReader(path) for face in analyzer.analyze(frame.image)]


def training_yaws(keypoint_set: Path) -> np.ndarray:
    """The yaw of every labelled face of the keypoint set, fitted to its hand-placed points (the
    frames' sizes for the camera)."""
    points, sizes = read_points(keypoint_set)
    return np.array([pose.head_pose(p[None], *size)[0][0, 0] for p, size in zip(points, sizes)])


#: the README's rule for faces whose keypoints (and so expression) to doubt
SUSPECT_ERROR, SUSPECT_YAW = 0.08, 35.0


def suspect(faces) -> str:
    n = sum(f.pose_error > SUSPECT_ERROR or abs(f.pose[0]) > SUSPECT_YAW for f in faces)
    return f"{n} of {len(faces)}"


def pct(values, q) -> str:
    return " / ".join(f"{v:.3f}" for v in np.percentile(values, q))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="../shared/data")
    p.add_argument("--out", type=Path, default=Path("reports/pose.md"))
    args = p.parse_args(argv)
    analyzer = Analyzer()
    samples = args.data / "samples"
    photo_faces = [f for path in sorted(samples.rglob("*.jpg")) for f in analyzer.analyze(cv2.imread(str(path)))]
    gates = video_faces(analyzer, samples / "videos" / "0492_03_009_bill_gates.avi")
    hamilton = video_faces(analyzer, samples / "videos" / "short_hamilton_clip.mp4")
    gates_face = [f for _, f in gates if f.box[0] >= 40]
    hands = [(i, f) for i, f in gates if f.box[0] < 40]
    profile = [f for i, f in hamilton if 20 <= i <= 47 and f.box[2] > 100]  # the singer's profile
    turned = [f for i, f in hamilton if 211 <= i <= 231]  # two guests in three-quarter view
    geometry = pose_geometry.geometry(analyzer, pose_geometry.portraits(analyzer, samples / "deepface"))
    yaws = training_yaws(args.data / "keypoints" / "udacity_p1")
    points = np.array([[f.landmarks[n] for n in analyzer.keypoints.names] for f in photo_faces])
    start = time.perf_counter()
    for _ in range(20):
        pose.head_pose(points, 1000, 1000)
    ms = (time.perf_counter() - start) * 1000 / 20 / len(points)
    q = [50, 90, 99]
    frontal_pitch = [f.pose[1] for f in photo_faces]
    lines = [
        "# Head pose: what the columns read on the samples",
        "",
        f"`PYTHONPATH=. python tools/eval_pose.py ../shared/data`, {datetime.date.today().isoformat()}. "
        "`pose_error`: the mean distance of the 68 keypoints to the fitted mean face's points, in eye distances.",
        "",
        f"| faces | n | pose_error median / 90th / 99th percentile | yaw (median) | pose_error > {SUSPECT_ERROR} "
        f"or \\|yaw\\| > {SUSPECT_YAW:.0f} |",
        "| --- | --- | --- | --- | --- |",
        f"| the sample photos' faces | {len(photo_faces)} | {pct([f.pose_error for f in photo_faces], q)} "
        f"| {np.median([f.pose[0] for f in photo_faces]):.1f} | {suspect(photo_faces)} |",
        f"| Bill Gates talking (every frame) | {len(gates_face)} | {pct([f.pose_error for f in gates_face], q)} "
        f"| {np.median([f.pose[0] for f in gates_face]):.1f} | {suspect(gates_face)} |",
        f"| Hamilton clip, frames 20-47: the singer in profile | {len(profile)} "
        f"| {pct([f.pose_error for f in profile], q)} | {np.median([f.pose[0] for f in profile]):.1f} "
        f"| {suspect(profile)} |",
        f"| Hamilton clip, frames 211-231: two guests in three-quarter view | {len(turned)} "
        f"| {pct([f.pose_error for f in turned], q)} | {np.median([f.pose[0] for f in turned]):.1f} "
        f"| {suspect(turned)} |",
        f"| the hand at the Bill Gates clip's border | {len(hands)} | {pct([f.pose_error for _, f in hands], q)} "
        f"| {np.median([f.pose[0] for _, f in hands]):.1f} | {suspect([f for _, f in hands])} |",
        "",
        "The hand at the left border of the Bill Gates clip, each frame the detector takes it for a face: "
        + "; ".join(
            f"frame {i}: pose_error {f.pose_error:.3f}, yaw {f.pose[0]:.0f}, score {f.score:.2f}" for i, f in hands
        )
        + ".",
        "",
        f"The keypoint model's training faces (the keypoint set's {len(yaws)} hand-placed point sets, fitted the "
        f"same way): yaw 1st-99th percentile {np.percentile(yaws, 1):.1f} to {np.percentile(yaws, 99):.1f} "
        f"degrees, {(np.abs(yaws) > SUSPECT_YAW).mean():.1%} beyond {SUSPECT_YAW:.0f}, "
        f"largest |yaw| {np.abs(yaws).max():.1f}. Beyond that range its points are extrapolated: a profile "
        "reads about 25-30 degrees with a large misfit, and a face-shaped thing that is no face can fit a head "
        "turned further than any face it learnt.",
        "",
        "Geometry, on the single-face photos of `samples/deepface` turned by -30, -15, 15 and 30 degrees about "
        f"their face and mirrored ({len(geometry['yaw_sums'])} photos): |roll change - turn| median "
        f"{np.median(geometry['roll_miss']):.2f}, 90th percentile {np.percentile(geometry['roll_miss'], 90):.2f} "
        f"degrees; yaw and pitch move by {np.median(geometry['others']):.2f} (median), "
        f"{np.percentile(geometry['others'], 90):.2f} (90th percentile); mirrored, |yaw + mirrored yaw| median "
        f"{np.median(geometry['yaw_sums']):.2f}, pitch moves {np.median(geometry['pitch_moves']):.2f}. The sample "
        f"photos' faces read pitch {np.median(frontal_pitch):.1f} (median): the mean face's tilt, not the people's.",
        "",
        f"Cost: {ms:.3f} ms a face (SQPnP and the misfit, one thread, the photos' {len(points)} faces at once).",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
