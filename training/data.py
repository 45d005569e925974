"""Readers for the training data formats. Images come back as uint8 grayscale arrays.

Coordinates are image pixels, origin at the top-left corner, x before y.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np

from batchface.faces.landmarks import KAGGLE_NAMES

#: FER2013's classes in the order of its ``emotion`` column (0..6).
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: The 5-class variant of the original write-up: fear and neutral rows are dropped.
FER_CLASSES_5 = ("angry", "disgust", "sad", "happy", "surprise")
FER_USAGES = ("Training", "PublicTest", "PrivateTest")


def read_fer_csv(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read ``fer2013.csv`` or ``icml_face_data.csv`` (``emotion,pixels,Usage`` in any column order).

    Returns ``{usage: (images [N,48,48] uint8, labels [N] int in FER2013 order)}``.
    """
    out: dict[str, tuple[list, list]] = {}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader)]
        ie, ip, iu = header.index("emotion"), header.index("pixels"), header.index("usage")
        for row in reader:
            pixels = np.array(row[ip].split(), dtype=np.uint8)
            if pixels.size != 48 * 48:
                raise ValueError(f"{path}: a row has {pixels.size} pixels, expected 2304")
            images, labels = out.setdefault(row[iu].strip(), ([], []))
            images.append(pixels.reshape(48, 48))
            labels.append(int(row[ie]))
    return {u: (np.stack(i), np.array(y, dtype=np.int64)) for u, (i, y) in out.items()}


def read_fer_folders(root) -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
    """Read the image-folder layout ``<root>/{train,test}/<class>/<Usage>_<id>.jpg``.

    The Usage comes from the file name's prefix. Returns ``{usage: (images, labels, file names)}``
    with labels in FER2013 order.
    """
    out: dict[str, tuple[list, list, list]] = {}
    for path in sorted(Path(root).glob("*/*/*")):
        cls = path.parent.name.lower()
        if cls not in FER_CLASSES or path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
            continue
        usage = path.stem.split("_")[0]
        usage = usage if usage in FER_USAGES else ("Training" if path.parts[-3] == "train" else "PublicTest")
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        if image.shape != (48, 48):
            image = cv2.resize(image, (48, 48), interpolation=cv2.INTER_AREA)
        images, labels, names = out.setdefault(usage, ([], [], []))
        images.append(image)
        labels.append(FER_CLASSES.index(cls))
        names.append(str(path.relative_to(root)))
    return {u: (np.stack(i), np.array(y, dtype=np.int64), n) for u, (i, y, n) in out.items()}


def select_classes(images, labels, classes):
    """Keep the rows whose FER2013 class is in ``classes``; relabel to indices into ``classes``."""
    keep = np.isin(labels, [FER_CLASSES.index(c) for c in classes])
    remap = {FER_CLASSES.index(c): i for i, c in enumerate(classes)}
    return images[keep], np.array([remap[y] for y in labels[keep]], dtype=np.int64), keep


def pixel_hashes(images) -> list[str]:
    """A hash of each image's decoded pixels, to find exact duplicates across splits."""
    return [hashlib.sha1(np.ascontiguousarray(i).tobytes()).hexdigest() for i in images]


# --- keypoints -------------------------------------------------------------------------------------


