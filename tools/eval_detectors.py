"""Recall, false positives and speed of each detector on the sample photos, close-ups made from them
and the sample videos' frames -> reports/detectors.md and reports/detectors-strip.png.

    python tools/eval_detectors.py ../shared/data
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # the tests' ground truth and close-ups
from closeups import cut_by_the_border, filling_the_frame  # noqa: E402
from groundtruth import annotated_boxes, matched  # noqa: E402

from batchface.faces.blazeface import BlazeFace  # noqa: E402
from batchface.faces.detection import create_detector  # noqa: E402
from batchface.faces.yunet import YuNet  # noqa: E402

STRIP_FRAMES = (0, 17, 30, 58, 64, 90)  # of short_hamilton_clip.mp4: a hand, a profile, the audience, a hand again


def detectors(min_face=None) -> dict:
    return {
        "yunet (default)": create_detector("yunet", min_face=min_face),
        "yunet alone": YuNet(min_face=min_face),
        "blazeface": BlazeFace(min_face=min_face),
    }


def timed(detector, images) -> tuple[list, float]:
    detector.detect(images[0])
    start = time.perf_counter()
    found = [detector.detect(image) for image in images]
    return found, (time.perf_counter() - start) * 1000 / len(images)


def video_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(path)), []
    while limit is None or len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def strip(frames: list[np.ndarray], by_name: dict, out: Path) -> None:
    """The strip's frames, each with every detector's boxes (colours below), two frames a row."""
    colours = {"yunet (default)": (0, 220, 0), "yunet alone": (0, 0, 255), "blazeface": (255, 0, 255)}
    tiles = []
    for i in STRIP_FRAMES:
        tile = frames[i].copy()
        for name, found in by_name.items():
            grow = {"yunet (default)": 0, "yunet alone": 3, "blazeface": 6}[name]  # nested, so all stay visible
            for x, y, w, h in found[i].boxes.astype(int):
                cv2.rectangle(tile, (x - grow, y - grow), (x + w + grow, y + h + grow), colours[name], 1)
        cv2.putText(tile, f"frame {i}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    rows = [np.hstack(tiles[k : k + 2]) for k in range(0, len(tiles), 2)]
    cv2.imwrite(str(out), np.vstack(rows))


def main(shared: Path, out: Path):
    cv2.setNumThreads(1)
    samples = shared / "samples"
    truth = annotated_boxes(samples)
    photos = sorted(samples.rglob("*.jpg"))
    images = [cv2.imread(str(p)) for p in photos]
    lines = [
        "# Detectors",
        "",
        f"Command: `python tools/eval_detectors.py {shared}` (one process, one thread). `yunet (default)`: "
        "YuNet, with BlazeFace asked to confirm the large frontal faces YuNet is unsure of "
        "(`batchface/faces/yunet.py`); `yunet alone`: without that check; `blazeface`: BlazeFace on image tiles.",
        "",
        "## The sample photos",
        "",
        "Recall: annotated faces (dlib `training.xml` + `testing.xml`, 9 photos, 43 faces of 37-109 px) matched "
        "by a detection at IoU >= 0.3. False positives: detections without a face on those photos, plus every "
        "detection on `dogs.jpg` (no human face).",
        "",
        f"| detector | recall | false positives (annotated photos) | detections on dogs.jpg | bald_guys.jpg (24 faces) "
        f"| faces in all {len(photos)} photos | ms per photo |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    per_photo = {}
    for name, det in detectors().items():
        found, ms = timed(det, images)
        by_name = {p.name: f for p, f in zip(photos, found)}
        per_photo[name] = [len(f) for f in found]
        hits = sum(matched(boxes, by_name[f].boxes) for f, boxes in truth.items())
        fp = sum(len(by_name[f]) - matched(boxes, by_name[f].boxes) for f, boxes in truth.items())
        lines.append(
            f"| {name} | {hits}/{sum(len(b) for b in truth.values())} | {fp} | {len(by_name['dogs.jpg'])} | "
            f"{len(by_name['bald_guys.jpg'])} | {sum(per_photo[name])} | {ms:.0f} |"
        )

    singles = [
        (p, image)
        for p, image in zip(photos, images)
        if p.parent.name == "deepface" and len(create_detector("yunet").detect(image)) == 1
    ]
    cases = {
        f"filling {fill:.0%} of a 640 x 640 frame": lambda im, box, f=fill: filling_the_frame(im, box, f)
        for fill in (0.5, 0.8, 1.0)
    }
    cases.update(
        {
            f"cut by the border, {kept:.0%} of its width kept": lambda im, box, k=kept: cut_by_the_border(im, box, k)
            for kept in (0.75, 0.5)
        }
    )
    lines += [
        "",
        "## Close-ups",
        "",
        f"Made from the {len(singles)} photos of `deepface/` with one face: that face enlarged, or the photo cut "
        "through it (`tests/closeups.py`). Found: images in which the detector finds that face and nothing else.",
        "",
        "| case | " + " | ".join(detectors()) + " |",
        "| --- |" + " --- |" * len(detectors()),
    ]
    for case, make in cases.items():
        made = [make(image, create_detector("yunet").detect(image).boxes[0]) for _, image in singles]
        cells = [f"{sum(len(det.detect(im)) == 1 for im in made)}/{len(made)}" for det in detectors().values()]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")

    lines += [
        "",
        "## The sample videos' frames",
        "",
        "Faces found in every frame, and the time a frame.",
        "",
        "| video | frames | " + " | ".join(f"{n}: faces | {n}: ms a frame" for n in detectors()) + " |",
        "| --- | --- |" + " --- | --- |" * len(detectors()),
    ]
    hamilton = None
    for video, limit in (
        ("short_hamilton_clip.mp4", 100),
        ("short_hamilton_clip.mp4", None),
        ("0492_03_009_bill_gates.avi", None),
    ):
        frames = video_frames(samples / "videos" / video, limit)
        cells, found_by = [], {}
        for name, det in detectors().items():
            found, ms = timed(det, frames)
            found_by[name] = found
            cells.append(f"{sum(len(f) for f in found)} | {ms:.1f}")
        if limit:
            hamilton = (frames, found_by)
        lines.append(f"| `{video}`{f' (first {limit})' if limit else ''} | {len(frames)} | " + " | ".join(cells) + " |")
    strip(*hamilton, out.with_name("detectors-strip.png"))
    lines += [
        "",
        "Frames " + ", ".join(map(str, STRIP_FRAMES)) + " of `short_hamilton_clip.mp4`, boxes of the "
        "default (green), YuNet alone (red, just outside) and BlazeFace (magenta, outside those):",
        "",
        "![strip](detectors-strip.png)",
        "",
    ]

    lines += [
        "## Smaller work for larger faces: `--min-face`",
        "",
        "Of the faces that a detector's full search finds at least `--min-face` pixels wide (its own boxes), "
        "those it still finds with `--min-face` (narrower detections are dropped), and the time a photo "
        f"(all {len(photos)} photos).",
        "",
        "| --min-face | "
        + " | ".join(f"{n}: found | {n}: ms per photo" for n in ("yunet (default)", "blazeface"))
        + " |",
        "| --- |" + " --- | --- |" * 2,
    ]
    full = {name: [det.detect(image) for image in images] for name, det in detectors().items()}
    for min_face in (40, 60, 80):
        cells = []
        for name, det in detectors(min_face).items():
            if name == "yunet alone":
                continue
            found, ms = timed(det, images)
            wide = [[b for b in f.boxes if b[2] >= min_face] for f in full[name]]
            hits = sum(matched(w, f.boxes) for w, f in zip(wide, found))
            cells.append(f"{hits}/{sum(len(w) for w in wide)} | {ms:.0f}")
        lines.append(f"| {min_face} | " + " | ".join(cells) + " |")

    lines += [
        "",
        "## Faces found per photo",
        "",
        "| photo | " + " | ".join(per_photo) + " |",
        "| --- |" + " --- |" * len(per_photo),
    ]
    for i, p in enumerate(photos):
        lines.append(f"| {p.relative_to(samples)} | " + " | ".join(str(c[i]) for c in per_photo.values()) + " |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"), Path("reports/detectors.md"))
