"""Average the exported models of several training runs of one task into one file.

    python -m export.ensemble runs/expression-a runs/expression-b runs/expression-c --int8 \\
        --card reports/expression/card.json --out batchface/assets/expression.onnx

Each run folder holds the member's file as ``model.onnx`` (``export.keras_to_onnx RUN --out
RUN/model.onnx``), its ``train_meta.json`` and ``options.json``. The members must agree on what the
runtime reads (task, input size, normalisation, crop template, classes or keypoint names); the file
feeds all of them the one ``image`` input and its output (``probabilities``, or ``keypoints`` in the
pixels of the one crop they share) is the mean of theirs. Weights are stored as float16 and cast to
float32 when onnxruntime loads the file (it folds the casts), so the arithmetic stays float32 and the
file is half the size. The export fails unless the file matches the mean of its float32 members to
``TOLERANCE`` on real crops. ``--int8`` then quantizes it (``export.quantize``, calibrated on the first
run's ``calibration_crops.npz``) and says how far its answers move.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

from batchface.faces.models import onnx_session
from export.common import (
    add_class_weights,
    finish,
    input_line,
    parity_images,
    parse_class_weights,
    reweighed,
    set_metadata,
    what,
    write_card,
)

#: what every member must share: what the runtime reads from the file (task to classes or keypoint
#: names), and the data and split (members chosen on one validation split must all have been kept off it)
SHARED_KEYS = (
    "batchface_task",
    "input_size",
    "input_normalization",
    "crop_template",
    "training_data",
    "training_split",
)
TASK_KEYS = {"expression": "classes", "keypoints": "keypoint_names"}
#: largest |float16-weight file - mean of the float32 members| allowed, on a probability or on a
#: point divided by the crop side: float16 keeps 11 significant bits
TOLERANCE = 5e-3


def merge(members: list):
    """One graph running every member (``onnx.ModelProto``, one input ``image``, one output) on the
    shared input and averaging their outputs; weights as float16."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights, outputs = [], [], []
    for i, member in enumerate(members):
        member = onnx.compose.add_prefix(member, f"m{i}/")
        graph = member.graph
        own_input = graph.input[0].name
        for node in graph.node:
            node.input[:] = ["image" if name == own_input else name for name in node.input]
        nodes += graph.node
        outputs.append(graph.output[0].name)
        for tensor in graph.initializer:
            if tensor.data_type != TensorProto.FLOAT:
                weights.append(tensor)
                continue
            # stored as float16 under another name, cast back to the name the member's nodes read
            half = numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), tensor.name + "/fp16")
            weights.append(half)
            nodes.insert(0, helper.make_node("Cast", [half.name], [tensor.name], to=TensorProto.FLOAT))
    first = members[0].graph
    output = first.output[0].name
    nodes.append(helper.make_node("Mean", outputs, [output]))
    graph = helper.make_graph(nodes, f"{output}_ensemble", [first.input[0]], [first.output[0]], weights)
    graph.input[0].name = "image"
    model = helper.make_model(graph, opset_imports=members[0].opset_import, ir_version=members[0].ir_version)
    onnx.checker.check_model(model)
    return model


