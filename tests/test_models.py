import json

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from batchface.faces.landmarks import IBUG68_NAMES
from batchface.faces.models import (
    EXPRESSION_FILE,
    EXPRESSION_FILES,
    KEYPOINTS_FILE,
    ExpressionModel,
    KeypointModel,
    opened_for_metadata,
    optimized_copy,
    to_unit,
)


@pytest.mark.parametrize(
    "path,size,output",
    [(KEYPOINTS_FILE, 96, "keypoints")] + [(path, 48, "probabilities") for path in EXPRESSION_FILES.values()],
)
def test_shipped_files_keep_the_contract(path, size, output):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "image" and inp.type == "tensor(float)" and inp.shape[1:] == [size, size, 1]
    assert isinstance(inp.shape[0], str) or inp.shape[0] is None  # any batch size
    assert [o.name for o in session.get_outputs()] == [output]
    meta = session.get_modelmeta().custom_metadata_map
    for key in (
        "batchface_task",
        "input_size",
        "input_normalization",
        "crop_template",
        "training_data",
        "training_split",
        "training_seed",
        "exported_on",
    ):
        assert meta.get(key), key
    assert int(meta["input_size"]) == size


def test_keypoint_model_gives_68_named_points_in_crop_pixels():
    model = KeypointModel()
    assert model.names == IBUG68_NAMES
    crops = np.random.default_rng(0).integers(0, 255, (3, 96, 96), dtype=np.uint8)
    points = model.predict(crops)
    assert points.shape == (3, 68, 2) and np.isfinite(points).all()
    one = model.predict(crops[1:2])
    np.testing.assert_allclose(points[1:2], one, atol=1e-3)  # batching does not change a face's answer


def test_expression_model_gives_probabilities_of_its_classes():
    model = ExpressionModel()
    assert model.classes == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    probs = model.predict(np.full((2, 48, 48), 128, np.uint8))
    assert probs.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert model.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)


def test_the_full_expression_file_reads_a_face_and_its_mirror_image_alike():
    # the file averages the network over zoomed views of the crop and their mirror images
    # (training.blocks.views_averaged)
    crops = np.random.default_rng(1).integers(0, 255, (4, 48, 48), dtype=np.uint8)
    model = ExpressionModel(EXPRESSION_FILES["fer2013-full"])
    probs, mirrored = model.predict(crops), model.predict(crops[:, :, ::-1])
    np.testing.assert_allclose(probs, mirrored, atol=0.01)  # 8-bit arithmetic rounds the two alike, not equally
    assert np.abs(probs - probs[::-1]).max() > 1e-3  # and yet it tells the faces apart


def quick_parts():
    """The two parts of the quick expression file (export.cascade), each a session of its own: the
    quick network, and the full file behind it."""
    onnx = pytest.importorskip("onnx", reason="needs the train extra: pip install -e '.[train]'")
    from onnx.utils import Extractor

    model = onnx.shape_inference.infer_shapes(onnx.load(EXPRESSION_FILES["fer2013"]))
    part = lambda i, o: Extractor(model).extract_model([i], [o]).SerializeToString()
    return ort.InferenceSession(part("image", "quick/probabilities")), ort.InferenceSession(
        part("unsure_image", "full/probabilities")
    )


def test_quick_expression_file_keeps_its_answer_where_sure_and_the_full_files_elsewhere(fer_test):
    faces = sorted(fer_test.glob("*/*.jpg"))[::50]
    crops = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in faces])
    quick, full = quick_parts()
    model = ExpressionModel(EXPRESSION_FILES["fer2013"])
    sure = json.loads(model.metadata["cascade"])["sure"]
    x = to_unit(crops)[..., None]
    first, second = quick.run(None, {"image": x})[0], full.run(None, {"unsure_image": x})[0]
    kept = first.max(1) >= sure
    assert 0.3 < kept.mean() < 0.9  # both ways are taken on real faces
    np.testing.assert_allclose(model.predict(crops), np.where(kept[:, None], first, second), atol=1e-6)
    # the part behind is the full file itself
    np.testing.assert_allclose(second, ExpressionModel(EXPRESSION_FILES["fer2013-full"]).predict(crops), atol=1e-6)


def test_a_file_of_the_wrong_task_is_refused():
    with pytest.raises(ValueError, match="not a batchface keypoints model"):
        KeypointModel(EXPRESSION_FILE)


def test_describe_lists_what_models_prints():
    facts = ExpressionModel().describe()
    assert facts["name"] == "expression" and len(facts["sha256"]) == 64
    assert facts["classes"][0] == "angry" and facts["input_size"] == 48  # typed, not JSON text


def test_a_model_opened_for_its_metadata_skips_the_graph_optimizations_and_only_there(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCHFACE_CACHE", str(tmp_path))
    with opened_for_metadata():
        checked = ExpressionModel()
    level = checked.session.get_session_options().graph_optimization_level
    assert level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert not (tmp_path / "onnxruntime").exists()  # nor is an optimized copy made
    monkeypatch.setenv("BATCHFACE_CACHE", "")
    assert checked.classes == ExpressionModel().classes
    level = ExpressionModel().session.get_session_options().graph_optimization_level
    assert level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_a_shipped_model_opens_from_its_copy_optimized_on_this_machine_with_the_same_answers(tmp_path, monkeypatch):
    crops = np.random.default_rng(0).integers(0, 256, (8, 48, 48), np.uint8)
    monkeypatch.setenv("BATCHFACE_CACHE", "")  # no cache folder: the shipped file, optimized as it opens
    assert optimized_copy(EXPRESSION_FILE) is None
    expected = ExpressionModel().predict(crops)
    monkeypatch.setenv("BATCHFACE_CACHE", str(tmp_path))
    kept = optimized_copy(EXPRESSION_FILE)
    assert kept.parent == tmp_path / "onnxruntime" and not kept.exists()
    first = ExpressionModel()  # optimizes the file, and keeps the result
    assert kept.exists() and list(kept.parent.iterdir()) == [kept]
    again = ExpressionModel()  # opens the kept copy, with nothing left to optimize
    assert again.session.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert again.classes == first.classes and again.sha256 == first.sha256  # the shipped file's
    np.testing.assert_array_equal(first.predict(crops), expected)
    np.testing.assert_array_equal(again.predict(crops), expected)


def test_a_damaged_or_unwritable_cache_costs_only_the_optimizing(tmp_path, monkeypatch):
    crops = np.random.default_rng(1).integers(0, 256, (4, 96, 96), np.uint8)
    expected = KeypointModel().predict(crops)
    monkeypatch.setenv("BATCHFACE_CACHE", str(tmp_path))
    kept = optimized_copy(KEYPOINTS_FILE)
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"not a model")  # a disk error, say
    np.testing.assert_array_equal(KeypointModel().predict(crops), expected)
    assert kept.stat().st_size > 1000  # made again
    (tmp_path / "a file").write_text("")
    monkeypatch.setenv("BATCHFACE_CACHE", str(tmp_path / "a file"))  # no folder can be made there
    np.testing.assert_array_equal(KeypointModel().predict(crops), expected)


def test_only_the_shipped_models_are_kept_optimized(tmp_path):
    copy = tmp_path / "keypoints.onnx"
    copy.write_bytes(KEYPOINTS_FILE.read_bytes())
    assert optimized_copy(copy) is None and optimized_copy(KEYPOINTS_FILE) is not None
