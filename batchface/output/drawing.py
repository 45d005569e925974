"""Faces drawn on an image: box, keypoints, pose line and an ``emotion score`` label (with a video
face's ``#track`` id), sized to the face and placed where labels cover no other label and as little
of another face as can be. Pixels, origin top-left, x before y."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

from batchface.faces.analysis import Face

BOX_COLOR, POINT_COLOR, TEXT_COLOR, POSE_COLOR = (0, 200, 0), (0, 220, 255), (255, 255, 255), (255, 120, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
#: faces narrower than this (box width, pixels) get no keypoints nor pose line: at that size the
#: points would cover the face they describe
POINTS_FROM = 48
#: a label over another label hides both: it costs this many times a label over a face
OVER_LABEL = 20

#: a face's box: x, y of its top-left corner, width, height (pixels)
Box = Sequence[float]


def draw(image_bgr: np.ndarray, faces: list[Face], track_ids: Sequence[int] | None = None) -> np.ndarray:
    """A copy of the image with every face's box, landmarks and ``emotion score`` label.

    Sizes follow the face (:func:`label_height`, :func:`line_width`); a face narrower than
    :data:`POINTS_FROM` pixels keeps only its box and label; labels are placed by :func:`place_labels`.

    Args:
        image_bgr: the image, 8-bit BGR; left as it is.
        faces: the faces found in it.
        track_ids: the faces' track ids, in their order: each label then starts with ``#id``.

    Returns:
        The annotated copy, of the image's size.
    """
    out = image_bgr.copy()
    for face in faces:
        w = face.box[2]
        if w < POINTS_FROM:
            continue
        radius = max(1, round(w / 120))
        for px, py in face.landmarks.values():
            cv2.circle(out, (int(round(px)), int(round(py))), radius, POINT_COLOR, -1, cv2.LINE_AA)
        if face.pose is not None and "nose_bridge_3" in face.landmarks:
            cv2.line(out, *pose_line(face), POSE_COLOR, line_width(w), cv2.LINE_AA)
    labels = [
        ("" if track_ids is None else f"#{track_ids[i]} ") + f"{face.emotion} {face.emotion_score:.2f}"
        for i, face in enumerate(faces)
    ]
    draw_boxes(out, [face.box for face in faces], labels)
    return out


def line_width(face_width: float) -> int:
    """The width of a face's box and pose line: 1 pixel per 60 of the face's width, at least 1.

    Args:
        face_width: the face's box width, pixels.

    Returns:
        The line width, pixels.
    """
    return max(1, round(face_width / 60))


def label_height(face_width: float, image_shape: Sequence[int]) -> int:
    """A label's text height: a fifth of the face's width, kept between 1/110 of the image's longer
    side (at least 10 px: readable at any zoom) and 1/35 of it (a close-up's label does not cover the face).

    Args:
        face_width: the face's box width, pixels.
        image_shape: the image's shape (height, width, ...).

    Returns:
        The text height, pixels.
    """
    side = max(image_shape[:2])
    low = max(10, side / 110)
    return int(round(min(max(face_width / 5, low), max(low, side / 35))))


def draw_boxes(image: np.ndarray, boxes: Sequence[Box], labels: Sequence[str]) -> None:
    """Draw, in place, each box and its label: all boxes first, then the labels where
    :func:`layout_labels` puts them, white on a filled background.

    Args:
        image: the image drawn on, 8-bit BGR.
        boxes: (x, y, w, h) of each face, pixels, origin top-left.
        labels: each box's text.
    """
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = (int(round(v)) for v in (x, y, x + w, y + h))
        cv2.rectangle(image, (x0, y0), (x1, y1), BOX_COLOR, line_width(w))
    for label, text in zip(layout_labels(boxes, labels, image.shape), labels):
        x, y, w, h = label.rect
        cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), BOX_COLOR, -1)
        origin = (x + label.pad, y + h - label.pad - label.baseline)
        cv2.putText(image, text, origin, FONT, label.scale, TEXT_COLOR, label.thickness, cv2.LINE_AA)


class Label(NamedTuple):
    """Where a label goes: ``rect`` (x, y, w, h, pixels) of its background; its text's font scale,
    stroke thickness, padding and baseline (OpenCV's ``getTextSize``), in pixels but the scale."""

    rect: tuple[int, int, int, int]
    scale: float
    thickness: int
    pad: int
    baseline: int


def layout_labels(boxes: Sequence[Box], labels: Sequence[str], image_shape: Sequence[int]) -> list[Label]:
    """Each label at its size for its face's box (:func:`label_height`) and its place (:func:`place_labels`).

    Args:
        boxes: (x, y, w, h) of each face, pixels, origin top-left.
        labels: each box's text.
        image_shape: the image's shape (height, width, ...).

    Returns:
        One :class:`Label` per box, in their order.
    """
    sizes: list[tuple[int, int]] = []
    fonts: list[tuple[float, int, int, int]] = []
    for (_, _, w, _), text in zip(boxes, labels):
        height = label_height(w, image_shape)
        thickness = max(1, round(height / 12))
        scale = cv2.getFontScaleFromHeight(FONT, height, thickness)
        (tw, th), baseline = cv2.getTextSize(text, FONT, scale, thickness)
        pad = max(1, height // 6)
        sizes.append((tw + 2 * pad, th + baseline + 2 * pad))
        fonts.append((scale, thickness, pad, baseline))
    corners = place_labels(sizes, boxes, image_shape)
    return [Label((x, y, *size), *font) for (x, y), size, font in zip(corners, sizes, fonts)]


def place_labels(
    sizes: Sequence[tuple[int, int]], boxes: Sequence[Box], image_shape: Sequence[int]
) -> list[tuple[int, int]]:
    """Where each label goes: inside the image, over no label placed before it and over as little
    of another face as can be.

    Labels are placed from the top face down. Each tries, in order, above its box, below it, inside
    its top and bottom edges, then a label's height further up and down, each flush with the box's
    left edge then its right, shifted into the image; it takes the first place that covers nothing,
    else the one whose cost is least: the area it shares with other faces' boxes, and
    :data:`OVER_LABEL` times what it shares with labels.

    Args:
        sizes: (width, height) of each label, pixels.
        boxes: (x, y, w, h) of each label's face, pixels, origin top-left.
        image_shape: the image's shape (height, width, ...).

    Returns:
        The top-left corner (x, y, pixels) of each label, in their order.
    """
    height, width = image_shape[:2]
    rects = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=float).reshape(-1, 4)
    placed: list[tuple[int, int, int, int]] = []
    corners: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    for i in np.argsort(rects[:, 1], kind="stable"):
        (lw, lh), (x0, y0, x1, y1) = sizes[i], rects[i]
        others = np.delete(rects, i, axis=0)
        best, best_cost = (0, 0), None
        for top, left in itertools.product((y0 - lh, y1, y0, y1 - lh, y0 - 2 * lh, y1 + lh), (x0, x1 - lw)):
            lx = int(min(max(0, round(left)), max(0, width - lw)))
            ly = int(min(max(0, round(top)), max(0, height - lh)))
            rect = (lx, ly, lx + lw, ly + lh)
            cost = OVER_LABEL * _overlap(rect, placed) + _overlap(rect, others)
            if best_cost is None or cost < best_cost:
                best, best_cost = (lx, ly), cost
            if cost == 0:
                break
        corners[i] = best
        placed.append((best[0], best[1], best[0] + lw, best[1] + lh))
    return corners


def _overlap(rect: Sequence[float], others: Sequence[Sequence[float]] | np.ndarray) -> float:
    """The area (pixels) that rectangle ``rect`` (x0, y0, x1, y1) shares with the rectangles ``others``
    (a sequence of them), added up."""
    o = np.asarray(others, dtype=float).reshape(-1, 4)
    w = np.clip(np.minimum(rect[2], o[:, 2]) - np.maximum(rect[0], o[:, 0]), 0, None)
    h = np.clip(np.minimum(rect[3], o[:, 3]) - np.maximum(rect[1], o[:, 1]), 0, None)
    return float((w * h).sum())


def pose_line(face: Face) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where the face looks: a line from the nose tip as long as the box is wide when the face
    looks straight at the camera, foreshortened as the nose would be by the yaw and pitch.

    Args:
        face: a face with a ``pose`` and the iBUG point ``nose_bridge_3`` (the nose tip).

    Returns:
        The line's start and end points, (x, y) pixels.

    Raises:
        ValueError: the face has no pose.
    """
    if face.pose is None:
        raise ValueError("a face without a pose has no pose line")
    yaw, pitch, _ = np.radians(face.pose)
    nx, ny = face.landmarks["nose_bridge_3"]
    length = face.box[2] / 2
    end = (nx + length * np.sin(yaw), ny - length * np.sin(pitch) * np.cos(yaw))
    return (int(round(nx)), int(round(ny))), (int(round(end[0])), int(round(end[1])))
