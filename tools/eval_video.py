"""Detection on keyframes against detection on every frame, on the sample videos and longer videos
made from them -> the tables of reports/video.md and reports/video-strip.png.

    python tools/eval_video.py ../shared/data [--every-k 1 2 3 5 10]

For each video and each ``--detect-every`` K, one process on one thread: milliseconds a frame to
find the faces (detector and tracker) and to run the two face models, faces found against K = 1
(matched by box overlap >= 0.5), how far the 15 keypoints of the faces found both ways lie apart (in
eye distances), and the number of tracks. Then the error of the keypoints of a face found again
around where it was (``detect_near``) against those of a face found on the whole frame, both
against the truth: the keypoint set's test people come in pairs of frames of one video (``X_10.jpg``,
``X_11.jpg``); the second frame of each pair is analysed both ways.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchface.engine.runner import Options
from batchface.faces.analysis import Analyzer
from batchface.faces.boxes import iou
from batchface.faces.landmarks import IBUG68_NAMES
from batchface.faces.tracking import Tracker
from batchface.media.video import Frame, VideoReader
from batchface.output.drawing import draw
from training.report_keypoints import nme15
from training.train_keypoints import person_split

STRIP = ((1, range(10, 280, 34)),)  # (video number, frames) drawn with their track ids


def videos(shared: Path) -> dict[str, list[Frame]]:
    """The sample videos, the two joined (a cut between them), and the performer's clip in 1280 x 720."""
    clips = {}
    for name in ("0492_03_009_bill_gates.avi", "short_hamilton_clip.mp4"):
        clips[name] = list(VideoReader(shared / "samples" / "videos" / name))
    gates, hamilton = clips.values()
    size = hamilton[0].image.shape[1::-1]
    joined = [f.image for f in hamilton] + [cv2.resize(f.image, size) for f in gates] + [f.image for f in hamilton]
    clips["hamilton + bill_gates + hamilton, 640x360 (two joins)"] = [
        Frame(i, i / 29.97, image, i) for i, image in enumerate(joined)
    ]
    clips["short_hamilton_clip.mp4 enlarged to 1280x720"] = [
        Frame(f.index, f.timestamp_s, cv2.resize(f.image, (1280, 720), interpolation=cv2.INTER_CUBIC), f.sample)
        for f in hamilton
    ]
    return clips


def analyse(analyzer: Analyzer, frames: list[Frame], every: int):
    tracker = Tracker(analyzer.detector, every)
    start = time.perf_counter()
    found = [tracker.find(frame) for frame in frames]
    finding = time.perf_counter() - start
    start = time.perf_counter()
    faces = []
    for i in range(0, len(frames), 16):  # as a worker batches them
        faces += analyzer.run_models([f.image for f in frames[i : i + 16]], [d for d, _ in found[i : i + 16]])
    models = time.perf_counter() - start
    return faces, [ids for _, ids in found], finding * 1000 / len(frames), models * 1000 / len(frames), tracker


def compare(reference, faces) -> tuple[int, int, list[float]]:
    """Faces of ``reference`` found in ``faces`` (box overlap >= 0.5), faces in all, and the keypoint
    distances of those found, in eye distances."""
    found, moved = 0, []
    for ref_faces, got in zip(reference, faces):
        for ref in ref_faces:
            best = max(got, key=lambda f: iou(ref.box, f.box), default=None)
            if best is None or iou(ref.box, best.box) < 0.5:
                continue
            found += 1
            eyes = np.linalg.norm(np.subtract(ref.keypoints["left_eye_center"], ref.keypoints["right_eye_center"]))
            d = [np.linalg.norm(np.subtract(ref.keypoints[k], best.keypoints[k])) for k in ref.keypoints]
            moved.append(float(np.mean(d)) / max(eyes, 1e-6))
    return found, sum(len(f) for f in faces), moved


