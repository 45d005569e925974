"""What shapes a run's rows: the options of :func:`batchface.engine.runner.run`, which every worker gets.

A module of its own, importing nothing heavy: a worker process unpickles the options before it
starts, and the runner's own modules (the writers, pyarrow) are not a worker's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from batchface.faces.models import DEFAULT_EXPRESSION
from batchface.vocabulary import Detector


@dataclass(frozen=True)
class Options:
    """What shapes the rows: detector, video sampling, extra columns, annotated copies.

    Attributes:
        detector: the face detector (:class:`batchface.vocabulary.Detector`).
        detector_model: the detector's model file (None: the shipped one).
        expression: the shipped expression file by name (:data:`batchface.faces.models.EXPRESSION_FILES`).
        min_face: pixels: look only for faces at least this wide (None: the detector's own least).
        every: keep every Nth video frame.
        fps: frames kept a second of video time (instead of ``every``; None: ``every``).
        max_frames: stop a video after this many sampled frames (None: no limit).
        detect_every: run the detector on the whole frame every that many sampled frames, and in
            between only around the faces of the previous one (:class:`batchface.faces.tracking.Tracker`).
        landmarks: add every point of the keypoint model as columns.
        annotate: the folder of the annotated copies (None: none).

    Raises:
        ValueError: options out of range, or that do not go together.
    """

    detector: str = Detector.yunet
    detector_model: str | None = None
    expression: str = DEFAULT_EXPRESSION
    min_face: int | None = None
    every: int = 1
    fps: float | None = None
    max_frames: int | None = None
    detect_every: int = 2  # the largest that keeps 98 % of the faces of every frame (reports/video.md)
    landmarks: bool = False
    annotate: str | None = None

    def __post_init__(self) -> None:
        from batchface.faces.detection import DETECTORS
        from batchface.faces.models import EXPRESSION_FILES

        if self.detector not in DETECTORS:
            raise ValueError(f"unknown detector {self.detector!r}: choose one of {', '.join(DETECTORS)}")
        if self.expression not in EXPRESSION_FILES:
            raise ValueError(
                f"unknown expression file {self.expression!r}: choose one of {', '.join(EXPRESSION_FILES)}"
            )
        for name, least in (("min_face", 1), ("every", 1), ("fps", 1e-4), ("max_frames", 1), ("detect_every", 1)):
            value = getattr(self, name)
            if value is not None and not value >= least:
                raise ValueError(f"{name} must be at least {least:g}, not {value}")
        if self.fps is not None and self.every != 1:
            raise ValueError("use either every (--every) or fps (--fps), not both")