def export(
    runs, out, card: dict | None = None, int8: bool = False, class_weights: str = "", report: str | None = None
) -> dict:
    """Merge the runs' ``model.onnx``, weigh the classes if asked (``"neutral=2,happy=1.5"``, expression
    only), attach metadata, check parity, quantize if asked (calibrated on the first run's
    ``calibration_crops.npz``), write the model card (naming the evaluation ``report``; default
    ``reports/<task>/report.md``)."""
    import onnx

    runs, out = [Path(r) for r in runs], Path(out)
    members = [onnx.load(run / "model.onnx") for run in runs]
    metas = [{p.key: p.value for p in m.metadata_props} for m in members]
    task = metas[0].get("batchface_task")
    if task not in TASK_KEYS:
        raise SystemExit(f"{runs[0]}: a {task!r} model cannot be averaged (expression or keypoints can)")
    keys = SHARED_KEYS + (TASK_KEYS[task],)
    for run, meta, member in zip(runs[1:], metas[1:], members[1:]):
        differ = [k for k in keys if meta.get(k) != metas[0].get(k)]
        if (member.ir_version, member.opset_import) != (members[0].ir_version, members[0].opset_import):
            differ.append("ONNX version or opset")
        if differ:
            raise SystemExit(f"{run} differs from {runs[0]} in {', '.join(differ)}: they cannot be averaged")
    model = merge(members)
    weights = parse_class_weights(class_weights, json.loads(metas[0]["classes"])) if class_weights else None
    if weights is not None:
        add_class_weights(model, weights)
    facts = [member_facts(run, m) for run, m in zip(runs, members)]
    props = {k: metas[0][k] for k in keys}
    if (
        all(m.get("training_targets") == metas[0].get("training_targets") for m in metas)
        and "training_targets" in metas[0]
    ):
        props["training_targets"] = metas[0]["training_targets"]
    props.update(
        {  # one per member, in member order, as ensemble_members has them
            "training_seed": ", ".join(str(f["seed"]) for f in facts),
            "training_epochs": ", ".join(str(f["epochs"]) for f in facts),
            "ensemble_members": json.dumps(facts),
            "exported_on": datetime.date.today().isoformat(),
        }
    )
    if weights is not None:
        props["class_weights"] = dict(zip(json.loads(metas[0]["classes"]), weights.tolist()))
    props.update(card or {})
    set_metadata(model, props)
    sample = parity_images(runs[0])
    expected = np.mean([onnx_session(run / "model.onnx").run(None, {"image": sample})[0] for run in runs], axis=0)
    if weights is not None:
        expected = reweighed(expected, weights)
    figures = finish(
        model,
        out,
        expected,
        sample,
        int(props["input_size"]) if task == "keypoints" else 1,
        TOLERANCE,
        runs[0] / "calibration_crops.npz" if int8 else None,
    )
    write_card(
        out,
        task,
        card_facts(props, facts, "int8_mean_abs_diff" in figures),
        "`export/ensemble.py`",
        "the mean of the float32 members",
        figures,
        card or {},
        report,
    )
    return figures


def member_facts(run: Path, member) -> dict:
    """What the model card says of one member: its run, epochs, seed, options, parameters, views."""
    from onnx import TensorProto, numpy_helper

    meta = json.loads((run / "train_meta.json").read_text())
    options = json.loads((run / "options.json").read_text())
    weights = sum(numpy_helper.to_array(t).size for t in member.graph.initializer if t.data_type == TensorProto.FLOAT)
    # the views the member's file runs (its export may have chosen others than its run's test_time_zooms)
    zooms = {p.key: p.value for p in member.metadata_props}.get("test_time_zooms")
    facts = {"run": run.name, "epochs": meta["epochs_run"], "batch": meta["batch_size"], "seed": meta["seed"]}
    if meta["task"] == "keypoints":
        facts["detectors"] = options.get("detectors", "")
    else:
        facts["erase"] = options.get("erase", 0.0)
        facts["like_runtime"] = "yes" if options.get("like_runtime") else "no"
        facts["dim"] = options.get("dim", 0.0)
        facts["turn"] = options.get("turn", 0.0)
        facts["wild"] = wild_draws(options)
        facts["standardize"] = "yes" if options.get("standardize") else "no"
        facts["init"] = started_from(options.get("init"))
    return {
        **facts,
        "patience": options.get("patience"),
        "backend": meta.get("backend", "tensorflow"),
        "weights_in_file": int(weights),
        "test_time_zooms": json.loads(zooms) if zooms else None,
        "soup": len(meta.get("soup", [])),  # the runs whose weights were averaged (training/soup.py); 0: none
    }


def wild_draws(options: dict) -> str:
    """The share of a member's training faces drawn from video faces labelled by eye, and which classes
    were drawn more often: ``0.25 (happy x6)``; ``0`` for none."""
    if not options.get("wild"):
        return "0"
    repeats = ", ".join(item.replace("=", " x") for item in filter(None, options.get("wild_repeat", "").split(",")))
    return f"{options.get('wild_share', 0.0):g}" + (f" ({repeats})" if repeats else "")


