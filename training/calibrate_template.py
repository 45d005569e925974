"""Measure where a detector puts the eyes and mouth on FER2013 images, to set ``batchface.faces.crop.TEMPLATE``.

    python -m training.calibrate_template --data ../shared/data/fer2013 --detector yunet

FER images are already face crops: upscaled 4x, a detector finds one face in most of them, and
the mean of its alignment points (as fractions of the image side) is the framing that run-time
crops must reproduce. The template in ``batchface/faces/crop.py`` is this mean, made left-right symmetric.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import cv2
import numpy as np

from batchface.faces.detection import DETECTORS, create_detector


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--detector", choices=DETECTORS, default="yunet")
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    detector = create_detector(args.detector)
    files = sorted(Path(args.data).glob("train/*/*.jpg"))
    random.Random(args.seed).shuffle(files)
    side = 192
    found = []
    for path in files[: args.n]:
        gray = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (side, side), interpolation=cv2.INTER_CUBIC)
        det = detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
        if len(det) == 1:
            found.append(det.points[0] / side)
    pts = np.array(found)
    mean = pts.mean(0)
    half_gap = (mean[1, 0] - mean[0, 0]) / 2
    eye_y = (mean[0, 1] + mean[1, 1]) / 2
    symmetric = [[0.5 - half_gap, eye_y], [0.5 + half_gap, eye_y], [0.5, mean[2, 1]]]
    print(
        json.dumps(
            {
                "images": len(files[: args.n]),
                "one_face": len(pts),
                "mean": mean.round(4).tolist(),
                "sd": pts.std(0).round(4).tolist(),
                "symmetric_template": np.round(symmetric, 3).tolist(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
