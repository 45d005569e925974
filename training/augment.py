"""Photometric and geometric augmentation, in numpy and OpenCV (cheap enough to run per batch)."""

from __future__ import annotations

import cv2
import numpy as np


def random_similarity(
    rng: np.random.Generator, size: int, max_angle: float, max_scale: float, max_shift: float
) -> np.ndarray:
    """A 2x3 rotation/scale/shift about the crop centre; angles in degrees, shift in crop pixels."""
    angle = rng.uniform(-max_angle, max_angle)
    scale = rng.uniform(1 - max_scale, 1 + max_scale)
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    m[:, 2] += rng.uniform(-max_shift, max_shift, size=2)
    return m


def photometric(rng: np.random.Generator, image: np.ndarray, strength: float = 0.25) -> np.ndarray:
    """Random brightness and contrast on a float image in [0, 1]."""
    contrast = rng.uniform(1 - strength, 1 + strength)
    brightness = rng.uniform(-strength, strength) * 0.5
    mean = image.mean()
    return np.clip((image - mean) * contrast + mean + brightness, 0.0, 1.0)


def random_erase(rng: np.random.Generator, image: np.ndarray, area=(0.02, 0.2), aspect=(0.3, 3.3)) -> np.ndarray:
    """Fill one random rectangle of a float image in [0, 1] with uniform noise (random erasing,
    Zhong et al. 2017): the model cannot lean on any one part of the face, as with a hand or glasses
    in front of it. ``area``: fraction of the image; ``aspect``: height over width."""
    h, w = image.shape[:2]
    for _ in range(10):  # a rectangle that does not fit is drawn again
        size = rng.uniform(*area) * h * w
        ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))
        eh, ew = int(round(np.sqrt(size * ratio))), int(round(np.sqrt(size / ratio)))
        if 0 < eh <= h and 0 < ew <= w:
            y, x = rng.integers(h - eh + 1), rng.integers(w - ew + 1)
            image = image.copy()
            image[y : y + eh, x : x + ew] = rng.random((eh, ew) + image.shape[2:])
            return image
    return image


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine that applies ``inner`` first, then ``outer``."""
    a = np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]])
    return a[:2]


def like_runtime(rng: np.random.Generator, image: np.ndarray, dim: float = 0.0) -> np.ndarray:
    """A float crop in [0, 1] made to look like crops cut from real photos and video frames, each
    effect on a share of the faces: (a share ``dim`` of them) dim light, smaller faces enlarged (down-
    and upscaled by up to 2.5x), blur, JPEG or video compression (quality 15-90), sensor noise, and
    another exposure (gamma 0.6-1.6). What the FER images (sharp, centred stock photos) lack and the
    runtime's crops have."""
    size = image.shape[0]
    if rng.random() < dim:  # a dim hall: little light, so little contrast, and the noise below on top
        image = image * rng.uniform(0.15, 0.5)
    if rng.random() < 0.4:
        small = max(8, int(round(size / rng.uniform(1.2, 2.5))))
        image = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.25:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < 0.35:
        ok, data = cv2.imencode(
            ".jpg",
            np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8),
            [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 91))],
        )
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    if rng.random() < 0.3:
        image = image + rng.normal(0, rng.uniform(0.005, 0.03), image.shape).astype(np.float32)
    if rng.random() < 0.3:
        image = np.clip(image, 0, 1) ** np.float32(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def random_turn(rng: np.random.Generator, image: np.ndarray, max_degrees: float) -> np.ndarray:
    """The face turned by up to ``max_degrees`` about its vertical axis (yaw) and, by half as much,
    about its horizontal one (pitch), as a plane seen by a camera 2.5 face widths away: the far side
    shrinks. Real heads in interviews look aside and down far more than FER's stock photos do."""
    size = image.shape[0]
    yaw, pitch = np.radians(rng.uniform(-max_degrees, max_degrees)), np.radians(rng.uniform(-0.5, 0.5) * max_degrees)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
    distance = 5.0  # in half face widths
    x, y = corners[:, 0], corners[:, 1]
    x, z = x * np.cos(yaw), distance + x * np.sin(yaw)
    y, z = y * np.cos(pitch), z + y * np.sin(pitch)
    turned = np.stack([x, y], 1) * (distance / z)[:, None]
    src, dst = (((p + 1) * size / 2).astype(np.float32) for p in (corners, turned))
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, m, (size, size), borderMode=cv2.BORDER_REPLICATE)
