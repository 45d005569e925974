"""The names a run is made of, one enum each: what the command line offers (typer takes these
classes as they are), what the library checks, and what the table says. Each member is its own
string (``Detector.yunet == "yunet"``), so a caller may pass either."""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A name that is also a plain string wherever it is written (f-strings, JSON, the table)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Detector(Choice):
    """The face detectors (:data:`batchface.faces.detection.DETECTORS`)."""

    yunet = "yunet"  # YuNet, with BlazeFace confirming the large frontal faces it is unsure of
    blazeface = "blazeface"  # BlazeFace alone, on image tiles


class Expression(Choice):
    """The shipped expression files (:data:`batchface.faces.models.EXPRESSION_FILES`)."""

    ferplus = "ferplus"  # trained on FER+'s ten votes a face: the default
    fer2013 = "fer2013"  # FER2013's labels: a quick network in front of the next
    fer2013_full = "fer2013-full"  # FER2013's labels: three networks, twelve reads of a face


class Format(Choice):
    """The table's formats (:data:`batchface.output.formats.FORMATS`)."""

    parquet = "parquet"
    csv = "csv"
    jsonl = "jsonl"


class Engine(Choice):
    """Where the work runs (:func:`batchface.engine.engines.make_engine`)."""

    local = "local"  # worker processes of this machine (or this process, with 0 workers)
    ray = "ray"  # actors on a Ray cluster


class Status(Choice):
    """A row's ``status``."""

    ok = "ok"  # a face
    no_face = "no_face"  # an image or frame without one
    error = "error"  # an input, or a frame, that could not be read or analysed: ``error`` says why


class MediaType(Choice):
    """A row's ``media_type``."""

    image = "image"
    video = "video"
