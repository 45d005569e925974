"""The output table: its columns (each named here and nowhere else) and the rows of an image or frame.

One row per face; an image or frame without a face gives one ``no_face`` row, an input that cannot be
read one ``error`` row. Pixels of the original image, origin top-left, x before y. A row holds the
columns it has values for; writers fill the others with nulls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from batchface.faces.landmarks import KAGGLE_NAMES
from batchface.vocabulary import Status

if TYPE_CHECKING:
    import pyarrow as pa

    from batchface.faces.analysis import Face
    from batchface.media.inputs import Source

# the names of the columns of every row and of the expression, which other modules name through these
SOURCE = "source"
MEDIA_TYPE = "media_type"
FRAME_INDEX = "frame_index"
TIMESTAMP_S = "timestamp_s"
WIDTH, HEIGHT = "width", "height"
FACE_INDEX = "face_index"
TRACK_ID = "track_id"
STATUS = "status"
ERROR = "error"
EMOTION, EMOTION_SCORE = "emotion", "emotion_score"
#: where a row comes from, and what became of it: the columns of every row, by their pyarrow type's
#: name (pyarrow is imported for the schema only: worker processes, which make rows, start sooner)
WHERE = {
    SOURCE: "string",
    MEDIA_TYPE: "string",
    FRAME_INDEX: "int64",
    TIMESTAMP_S: "float64",
    WIDTH: "int32",
    HEIGHT: "int32",
    FACE_INDEX: "int32",
    TRACK_ID: "int64",
    STATUS: "string",
    ERROR: "string",
}
BOX = ("box_x", "box_y", "box_w", "box_h")
#: the head's pose in degrees and the keypoints' misfit to a head (:mod:`batchface.faces.pose`)
POSE = ("yaw_deg", "pitch_deg", "roll_deg", "pose_error")
KAGGLE_COLUMNS = [f"{name}_{axis}" for name in KAGGLE_NAMES for axis in ("x", "y")]


def schema(classes: Iterable[str], landmark_names: Iterable[str] = ()) -> pa.Schema:
    """The table's columns.

    Args:
        classes: the expression classes: a ``p_<class>`` column each.
        landmark_names: the landmarks written whole (``--landmarks``): ``lm_<name>_x`` and ``_y`` each.

    Returns:
        The columns' names and types, in their order.
    """
    import pyarrow as pa

    fields = [(c, getattr(pa, kind)()) for c, kind in WHERE.items()]
    fields += [(c, pa.float64()) for c in BOX + ("det_score",) + POSE]
    fields += [(c, pa.float64()) for c in KAGGLE_COLUMNS]
    fields += [(EMOTION, pa.string()), (EMOTION_SCORE, pa.float64())]
    fields += [(f"p_{c}", pa.float64()) for c in classes]
    fields += [(f"lm_{n}_{axis}", pa.float64()) for n in landmark_names for axis in ("x", "y")]
    return pa.schema(fields)


def text(value: str) -> str:
    r"""A path or message as the table stores it: the bytes of a file name that are not UTF-8 (which
    Python keeps as lone surrogates) written as ``\xNN``, so that every format can hold it.

    Args:
        value: the path or message.

    Returns:
        Text that is UTF-8 throughout.
    """
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def where(
    source: Source,
    frame_index: int | None = None,
    timestamp_s: float | None = None,
    width: int | None = None,
    height: int | None = None,
) -> dict:
    """The columns saying where a row comes from.

    Args:
        source: the input (its path written by :func:`text`).
        frame_index: the frame's index (images: 0; None: an input that could not be read).
        timestamp_s: the frame's time, seconds (images: None).
        width: the image's width, pixels.
        height: the image's height, pixels.

    Returns:
        Those columns, by name.
    """
    return {
        SOURCE: text(source.path),
        MEDIA_TYPE: source.media_type,
        FRAME_INDEX: frame_index,
        TIMESTAMP_S: timestamp_s,
        WIDTH: width,
        HEIGHT: height,
    }


def error_row(at: dict, message: str) -> dict:
    """The row of an input (or frame) that could not be read.

    Args:
        at: where it comes from (:func:`where`).
        message: why, one line.

    Returns:
        The row, status ``error``.
    """
    return {**at, STATUS: Status.error.value, ERROR: text(message)}


def face_rows(at: dict, faces: Sequence[Face], landmarks: bool, track_ids: Sequence[int] | None = None) -> list[dict]:
    """The rows of one image or frame: one per face, or one ``no_face`` row.

    Args:
        at: where it comes from (:func:`where`).
        faces: the faces found in it.
        landmarks: add every point of the keypoint model (``lm_*`` columns).
        track_ids: a video frame's faces' tracks (:mod:`batchface.faces.tracking`), in their order.

    Returns:
        The rows, by column name.
    """
    if not faces:
        return [{**at, STATUS: Status.no_face.value}]
    rows = []
    for i, face in enumerate(faces):
        row = {
            **at,
            FACE_INDEX: i,
            TRACK_ID: None if track_ids is None else track_ids[i],
            STATUS: Status.ok.value,
            **dict(zip(BOX, face.box)),
            "det_score": face.score,
            **(dict(zip(POSE, (*face.pose, face.pose_error))) if face.pose is not None else {}),
            EMOTION: face.emotion,
            EMOTION_SCORE: face.emotion_score,
        }
        for name, (x, y) in face.keypoints.items():
            row[f"{name}_x"], row[f"{name}_y"] = x, y
        row.update({f"p_{c}": p for c, p in face.probabilities.items()})
        if landmarks:
            for name, (x, y) in face.landmarks.items():
                row[f"lm_{name}_x"], row[f"lm_{name}_y"] = x, y
        rows.append(row)
    return rows


def renumber_tracks(rows: list[dict], ids: dict[int, int]) -> None:
    """Give the ``track_id`` of a piece of video's rows the whole video's ids, in place.

    Args:
        rows: the piece's rows, their ``track_id`` the piece's own (None on rows without a face).
        ids: the whole video's id of each of the piece's own
            (:meth:`batchface.faces.tracking.TrackNumbers.renumber`).
    """
    for row in rows:
        if row.get(TRACK_ID) is not None:
            row[TRACK_ID] = ids[row[TRACK_ID]]
