"""The in-the-wild check of expression models: faces of real video frames, labelled by eye.

    python -m training.in_the_wild batchface/assets/expression-ferplus.onnx --data ../shared/data

``training/wild/labels.csv`` holds 2,534 faces (``training/wild/README.md`` says how they were
chosen and labelled): every frame of half the people of the keypoint set, and frames of the two
sample videos; ``training/wild/photos.csv`` (``--labels``) the 106 faces of the sample photos, a
second check made the same way. Each face is found again by the run's detector (the detection that
overlaps the labelled box most, intersection over union >= 0.5), cut by the model's own crop rule
and read by the model, as ``batchface run`` does. Never trained on; ``training/wild/train.csv``
and the files beside it, frames of the keypoint set's other half of the people labelled the same
way, are (``train_expression --wild``).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from batchface.faces import crop
from batchface.faces.boxes import iou
from batchface.faces.detection import create_detector
from batchface.faces.models import ExpressionModel
from batchface.media.video import VideoReader
from training.metrics import confusion, per_class, wilson

LABELS = Path(__file__).parent / "wild" / "labels.csv"  # video frames: the validation set models are chosen on
PHOTOS = Path(__file__).parent / "wild" / "photos.csv"  # photos: a second check, never chosen on
TRAINING = Path(__file__).parent / "wild" / "train.csv"  # video frames of other people: trained on
#: labels that are not an expression: left out of every score
NOT_SCORED = ("unsure", "not_a_face")
MIN_IOU = 0.5  # the detection that is the labelled face


def read_labels(path=LABELS) -> list[dict]:
    """The labelled faces: ``source`` (relative to the data folder), ``frame_index`` (a video's
    frame in decode order from 0; empty for an image), ``box`` (x, y, w, h in image pixels, origin
    top-left, as the detector gave when labelling) and ``label``."""
    with open(path, newline="") as f:
        return [
            {
                "source": r["source"],
                "frame_index": int(r["frame_index"]) if r["frame_index"] else None,
                "box": tuple(float(r[k]) for k in ("box_x", "box_y", "box_w", "box_h")),
                "label": r["label"],
            }
            for r in csv.DictReader(f)
        ]


def images_of(rows: list[dict], data: Path):
    """Yield ``(row, BGR image)`` for each row, each video read once from its start."""
    wanted = defaultdict(list)
    for row in rows:
        wanted[row["source"]].append(row)
    for source, group in wanted.items():
        if group[0]["frame_index"] is None:
            image = cv2.imread(str(data / source))
            if image is None:
                raise SystemExit(f"{data / source}: not readable")
            yield from ((row, image) for row in group)
            continue
        by_frame = defaultdict(list)
        for row in group:
            by_frame[row["frame_index"]].append(row)
        for frame in VideoReader(data / source, stop=max(by_frame) + 1):  # frames counted as a run counts them
            yield from ((row, frame.image) for row in by_frame.pop(frame.index, []))
        if by_frame:
            raise SystemExit(f"{data / source}: ends before frame {min(by_frame)}")


def runtime_crops(rows: list[dict], data: Path, size: int, template) -> tuple[np.ndarray, np.ndarray]:
    """Each labelled face as the run cuts it for a model of crop ``size`` and ``template``: (crops
    [N, size, size] uint8 grayscale, found [N] bool); a face the detector does not find again gets
    a blank crop and found False."""
    detector = create_detector("yunet")
    crops, found = np.zeros((len(rows), size, size), np.uint8), np.zeros(len(rows), bool)
    position = {id(row): i for i, row in enumerate(rows)}
    for row, image in images_of(rows, data):
        detections = detector.detect(image)
        overlaps = [iou(row["box"], box) for box in detections.boxes]
        if not overlaps or max(overlaps) < MIN_IOU:
            continue
        points = detections.points[int(np.argmax(overlaps))]
        matrix = crop.alignment_matrix(points, size, template)
        i = position[id(row)]
        crops[i], found[i] = crop.gray(crop.cut(image, matrix, size)), True
    return crops, found


def training_faces(path, data: Path, size: int, template, classes) -> tuple[np.ndarray, np.ndarray]:
    """The faces of the labels file ``path`` whose label is one of ``classes``, cut as the run cuts
    them: (crops [N, size, size] uint8 grayscale, class indices [N]); faces the detector does not find
    again are left out."""
    rows = [r for r in read_labels(path) if r["label"] not in NOT_SCORED]
    unknown = sorted({r["label"] for r in rows} - set(classes))
    if unknown:
        raise SystemExit(f"{path}: labels {', '.join(unknown)} are not among {', '.join(classes)}")
    crops, found = runtime_crops(rows, data, size, template)
    labels = np.array([list(classes).index(r["label"]) for r in rows], np.int64)
    return crops[found], labels[found]


def scores(predicted: list[str], labels: list[str], classes) -> dict:
    """Agreement with the labels and recall of each labelled class, over faces whose label is an
    expression, each with its 95 % Wilson interval (``*_interval``: low, high); the confusion matrix
    [label, answer] in ``classes`` order."""
    pairs = [(lab, p) for lab, p in zip(labels, predicted) if lab not in NOT_SCORED]
    index = {c: i for i, c in enumerate(classes)}
    matrix = confusion([index[lab] for lab, _ in pairs], [index[p] for _, p in pairs], len(classes))
    recall = per_class(matrix)["recall"]
    labelled = [(i, c) for i, c in enumerate(classes) if matrix[i].sum()]
    return {
        "faces": len(pairs),
        "agreement": float(np.trace(matrix) / max(len(pairs), 1)),
        "agreement_interval": wilson(int(np.trace(matrix)), len(pairs)),
        "recall": {c: float(recall[i]) for i, c in labelled},
        "recall_interval": {c: wilson(int(matrix[i, i]), int(matrix[i].sum())) for i, c in labelled},
        "support": {c: int(matrix[i].sum()) for i, c in labelled},
        "confusion": matrix.tolist(),
    }


def probabilities(model, data: Path, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The ``ExpressionModel`` ``model``'s probabilities [N, C] on the labelled faces cut as the run cuts
    them, and found [N] bool (a face the detector does not find again has a row of zeros)."""
    crops, found = runtime_crops(rows, data, model.input_size, model.template)
    return np.where(found[:, None], model.predict(crops), 0.0), found


