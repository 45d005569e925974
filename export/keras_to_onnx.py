"""Export a trained Keras model (``training/``) to the ONNX file that batchface ships.

    python -m export.keras_to_onnx runs/expression --out batchface/assets/expression.onnx

The file's contract: input ``image`` float32 [N, S, S, 1] in [0, 1] (grayscale / 255); output
``keypoints`` [N, 2K] as x0, y0, x1, y1, ... in crop pixels, or ``probabilities`` [N, C].
``metadata_props`` carry what the runtime needs (task, input size, normalisation, crop template,
keypoint names or classes) and the model card's facts. A run whose ``train_meta.json`` has
``test_time_zooms`` is exported with those views inside (``training.blocks.as_exported``), unless
``--one-read`` (the network alone: a quick network for ``export.cascade``). The
export fails unless onnxruntime matches Keras to 1e-4 on real crops (probabilities as they are,
keypoints divided by the crop side). ``--int8`` then quantizes the file (``export.quantize``,
calibrated on the run's ``calibration_crops.npz``) and says how far its answers move.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path

from batchface.faces import crop
from batchface.faces.models import INPUT_NORMALIZATION
from export.common import finish, input_line, parity_images, set_metadata, what, write_card

PARITY_TOLERANCE = 1e-4
OPSET = 17
LOSSES = {"distance": "mean Euclidean point distance", "mse": "mean squared coordinate error"}  # --loss


def metadata_for(meta: dict, card: dict) -> dict[str, str]:
    """The file's ``metadata_props``: what the runtime needs, from the run's ``train_meta.json``, and
    the model card's facts."""
    props = {
        "batchface_task": meta["task"],
        "input_size": str(meta["input_size"]),
        "input_normalization": INPUT_NORMALIZATION,
        "crop_template": json.dumps(crop.TEMPLATE.tolist()),
        "training_data": str(meta["data"]),
        "training_split": meta["split"],
        "training_seed": str(meta["seed"]),
        "training_epochs": str(meta["epochs_run"]),
        **({"training_targets": meta["targets"]} if "targets" in meta else {}),
        "exported_on": datetime.date.today().isoformat(),
    }
    if meta["task"] == "keypoints":
        props["keypoint_names"] = json.dumps(meta["keypoint_names"])
    else:
        props["classes"] = json.dumps(meta["classes"])
    if meta.get("test_time_zooms"):
        props["test_time_zooms"] = json.dumps(meta["test_time_zooms"])  # expression: each view also mirrored
    props.update(card)
    return props


def export(
    run, out, card: dict | None = None, int8: bool = False, one_read: bool = False, zooms=None, report=None
) -> dict:
    """Convert ``run/model.keras``, attach metadata, check parity, quantize if asked (calibrated on
    the run's ``calibration_crops.npz``), write the model card; returns the export's figures.
    ``one_read``: the network reads the crop once, without the run's test-time views; ``zooms``:
    these views instead of the run's (``test_time_zooms``); ``report``: the evaluation report the
    model card names (default ``reports/<task>/report.md``)."""
    import keras
    import onnx
    import tensorflow as tf
    import tf2onnx

    from training.blocks import as_exported

    run, out = Path(run), Path(out)
    meta = json.loads((run / "train_meta.json").read_text())
    if one_read:
        meta["test_time_zooms"] = []
    elif zooms is not None:
        meta["test_time_zooms"] = list(zooms)
    model = as_exported(keras.models.load_model(run / "model.keras", compile=False), meta)
    size = int(model.input_shape[1])
    spec = (tf.TensorSpec((None, size, size, 1), tf.float32, name="image"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET, output_path=None)
    # tf2onnx names outputs after the Keras layer; give them the contract's names
    task = meta["task"]
    wanted = "keypoints" if task == "keypoints" else "probabilities"
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [wanted if o == old else o for o in node.output]
    proto.graph.output[0].name = wanted
    set_metadata(proto, metadata_for(meta, card or {}))
    onnx.checker.check_model(proto)
    sample = parity_images(run)
    figures = finish(
        proto,
        out,
        model.predict(sample, verbose=0),
        sample,
        size if task == "keypoints" else 1,
        PARITY_TOLERANCE,
        run / "calibration_crops.npz" if int8 else None,
    )
    write_card(out, task, card_facts(meta), f"tf2onnx, opset {OPSET}", "Keras", figures, card or {}, report)
    return figures


def inside(task: str, zooms: list[float], views: str) -> str:
    """The model card's words for the views a file averages."""
    if task == "expression" and zooms == [1.0]:
        return "the network reads the crop and its mirror image, and the two outputs are averaged."
    return f"the network runs on the crop zoomed about its centre by {' and '.join(map(str, zooms))}, {views}."


def card_facts(meta: dict) -> list[str]:
    """The model card's lines on one run: task, network, input, data, split, crops, loss, views, seed."""
    task = meta["task"]
    dropout = meta.get("dropout")  # not recorded by the runs before it was an option
    dropout_text = (
        "" if dropout is None else ", no dropout" if dropout == 0 else f", dropout {dropout} before the last layer"
    )
    zooms = meta.get("test_time_zooms") or []
    views = (
        "and the points of each view, mapped back to the crop, are averaged"
        if task == "keypoints"
        else "each view also mirrored, and the outputs are averaged"
    )
    several = len(zooms) > 1 or (task == "expression" and zooms)  # a keypoint file of zoom 1.0 reads the crop once
    return [
        what(task, meta),
        f"- **Architecture:** ResNet-style CNN (`training/blocks.py`), {meta['params']:,} parameters{dropout_text}.",
        input_line(meta["input_size"]),
        f"- **Training data:** `{meta['data']}`"
        + (f"; targets: {meta['targets']}" if "targets" in meta else "")
        + (
            "; faces degraded as real photos and video frames are (`training.augment.like_runtime`)"
            if meta.get("like_runtime")
            else ""
        )
        + ".",
        f"- **Split:** {meta['split']}.",
        *([f"- **Training crops:** cut from {meta['alignment']}."] if "alignment" in meta else []),
        *([f"- **Loss:** {LOSSES[meta['loss']]}, points missing from a label skipped."] if "loss" in meta else []),
        *([f"- **Inside the file:** {inside(task, zooms, views)}"] if several else []),
        f"- **Seed:** {meta['seed']}; **epochs:** {meta['epochs_run']} (at most {meta['epochs_max']}), "
        f"batch {meta['batch_size']}.",
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a training run folder (model.keras, train_meta.json)")
    p.add_argument("--out", required=True)
    p.add_argument("--card", help="a JSON file of model-card facts (metrics, date) to embed")
    p.add_argument("--int8", action="store_true", help="quantize the file to 8 bits (export.quantize)")
    p.add_argument("--one-read", action="store_true", help="read the crop once, without the run's test-time views")
    p.add_argument("--zooms", help="the views to average instead of the run's: zooms like 1.0,1.08 (each mirrored)")
    p.add_argument("--report", help="the evaluation report the model card names (default reports/<task>/report.md)")
    args = p.parse_args(argv)
    card = json.loads(Path(args.card).read_text()) if args.card else {}
    zooms = [float(z) for z in args.zooms.split(",")] if args.zooms else None
    export(args.run, args.out, card, args.int8, args.one_read, zooms, args.report)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
