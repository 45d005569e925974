"""Quantize an exported face model to 8-bit integers, as onnxruntime runs it fastest on a CPU.

    python -m export.quantize runs/expression/model.onnx --crops runs/expression/calibration_crops.npz \\
        --out batchface/assets/expression.onnx

Static quantization (``onnxruntime.quantization.quantize_static``, QDQ format): weights int8 per
output channel, activations uint8 with ranges calibrated on real training crops. Weights keep 7
bits (``reduce_range``) so that the uint8 x int8 products cannot saturate on CPUs without VNNI
instructions; the file runs the same on every x86 CPU. The convolution that reads the image (one
channel) stays in float: in 8 bits it is slow (:func:`float_first_convs`). Weights stored as
float16 (the files of ``export.ensemble``) are widened to float32 first. The file keeps its source's metadata, plus
``weights`` saying how it was made, and the export reports how far its outputs move on the crops.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from batchface.faces.models import onnx_session, to_unit

#: what ``metadata_props["weights"]`` says of a quantized file
WEIGHTS_NOTE = (
    "int8 per output channel (7 bits used), uint8 activations calibrated on {n} training crops; "
    "the convolution of the image itself in float"
)


def widen_float16(model):
    """``model`` with every float16 initializer that a Cast widens replaced by its float32 value."""
    from onnx import TensorProto, numpy_helper

    halves = {t.name: t for t in model.graph.initializer if t.data_type == TensorProto.FLOAT16}
    nodes, widened = [], []
    for node in model.graph.node:
        if node.op_type == "Cast" and node.input[0] in halves:
            value = numpy_helper.to_array(halves[node.input[0]]).astype(np.float32)
            widened.append(numpy_helper.from_array(value, node.output[0]))
        else:
            nodes.append(node)
    initializers = [t for t in model.graph.initializer if t.name not in halves] + widened
    del model.graph.node[:], model.graph.initializer[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(initializers)
    return model


def after_softmax(model) -> list[str]:
    """The names of the Softmax nodes and of every node that reads their outputs, directly or not:
    the probabilities and their averaging, which stay in float (exact, and summing to 1)."""
    readers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    found, todo = {}, [n for n in model.graph.node if n.op_type == "Softmax"]
    while todo:
        node = todo.pop()
        if node.name not in found:
            found[node.name] = node
            todo += [r for out in node.output for r in readers.get(out, [])]
    return list(found)


def float_first_convs(model) -> list[str]:
    """The names of the convolutions reading one channel (the image), to be left in float; in
    ``model`` (its nodes named), the ReLU after each such convolution moved behind the max-pool that
    follows it (the two commute: the same answers).

    Why: onnxruntime's 8-bit convolution of a one-channel image costs as much as the network's
    largest layers (19 % of the expression file's time for 1.4 % of its multiply-adds), its float
    convolution a sixth of that. With the ReLU last, onnxruntime quantizes behind the max-pool and
    pools in float; next to the quantizer's output it would move the quantization above the pool, and
    pool in 8 bits in a layout that is slower than the convolution saved (``reports/speed-levers.md``).
    """
    weights = {t.name: t for t in model.graph.initializer}
    readers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    only_reader = lambda name: readers[name][0] if len(readers.get(name, ())) == 1 else None
    groups = lambda node: next((a.i for a in node.attribute if a.name == "group"), 1)
    names, relu_after = [], {}  # a moved ReLU by the name of the pool it now follows
    for conv in model.graph.node:
        # one input channel a filter and one group: not a depthwise convolution, whose filters read one each
        if conv.op_type != "Conv" or conv.input[1] not in weights or weights[conv.input[1]].dims[1] != 1:
            continue
        if groups(conv) != 1:
            continue
        names.append(conv.name)
        relu = only_reader(conv.output[0])
        pool = only_reader(relu.output[0]) if relu is not None and relu.op_type == "Relu" else None
        if pool is not None and pool.op_type == "MaxPool":  # conv -> relu -> pool becomes conv -> pool -> relu
            pooled = pool.output[0]
            pool.input[0], pool.output[0] = conv.output[0], relu.output[0]
            relu.input[0], relu.output[0] = relu.output[0], pooled
            relu_after[pool.name] = relu
    if relu_after:  # each moved ReLU placed right after its pool (nodes named, as quantize() names them)
        moved = {r.name for r in relu_after.values()}
        nodes = []
        for node in model.graph.node:
            if node.name not in moved:
                nodes += [node] + ([relu_after[node.name]] if node.name in relu_after else [])
        nodes = [type(n).FromString(n.SerializeToString()) for n in nodes]  # copies: the graph's are replaced
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return names


def read_crops(path, limit: int = 512) -> np.ndarray:
    """Calibration crops [N, S, S, 1] float32 in [0, 1] from an .npz's ``crops`` (uint8 or [0, 1] floats)."""
    crops = np.load(path)["crops"][:limit]
    crops = to_unit(crops) if crops.dtype == np.uint8 else crops.astype(np.float32)
    return crops.reshape(crops.shape[:3] + (1,))


def quantize(source, crops: np.ndarray, out, batch: int = 32) -> dict:
    """Write ``source`` quantized to ``out``; returns how far its outputs move on ``crops``."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = widen_float16(onnx.load(source))
    for i, node in enumerate(model.graph.node):  # the quantizer leaves nodes out by name
        node.name = node.name or f"{node.op_type}_{i}"
    in_float = float_first_convs(model)
    metadata = {p.key: p.value for p in model.metadata_props}

    class Crops(CalibrationDataReader):
        def __init__(self):
            self.starts = iter(range(0, len(crops), batch))

        def get_next(self):
            start = next(self.starts, None)
            return None if start is None else {"image": crops[start : start + batch]}

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        wide, prepared = Path(tmp) / "wide.onnx", Path(tmp) / "prepared.onnx"
        onnx.save(model, wide)
        quant_pre_process(str(wide), str(prepared), skip_symbolic_shape=True)
        partial = out.with_name(out.name + ".partial")
        quantize_static(
            str(prepared),
            str(partial),
            Crops(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=after_softmax(onnx.load(prepared)) + in_float,
        )
    quantized = onnx.load(partial)
    del quantized.metadata_props[:]
    onnx.helper.set_model_props(quantized, {**metadata, "weights": WEIGHTS_NOTE.format(n=len(crops))})
    onnx.save(quantized, partial)
    expected = onnx_session(source).run(None, {"image": crops})[0]
    got = onnx_session(partial).run(None, {"image": crops})[0]
    partial.replace(out)
    moved = np.abs(expected - got)
    return {
        "max_abs_diff": float(moved.max()),
        "mean_abs_diff": float(moved.mean()),
        "same_argmax": float((expected.argmax(-1) == got.argmax(-1)).mean()),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="an exported face model (.onnx)")
    p.add_argument("--crops", required=True, help="calibration crops: an .npz with `crops` (training crops)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    print(args.out, quantize(args.model, read_crops(args.crops), args.out))


if __name__ == "__main__":
    main()
