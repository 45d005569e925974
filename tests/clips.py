"""Synthetic video clips written with PyAV for the decoding tests: each frame carries its own number
as a barcode (:func:`barcode`), so that a decoded frame says which one it is (:func:`read_barcode`)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

BITS = 12  # frame numbers up to 4,095
BAR_HEIGHT = 32  # pixels: the barcode's band at the top of the frame


def barcode(number: int, width: int = 160, height: int = 96) -> np.ndarray:
    """A BGR frame whose top band shows ``number`` in :data:`BITS` black or white blocks, most
    significant first, over a gray picture with a lighter square that moves 2 pixels a frame."""
    image = np.full((height, width, 3), 90, np.uint8)
    x = (2 * number) % max(1, width - 24)
    image[BAR_HEIGHT + 8 : BAR_HEIGHT + 32, x : x + 24] = 170
    block = width // BITS
    for bit in range(BITS):
        if number >> (BITS - 1 - bit) & 1:
            image[:BAR_HEIGHT, bit * block : (bit + 1) * block] = 255
        else:
            image[:BAR_HEIGHT, bit * block : (bit + 1) * block] = 0
    return image


def read_barcode(image: np.ndarray) -> int:
    """The number :func:`barcode` drew into ``image`` (read from the blocks' middles)."""
    block = image.shape[1] // BITS
    number = 0
    for bit in range(BITS):
        middle = image[8 : BAR_HEIGHT - 8, bit * block + 2 : (bit + 1) * block - 2]
        number = number << 1 | int(middle.mean() > 128)
    return number


CODECS = {  # container format: (codec, pixel format, options)
    "mp4": ("libx264", "yuv420p", {"crf": "18", "preset": "ultrafast"}),
    "matroska": ("libx264", "yuv420p", {"crf": "18", "preset": "ultrafast"}),
    "webm": ("libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}),
    "avi": ("mjpeg", "yuvj420p", {}),
}


def write_clip(
    path: Path,
    times_s,
    fmt: str = "mp4",
    size=(160, 96),
    codec: str | None = None,
    options: dict | None = None,
    gop: int = 12,
    rotation: int | None = None,
    audio_s: float | None = None,
    container_options: dict | None = None,
) -> Path:
    """Write a clip whose frame i is ``barcode(i)`` shown at ``times_s[i]`` seconds (the first time
    may be later than 0: a delayed start). ``gop``: frames between keyframes; ``rotation``: the
    display matrix's counter-clockwise degrees; ``audio_s``: an audio stream of silence from 0 to that
    time, so that the container starts before the video. AVI stores a constant rate: its times must be
    multiples of one frame's duration."""
    import av

    default_codec, pix_fmt, default_options = CODECS[fmt]
    codec = codec or default_codec
    times = list(times_s)
    rate = Fraction(round(1 / (times[1] - times[0]))) if fmt == "avi" else Fraction(25)
    time_base = Fraction(1, int(rate)) if fmt == "avi" else Fraction(1, 90000 if fmt == "mp4" else 1000)
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate, options=dict(default_options if options is None else options))
        stream.width, stream.height, stream.pix_fmt = *size, pix_fmt
        stream.time_base = stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = gop
        if rotation is not None:
            stream.set_display_rotation(rotation)
        audio = None
        if audio_s is not None:
            audio = out.add_stream("aac", rate=48000)
            audio.layout = "mono"
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(barcode(i, *size), format="bgr24")
            frame.pts, frame.time_base = round(t / time_base), time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if audio is not None:
            samples = np.zeros((1, 1024), np.float32)
            for k in range(int(audio_s * 48000 / 1024) + 1):
                chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 48000, k * 1024, Fraction(1, 48000)
                out.mux(audio.encode(chunk))
            out.mux(audio.encode())
    return path


def constant(frames: int, fps: float = 25.0, start_s: float = 0.0) -> list[float]:
    return [start_s + i / fps for i in range(frames)]


def variable(rates_and_frames, start_s: float = 0.0) -> list[float]:
    """Times of a variable-rate clip: [(fps, frames), ...] one after the other."""
    times, t = [], start_s
    for fps, frames in rates_and_frames:
        for _ in range(frames):
            times.append(t)
            t += 1 / fps
    return times


def damage(path: Path, at: float = 0.5, size: int = 64 * 1024, seed: int = 0) -> Path:
    """Random bytes over ``size`` bytes of the file from ``at`` (a fraction) of its length."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start : start + size] = np.random.default_rng(seed).integers(0, 256, size, np.uint8).tobytes()
    path.write_bytes(bytes(data[: len(data)]))
    return path


def truncate(path: Path, at: float = 0.5) -> Path:
    """The file cut at ``at`` (a fraction) of its length: a download that stopped."""
    with open(path, "r+b") as f:
        f.truncate(int(os.path.getsize(path) * at))
    return path
