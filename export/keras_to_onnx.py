"""Export a trained Keras model (``training/``) to the ONNX file that batchface ships.

    python -m export.keras_to_onnx runs/expression --out batchface/assets/expression.onnx

The file's contract: input ``image`` float32 [N, S, S, 1] in [0, 1] (grayscale / 255); output
``keypoints`` [N, 2K] as x0, y0, x1, y1, ... in crop pixels, or ``probabilities`` [N, C].
``metadata_props`` carry what the runtime needs (task, input size, normalisation, crop template,
keypoint names or classes) and the model card's facts. A run whose ``train_meta.json`` has
``test_time_zooms`` is exported with those views inside (``training.blocks.as_exported``). The
export fails unless onnxruntime matches Keras to 1e-4 on real crops (probabilities as they are,
keypoints divided by the crop side). ``--int8`` then quantizes the file (``export.quantize``,
calibrated on the run's ``calibration_crops.npz``) and says how far its answers move.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from batchface import crop
from batchface.models import INPUT_NORMALIZATION, onnx_session

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
        "exported_on": datetime.date.today().isoformat(),
    }
    if meta["task"] == "keypoints":
        props["keypoint_names"] = json.dumps(meta["keypoint_names"])
    else:
        props["classes"] = json.dumps(meta["classes"])
    if meta.get("test_time_zooms"):
        props["test_time_zooms"] = json.dumps(meta["test_time_zooms"])   # expression: each view also mirrored
    props.update({k: (v if isinstance(v, str) else json.dumps(v)) for k, v in card.items()})
    return props


def export(run, out, card: dict | None = None, int8: bool = False) -> dict:
    """Convert ``run/model.keras``, attach metadata, check parity, quantize if asked; returns the
    parity figures."""
    import keras
    import onnx
    import tensorflow as tf
    import tf2onnx

    run, out = Path(run), Path(out)
    meta = json.loads((run / "train_meta.json").read_text())
    model = keras.models.load_model(run / "model.keras", compile=False)
    from training.blocks import as_exported
    model = as_exported(model, meta)
    size = int(model.input_shape[1])
    spec = (tf.TensorSpec((None, size, size, 1), tf.float32, name="image"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET,
                                          output_path=None)
    # tf2onnx names outputs after the Keras layer; give them the contract's names
    task = meta["task"]
    wanted = "keypoints" if task == "keypoints" else "probabilities"
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [wanted if o == old else o for o in node.output]
    proto.graph.output[0].name = wanted
    for key, value in metadata_for(meta, card or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = out.with_name(out.name + ".float.onnx" if int8 else out.name)
    onnx.save(proto, written)

    sample = parity_images(run)
    expected = model.predict(sample, verbose=0)
    got = onnx_session(written).run(None, {"image": sample})[0]
    # keypoints are in crop pixels: compare them on the unit scale, as the probabilities are
    scale = size if task == "keypoints" else 1
    diff = float(np.abs(expected - got).max()) / scale
    if not diff <= PARITY_TOLERANCE:
        written.unlink()
        raise SystemExit(f"parity check failed: max |keras - onnxruntime| / {scale} = {diff:.3g} "
                         f"> {PARITY_TOLERANCE}")
    facts = {"parity_max_abs_diff": diff}
    if int8:
        from export.quantize import quantize, read_crops
        moved = quantize(written, read_crops(run / "calibration_crops.npz"), out)
        written.unlink()
        got8 = onnx_session(out).run(None, {"image": sample})[0]
        facts["int8_mean_abs_diff"] = float(np.abs(expected - got8).mean()) / scale
        facts["int8_max_abs_diff"] = float(np.abs(expected - got8).max()) / scale
        print(f"{out}: 8-bit; on the calibration crops its answers move by {moved}")
    facts["sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: parity max abs diff {diff:.2e} on {len(sample)} real crops; {facts}")
    write_card(out, meta, card or {}, facts)
    return facts


def write_card(out: Path, meta: dict, card: dict, facts: dict) -> Path:
    """The model card beside the ONNX file (``<name>.md``): data, split, seed, metrics, date, sha256."""
    task = meta["task"]
    what = (f"{len(meta['keypoint_names'])} facial keypoints (x, y in crop pixels)" if task == "keypoints"
            else f"{len(meta['classes'])} expression classes: {', '.join(meta['classes'])}")
    size = meta["input_size"]
    dropout = meta.get("dropout")   # not recorded by the runs before it was an option
    dropout_text = ("" if dropout is None else ", no dropout" if dropout == 0
                    else f", dropout {dropout} before the last layer")
    lines = [f"# Model card: `{out.name}`", "",
             f"- **Task:** {task}: {what}.",
             f"- **Architecture:** ResNet-style CNN (`training/blocks.py`), {meta['params']:,} parameters"
             f"{dropout_text}.",
             f"- **Input:** `image` float32 [N, {size}, {size}, 1], grayscale / 255, the crop of `batchface/crop.py`.",
             f"- **Training data:** `{meta['data']}`.",
             f"- **Split:** {meta['split']}.",
             *([f"- **Training crops:** cut from {meta['alignment']}."] if "alignment" in meta else []),
             *([f"- **Loss:** {LOSSES[meta['loss']]}, points missing from a label skipped."] if "loss" in meta else []),
             *([f"- **Inside the file:** the network runs on the crop zoomed about its centre by "
                f"{' and '.join(map(str, meta['test_time_zooms']))}"
                + (", and the points of each view, mapped back to the crop, are averaged." if task == "keypoints"
                   else ", each view also mirrored, and the outputs are averaged.")]
               if meta.get("test_time_zooms") else []),
             f"- **Seed:** {meta['seed']}; **epochs:** {meta['epochs_run']} (at most {meta['epochs_max']}), "
             f"batch {meta['batch_size']}.",
             f"- **Exported:** {datetime.date.today().isoformat()} with tf2onnx (opset {OPSET}); onnxruntime matches "
             f"Keras to {facts['parity_max_abs_diff']:.1e} on real crops"
             + (f"; then quantized (`export/quantize.py`): 8-bit weights and activations, whose answers differ "
                f"from Keras' by {facts['int8_mean_abs_diff']:.1e} on average, at most {facts['int8_max_abs_diff']:.1e}"
                + (" (points divided by the crop side)" if task == "keypoints" else "")
                if "int8_mean_abs_diff" in facts else "") + ".",
             f"- **sha256:** `{facts['sha256']}`", ""]
    lines += card_lines(card, task)
    path = out.with_suffix(".md")
    path.write_text("\n".join(lines))
    return path


def card_lines(card: dict, task: str) -> list[str]:
    """The model card's metrics table and where its evaluation report is."""
    return (["## Metrics", "", "| measure | value |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in card.items()]
            + ["", f"The evaluation report with figures is `reports/{task}/report.md` in the source repository.", ""])


def parity_images(run: Path) -> np.ndarray:
    """The real test crops [N, S, S, 1] in [0, 1] that the training run saved beside its model."""
    for name in ("test_crops.npz", "test_predictions.npz"):   # keypoint runs, expression runs
        if (run / name).exists():
            return np.load(run / name)["crops"][:64, ..., None].astype(np.float32)
    raise SystemExit(f"{run}: no real crops for the parity check")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a training run folder (model.keras, train_meta.json)")
    p.add_argument("--out", required=True)
    p.add_argument("--card", help="a JSON file of model-card facts (metrics, date) to embed")
    p.add_argument("--int8", action="store_true", help="quantize the file to 8 bits (export.quantize)")
    args = p.parse_args(argv)
    card = json.loads(Path(args.card).read_text()) if args.card else {}
    export(args.run, args.out, card, args.int8)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
