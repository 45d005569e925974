"""Put a quick expression network in front of the full expression file, in one file.

    python -m export.cascade runs/expression-student runs/expression.onnx --sure 0.6 \\
        --card reports/expression-quick/card.json --out batchface/assets/expression-quick.onnx

The file reads every face with the quick network (``RUN/model.onnx``: one read, made by
``export.keras_to_onnx RUN --one-read --int8``; the network distilled from the full file, so that
it is sure where the full file is). A face whose most probable class the quick network gives at
least ``--sure`` keeps the quick network's probabilities; only the others go through the full file
(``export.ensemble``), inside the graph (``NonZero``, ``Gather``, ``ScatterND``), so that the
runtime makes one call as for any expression file. The file keeps what the runtime reads of the
full file's metadata and how its members were made (:data:`FULL_KEYS`), and says the rest in
``cascade``. The export fails unless the file matches the two files run apart to
``TOLERANCE`` on real crops.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

from batchface.faces.models import onnx_session, sha256_of
from export.common import parity_images, set_metadata, write_card
from export.ensemble import SHARED_KEYS, card_facts

TOLERANCE = 1e-5  # the same kernels on the same crops: only the order of the graph's nodes differs
#: what the file keeps of the full file's metadata: what the runtime reads, and how the members were made
FULL_KEYS = (*SHARED_KEYS, "classes", "training_seed", "training_epochs", "ensemble_members", "weights")


def compose(quick, full, sure: float):
    """One graph (``onnx.ModelProto``): ``quick``'s probabilities, where their largest is below ``sure``
    replaced by ``full``'s, which reads only those faces. Both models read ``image`` and answer
    ``probabilities``."""
    import onnx
    from onnx import TensorProto, helper

    parts = {}
    for prefix, model in (("quick/", quick), ("full/", full)):
        graph = onnx.compose.add_prefix(model, prefix).graph
        source = "image" if prefix == "quick/" else "unsure_image"
        for node in graph.node:
            node.input[:] = [source if name == prefix + "image" else name for name in node.input]
        parts[prefix] = graph
    q, f = parts["quick/"], parts["full/"]
    axes_input = default_opset(full) >= 18  # ReduceMax's axes became an input at opset 18
    top = (
        helper.make_node("ReduceMax", ["quick/probabilities", "axis1"], ["quick_top"], keepdims=0)
        if axes_input
        else helper.make_node("ReduceMax", ["quick/probabilities"], ["quick_top"], axes=[1], keepdims=0)
    )
    nodes = [
        *q.node,
        top,
        helper.make_node("Less", ["quick_top", "sure"], ["unsure"]),
        helper.make_node("NonZero", ["unsure"], ["unsure_rows"]),  # [1, K]
        helper.make_node("Transpose", ["unsure_rows"], ["unsure_at"]),  # [K, 1]: ScatterND's indices
        helper.make_node("Squeeze", ["unsure_rows", "axis0"], ["unsure_index"]),  # [K]
        helper.make_node("Gather", ["image", "unsure_index"], ["unsure_image"], axis=0),
        *f.node,
        helper.make_node("ScatterND", ["quick/probabilities", "unsure_at", "full/probabilities"], ["probabilities"]),
    ]
    constants = [
        helper.make_tensor("sure", TensorProto.FLOAT, [], [sure]),
        helper.make_tensor("axis0", TensorProto.INT64, [1], [0]),
        *([helper.make_tensor("axis1", TensorProto.INT64, [1], [1])] if axes_input else []),
    ]
    output = onnx.ValueInfoProto()
    output.CopyFrom(full.graph.output[0])
    graph = helper.make_graph(
        nodes, "expression_cascade", [quick.graph.input[0]], [output], [*q.initializer, *f.initializer, *constants]
    )
    graph.input[0].name = "image"
    versions: dict[str, int] = {}  # every domain either file uses (a quantized one adds some)
    for opset in (*quick.opset_import, *full.opset_import):
        versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    opsets = [helper.make_opsetid(domain, version) for domain, version in versions.items()]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=max(quick.ir_version, full.ir_version))
    onnx.checker.check_model(model)
    return model


def default_opset(model) -> int:
    """The version of the default ONNX domain a model imports."""
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def export(
    quick_run, full, sure: float, out, card: dict | None = None, report: str = "reports/expression-quick/report.md"
) -> dict:
    """Compose ``quick_run/model.onnx`` and the file ``full``, check parity, write the file and its card
    (which names ``report``, the file's evaluation report)."""
    import onnx

    quick_run, out = Path(quick_run), Path(out)
    quick, whole = onnx.load(quick_run / "model.onnx"), onnx.load(full)
    metas = [{p.key: p.value for p in m.metadata_props} for m in (quick, whole)]
    differ = [k for k in (*SHARED_KEYS, "classes") if metas[0].get(k) != metas[1].get(k)]
    if default_opset(quick) != default_opset(whole):
        differ.append("ONNX opset")
    if metas[1].get("batchface_task") != "expression" or differ:
        raise SystemExit(f"{quick_run} and {full} are not expression files on the same crops ({', '.join(differ)})")
    if not 0 < sure <= 1:
        raise SystemExit(f"--sure must be in (0, 1], not {sure}")
    train_meta = json.loads((quick_run / "train_meta.json").read_text())
    quick_facts = {
        "run": quick_run.name,
        "epochs": train_meta["epochs_run"],
        "seed": train_meta["seed"],
        "teacher": train_meta.get("teacher"),
        "weights": metas[0].get("weights"),
        "sure": sure,
    }
    props = {
        **{k: metas[1][k] for k in FULL_KEYS if k in metas[1]},  # not the card of a report on the full file alone
        "cascade": json.dumps(quick_facts),
        "exported_on": datetime.date.today().isoformat(),
        **(card or {}),
    }
    model = compose(quick, whole, sure)
    set_metadata(model, props)

    sample = parity_images(quick_run)
    first, second = (onnx_session(p).run(None, {"image": sample})[0] for p in (quick_run / "model.onnx", full))
    expected = np.where(first.max(1, keepdims=True) >= sure, first, second)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    onnx.save(model, partial)
    got = onnx_session(partial).run(None, {"image": sample})[0]
    diff = float(np.abs(expected - got).max())
    if not diff <= TOLERANCE:
        partial.unlink()
        raise SystemExit(f"parity check failed: max |two files apart - cascade| = {diff:.3g} > {TOLERANCE}")
    partial.replace(out)
    figures = {"parity_max_abs_diff": diff, "sha256": sha256_of(out)}
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB; on {len(sample)} real crops: {figures}")
    facts = card_facts(metas[1], json.loads(metas[1]["ensemble_members"]), quantized=True)
    facts[1] = facts[1].replace("weights in the file", "weights in the members")
    teacher = quick_facts["teacher"]
    taught = (
        f"taught by `{teacher['file']}` at weight {teacher['weight']} beside the true labels"
        if teacher
        else "trained on the true labels"
    )
    facts[2:2] = [
        f"- **In front of the members:** a quick network, `{quick_run.name}` (`training/train_expression.py`: "
        f"one ResNet-style CNN, {train_meta['params']:,} parameters, {taught}; seed {train_meta['seed']}, "
        f"{train_meta['epochs_run']} epochs), reading the crop once, 8-bit. A face whose most probable class "
        f"it gives at least {sure} keeps its probabilities; only the others are read by the members below "
        "(`export/cascade.py`).",
    ]
    write_card(out, "expression", facts, "`export/cascade.py`", "the two files run apart", figures, card or {}, report)
    return figures


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("quick", help="the quick network's training run folder, with model.onnx read once (8-bit)")
    p.add_argument("full", help="the full expression file (export.ensemble)")
    p.add_argument("--sure", type=float, required=True, help="the quick network's top probability that it keeps")
    p.add_argument("--out", required=True, help="the ONNX file; its model card is written beside it (.md)")
    p.add_argument("--card", help="a JSON file of model-card facts (metrics) to embed")
    args = p.parse_args(argv)
    card = json.loads(Path(args.card).read_text()) if args.card else {}
    export(args.quick, args.full, args.sure, args.out, card)


if __name__ == "__main__":
    main()
