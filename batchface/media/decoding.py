"""Decoding image files (videos: :mod:`batchface.media.video`).

Images come back as 8-bit BGR arrays (OpenCV's order) with JPEG EXIF orientation applied; 16-bit,
alpha and grayscale files are converted. An image whose header declares more than
:data:`batchface.MAX_IMAGE_PIXELS` pixels (a decompression bomb) is refused before it is decoded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from batchface import MAX_IMAGE_PIXELS
from batchface.errors import InputError, one_line


def _must_exist(path: str | os.PathLike) -> None:
    if not os.path.exists(path):
        raise InputError("file not found" if not os.path.islink(path) else "broken symbolic link")


@dataclass
class Picture:
    """A decoded image file: ``image`` 8-bit BGR with the EXIF orientation applied, and ``width`` and
    ``height``, the full image's size in pixels (after that rotation).

    A large JPEG may be decoded at a half, a quarter or an eighth of its size, which libjpeg does in
    a fraction of the time (:func:`read_picture`); :meth:`full` decodes it again at its full size.
    """

    path: str
    image: np.ndarray
    width: int
    height: int

    @property
    def scale(self) -> tuple[float, float]:
        """Full-image pixels per pixel of ``image``, along x and along y (1.0 at full size)."""
        return self.width / self.image.shape[1], self.height / self.image.shape[0]

    @property
    def reduced(self) -> bool:
        """Whether ``image`` is smaller than the full image."""
        return self.image.shape[:2] != (self.height, self.width)

    def full(self) -> Picture:
        """The picture at its full size.

        Returns:
            This picture if it is not reduced, else its file decoded again at full size.

        Raises:
            InputError: the file cannot be read again.
        """
        return read_picture(self.path) if self.reduced else self


REDUCED_FLAGS = {8: cv2.IMREAD_REDUCED_COLOR_8, 4: cv2.IMREAD_REDUCED_COLOR_4, 2: cv2.IMREAD_REDUCED_COLOR_2}


def read_picture(path: str | os.PathLike, side_needed: Callable[[int, int], float] | None = None) -> Picture:
    """Decode an image file.

    The header is read from the file first, so that a file that declares too many pixels is refused
    before it is read; a file that is read is held once (a 1 GiB file: 1 GiB, not two).

    Args:
        path: the image file.
        side_needed: given the full image's (width, height) in pixels, the longer side (pixels) that
            is enough for whoever looks at the image first; a JPEG at least twice that long is decoded
            reduced by the largest of 2, 4 or 8 that keeps it. None: always at full size.

    Returns:
        The decoded picture.

    Raises:
        InputError: the file is missing, unreadable, empty, too large or not a decodable image.
    """
    _must_exist(path)
    width, height = _declared_size(path)
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(
            f"image too large: its header declares more than {MAX_IMAGE_PIXELS} pixels "
            "(a decompression bomb?); refused before decoding"
        )
    data = _read_bytes(path)
    if side_needed and width and data[:3].tobytes() == b"\xff\xd8\xff":
        for factor, flag in REDUCED_FLAGS.items():
            if max(width, height) / factor >= side_needed(width, height):
                return Picture(str(path), _decode(data, flag), width, height)
    image = _decode(data, cv2.IMREAD_COLOR)
    return Picture(str(path), image, image.shape[1], image.shape[0])


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to 8-bit BGR, EXIF orientation applied.

    Args:
        path: the image file.

    Returns:
        Its pixels, [H, W, 3] uint8 BGR.

    Raises:
        InputError: the file is missing, unreadable, empty, too large or not a decodable image.
    """
    return read_picture(path).image


def _declared_size(path: str | os.PathLike) -> tuple[int, int]:
    """The image's size from its file's header (Pillow reads no more), after its EXIF rotation;
    (0, 0) when the header cannot say."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():  # Pillow warns from half our limit on: that is ours to judge
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as header:  # reads the header only
                width, height = header.size
                turned = header.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # orientations that swap the sides
    except Image.DecompressionBombError:  # Pillow's own limit: twice its warning size, which is ours
        return MAX_IMAGE_PIXELS + 1, 1
    except Exception:  # a header Pillow cannot read: OpenCV decodes the file, or says why not
        return 0, 0
    return (height, width) if turned else (width, height)


def _read_bytes(path: str | os.PathLike) -> np.ndarray:
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise InputError(f"cannot read file: {e.strerror or e}") from None
    if data.size == 0:
        raise InputError("empty file")
    return data


def _decode(data: np.ndarray, flag: int) -> np.ndarray:
    try:
        image = cv2.imdecode(data, flag)
    except cv2.error as e:  # OpenCV's own size limit, for a header Pillow could not read
        raise InputError(f"cannot decode image: {one_line(e, with_type=False)}") from None
    if image is None:
        raise InputError("not a decodable image (corrupt, truncated or not an image)")
    return image
