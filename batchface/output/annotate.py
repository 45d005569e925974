"""Annotated copies of the inputs, each face drawn (:mod:`batchface.output.drawing`) and each copy
at its own path (:mod:`batchface.output.copy_paths`): an image written whole, a video encoded frame
by frame, a video analysed in pieces kept as its faces, then its pieces joined."""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from batchface.errors import one_line
from batchface.faces.analysis import Face
from batchface.output.copy_paths import check_no_link
from batchface.output.drawing import draw

if TYPE_CHECKING:
    from av.container import OutputContainer
    from av.video.stream import VideoStream


#: the faces of each frame of a piece of a video: {frame_index: (faces, the piece's track ids or None)}
PieceFaces = dict[int, tuple[list[Face], Sequence[int] | None]]


def write_image(path: Path, image: np.ndarray, root: str | os.PathLike[str] | None = None) -> None:
    """Write an annotated image whole or not at all (a temporary file renamed), never through a symbolic link.

    Args:
        path: where (:func:`batchface.output.copy_paths.mirrored_path`); its extension picks the format.
        image: the image, 8-bit BGR.
        root: the ``--annotate`` folder, below which no symbolic link is followed.

    Raises:
        OSError: the image cannot be encoded or written, or ``path`` leads through a symbolic link.
    """
    check_no_link(path, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, image)
    if not ok:
        raise OSError(f"cannot encode {path.suffix} image")
    temporary = path.with_name(f".{path.name}.tmp")
    data.tofile(str(temporary))
    os.replace(temporary, path)