def pairs(shared: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(first frame, second frame, the second's 68 true points) of each pair of frames (``X_10.jpg``,
    ``X_11.jpg``: one video) of the people that the shipped keypoint model's training held out
    (``train_keypoints``' person split, seed 1234)."""
    data = shared / "keypoints" / "udacity_p1"
    truth = {}
    for folder in ("training", "test"):
        with open(data / f"{folder}_frames_keypoints.csv") as f:
            for row in f.read().splitlines()[1:]:
                name, *values = row.split(",")
                truth[f"{folder}/{name}"] = np.array(values[:136], float).reshape(68, 2)
    names = sorted(truth)
    _, _, test = person_split(names, 0.15, 0.1, 1234)
    out = []
    for name in (names[i] for i in test):
        first = name[:-5] + str(int(name[-5]) - 1) + ".jpg"
        if name[-5] in "13579" and first in truth:
            out.append((cv2.imread(str(data / first)), cv2.imread(str(data / name)), truth[name]))
    return out


def tracked_keypoint_error(analyzer: Analyzer, shared: Path) -> list[str]:
    """NME15 of the second frames of the pairs, their face found on the whole frame or around the first's."""
    errors: dict[str, list[float]] = {"the whole frame (detect_every 1)": [], "around the first frame's face": []}
    missed = dict.fromkeys(errors, 0)
    found_pairs = 0
    for first, second, truth in pairs(shared):
        tracker = Tracker(analyzer.detector, detect_every=2)
        if not len(tracker.find(Frame(0, 0.0, first, 0))[0]):
            continue
        found_pairs += 1
        ways = {
            "the whole frame (detect_every 1)": analyzer.detect(second),
            "around the first frame's face": tracker.find(Frame(1, 0.04, second, 1))[0],
        }
        for way, detections in ways.items():
            faces = analyzer.run_models([second], [detections])[0]
            if not faces:
                missed[way] += 1
                continue
            centre = truth.mean(0)
            face = min(faces, key=lambda f: np.linalg.norm(np.mean(list(f.landmarks.values()), 0) - centre))
            predicted = np.array([face.landmarks[n] for n in IBUG68_NAMES])
            errors[way].append(float(nme15(predicted[None], truth[None])[0]))
    lines = [
        f"Pairs of frames of one video of the keypoint set's held-out people, the first frame with a face: "
        f"{found_pairs}.",
        "",
        "| second frame's face found on | NME15 | faces not found |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {way} | {np.mean(e):.2%} | {missed[way]} |" for way, e in errors.items()]
    return lines + [""]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shared", type=Path)
    p.add_argument("--every-k", type=int, nargs="+", default=[1, 2, 3, 5, 8, 12])
    p.add_argument("--out", type=Path, default=Path("reports/video-tables.md"))
    p.add_argument("--strip", type=Path, default=Path("reports/video-strip.png"))
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    analyzer = Analyzer(threads=1)
    lines = [
        f"`python tools/eval_video.py {' '.join(sys.argv[1:])}`, one process on one thread, "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
    ]
    strips = []
    for number, (name, frames) in enumerate(videos(args.shared).items()):
        lines += [
            f"### {name}: {len(frames)} frames",
            "",
            "| K | find ms/frame | models ms/frame | total ms/frame | frames/s | x K=1 | faces | of K=1's found "
            "| keypoints apart (eye distances, mean / 95th pct) | tracks | whole frame searched: keyframe, cut, lost |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        reference, base = None, None
        for every in args.every_k:
            faces, ids, finding, models, tracker = analyse(analyzer, frames, every)
            total = finding + models
            if reference is None:
                reference, base = faces, total
            found, count, moved = compare(reference, faces)
            ref_count = sum(len(f) for f in reference)
            apart = f"{np.mean(moved):.4f} / {np.percentile(moved, 95):.4f}" if moved else ""
            lines.append(
                f"| {every} | {finding:.2f} | {models:.2f} | {total:.2f} | {1000 / total:.1f} | {base / total:.2f}x "
                f"| {count} | {found}/{ref_count} ({found / max(ref_count, 1):.1%}) | {apart} | {len(tracker.head)} "
                f"| {', '.join(str(tracker.searches[k]) for k in ('keyframe', 'cut', 'lost'))} |"
            )
            for strip_video, strip_frames in STRIP:
                if number == strip_video and every == Options().detect_every:
                    strips += [cv2.resize(draw(frames[i].image, faces[i], ids[i]), (427, 240)) for i in strip_frames]
            print(lines[-1], flush=True)
        lines.append("")
    lines += tracked_keypoint_error(analyzer, args.shared)
    print("\n".join(lines[-6:]))
    args.out.write_text("\n".join(lines))
    if strips:
        rows = [np.hstack(strips[i : i + 4]) for i in range(0, len(strips) - 3, 4)]
        cv2.imwrite(str(args.strip), np.vstack(rows))


if __name__ == "__main__":
    main()
