"""What every export of a face model ends with: metadata, the parity check, 8 bits if asked, and the
model card beside the file (``<name>.md``)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from batchface.faces.models import onnx_session, sha256_of, to_unit
from export.quantize import quantize, read_crops


def set_metadata(model, props: dict) -> None:
    """The file's ``metadata_props``: strings kept, anything else as JSON."""
    import onnx

    onnx.helper.set_model_props(model, {k: v if isinstance(v, str) else json.dumps(v) for k, v in props.items()})


def parity_images(run: Path) -> np.ndarray:
    """The real test crops [N, S, S, 1] in [0, 1] that the training run saved beside its model."""
    for name in ("test_crops.npz", "test_predictions.npz"):  # keypoint runs, expression runs
        if (run / name).exists():
            crops = np.load(run / name)["crops"][:64]
            return (crops if crops.dtype != np.uint8 else to_unit(crops)).astype(np.float32)[..., None]
    raise SystemExit(f"{run}: no real crops for the parity check")


def finish(
    model,
    out: Path,
    expected: np.ndarray,
    sample: np.ndarray,
    scale: float,
    tolerance: float,
    int8_crops: Path | None = None,
) -> dict:
    """Save ``model`` at ``out`` once its answers on ``sample`` match ``expected`` to ``tolerance``
    (divided by ``scale``: keypoints by the crop side, so that they compare as probabilities do);
    quantized to 8 bits on ``int8_crops`` if given. The file at ``out`` stays until then. Returns
    the figures of :func:`write_card`."""
    import onnx

    out.parent.mkdir(parents=True, exist_ok=True)
    written = out.with_name(out.name + ".float.onnx")
    onnx.save(model, written)
    diff = float(np.abs(expected - onnx_session(written).run(None, {"image": sample})[0]).max()) / scale
    if not diff <= tolerance:
        written.unlink()
        raise SystemExit(f"parity check failed: max |expected - onnxruntime| / {scale} = {diff:.3g} > {tolerance}")
    figures = {"parity_max_abs_diff": diff}
    if int8_crops:
        quantize(written, read_crops(int8_crops), out)
        written.unlink()
        moved = np.abs(expected - onnx_session(out).run(None, {"image": sample})[0]) / scale
        figures.update(int8_mean_abs_diff=float(moved.mean()), int8_max_abs_diff=float(moved.max()))
    else:
        written.replace(out)
    figures["sha256"] = sha256_of(out)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB; on {len(sample)} real crops: {figures}")
    return figures


def what(task: str, props: dict) -> str:
    """The card's task line, from the file's ``keypoint_names`` or ``classes`` (JSON or lists)."""
    load = lambda v: json.loads(v) if isinstance(v, str) else v
    if task == "keypoints":
        return f"- **Task:** keypoints: {len(load(props['keypoint_names']))} facial keypoints (x, y in crop pixels)."
    classes = load(props["classes"])
    return f"- **Task:** expression: {len(classes)} expression classes: {', '.join(classes)}."


def write_card(
    out: Path,
    task: str,
    facts: list[str],
    tool: str,
    reference: str,
    figures: dict,
    metrics: dict,
    report: str | None = None,
) -> Path:
    """The model card: ``facts`` (lines of the file's own), how ``tool`` exported it and how close it
    is to ``reference``, its sha256, and the ``metrics`` of the evaluation report at ``report``
    (default: ``reports/<task>/report.md``)."""
    per = " (points divided by the crop side)" if task == "keypoints" else ""
    exported = (
        f"- **Exported:** {datetime.date.today().isoformat()} ({tool}); onnxruntime matches {reference} to "
        f"{figures['parity_max_abs_diff']:.1e}{per} on real crops"
    )
    if "int8_mean_abs_diff" in figures:
        in_float = "the convolution of the image"
        if task == "expression":
            in_float += ", the softmax and what follows it"
        exported += (
            f"; then quantized (`export/quantize.py`): 8-bit weights (7 bits used) and activations, {in_float} "
            f"in float; its answers differ from {reference} by {figures['int8_mean_abs_diff']:.1e} on average, "
            f"at most {figures['int8_max_abs_diff']:.1e}{per}"
        )
    lines = [
        f"# Model card: `{out.name}`",
        "",
        *facts,
        exported + ".",
        f"- **sha256:** `{figures['sha256']}`",
        "",
        "## Metrics",
        "",
        "| measure | value |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in metrics.items()),
        "",
        f"The evaluation report with figures is `{report or f'reports/{task}/report.md'}` in the source repository.",
        "",
    ]
    path = out.with_suffix(".md")
    path.write_text("\n".join(lines))
    return path


def input_line(size) -> str:
    return (
        f"- **Input:** `image` float32 [N, {size}, {size}, 1], grayscale / 255, the crop of `batchface/faces/crop.py`."
    )


def parse_class_weights(text: str, classes, option: str = "--class-weights") -> np.ndarray:
    """``"neutral=2,happy=1.5"`` as one number a class in ``classes`` order (1 for those not named);
    an error names the command-line ``option`` the text came from."""
    weights = np.ones(len(classes), np.float32)
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if name.strip() not in classes:
            raise SystemExit(f"{option}: {name.strip()!r} is not one of {', '.join(classes)}")
        try:
            weights[list(classes).index(name.strip())] = float(value)
        except ValueError:
            raise SystemExit(f"{option}: {item!r} is not CLASS=NUMBER") from None
    return weights


def reweighed(probabilities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Probabilities [N, C] under other class priors: each class's times its weight, summing to 1 again
    (Saerens et al. 2002's prior shift, the weight being new prior / old prior)."""
    shifted = probabilities * weights
    return shifted / shifted.sum(axis=1, keepdims=True)


def add_class_weights(model, weights: np.ndarray) -> None:
    """Append :func:`reweighed` to the graph of ``model`` (opset >= 13; one output, probabilities
    [N, C]), in place; the output keeps its name."""
    from onnx import helper, numpy_helper

    graph, output = model.graph, model.graph.output[0].name
    for node in graph.node:  # the node that wrote the answer now writes the unweighted one
        node.output[:] = [f"{output}/unweighted" if name == output else name for name in node.output]
    graph.initializer.extend(
        [
            numpy_helper.from_array(weights.astype(np.float32)[None], "class_weights"),
            numpy_helper.from_array(np.array([1], np.int64), "class_weights/axis"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Mul", [f"{output}/unweighted", "class_weights"], [f"{output}/weighted"]),
            helper.make_node("ReduceSum", [f"{output}/weighted", "class_weights/axis"], [f"{output}/total"]),
            helper.make_node("Div", [f"{output}/weighted", f"{output}/total"], [output]),
        ]
    )