def read_kaggle_keypoints(path) -> tuple[np.ndarray, np.ndarray]:
    """Read Kaggle's ``training.csv``: 30 coordinate columns (``<name>_x``, ``<name>_y`` for each of
    ``KAGGLE_NAMES``) and ``Image`` (96x96 pixels as text).

    Returns ``(images [N,96,96] uint8, points [N,15,2] float32)``; a missing coordinate is NaN.
    """
    images, points = [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            pixels = np.array(row["Image"].split(), dtype=np.float32)
            images.append(np.clip(pixels, 0, 255).astype(np.uint8).reshape(96, 96))
            pts = [
                [float(row[f"{n}_{a}"]) if row.get(f"{n}_{a}", "").strip() else np.nan for a in ("x", "y")]
                for n in KAGGLE_NAMES
            ]
            points.append(pts)
    return np.stack(images), np.array(points, dtype=np.float32)


def read_ibug_csv(csv_path, image_dir) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Read the 68-point iBUG layout: a CSV of ``file name, x0, y0, ..., x67, y67`` plus its images.

    Returns ``(grayscale images, points [N,68,2] float32, file names)``.
    """
    images, points, names = [], [], []
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            if not row:
                continue
            path = Path(image_dir) / row[0]
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise ValueError(f"{path}: not a readable image")
            images.append(image)
            points.append(np.array(row[1:137], dtype=np.float32).reshape(68, 2))
            names.append(row[0])
    return images, np.stack(points), names


def person_of(file_name: str) -> str:
    """The person of a YouTube Faces frame name: everything before the last ``_``."""
    return Path(file_name).stem.rsplit("_", 1)[0]


# --- FER+ votes ------------------------------------------------------------------------------------

#: The columns of FER+'s ten votes per face (``votes`` in ``ferplus/*.npz``), in FER+'s order.
FERPLUS_VOTES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
#: The FER+ vote column of each of our seven classes (FER2013's names, in :data:`FER_CLASSES` order).
FERPLUS_COLUMN = {
    "angry": 4,
    "disgust": 5,
    "fear": 6,
    "happy": 1,
    "sad": 3,
    "surprise": 2,
    "neutral": 0,
}


def read_ferplus(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a FER+ file joined to FER2013's images (``ferplus/train.npz``, ``ferplus/publictest.npz``).

    Returns ``(images [N,48,48] uint8, votes [N,10] int in FERPLUS_VOTES order, FER2013 labels [N]
    in FER_CLASSES order)``.
    """
    with np.load(path) as d:
        return d["images"], d["votes"].astype(np.int64), d["fer2013"].astype(np.int64)


def cleaned_votes(votes: np.ndarray) -> np.ndarray:
    """The votes with each single vote dropped: Barsoum et al.'s outlier removal (one tagger of ten
    seeing a class is treated as that tagger's mistake)."""
    votes = np.asarray(votes)
    return np.where(votes > 1, votes, 0)


def vote_targets(votes: np.ndarray, classes=FER_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """Training targets from FER+ votes: each face's share of votes over ``classes`` (after
    :func:`cleaned_votes`), and which faces to keep.

    A face is kept when its most-voted column (of all ten, after cleaning; a tie counts for the
    first column in FER+'s order) is one of ``classes``: faces most taggers called ``unknown``, not a
    face (``NF``) or ``contempt`` (not one of the seven classes) are left out, as Barsoum et al. left
    out the first two. Votes for those three columns on a kept face are dropped and the rest
    renormalised, so ties between classes stay in the target as equal shares.
    """
    votes = cleaned_votes(votes)
    columns = [FERPLUS_COLUMN[c] for c in classes]
    top = votes.argmax(1)
    in_classes = votes[:, columns].astype(np.float32)
    keep = np.isin(top, columns) & (in_classes.sum(1) > 0)
    return in_classes / np.maximum(in_classes.sum(1, keepdims=True), 1), keep


def majority_labels(votes: np.ndarray, classes=FER_CLASSES) -> np.ndarray:
    """Each face's FER+ majority as an index into ``classes``, -1 where it has none there.

    Barsoum et al.'s majority (their published accuracies are against it): after
    :func:`cleaned_votes`, the class with more than half of the remaining votes; -1 where no class
    has that, or the majority is ``contempt``, ``unknown`` or ``NF`` (not one of ``classes``).
    """
    votes = cleaned_votes(votes)
    top = votes.argmax(1)
    has_majority = votes.max(1) * 2 > votes.sum(1)
    index = {FERPLUS_COLUMN[c]: i for i, c in enumerate(classes)}
    return np.array([index.get(t, -1) if ok else -1 for t, ok in zip(top, has_majority)], dtype=np.int64)


def plurality_labels(votes: np.ndarray, classes=FER_CLASSES) -> np.ndarray:
    """Each face's most-voted class of the raw votes as an index into ``classes``; -1 where the
    top is tied or is not one of ``classes``. A looser reading than :func:`majority_labels`."""
    votes = np.asarray(votes)
    top = votes.argmax(1)
    tied = (votes == votes.max(1, keepdims=True)).sum(1) > 1
    index = {FERPLUS_COLUMN[c]: i for i, c in enumerate(classes)}
    return np.array([-1 if t2 else index.get(t, -1) for t, t2 in zip(top, tied)], dtype=np.int64)
