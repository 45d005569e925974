"""Hand-made input files: real encodings written by OpenCV and Pillow, and broken ones."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels, with a valid CRC and no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 64)
    chunk += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk


def write_video(path: Path, frames: int = 50, fps: float = 25.0, size=(64, 48)) -> Path:
    """An MJPG AVI whose frame i shows the number i as its mean gray level (i * 4)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), i * 4 % 256, np.uint8))
    writer.release()
    return path


def bad_inputs(folder: Path, face_jpg: Path, decoded: str = "ok") -> dict[str, str]:
    """Write the bad-input corpus, made from the JPEG photo ``face_jpg``, into ``folder``; returns
    {file name: expected status}. ``decoded``: the status of a file that decodes to that photo
    (``no_face`` for a photo without a face)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = face_jpg.read_bytes()
    face = cv2.imread(str(face_jpg))
    expect = {}

    def put(name, content, status):
        (folder / name).write_bytes(content)
        expect[name] = status

    put("zero_bytes.jpg", b"", "error")
    put("truncated.jpg", data[: len(data) // 3], "any")  # decoders may recover the top third
    put("text_named.jpg", b"this is not an image\n" * 20, "error")
    put("one_pixel.png", cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes(), "no_face")
    put("bomb.png", png_header_only(15000, 15000), "error")  # over our limit, under OpenCV's default
    put("png_named.jpg", cv2.imencode(".png", face)[1].tobytes(), decoded)
    put("sixteen_bit.png", cv2.imencode(".png", face.astype(np.uint16) * 257)[1].tobytes(), decoded)
    put("alpha.png", cv2.imencode(".png", cv2.cvtColor(face, cv2.COLOR_BGR2BGRA))[1].tobytes(), decoded)
    put("gray.jpg", cv2.imencode(".jpg", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY))[1].tobytes(), decoded)
    put("corrupt_video.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000), "error")
    put("empty_video.avi", b"", "error")
    put("uni\u00e7ode \u00e9t\u00e9 'quote\" name.jpg", data, decoded)
    (folder / "broken_link.jpg").symlink_to(folder / "does-not-exist.jpg")
    expect["broken_link.jpg"] = "error"
    (folder / "notes.txt").write_text("not media")
    return expect
