"""Portraits turned in their plane and mirrored, and their pose read again: the geometry that
``tests/test_pose.py`` asserts and ``tools/eval_pose.py`` reports, measured one way for both."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

TURNS = (-30, -15, 15, 30)  # degrees, as OpenCV turns: counter-clockwise in the image


def face_near(analyzer, image, centre):
    """The face whose box centre is nearest ``centre`` (x, y pixels) and within half its box's width
    of it, or None."""
    faces = analyzer.analyze(image)
    if not faces:
        return None
    distance = lambda f: np.hypot(f.box[0] + f.box[2] / 2 - centre[0], f.box[1] + f.box[3] / 2 - centre[1])
    best = min(faces, key=distance)
    return best if distance(best) < best.box[2] / 2 else None


def portraits(analyzer, folder: Path) -> list:
    """(image, its face) of each photo ``img*.jpg`` in ``folder`` with exactly one face."""
    out = []
    for path in sorted(folder.glob("img*.jpg")):
        image = cv2.imread(str(path))
        faces = analyzer.analyze(image)
        if len(faces) == 1:
            out.append((image, faces[0]))
    return out


def geometry(analyzer, portraits: list) -> dict[str, list[float]]:
    """For each portrait turned by each of :data:`TURNS` about its face: ``roll_miss``, |roll change +
    turn| (counter-clockwise in the image is towards the subject's right shoulder: negative roll), and
    ``others``, how far yaw and pitch moved; mirrored: ``yaw_sums``, |yaw + mirrored yaw|, and
    ``pitch_moves``; ``frontal``: each portrait's larger of |yaw| and |roll|. Raises LookupError where
    the face is not found again."""
    out = {k: [] for k in ("roll_miss", "others", "yaw_sums", "pitch_moves", "frontal")}
    for image, face in portraits:
        x, y, w, h = face.box
        centre = (x + w / 2, y + h / 2)
        for angle in TURNS:
            matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
            turned = cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
            found = face_near(analyzer, turned, centre)
            if found is None:
                raise LookupError(f"the face is lost when the photo is turned by {angle} degrees")
            out["roll_miss"].append(abs(found.pose[2] - face.pose[2] + angle))
            out["others"] += [abs(found.pose[0] - face.pose[0]), abs(found.pose[1] - face.pose[1])]
        mirrored = face_near(analyzer, image[:, ::-1].copy(), (image.shape[1] - centre[0], centre[1]))
        if mirrored is None:
            raise LookupError("the face is lost when the photo is mirrored")
        out["yaw_sums"].append(abs(face.pose[0] + mirrored.pose[0]))
        out["pitch_moves"].append(abs(face.pose[1] - mirrored.pose[1]))
        out["frontal"].append(max(abs(face.pose[0]), abs(face.pose[2])))
    return out


def video_frame(path, index: int) -> np.ndarray:
    """Frame ``index`` of a video (0-based, as batchface counts them)."""
    from batchface.media.video import VideoReader

    return next(iter(VideoReader(path, start=index, stop=index + 1))).image
