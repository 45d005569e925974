"""The checked face boxes of the dlib sample photos, and box matching."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path


def annotated_boxes(samples: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    """{file name: [(x, y, w, h), ...]} from dlib's training.xml and testing.xml."""
    out = {}
    for name in ("training.xml", "testing.xml"):
        for image in ET.parse(samples / "dlib_faces" / name).getroot().iter("image"):
            out[image.get("file")] = [
                tuple(int(b.get(k)) for k in ("left", "top", "width", "height")) for b in image.iter("box")
            ]
    return out


def iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def matched(truth, found, threshold: float = 0.3) -> int:
    """How many true boxes have a found box of IoU >= threshold (each found box used once)."""
    used = set()
    for t in truth:
        best = max(((iou(t, f), i) for i, f in enumerate(found) if i not in used), default=(0, None))
        if best[0] >= threshold:
            used.add(best[1])
    return len(used)
