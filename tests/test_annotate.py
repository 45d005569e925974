"""Annotated copies that read well at every size: labels inside the image and apart, sizes that
follow the face, no keypoints over a small face."""

import itertools

import cv2
import numpy as np
import pytest

from batchface.faces.analysis import Face
from batchface.output.drawing import (
    POINT_COLOR,
    POINTS_FROM,
    draw,
    label_height,
    layout_labels,
    line_width,
    place_labels,
)


def apart_and_inside(rects, shape) -> bool:
    height, width = shape[:2]
    inside = all(0 <= x and 0 <= y and x + w <= width and y + h <= height for x, y, w, h in rects)
    overlapping = [
        (a, b)
        for a, b in itertools.combinations(rects, 2)
        if min(a[0] + a[2], b[0] + b[2]) > max(a[0], b[0]) and min(a[1] + a[3], b[1] + b[3]) > max(a[1], b[1])
    ]
    return inside and not overlapping


def test_labels_of_a_crowded_row_at_the_top_edge_are_apart_and_inside():
    boxes = [(4 + 34 * i, 2, 30, 36) for i in range(8)]  # faces 4 px apart against the top edge
    corners = place_labels([(70, 14)] * 8, boxes, (200, 300))
    assert apart_and_inside([(x, y, 70, 14) for x, y in corners], (200, 300))


def test_a_label_at_the_right_or_bottom_edge_is_shifted_in():
    ((x, y),) = place_labels([(80, 14)], [(280, 180, 20, 20)], (200, 300))
    assert (x, y) == (220, 166)  # above the box, ending at the image's right edge
    ((x, y),) = place_labels([(80, 14)], [(0, 5, 40, 190)], (200, 300))
    assert (x, y) == (0, 0)  # no room above: shifted down into the image, over its own face only


def test_sizes_follow_the_face_within_the_images_bounds():
    assert label_height(20, (500, 500)) == 10  # the least: readable
    assert label_height(60, (500, 500)) == 12  # a fifth of the face
    assert label_height(400, (500, 500)) == 14  # at most 1/35 of the image: a close-up's label stays small
    assert label_height(20, (3000, 4000)) == 36  # a small face of a large photo: 1/110 of its side
    assert (line_width(20), line_width(120), line_width(600)) == (1, 2, 10)


def test_a_small_face_gets_no_keypoints_and_a_large_one_does():
    image = np.full((300, 400, 3), 128, np.uint8)
    points = {f"p{i}": (50 + i * 3, 60 + i) for i in range(10)}

    def face(x, w):
        shifted = {k: (x + px * w / 100, 40 + py * w / 100) for k, (px, py) in points.items()}
        return Face((x, 40, w, w), 0.9, landmarks=shifted, emotion="happy", emotion_score=0.9)

    colour = lambda im: int(np.all(np.abs(im.astype(int) - POINT_COLOR) <= 40, axis=2).sum())
    assert colour(draw(image, [face(20, POINTS_FROM - 1)])) == 0
    assert colour(draw(image, [face(200, 150)])) > 10


def check_labels_of(image, faces):
    labels = layout_labels([f.box for f in faces], [f"{f.emotion} {f.emotion_score:.2f}" for f in faces], image.shape)
    assert apart_and_inside([label.rect for label in labels], image.shape)
    # none covers another face's box
    for i, label in enumerate(labels):
        x, y, w, h = label.rect
        for j, f in enumerate(faces):
            bx, by, bw, bh = f.box
            if i != j:
                assert min(x + w, bx + bw) <= max(x, bx) or min(y + h, by + bh) <= max(y, by), (i, j)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_the_labels_of_a_group_photo_are_apart_and_inside(group_photo, analyzer, scale):
    image = cv2.imread(str(group_photo[0]))
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)  # at half: faces 28-66 px
    faces = analyzer.analyze(image)
    assert len(faces) == 6
    check_labels_of(image, faces)


def test_the_labels_of_a_real_group_photo_are_apart_and_inside(samples, analyzer):
    image = cv2.imread(str(samples / "dlib_faces" / "2007_007763.jpg"))
    faces = analyzer.analyze(image)
    assert len(faces) >= 6
    check_labels_of(image, faces)


@pytest.mark.parametrize("side", [120, 4000])
def test_drawing_keeps_the_image_size_and_type(side):
    image = np.zeros((side, side, 3), np.uint8)
    out = draw(image, [Face((side / 4, side / 4, side / 2, side / 2), 0.9, emotion="sad", emotion_score=0.5)], [3])
    assert out.shape == image.shape and out.dtype == np.uint8 and out.any() and not image.any()
