"""Recall, false positives and speed of each detector on the sample photos -> reports/detectors.md.

    python tests/eval_detectors.py ../shared/data
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).parent))
from groundtruth import annotated_boxes, matched  # noqa: E402

from batchface.detection import BlazeFace, YuNet  # noqa: E402


def main(shared: Path, out: Path):
    cv2.setNumThreads(1)
    samples = shared / "samples"
    truth = annotated_boxes(samples)
    photos = sorted(p for p in samples.rglob("*.jpg"))
    detectors = {"blazeface (built in)": BlazeFace(),
                 "yunet": YuNet(shared / "models" / "face_detection_yunet_2023mar.onnx")}
    images = {p: cv2.imread(str(p)) for p in photos}
    lines = ["# Detectors on the sample photos", "",
             f"Command: `python tests/eval_detectors.py {shared}` (one process, one thread each).", "",
             "Recall: annotated faces (dlib `training.xml` + `testing.xml`, 9 photos, 43 faces of 37-109 px) matched "
             "by a detection at IoU >= 0.3. False positives: detections without a face on those photos, plus every "
             "detection on `dogs.jpg` (no human face).", "",
             "| detector | recall | false positives (annotated photos) | detections on dogs.jpg | bald_guys.jpg (24 faces) | ms per photo (all %d photos) |" % len(photos),
             "| --- | --- | --- | --- | --- | --- |"]
    counts, full = {}, {}
    for name, det in detectors.items():
        det.detect(images[photos[0]])
        start = time.perf_counter()
        found = {p: det.detect(img) for p, img in images.items()}
        ms = (time.perf_counter() - start) * 1000 / len(photos)
        full[name.split()[0]] = found
        counts[name] = {p: len(f) for p, f in found.items()}
        by_name = {p.name: f for p, f in found.items()}
        hits = sum(matched(boxes, by_name[f].boxes) for f, boxes in truth.items())
        total = sum(len(b) for b in truth.values())
        fp = sum(len(by_name[f]) - matched(boxes, by_name[f].boxes) for f, boxes in truth.items())
        lines.append(f"| {name} | {hits}/{total} | {fp} | {len(by_name['dogs.jpg'])} | {len(by_name['bald_guys.jpg'])} | {ms:.0f} |")
    lines += ["", "## Smaller work for larger faces: `--min-face`", "",
              "Of the faces that a detector's full search finds at least `--min-face` pixels wide (its own boxes), "
              "those it still finds with `--min-face` (narrower detections are dropped), and the time a photo "
              "(all %d photos)." % len(photos), "",
              "| --min-face | " + " | ".join(f"{n}: found | {n}: ms per photo" for n in detectors) + " |",
              "| --- | " + " | ".join("--- | ---" for _ in detectors) + " |"]
    for min_face in (40, 60, 80):
        cells = []
        for name, det in {"blazeface": BlazeFace(min_face=min_face),
                          "yunet": YuNet(shared / "models" / "face_detection_yunet_2023mar.onnx",
                                         min_face=min_face)}.items():
            det.detect(images[photos[0]])
            start = time.perf_counter()
            found = {p: det.detect(img) for p, img in images.items()}
            ms = (time.perf_counter() - start) * 1000 / len(photos)
            wide = {p: [b for b in full[name][p].boxes if b[2] >= min_face] for p in photos}
            hits = sum(matched(boxes, found[p].boxes) for p, boxes in wide.items())
            cells.append(f"{hits}/{sum(len(b) for b in wide.values())} | {ms:.0f}")
        lines.append(f"| {min_face} | " + " | ".join(cells) + " |")
    lines += ["", "## Faces found per photo", "", "| photo | " + " | ".join(detectors) + " |",
              "| --- | " + " | ".join("---" for _ in detectors) + " |"]
    for p in photos:
        lines.append(f"| {p.relative_to(samples)} | " + " | ".join(str(counts[n][p]) for n in detectors) + " |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:10]))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"), Path("reports/detectors.md"))
