"""Make the YuNet file batchface ships from OpenCV Zoo's ``face_detection_yunet_2023mar.onnx``.

    python -m export.yunet ../shared/data/models/face_detection_yunet_2023mar.onnx --out batchface/assets/yunet.onnx

The source must be the published file (its sha256 is checked; OpenCV Zoo's
``models/face_detection_yunet/``, MIT). Its graph is kept as it is; only the input's height and width
become free (the graph's reshapes and resizes already follow them), so onnxruntime runs it at any
size that is a multiple of 32 instead of 640 x 640, and ``metadata_props`` say how to feed it and
read its outputs. The export fails unless ``batchface.faces.yunet.YuNet`` finds what OpenCV's own
``cv2.FaceDetectorYN`` finds with the source file, to 1e-3 pixels, on real photos. ``--check FILE``
also fails unless the result has the nodes, weights and metadata of FILE.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from batchface.faces.models import sha256_of
from batchface.faces.yunet import YUNET_NORMALIZATION, YuNet
from export.common import set_metadata

SOURCE_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
PARITY_TOLERANCE = 1e-3  # pixels
METADATA = {
    "batchface_task": "face_detection",
    "input_normalization": YUNET_NORMALIZATION,
    "input_multiple": "32",
    "strides": json.dumps([8, 16, 32]),
    # OpenCV Zoo's defaults for this model (its demo and cv2.FaceDetectorYN's usual settings)
    "score_threshold": "0.7",
    "nms_iou": "0.3",
    "keypoint_names": json.dumps(["right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner"]),
    "source": "YuNet face_detection_yunet_2023mar.onnx, OpenCV Zoo (models/face_detection_yunet), MIT, "
    f"sha256 {SOURCE_SHA256}; input height and width made free",
}


def convert(source: Path):
    """The source graph with a free input height and width, and batchface's metadata."""
    import onnx

    model = onnx.load(source)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in model.graph.output:  # [1, anchors, values]: the anchors follow the input's size
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    set_metadata(model, METADATA)
    onnx.checker.check_model(model)
    return model


def opencv_faces(source: Path, image: np.ndarray) -> np.ndarray:
    """[N, 15] as ``cv2.FaceDetectorYN`` returns them, at the image's own size, left to right."""
    import cv2

    detector = cv2.FaceDetectorYN.create(
        str(source),
        "",
        (image.shape[1], image.shape[0]),
        float(METADATA["score_threshold"]),
        float(METADATA["nms_iou"]),
        5000,
    )
    faces = detector.detect(image)[1]
    faces = np.zeros((0, 15)) if faces is None else faces
    return faces[np.argsort(faces[:, 0] + faces[:, 2] / 2, kind="stable")]


def parity(source: Path, out: Path, images: list[Path]) -> float:
    """Largest difference (pixels) between this file's faces and OpenCV's on ``images`` (each at its own size)."""
    import cv2

    ours = YuNet(out, side=1 << 30)  # at the image's own size, as OpenCV runs it here
    worst = 0.0
    for path in images:
        image = cv2.imread(str(path))
        theirs = opencv_faces(source, image)
        found = ours.detect(image)
        if len(found) != len(theirs):
            raise SystemExit(f"parity check failed on {path}: {len(found)} faces, OpenCV finds {len(theirs)}")
        if len(found):
            worst = max(worst, float(np.abs(found.boxes - theirs[:, :4]).max()))
            mouth = (theirs[:, 10:12] + theirs[:, 12:14]) / 2
            expected_points = np.stack([theirs[:, 4:6], theirs[:, 6:8], mouth], 1)
            worst = max(worst, float(np.abs(found.points - expected_points).max()))
    return worst


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, help="face_detection_yunet_2023mar.onnx (OpenCV Zoo)")
    p.add_argument("images", nargs="*", type=Path, help="photos for the parity check")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--check", type=Path, help="fail unless the result matches this file's graph and metadata")
    args = p.parse_args(argv)
    import onnx

    got = sha256_of(args.source)
    if got != SOURCE_SHA256:
        raise SystemExit(f"{args.source} has sha256 {got}, not the published file's {SOURCE_SHA256}")
    model = convert(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.out)
    if not args.images:
        raise SystemExit("give photos for the parity check")
    worst = parity(args.source, args.out, args.images)
    if not worst <= PARITY_TOLERANCE:
        raise SystemExit(f"parity check failed: faces differ from OpenCV's by {worst:.3g} px")
    print(f"{args.out}: faces match OpenCV's cv2.FaceDetectorYN to {worst:.1e} px on {len(args.images)} photos")
    if args.check:
        shipped = onnx.load(args.check)
        if shipped.SerializeToString() != model.SerializeToString():
            sys.exit(f"{args.out} differs from {args.check}")
        print(f"{args.out} is {args.check}, node for node and weight for weight")


if __name__ == "__main__":
    main()