class VideoSink:
    """An annotated video of the sampled frames, at the source's exact frame size, opened at the first frame (PyAV).

    H.264 in MP4 (4:2:0, what common players open) at ``path``; when a side is odd, which H.264's
    4:2:0 cannot store, VP9 in WebM (browsers, VLC) at ``path`` with ``.webm`` instead. :attr:`path`
    is where it went: written beside it and renamed there when whole, never through a symbolic link
    below ``root`` (the ``--annotate`` folder). ``fps``: the sampled frames' rate, frames per second.

    A video that cannot be written does not stop the analysis: :attr:`error` says why instead.
    """

    def __init__(self, path: Path, fps: float, root: str | os.PathLike[str] | None = None) -> None:
        import av  # here: a worker that writes no video need not load FFmpeg's libraries

        self.av = av
        self.path, self.fps, self.root = path, Fraction(fps).limit_denominator(1001), root
        self.error: str | None = None
        self._encoder: tuple[OutputContainer, VideoStream] | None = None
        self._temporary: Path | None = None

    def add(self, index: int, image: np.ndarray, faces: list[Face], track_ids: Sequence[int] | None = None) -> None:
        """Write the next sampled frame with its faces drawn (:func:`batchface.output.drawing.draw`).

        Args:
            index: the frame's ``frame_index``.
            image: the frame, 8-bit BGR.
            faces: its faces.
            track_ids: their track ids, in their order.
        """
        self.write(draw(image, faces, track_ids))

    def write(self, image: np.ndarray) -> None:
        """Encode the next frame as it is; after a failure, nothing (:attr:`error` says why).

        Args:
            image: the frame, 8-bit BGR, of the first frame's size.
        """
        if self.error:
            return
        try:
            container, stream = self._encoder or self._open(*image.shape[1::-1])
            frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            container.mux(stream.encode(frame))
        except Exception as e:  # whatever fails here is the copy's problem, never the rows'
            self.error = f"annotated copy not written: {one_line(e)}"

    def _open(self, width: int, height: int) -> tuple[OutputContainer, VideoStream]:
        h264 = width % 2 == 0 and height % 2 == 0
        if not h264:
            self.path = self.path.with_suffix(".webm")
        check_no_link(self.path, self.root)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = self.path.with_name(f".{self.path.name}.tmp")
        # an MP4's index at its start, so that a player can start before the end
        container = self.av.open(
            str(self._temporary),
            "w",
            format="mp4" if h264 else "webm",
            options={"movflags": "+faststart"} if h264 else {},
        )
        try:
            if h264:
                stream = container.add_stream("libx264", rate=self.fps, options={"preset": "veryfast"})
            else:
                options = {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0"}
                stream = container.add_stream("libvpx-vp9", rate=self.fps, options=options)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        except Exception:
            container.close()  # its temporary file is removed by close()
            raise
        self._encoder = container, stream
        return self._encoder

    def close(self) -> None:
        """Finish the video and rename it into place; a failure is kept in :attr:`error`."""
        if self._encoder is not None and self._temporary is not None:  # both set by _open
            container, stream = self._encoder
            try:
                if not self.error:
                    container.mux(stream.encode())  # what the encoder still holds
                container.close()
                if not self.error:
                    os.replace(self._temporary, self.path)
            except Exception as e:
                self.error = self.error or f"annotated copy not written: {one_line(e)}"
        if self._temporary is not None and self._temporary.exists():
            self._temporary.unlink()


class FacesLog:
    """The faces of a piece of a video, frame by frame, kept in a file at ``path`` for the drawing of
    its annotated copy once the track ids are those of the whole video.

    A piece's own ids are renumbered when the pieces are committed in order
    (:class:`batchface.faces.tracking.VideoTracks`). Like :class:`VideoSink`, it never stops the
    analysis: :attr:`error` says why it failed instead.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: str | None = None
        self.frames: PieceFaces = {}

    def add(self, index: int, image: np.ndarray, faces: list[Face], track_ids: Sequence[int] | None = None) -> None:
        """Keep the faces of a frame and their track ids (the piece's own).

        Args:
            index: the frame's ``frame_index``.
            image: the frame (not kept: it is drawn once the ids are known).
            faces: its faces.
            track_ids: their track ids, in their order.
        """
        self.frames[index] = (faces, track_ids)

    def close(self) -> None:
        """Write the faces kept to :attr:`path`, whole or not at all; a failure is kept in :attr:`error`."""
        import pickle

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f"{self.path.name}.tmp")
            temporary.write_bytes(pickle.dumps(self.frames))
            os.replace(temporary, self.path)
        except Exception as e:
            self.error = f"annotated copy not written: {one_line(e)}"


def read_faces(path: Path) -> PieceFaces:
    """The faces a :class:`FacesLog` kept.

    Args:
        path: the log's file.

    Returns:
        {frame_index: (faces, the piece's track ids or None)}.
    """
    import pickle

    return pickle.loads(path.read_bytes())


def join_pieces(pieces: list[Path], path: Path, root: str | os.PathLike[str] | None = None) -> None:
    """Join the annotated videos of a video's pieces, in order, without coding them again.

    Their packets are copied (remuxed), each piece's times moved after the previous piece's end;
    written beside ``path`` and renamed there when whole.

    Args:
        pieces: the pieces' annotated videos, in the video's order.
        path: the whole video's copy.
        root: the ``--annotate`` folder, below which no symbolic link is followed.

    Raises:
        OSError: ``path`` leads through a symbolic link; PyAV's errors when a piece cannot be read.
    """
    import av

    check_no_link(path, root)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with av.open(str(pieces[0])) as first:
            template = first.streams.video[0]
            options = {"movflags": "+faststart"} if path.suffix == ".mp4" else {}
            with av.open(str(temporary), "w", format=first.format.name.split(",")[0], options=options) as out:
                stream = out.add_stream_from_template(template)
                offset = 0
                for piece in pieces:  # each one's times from 0
                    offset = _copy_packets(piece, out, stream, offset)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _copy_packets(piece: Path, out: OutputContainer, stream: VideoStream, offset: int) -> int:
    """Mux the packets of ``piece`` into ``stream``, ``offset`` later (in the pieces' time base, one
    for all: one encoder and muxer wrote them at one rate); returns where the piece ends."""
    import av

    end = offset
    with av.open(str(piece)) as source:
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is None:  # the demuxer's last, empty packet
                continue
            packet.pts, packet.dts = packet.pts + offset, packet.dts + offset
            end = max(end, packet.pts + (packet.duration or 0))
            packet.stream = stream  # its time base stays the piece's: mux converts it to the stream's
            out.mux(packet)
    return end