def started_from(init: str | None) -> str:
    """The run a member's training started from, with that run's epochs; "-" for one from scratch."""
    if not init:
        return "-"
    meta = json.loads((Path(init) / "train_meta.json").read_text())
    return f"{Path(init).name} ({meta['epochs_run']} epochs)"


def card_facts(props: dict, facts: list[dict], quantized: bool) -> list[str]:
    """The model card's lines on the averaged file: task, networks, input, data, split, views, members."""
    task = props["batchface_task"]
    zooms = facts[0]["test_time_zooms"] or [1.0]
    if task == "keypoints":
        views = (
            "the crop as it is, and the members' points are averaged"
            if zooms == [1.0]
            else f"the crop zoomed about its centre by {' and '.join(map(str, zooms))}, points mapped back to the "
            "crop; the points of all views and members are averaged"
        )
        option = ("detectors whose points cut training crops", "detectors")
    else:
        views = (
            f"the crop zoomed about its centre by {' and '.join(map(str, zooms))}, each view also mirrored; "
            "the outputs of all views and members are averaged"
        )
        option = (
            "random erasing | degraded as at run time | share darkened | turned up to (degrees) | share of "
            "video faces labelled by eye | each face standardized | started from",
            "erase",
        )
    lines = [
        what(task, props),
        f"- **Architecture:** the mean of {len(facts)} ResNet-style CNNs (`training/blocks.py`), trained "
        f"alike but for the options below; {sum(f['weights_in_file'] for f in facts):,} weights in the file "
        "(batch norms folded into the convolutions), "
        + ("8-bit" if quantized else "stored as float16, computed in float32")
        + "."
        + (
            f" Each member is the mean of the weights of {facts[0]['soup']} runs fine-tuned alike from one start, "
            "with the seeds below (`training/soup.py`)."
            if facts[0]["soup"]
            else ""
        ),
        input_line(props["input_size"]),
        f"- **Training data:** `{props['training_data']}`"
        + (f"; targets: {props['training_targets']}" if "training_targets" in props else "")
        + ".",
        f"- **Split:** {props['training_split']} (the same for every member).",
        f"- **Inside the file:** each member runs on {views}."
        + (class_weights_line(props["class_weights"]) if "class_weights" in props else ""),
        f"- **Members** (`training/train_{task}.py`):",
        "",
        f"| run | epochs | batch | seed | {option[0]} | early-stopping patience | Keras backend |",
        "| --- " * (7 + 6 * (task == "expression")) + "|",
    ]
    expression_columns = " | {like_runtime} | {dim:g} | {turn:g} | {wild} | {standardize} | {init}"
    more = (expression_columns if task == "expression" else "").format
    lines += [
        f"| {f['run']} | {f['epochs']} | {f['batch']} | {f['seed']} | {f[option[1]]}{more(**f)} | {f['patience']} | "
        f"{f['backend']} |"
        for f in facts
    ]
    return lines + [""]


def class_weights_line(weights: dict) -> str:
    named = ", ".join(f"{c} x{w:g}" for c, w in weights.items() if w != 1)
    return (
        f" Then each class's probability is multiplied by its weight ({named}; the others x1) and the"
        " probabilities divided by their sum: FER+'s class priors moved toward those of the users' photos and"
        " video (`training/class_weights.py` chose the weights on the validation sets)."
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="training run folders, each with model.onnx, train_meta.json, options.json")
    p.add_argument("--out", required=True, help="the averaged ONNX file; its model card is written beside it (.md)")
    p.add_argument("--card", help="a JSON file of model-card facts (metrics) to embed")
    p.add_argument("--int8", action="store_true", help="quantize the file to 8 bits (export.quantize)")
    p.add_argument("--class-weights", default="", help="expression: weigh classes, e.g. neutral=2,happy=1.5")
    p.add_argument("--report", help="the evaluation report the model card names (default reports/<task>/report.md)")
    args = p.parse_args(argv)
    card = json.loads(Path(args.card).read_text()) if args.card else {}
    export(args.runs, args.out, card, args.int8, args.class_weights, args.report)


if __name__ == "__main__":
    main()