def scores_of(probs: np.ndarray, found: np.ndarray, rows: list[dict], classes) -> dict:
    """:func:`scores` of the answers ``probs`` [N, C] on the faces found again."""
    kept = np.flatnonzero(found)
    result = scores([classes[k] for k in probs[kept].argmax(1)], [rows[i]["label"] for i in kept], classes)
    result["not_found"] = int((~found).sum())
    return result


def between(interval: tuple[float, float]) -> str:
    """A 95 % interval as the report writes it: ``95 % interval 62-83 %``."""
    return f"95 % interval {interval[0] * 100:.0f}-{interval[1] * 100:.0f} %"


def evaluate(model_path, data: Path, labels: Path = LABELS) -> dict:
    """The scores of the expression model file ``model_path`` on the faces of the file ``labels``."""
    rows = read_labels(labels)
    model = ExpressionModel(model_path)
    result = scores_of(*probabilities(model, data, rows), rows, model.classes)
    result["model"] = str(model_path)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="expression model files (.onnx)")
    p.add_argument("--data", required=True, help="the data folder the labels' sources are relative to")
    p.add_argument(
        "--labels", default=str(LABELS), help=f"the labelled faces (default {LABELS.name}; {PHOTOS.name}: photos)"
    )
    p.add_argument("--out", help="write the scores as JSON here")
    args = p.parse_args(argv)
    results = [evaluate(m, Path(args.data), Path(args.labels)) for m in args.models]
    for r in results:
        recall = ", ".join(
            f"{c} {v:.1%} of {r['support'][c]} ({between(r['recall_interval'][c])})" for c, v in r["recall"].items()
        )
        print(
            f"{r['model']}: agreement {r['agreement']:.1%} of {r['faces']} faces ({between(r['agreement_interval'])}); "
            f"recall {recall}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
