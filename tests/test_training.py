"""Training readers, augmentation and the Keras -> ONNX export ("CI exports"). Needs the train extra."""

import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

pytest.importorskip("tensorflow", reason="needs the train extra: pip install -e '.[train]'")

import onnx  # noqa: E402

from batchface.faces.landmarks import IBUG68_NAMES, KAGGLE_NAMES, kaggle_keypoints  # noqa: E402
from training.data import (  # noqa: E402
    FER_CLASSES,
    person_of,
    read_fer_csv,
    read_fer_folders,
    read_ibug_csv,
    read_kaggle_keypoints,
    select_classes,
)
from training.metrics import wilson  # noqa: E402
from training.train_keypoints import IBUG68_FLIP, KAGGLE_FLIP, SIZE, masked_unit_distance, masked_unit_mse, sample  # noqa: E402


def test_fer_csv_in_both_column_orders(tmp_path):
    pixels = " ".join(str(i % 256) for i in range(48 * 48))
    (tmp_path / "fer2013.csv").write_text(f"emotion,pixels,Usage\n3,{pixels},Training\n5,{pixels},PublicTest\n")
    (tmp_path / "icml.csv").write_text(f"emotion, Usage, pixels\n0,Training,{pixels}\n6,PrivateTest,{pixels}\n")
    fer = read_fer_csv(tmp_path / "fer2013.csv")
    assert fer["Training"][0].shape == (1, 48, 48) and fer["Training"][1].tolist() == [3]
    assert fer["Training"][0][0, 0, :3].tolist() == [0, 1, 2] and fer["PublicTest"][1].tolist() == [5]
    icml = read_fer_csv(tmp_path / "icml.csv")
    assert icml["Training"][1].tolist() == [0] and icml["PrivateTest"][1].tolist() == [6]


def test_fer_folders_take_usage_from_file_names(tmp_path):
    for split, cls, name in [
        ("train", "happy", "Training_1.jpg"),
        ("train", "disgust", "Training_2.jpg"),
        ("test", "fear", "PublicTest_3.jpg"),
    ]:
        (tmp_path / split / cls).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / split / cls / name), np.full((48, 48), 100, np.uint8))
    data = read_fer_folders(tmp_path)
    assert sorted(data) == ["PublicTest", "Training"]
    assert sorted(data["Training"][1].tolist()) == [FER_CLASSES.index("disgust"), FER_CLASSES.index("happy")]
    assert data["PublicTest"][2] == ["test/fear/PublicTest_3.jpg"]


def test_five_class_variant_drops_fear_and_neutral():
    labels = np.arange(7)
    _, new, keep = select_classes(np.zeros((7, 1)), labels, ("angry", "disgust", "sad", "happy", "surprise"))
    assert keep.tolist() == [True, True, False, True, True, True, False]
    assert new.tolist() == [0, 1, 3, 2, 4]  # angry disgust happy sad surprise -> their index in the 5


def test_kaggle_keypoints_csv_with_missing_values(tmp_path):
    cols = [f"{n}_{a}" for n in KAGGLE_NAMES for a in ("x", "y")]
    values = [str(float(i)) for i in range(30)]
    values[4] = ""
    image = " ".join(["7"] * 96 * 96)
    (tmp_path / "training.csv").write_text(",".join(cols + ["Image"]) + "\n" + ",".join(values + [image]) + "\n")
    images, points = read_kaggle_keypoints(tmp_path / "training.csv")
    assert images.shape == (1, 96, 96) and images[0, 5, 5] == 7
    assert points.shape == (1, 15, 2) and np.isnan(points[0, 2, 0]) and points[0, 14, 1] == 29.0


def test_ibug_csv_and_person_split(tmp_path):
    cv2.imwrite(str(tmp_path / "Jim_Smith_01.jpg"), np.zeros((100, 80, 3), np.uint8))
    header = "," + ",".join(str(i) for i in range(136))
    row = "Jim_Smith_01.jpg," + ",".join(str(float(i)) for i in range(136))
    (tmp_path / "k.csv").write_text(header + "\r\n" + row + "\r\n")
    images, points, names = read_ibug_csv(tmp_path / "k.csv", tmp_path)
    assert images[0].shape == (100, 80) and points.shape == (1, 68, 2) and tuple(points[0, 1]) == (2.0, 3.0)
    assert person_of(names[0]) == "Jim_Smith"


def face_points():
    """A plausible upright 68-point face in a 200x200 image (x grows to the image right)."""
    rng = np.random.default_rng(0)
    pts = np.zeros((68, 2))
    pts[0:17] = np.stack([np.linspace(40, 160, 17), 100 + 50 * np.sin(np.linspace(0, np.pi, 17))], 1)
    pts[17:22], pts[22:27] = [[50 + 8 * i, 70] for i in range(5)], [[118 + 8 * i, 70] for i in range(5)]
    pts[27:31], pts[31:36] = [[100, 80 + 8 * i] for i in range(4)], [[88 + 6 * i, 115] for i in range(5)]
    pts[36:42] = [[60, 85], [66, 82], [74, 82], [80, 85], [74, 88], [66, 88]]
    pts[42:48] = [[120, 85], [126, 82], [134, 82], [140, 85], [134, 88], [126, 88]]
    pts[48:60] = [[75 + 50 * (i / 11), 140 + 3 * rng.random()] for i in range(12)]
    pts[54] = [125, 140]
    pts[48] = [75, 140]
    pts[60:68] = [[85 + 4 * i, 142] for i in range(8)]
    return pts.astype(np.float32)


@pytest.mark.parametrize("flip,names", [(IBUG68_FLIP, IBUG68_NAMES), (KAGGLE_FLIP, KAGGLE_NAMES)])
def test_flip_permutations_are_involutions(flip, names):
    assert sorted(flip.tolist()) == list(range(len(names)))
    assert (flip[flip] == np.arange(len(names))).all()


def test_kaggle_flip_swaps_left_and_right_names():
    for i, j in enumerate(KAGGLE_FLIP):
        swapped = KAGGLE_NAMES[i].replace("left", "@").replace("right", "left").replace("@", "right")
        assert KAGGLE_NAMES[j] == swapped


def test_ibug_flip_agrees_with_the_kaggle_flip():
    # relabelling the 68 points by their mirror twins relabels the derived Kaggle points the same way
    points = np.random.default_rng(0).random((68, 2))
    np.testing.assert_allclose(
        kaggle_keypoints(points[IBUG68_FLIP], IBUG68_NAMES), kaggle_keypoints(points, IBUG68_NAMES)[KAGGLE_FLIP]
    )
    assert IBUG68_FLIP[0] == 16 and IBUG68_FLIP[8] == 8 and IBUG68_FLIP[30] == 30 and IBUG68_FLIP[62] == 62


def test_flipped_samples_swap_left_and_right_labels():
    pts = face_points()
    image = np.zeros((200, 200), np.uint8)
    left_eye = kaggle_keypoints(pts, IBUG68_NAMES)[KAGGLE_NAMES.index("left_eye_center")]
    cv2.circle(image, tuple(int(v) for v in left_eye), 4, 255, -1)  # a mark on the subject's left eye
    flipped = 0
    rng = np.random.default_rng(3)
    for _ in range(20):
        patch, crop_pts = sample(image, pts, IBUG68_NAMES, rng, 0.0, True, IBUG68_FLIP)
        k = dict(zip(KAGGLE_NAMES, kaggle_keypoints(crop_pts, IBUG68_NAMES)))
        # whatever the flip, the subject's left eye is on the image right, and so on
        assert k["left_eye_center"][0] > k["right_eye_center"][0]
        assert k["mouth_left_corner"][0] > k["mouth_right_corner"][0]
        assert crop_pts[16, 0] > crop_pts[0, 0]
        # the mark follows the pixels: under the left-eye label unflipped, under the right-eye one flipped
        mark = np.array(np.unravel_index(cv2.GaussianBlur(patch, (9, 9), 0).argmax(), patch.shape)[::-1])
        to_left, to_right = (np.linalg.norm(mark - k[n]) for n in ("left_eye_center", "right_eye_center"))
        assert min(to_left, to_right) < 3
        flipped += to_right < to_left
    assert 0 < flipped < 20


def test_unflipped_sample_lands_on_the_template():
    from batchface.faces import crop
    from batchface.faces.landmarks import alignment_points

    patch, crop_pts = sample(
        np.zeros((200, 200), np.uint8), face_points(), IBUG68_NAMES, np.random.default_rng(0), 0.0, False, IBUG68_FLIP
    )
    np.testing.assert_allclose(alignment_points(crop_pts, IBUG68_NAMES), crop.TEMPLATE * SIZE, atol=1.5)


def test_keypoint_losses_skip_missing_points_and_speak_crop_units():
    true = np.array([[10.0, 20.0, np.nan, np.nan, 50.0, 60.0]], np.float32)  # the second point is missing
    pred = np.array([[13.0, 24.0, 0.0, 0.0, 50.0, 60.0]], np.float32)  # 5 px off, ignored, exact
    assert float(masked_unit_distance(true, pred)) == pytest.approx(5 / SIZE / 2, abs=1e-6)  # eps under the root
    assert float(masked_unit_mse(true, pred)) == pytest.approx((3**2 + 4**2) / SIZE**2 / 4, rel=1e-5)


@pytest.mark.parametrize("zoom", [1.08, 0.93])
def test_zoom_matrix_zooms_as_opencv_does(zoom):
    from training.blocks import zoom_matrix

    image = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    m = zoom_matrix(48, zoom)
    opencv = cv2.warpAffine(
        image,
        cv2.getRotationMatrix2D((23.5, 23.5), 0, zoom),
        (48, 48),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    np.testing.assert_allclose(m @ image @ m.T, opencv, atol=1e-5)


def test_points_zoom_averaged_maps_each_view_back_to_the_crop():
    """A network that answers the centroid of a bright blob, wrapped with zoomed views: every view's
    point mapped back lands on the blob (zoom 1.5 unmapped would be 4 px off)."""
    import keras

    from training.blocks import points_zoom_averaged

    grid = np.arange(SIZE, dtype=np.float32)

    def centroid(t):
        w = t[..., 0] / keras.ops.sum(t, axis=(1, 2, 3))[:, None, None]
        return keras.ops.stack(
            [keras.ops.sum(w * grid[None, None, :], axis=(1, 2)), keras.ops.sum(w * grid[None, :, None], axis=(1, 2))],
            axis=-1,
        )

    inputs = keras.Input((SIZE, SIZE, 1))
    model = keras.Model(inputs, keras.layers.Lambda(centroid)(inputs))
    yy, xx = np.mgrid[:SIZE, :SIZE]
    blob = np.exp(-((xx - 30.0) ** 2 + (yy - 40.0) ** 2) / (2 * 3.0**2)).astype(np.float32)
    for zooms in ((1.0,), (1.08,), (1.0, 1.08, 1.5)):
        points = points_zoom_averaged(model, zooms).predict(blob[None, ..., None], verbose=0)
        np.testing.assert_allclose(points[0], [30.0, 40.0], atol=0.05)


def test_random_erase_fills_one_rectangle_of_the_asked_area_and_keeps_the_rest():
    from training.augment import random_erase

    rng = np.random.default_rng(0)
    image = np.full((48, 48), 2.0, np.float32)  # 2 is outside the noise's [0, 1)
    for _ in range(50):
        erased = random_erase(rng, image, area=(0.1, 0.2))
        ys, xs = np.nonzero(erased != 2.0)
        box = erased[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert (box < 1).all()  # one solid rectangle of noise
        assert 0.1 * 48 * 48 * 0.8 <= box.size <= 0.2 * 48 * 48 * 1.2  # rounding of the sides
    assert (image == 2.0).all()  # the input is left as it was


def test_batches_give_fit_every_item_once_an_epoch_in_a_new_seeded_order():
    """What Keras' fit reads from training.common.batches: each epoch all items, none twice, the
    order changing between epochs and fixed by the seed; without shuffling, the order as given."""
    import keras

    from training.common import batches

    def orders(shuffle, seed):
        seen = []

        def make_batch(idx):
            seen.append(idx.copy())
            return idx[:, None].astype(np.float32), np.zeros(len(idx), np.float32)

        inputs = keras.Input((1,))
        model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
        model.compile(optimizer="sgd", loss="mse")
        model.fit(batches(np.arange(10), make_batch, 4, shuffle, seed), epochs=3, verbose=0, shuffle=False)
        epochs = np.concatenate(seen[1:]).reshape(3, 10)  # seen[0]: the batch read for dtypes and shapes
        assert [len(b) for b in seen[1:]] == [4, 4, 2] * 3
        return epochs

    epochs = orders(True, 7)
    assert (np.sort(epochs, axis=1) == np.arange(10)).all()
    assert len({tuple(e) for e in epochs}) == 3
    np.testing.assert_array_equal(orders(True, 7), epochs)
    assert (orders(False, 7) == np.arange(10)).all()


def test_py_dataset_batches_give_every_item_once_an_epoch_in_a_new_seeded_order():
    """The batches of another Keras backend (JAX on a GPU machine) as Keras' fit reads them: the
    same promises as the tf.data batches above."""
    import keras

    from training.common import _py_dataset

    def make_batch(idx):
        return idx[:, None].astype(np.float32), np.zeros(len(idx), np.float32)

    def orders(shuffle, seed):
        ds = _py_dataset(np.arange(10), make_batch, 4, shuffle, seed)
        assert isinstance(ds, keras.utils.PyDataset) and len(ds) == 3
        epochs = []
        for _ in range(3):
            xs = [ds[i][0][:, 0] for i in range(len(ds))]
            assert [len(x) for x in xs] == [4, 4, 2]
            epochs.append(np.concatenate(xs))
            ds.on_epoch_end()
        return np.array(epochs)

    epochs = orders(True, 7)
    assert (np.sort(epochs, axis=1) == np.arange(10)).all()
    assert len({tuple(e) for e in epochs}) == 3
    np.testing.assert_array_equal(orders(True, 7), epochs)
    assert (orders(False, 7) == np.arange(10)).all()


def test_keep_best_remembers_the_best_epoch_across_a_restart(tmp_path):
    """A run killed after its best epoch and continued by a new process still ends on that epoch's
    weights; a new run in the same folder forgets them."""
    import keras

    from training.common import keep_best

    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    path = tmp_path / "best.weights.h5"

    def epochs(scores, first):
        callback = keep_best(path, "val_accuracy", start_epoch=1)  # a new process: a new callback
        callback.set_model(model)
        for epoch, score in enumerate(scores, first):
            callback.on_epoch_begin(epoch)
            model.layers[-1].bias.assign([float(epoch)])  # the weights tell the epoch
            callback.on_epoch_end(epoch, {"val_accuracy": score})
        callback.on_train_end()
        return float(model.layers[-1].bias[0])

    assert epochs([0.9, 0.5, 0.7], first=0) == 2  # epoch 0 is before start_epoch
    assert epochs([0.6, 0.65], first=3) == 2  # continued: epoch 2 is still the best
    assert epochs([0.61, 0.62], first=0) == 1  # a new run


def test_a_run_folder_continues_only_with_the_options_it_started_with(tmp_path):
    """An unfinished run (a backup in its folder) refuses other options; a finished one leaves its
    folder to a new run, without its history."""
    from training.common import start

    args = argparse.Namespace(out=str(tmp_path / "run"), epochs=50, lr=2e-3, seed=1, threads=0, erase=0.0)
    out = start(args)
    (out / "history.csv").write_text("epoch,loss\n0,1.0\n")
    (out / "backup").mkdir()  # what Keras' BackupAndRestore leaves after an epoch
    start(argparse.Namespace(**{**vars(args), "out": str(out) + "/"}))  # the same folder, spelt otherwise
    with pytest.raises(SystemExit, match=r"other options \(epochs: 50 then, 80 now; erase: 0.0 then, 0.5 now\)"):
        start(argparse.Namespace(**{**vars(args), "epochs": 80, "erase": 0.5}))
    assert (out / "history.csv").exists() and json.loads((out / "options.json").read_text())["epochs"] == 50
    (out / "backup").rmdir()  # the run finished
    start(argparse.Namespace(**{**vars(args), "epochs": 80}))
    assert not (out / "history.csv").exists() and json.loads((out / "options.json").read_text())["epochs"] == 80


def tiny_fer(folder, rng, per_class=3):
    """FER2013's image-folder layout with ``per_class`` random faces a class in Training and PublicTest."""
    for split, usage in (("train", "Training"), ("test", "PublicTest")):
        for c in FER_CLASSES:
            (folder / split / c).mkdir(parents=True)
            for i in range(per_class):
                cv2.imwrite(str(folder / split / c / f"{usage}_{c}{i}.jpg"), rng.integers(0, 255, (48, 48), np.uint8))


@pytest.mark.slow
def test_tiny_training_and_export_keep_parity_and_metadata(tmp_path, capsys):
    """Train each model for one short epoch on tiny real-format data, export it, run it in the runtime."""
    from batchface.faces.models import ExpressionModel, KeypointModel
    from export.keras_to_onnx import export
    from training import train_expression, train_keypoints, validate

    rng = np.random.default_rng(0)
    tiny_fer(tmp_path / "fer", rng)
    train_expression.main(
        [
            "--data",
            str(tmp_path / "fer"),
            "--out",
            str(tmp_path / "ex"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--erase",
            "1",
        ]
    )
    figures = export(tmp_path / "ex", tmp_path / "ex.onnx", {"test_accuracy": "0.0"})
    assert figures["parity_max_abs_diff"] <= 1e-4
    card = (tmp_path / "ex.md").read_text()
    assert "dropout 0.4 before the last layer." in card
    model = ExpressionModel(tmp_path / "ex.onnx")
    assert model.classes == FER_CLASSES and model.metadata["test_accuracy"] == "0.0"
    assert json.loads(model.metadata["test_time_zooms"]) == [1.0, 1.08]
    crops = rng.integers(0, 255, (2, 48, 48), np.uint8)
    np.testing.assert_allclose(model.predict(crops), model.predict(crops[:, :, ::-1]), atol=1e-6)

    # a student of that file, alone on each face, exported in 8 bits
    train_expression.main(
        [
            "--data",
            str(tmp_path / "fer"),
            "--out",
            str(tmp_path / "student"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--teacher",
            str(tmp_path / "ex.onnx"),
            "--test-time-zooms",
            "none",
        ]
    )
    meta = json.loads((tmp_path / "student" / "train_meta.json").read_text())
    assert meta["teacher"]["file"] == "ex.onnx" and meta["teacher"]["weight"] == 0.7 and meta["class_weight"] is None
    figures = export(tmp_path / "student", tmp_path / "student.onnx", int8=True)
    assert figures["int8_mean_abs_diff"] < 0.05 and not (tmp_path / "student.onnx.float.onnx").exists()
    student = ExpressionModel(tmp_path / "student.onnx")
    assert "int8" in student.metadata["weights"] and "test_time_zooms" not in student.metadata
    graph = onnx.load(tmp_path / "student.onnx").graph
    float_weights = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    in_float = [n for n in graph.node if n.op_type == "Conv" and n.input[1] in float_weights]
    assert [len(n.input) for n in in_float] == [3], "the convolution of the image, and it alone, stays in float"
    assert student.predict(crops).shape == (2, 7) and "quantized" in (tmp_path / "student.md").read_text()
    capsys.readouterr()  # what training printed
    validate.main(["expression", str(tmp_path / "ex"), str(tmp_path / "ex"), "--data", str(tmp_path / "fer")])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1] and "(zooms [1.0, 1.08], each mirrored; 7 images)" in lines[0]

    kp = tmp_path / "kp"
    (kp / "training").mkdir(parents=True)
    header = "," + ",".join(str(i) for i in range(136))
    lines = [header]
    for person in range(8):
        name = f"Person_{person}_0{person}.jpg"
        cv2.imwrite(str(kp / "training" / name), rng.integers(0, 255, (200, 200), np.uint8))
        lines.append(name + "," + ",".join(f"{v:.1f}" for v in (face_points() + person).ravel()))
    (kp / "training_frames_keypoints.csv").write_text("\r\n".join(lines) + "\r\n")
    train_keypoints.main(
        [
            "--data",
            str(kp),
            "--out",
            str(tmp_path / "kprun"),
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--test-fraction",
            "0.25",
            "--val-fraction",
            "0.25",
        ]
    )
    meta = json.loads((tmp_path / "kprun" / "train_meta.json").read_text())
    assert meta["train_frames"] == 4 and meta["test_frames"] == 2 and len(meta["test_people"]) == 2
    export(tmp_path / "kprun", tmp_path / "kp.onnx", int8=True)
    model = KeypointModel(tmp_path / "kp.onnx")
    assert model.names == IBUG68_NAMES and model.predict(np.zeros((2, 96, 96), np.uint8)).shape == (2, 68, 2)
    assert json.loads(model.metadata["test_time_zooms"]) == [1.0, 1.08] and "int8" in model.metadata["weights"]
    with pytest.raises(SystemExit, match="split with other fractions"):  # trained with 0.25 / 0.25
        validate.main(["keypoints", str(tmp_path / "kprun"), "--data", str(kp)])


def test_the_convolution_of_the_image_is_left_in_float_with_its_relu_after_the_pool():
    """export.quantize's rewrite: conv -> relu -> pool becomes conv -> pool -> relu, the same answers."""
    from onnx import TensorProto, helper, numpy_helper

    from export.quantize import float_first_convs

    rng = np.random.default_rng(0)
    weight = lambda name, *shape: numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="conv2"),
        helper.make_node(
            "Conv", ["c2", "w3"], ["c3"], name="depthwise", group=4
        ),  # one channel a filter, not the image
        helper.make_node("Relu", ["c3"], ["out"], name="relu2"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [2, 1, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 4, 2, 2])],
        [weight("w1", 4, 1, 3, 3), weight("b1", 4), weight("w2", 4, 4, 3, 3), weight("w3", 4, 1, 1, 1)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    before = model.SerializeToString()
    assert float_first_convs(model) == ["conv1"]
    assert [n.name for n in model.graph.node] == ["conv1", "pool1", "relu1", "conv2", "depthwise", "relu2"]
    onnx.checker.check_model(model)
    x = {"image": rng.normal(size=(2, 1, 8, 8)).astype(np.float32)}
    run = lambda m: ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, x)[0]
    np.testing.assert_array_equal(run(model.SerializeToString()), run(before))


@pytest.mark.slow
def test_ensemble_of_two_tiny_runs_its_report_and_a_quick_network_in_front(tmp_path, capsys):
    """Two runs with one validation split and other training seeds, exported, averaged by
    export.ensemble, validated together and reported through the averaged file; then the first, read
    once in 8 bits, put in front of the average by export.cascade."""
    import keras
    import onnx

    from batchface.faces.models import ExpressionModel
    from export import cascade, ensemble, keras_to_onnx
    from training import report_expression, train_expression, validate

    rng = np.random.default_rng(0)
    fer = tmp_path / "fer"
    tiny_fer(fer, rng, per_class=4)  # the report's grid shows 24 test faces
    runs = [tmp_path / "a", tmp_path / "b"]
    for run, seed in zip(runs, ("1", "2")):
        train_expression.main(
            [
                "--data",
                str(fer),
                "--out",
                str(run),
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--seed",
                seed,
                "--split-seed",
                "1",
            ]
        )
        keras_to_onnx.export(run, run / "model.onnx")
    capsys.readouterr()
    validate.main(["expression", *map(str, runs), "--data", str(fer)])  # one split: they compare
    assert len(capsys.readouterr().out.splitlines()) == 2

    out = tmp_path / "ensemble.onnx"
    figures = ensemble.export(runs, out, {"test_accuracy": "0.5"})
    assert figures["parity_max_abs_diff"] <= ensemble.TOLERANCE
    stored = {t.data_type for t in onnx.load(out).graph.initializer}
    assert onnx.TensorProto.FLOAT16 in stored and onnx.TensorProto.FLOAT not in stored
    model = ExpressionModel(out)
    assert model.classes == FER_CLASSES and model.metadata["test_accuracy"] == "0.5"
    members = json.loads(model.metadata["ensemble_members"])
    backend = keras.backend.backend()
    assert [(m["run"], m["seed"], m["backend"]) for m in members] == [("a", 1, backend), ("b", 2, backend)]
    assert model.metadata["training_seed"] == "1, 2" and model.metadata["training_epochs"] == "1, 1"
    crops = rng.integers(0, 255, (5, 48, 48), np.uint8)
    alone = [ExpressionModel(run / "model.onnx").predict(crops) for run in runs]
    # two seeds: the members differ by more than 0.01, so their mean is neither of them by over 0.005
    assert np.abs(alone[0] - alone[1]).max() > 0.01
    np.testing.assert_allclose(model.predict(crops), np.mean(alone, axis=0), atol=1e-3)
    assert f"| b | 1 | 8 | 2 | 0.0 | no | 0 | 0 | 0 | no | - | 10 | {backend} |" in out.with_suffix(".md").read_text()

    # a run started from another (--init) begins with its weights: at a learning rate of almost 0 it keeps them
    tuned = tmp_path / "tuned"
    options = ["--epochs", "1", "--batch-size", "8", "--seed", "3", "--split-seed", "1", "--lr", "1e-12"]
    train_expression.main(["--data", str(fer), "--out", str(tuned), *options, "--init", str(runs[0]), "--turn", "30"])
    start, kept = (keras.models.load_model(run / "model.keras").trainable_weights for run in (runs[0], tuned))
    assert len(start) == len(kept) > 10
    for w0, w1 in zip(start, kept):
        np.testing.assert_allclose(np.asarray(w0), np.asarray(w1), atol=1e-6)
    with pytest.raises(SystemExit, match="--standardize: False there, True here"):
        train_expression.main(
            ["--data", str(fer), "--out", str(tmp_path / "x"), "--init", str(runs[0]), "--standardize"]
        )
    keras_to_onnx.export(tuned, tuned / "model.onnx")
    ensemble.export([runs[0], tuned], tmp_path / "from-a.onnx")
    assert (
        f"| tuned | 1 | 8 | 3 | 0.0 | no | 0 | 30 | 0 | no | a (1 epochs) | 10 | {backend} |"
        in (tmp_path / "from-a.md").read_text()
    )

    # class weights (training.class_weights chooses them): each probability times its class's weight, over their sum
    weighed = tmp_path / "weighed.onnx"
    ensemble.export(runs, weighed, class_weights="neutral=2,happy=1.5")
    weights = np.array([1, 1, 1, 1.5, 1, 1, 2])
    expected = np.mean(alone, axis=0) * weights
    np.testing.assert_allclose(
        ExpressionModel(weighed).predict(crops), expected / expected.sum(1, keepdims=True), atol=1e-3
    )
    assert json.loads(ExpressionModel(weighed).metadata["class_weights"])["neutral"] == 2
    assert "(happy x1.5, neutral x2; the others x1)" in weighed.with_suffix(".md").read_text()
    with pytest.raises(SystemExit, match="'calm' is not one of angry"):
        ensemble.export(runs, weighed, class_weights="calm=2")

    report_expression.main([*map(str, runs), "--model", str(out), "--data", str(fer), "--out", str(tmp_path / "rep")])
    card = json.loads((tmp_path / "rep" / "card.json").read_text())
    test_images = np.stack(
        [
            cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            for c in FER_CLASSES
            for p in sorted((fer / "test" / c).glob("*.jpg"))
        ]
    )
    truth = np.repeat(np.arange(len(FER_CLASSES)), 4)
    assert card["test_accuracy"] == round(float((model.predict(test_images).argmax(1) == truth).mean()), 4)
    with pytest.raises(SystemExit, match="give --model"):
        report_expression.main([*map(str, runs), "--data", str(fer), "--out", str(tmp_path / "rep")])

    # a quick network in front (export.cascade): its answer where it is sure, the ensemble's elsewhere
    quick = tmp_path / "quick"
    shutil.copytree(runs[0], quick)
    keras_to_onnx.export(quick, quick / "model.onnx", int8=True, one_read=True)
    assert "test_time_zooms" not in ExpressionModel(quick / "model.onnx").metadata  # the network alone
    first = ExpressionModel(quick / "model.onnx").predict(test_images)
    sure = float(np.median(first.max(1)))
    cascaded = tmp_path / "cascade.onnx"
    assert cascade.export(quick, out, sure, cascaded, card)["parity_max_abs_diff"] <= cascade.TOLERANCE
    model = ExpressionModel(cascaded)
    kept = first.max(1) >= sure
    assert 0 < kept.sum() < len(kept)
    expected = np.where(kept[:, None], first, ExpressionModel(out).predict(test_images))
    np.testing.assert_allclose(model.predict(test_images), expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(test_images[kept]), first[kept], atol=1e-6)  # the members read nothing
    assert json.loads(model.metadata["cascade"])["sure"] == sure and model.metadata["test_accuracy"] == str(
        card["test_accuracy"]
    )
    assert "only the others are read by the members below" in cascaded.with_suffix(".md").read_text()

    other = tmp_path / "c"  # a member with other classes, or validated on another split, cannot be averaged in
    other.mkdir()
    for name in ("train_meta.json", "options.json"):
        (other / name).write_text((runs[1] / name).read_text())
    for key, value in (
        ("classes", json.dumps(FER_CLASSES[:6] + ("calm",))),
        ("training_split", "validation = 10% of Training (stratified, seed 2); test = PublicTest"),
    ):
        proto = onnx.load(runs[1] / "model.onnx")
        next(p for p in proto.metadata_props if p.key == key).value = value
        onnx.save(proto, other / "model.onnx")
        with pytest.raises(SystemExit, match=f"differs from .* in {key}"):
            ensemble.export([runs[0], other], out)
    assert ExpressionModel(out).metadata["test_accuracy"] == "0.5"  # a refused export leaves the file as it was


# --- FER+ votes -------------------------------------------------------------------------------------


def test_vote_targets_drop_single_votes_and_faces_whose_majority_is_no_class_of_ours():
    from training.data import FERPLUS_VOTES, majority_labels, plurality_labels, vote_targets

    column = {name: i for i, name in enumerate(FERPLUS_VOTES)}

    def votes(**counts):
        row = np.zeros(10, np.int64)
        for name, n in counts.items():
            row[column[name]] = n
        return row

    faces = np.stack(
        [
            votes(neutral=6, happiness=3, sadness=1),  # the single vote for sadness is dropped
            votes(happiness=5, surprise=5),  # a tie stays in the target; no majority
            votes(contempt=6, neutral=4),  # contempt's face: left out
            votes(unknown=7, anger=3),  # most taggers could not say: left out
            votes(NF=10),  # not a face
            votes(fear=4, surprise=3, sadness=3),  # 4 of 10 is no majority; a plurality
        ]
    )
    targets, keep = vote_targets(faces)
    assert keep.tolist() == [True, True, False, False, False, True]
    index = FER_CLASSES.index
    assert targets[0][index("neutral")] == pytest.approx(6 / 9) and targets[0][index("sad")] == 0
    assert targets[1][index("happy")] == targets[1][index("surprise")] == pytest.approx(0.5)
    assert targets[keep].sum(1) == pytest.approx(1.0)
    assert majority_labels(faces).tolist() == [index("neutral"), -1, -1, -1, -1, -1]
    assert plurality_labels(faces).tolist() == [index("neutral"), -1, -1, -1, -1, index("fear")]


def tiny_ferplus(folder, rng, n=40):
    """FER+'s joined files (train.npz, publictest.npz) with ``n`` random faces each, votes drawn at random."""
    folder.mkdir(parents=True)
    for name in ("train", "publictest"):
        votes = rng.multinomial(10, [0.3, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03], size=n)
        np.savez(
            folder / f"{name}.npz",
            images=rng.integers(0, 255, (n, 48, 48), np.uint8),
            votes=votes.astype(np.int16),
            fer2013=rng.integers(0, 7, n).astype(np.int8),
        )


WILD_FIXTURES = (("grace_hopper.jpg", "neutral"), ("astronaut.jpg", "happy"))


@pytest.mark.slow
def test_tiny_ferplus_training_exports_and_is_reported(tmp_path, capsys):
    """One short epoch on FER+-format votes, with the runtime-like degradations, exported in 8 bits
    and scored by the FER+ report (in the wild left out: no data)."""
    from batchface.faces.detection import create_detector
    from batchface.faces.models import ExpressionModel
    from export.keras_to_onnx import export
    from training import report_ferplus, train_expression

    rng = np.random.default_rng(0)
    tiny_ferplus(tmp_path / "ferplus", rng)
    # a small network (a stem of 8 channels crashes TensorFlow 2.21's oneDNN kernels on this project's CPUs)
    args = ["--ferplus", str(tmp_path / "ferplus"), "--like-runtime", "--widths", "16,32,48,64"]
    # and real faces labelled by eye, as the files of training/wild hold them: one face a file here
    fixtures = Path(__file__).parent / "fixtures"
    detector = create_detector("yunet")
    files = [tmp_path / f"wild-{i}.csv" for i in range(len(WILD_FIXTURES))]
    for path, (name, label) in zip(files, WILD_FIXTURES):
        write_wild_labels(path, [(name, detector.detect(cv2.imread(str(fixtures / name))).boxes[0], label)])
    args += [
        "--wild",
        *map(str, files),
        "--wild-data",
        str(fixtures),
        "--wild-share",
        "0.2",
        "--wild-repeat",
        "happy=3",
    ]
    train_expression.main(args + ["--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "8"])
    meta = json.loads((tmp_path / "run" / "train_meta.json").read_text())
    assert meta["targets"] == "FER+ vote shares" and meta["like_runtime"] and meta["class_weight"] is None
    # 33 FER+ faces are left for training; the 2 real faces are drawn 8 times, a fifth of the 41 an epoch,
    # the smiling one three times as often as the calm one
    assert meta["wild"] == {
        "file": "wild-0.csv, wild-1.csv",
        "faces": 2,
        "draws": 8,
        "share": 0.2,
        "repeat": "happy=3",
        "draws_by_class": {"happy": 6, "neutral": 2},
    }
    assert meta["train_images"] == 33 + 8
    assert meta["data"] == (
        "FER+ votes on FER2013 Training and 2 faces of video frames labelled by eye (wild-0.csv, wild-1.csv)"
    )
    export(tmp_path / "run", tmp_path / "model.onnx", int8=True, one_read=True)
    model = ExpressionModel(tmp_path / "model.onnx")
    assert model.classes == FER_CLASSES and model.metadata["training_targets"] == "FER+ vote shares"
    capsys.readouterr()
    report_ferplus.main(
        [str(tmp_path / "run"), "--model", str(tmp_path / "model.onnx"), "--ferplus", str(tmp_path / "ferplus")]
        + ["--out", str(tmp_path / "report")]
    )
    card = json.loads((tmp_path / "report" / "card.json").read_text())
    assert 0 <= card["ferplus_majority_accuracy"] <= 1 and card["ferplus_majority_faces"] > 0
    assert "in_the_wild_agreement" not in card
    assert (tmp_path / "report" / "confusion.png").exists() and "FER+" in (
        tmp_path / "report" / "report.md"
    ).read_text()


def soup_ingredient(folder, seed, **options):
    """A run folder as train_expression writes one after ``--init start``: a small network with
    random weights drawn from ``seed``, its options and training facts."""
    import keras

    from training.blocks import expression_net

    keras.utils.set_random_seed(seed)
    folder.mkdir()
    expression_net(48, 7, 0.1, widths=(16, 32, 48, 64)).save(folder / "model.keras")
    (folder / "options.json").write_text(json.dumps({"init": "start", "dim": 0.3, "seed": seed, **options}))
    meta = {"task": "expression", "classes": FER_CLASSES, "input_size": 48, "seed": seed, "test_accuracy": 0.5}
    (folder / "train_meta.json").write_text(json.dumps(meta))
    (folder / "history.csv").write_text("epoch,accuracy\n0,0.5\n")
    return folder


def test_soup_is_the_mean_of_its_runs_weights_and_refuses_runs_unlike(tmp_path):
    import keras

    from training import soup

    runs = [soup_ingredient(tmp_path / f"run-{seed}", seed) for seed in (1, 2, 3)]
    out = soup.soup(runs, tmp_path / "soup")
    weights = [keras.models.load_model(r / "model.keras", compile=False).get_weights() for r in [*runs, out]]
    assert len(weights[3]) == len(weights[0]) > 0
    for a, b, c, mean in zip(*weights):  # batch norms' moving statistics too
        np.testing.assert_allclose(mean, (a.astype(np.float64) + b + c) / 3, rtol=1e-5, atol=1e-6)
    meta = json.loads((out / "train_meta.json").read_text())
    assert meta["seed"] == "1, 2, 3" and meta["soup"] == ["run-1", "run-2", "run-3"] and "test_accuracy" not in meta
    assert json.loads((out / "options.json").read_text())["seed"] == "1, 2, 3"
    assert (out / "history.csv").read_text() == (runs[0] / "history.csv").read_text()
    # runs that differ in more than the seed, or that share no start, are not a soup
    with pytest.raises(SystemExit, match="differ in dim"):
        soup.soup([runs[0], soup_ingredient(tmp_path / "darker", 4, dim=0.5)], tmp_path / "no")
    with pytest.raises(SystemExit, match="--init"):
        soup.soup(
            [soup_ingredient(tmp_path / "a", 5, init=None), soup_ingredient(tmp_path / "b", 6, init=None)],
            tmp_path / "no",
        )
    with pytest.raises(SystemExit, match="two runs"):
        soup.soup(runs[:1], tmp_path / "no")


def test_model_card_says_when_its_members_are_soups():
    from export.ensemble import card_facts

    props = {"batchface_task": "expression", "input_size": "48", "training_data": "FER+", "training_split": "10 %"}
    props["classes"] = json.dumps(FER_CLASSES)
    member = {
        **dict(run="a-soup", epochs=10, batch=128, seed="1240, 1250", erase=0.0, like_runtime="yes", dim=0.3),
        **dict(turn=30.0, wild="0.25", standardize="no", init="a (40 epochs)", patience=10, backend="tensorflow"),
        **dict(weights_in_file=10, test_time_zooms=[1.0], soup=2),
    }
    architecture = next(line for line in card_facts(props, [member], True) if "Architecture" in line)
    assert architecture.endswith(
        "Each member is the mean of the weights of 2 runs fine-tuned alike from one start, with the seeds "
        "below (`training/soup.py`)."
    )
    plain = next(line for line in card_facts(props, [{**member, "soup": 0}], True) if "Architecture" in line)
    assert plain.endswith("8-bit.")


def test_wild_repeat_names_a_class_and_a_whole_number():
    from training.train_expression import wild_repeats

    assert wild_repeats("happy=3", FER_CLASSES).tolist() == [1, 1, 1, 3, 1, 1, 1]
    assert wild_repeats("", FER_CLASSES).tolist() == [1] * 7
    for bad in ("smile=3", "happy=0", "happy=1.5", "happy=many"):
        with pytest.raises(SystemExit, match="--wild-repeat"):
            wild_repeats(bad, FER_CLASSES)
    # and the model card's column says so
    from export.ensemble import wild_draws

    assert wild_draws({"wild": ["w.csv"], "wild_share": 0.25, "wild_repeat": "happy=6"}) == "0.25 (happy x6)"
    assert wild_draws({"wild": ["w.csv"], "wild_share": 0.25, "wild_repeat": ""}) == "0.25"
    assert wild_draws({"wild": None, "wild_share": 0.1}) == "0"


def test_like_runtime_keeps_a_crop_in_range_and_of_its_size():
    from training.augment import like_runtime

    rng = np.random.default_rng(1)
    face = rng.random((48, 48)).astype(np.float32)
    for _ in range(50):
        out = like_runtime(rng, face)
        assert out.shape == (48, 48) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


def test_a_turned_face_keeps_its_centre_and_is_foreshortened():
    from training.augment import random_turn

    face = np.zeros((48, 48), np.float32)
    face[16:32, 16:32] = 1.0  # a square about the centre, on black
    for seed in range(20):
        turned = random_turn(np.random.default_rng(seed), face, 45)
        assert turned.shape == face.shape and turned.dtype == face.dtype
        rows, cols = np.nonzero(turned > 0.5)
        assert abs(rows.mean() - 23.5) < 1.5 and abs(cols.mean() - 23.5) < 1.5
        assert turned.sum() <= face.sum() + 1.0  # seen turned, a plane covers less of the image
    # by up to 45 degrees about the vertical: on most turns clearly less
    areas = [random_turn(np.random.default_rng(seed), face, 45).sum() / face.sum() for seed in range(20)]
    assert sum(a < 0.95 for a in areas) >= 10


def test_in_the_wild_labels_are_complete_and_scored_over_expressions_only():
    from training import in_the_wild

    video, photos = in_the_wild.read_labels(in_the_wild.LABELS), in_the_wild.read_labels(in_the_wild.PHOTOS)
    for rows, least in ((video, 2500), (photos, 100)):
        assert len(rows) >= least
        assert {r["label"] for r in rows} <= set(FER_CLASSES) | set(in_the_wild.NOT_SCORED)
        assert all(r["box"][2] > 0 and r["box"][3] > 0 for r in rows)
    assert not {r["source"] for r in video} & {r["source"] for r in photos}  # two checks, no face in both
    result = in_the_wild.scores(
        ["neutral", "happy", "sad", "neutral"], ["neutral", "happy", "neutral", "unsure"], FER_CLASSES
    )
    assert result["faces"] == 3 and result["agreement"] == pytest.approx(2 / 3)
    assert result["recall"] == {"happy": 1.0, "neutral": 0.5}
    assert result["recall_interval"]["neutral"] == pytest.approx(wilson(1, 2))


def test_wilson_interval_matches_its_closed_form_at_the_ends_and_the_middle():
    from training.in_the_wild import between

    # at 0 of n the upper end is z^2 / (n + z^2); at n of n the mirror image; at half, symmetric about it
    assert wilson(0, 10) == pytest.approx((0.0, 1.96**2 / (10 + 1.96**2)))
    assert wilson(10, 10) == pytest.approx((10 / (10 + 1.96**2), 1.0))
    assert wilson(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert between(wilson(50, 68)) == "95 % interval 62-83 %"


def test_in_the_wild_training_faces_are_other_people_than_the_validation_faces():
    import re

    from training import in_the_wild

    def people(path):
        return {re.sub(r"_\d+\.jpg$", "", Path(r["source"]).name) for r in in_the_wild.read_labels(path)}

    training = in_the_wild.read_labels(in_the_wild.TRAINING)
    assert len(training) >= 500 and {r["label"] for r in training} <= set(FER_CLASSES) | set(in_the_wild.NOT_SCORED)
    assert all(r["source"].startswith("keypoints/") for r in training)
    assert len(people(in_the_wild.TRAINING)) == 148 and not people(in_the_wild.TRAINING) & people(in_the_wild.LABELS)
    # more frames of some training people, then every other frame of them: each frame in one file only
    more = [in_the_wild.TRAINING.with_name(name) for name in ("train-smilers.csv", "train-rest.csv")]
    sources = [{r["source"] for r in in_the_wild.read_labels(path)} for path in (in_the_wild.TRAINING, *more)]
    assert all(people(path) <= people(in_the_wild.TRAINING) for path in more)
    assert sum(map(len, sources)) == len(set.union(*sources)) >= 2400
    assert not set.union(*sources) & {r["source"] for r in in_the_wild.read_labels(in_the_wild.LABELS)}


def write_wild_labels(path, rows):
    """A labels file of ``training/wild``'s format: rows of (source, (x, y, w, h), label)."""
    lines = ["source,frame_index,box_x,box_y,box_w,box_h,label"]
    lines += [f"{source},,{','.join(str(int(v)) for v in box)},{label}" for source, box, label in rows]
    path.write_text("\n".join(lines) + "\n")


def test_in_the_wild_training_faces_are_cut_as_the_run_cuts_them(tmp_path):
    from batchface.faces import crop
    from batchface.faces.detection import create_detector
    from training import in_the_wild

    fixtures = Path(__file__).parent / "fixtures"
    detector = create_detector("yunet")
    boxes = {name: detector.detect(cv2.imread(str(fixtures / name))) for name in ("grace_hopper.jpg", "astronaut.jpg")}
    assert [len(d.boxes) for d in boxes.values()] == [1, 1]
    hopper, astronaut = boxes["grace_hopper.jpg"], boxes["astronaut.jpg"]
    write_wild_labels(
        tmp_path / "wild.csv",
        [
            ("grace_hopper.jpg", hopper.boxes[0], "neutral"),
            ("astronaut.jpg", astronaut.boxes[0], "happy"),
            ("astronaut.jpg", astronaut.boxes[0], "unsure"),  # no expression: left out
            ("grace_hopper.jpg", (0, 0, 20, 20), "sad"),  # the detector finds no face there: left out
        ],
    )
    crops, labels = in_the_wild.training_faces(tmp_path / "wild.csv", fixtures, 48, crop.TEMPLATE, FER_CLASSES)
    assert crops.shape == (2, 48, 48) and crops.dtype == np.uint8
    assert [FER_CLASSES[k] for k in labels] == ["neutral", "happy"]
    image = cv2.imread(str(fixtures / "grace_hopper.jpg"))
    expected = crop.gray(crop.cut(image, crop.alignment_matrix(hopper.points[0], 48, crop.TEMPLATE), 48))
    np.testing.assert_array_equal(crops[0], expected)
    write_wild_labels(tmp_path / "odd.csv", [("grace_hopper.jpg", hopper.boxes[0], "calm")])
    with pytest.raises(SystemExit, match="odd.csv: labels calm are not among angry"):
        in_the_wild.training_faces(tmp_path / "odd.csv", fixtures, 48, crop.TEMPLATE, FER_CLASSES)


def test_class_weights_move_answers_to_weighed_classes_and_the_rule_keeps_ferplus():
    from training import class_weights

    classes = list(FER_CLASSES)
    rows = [{"label": label} for label in ("neutral", "neutral", "happy", "unsure")]
    wild = np.array([[0, 0, 0, 0.1, 0, 0.5, 0.4], [0, 0, 0, 0, 0.3, 0, 0.7], [0, 0, 0, 0.4, 0, 0, 0.6], [0] * 7])
    found = np.array([True, True, True, False])
    val, majority = wild[:3], np.array([5, 6, -1])  # FER+'s majority: surprise, neutral, none
    same = class_weights.scored(val, majority, wild, found, rows, classes, np.ones(7))
    assert (same["ferplus"], same["wild"], same["wild_happy"]) == (1.0, 1 / 3, 0.0)
    # the rule's figure: FER+ validation beside the mean recall of the wild's classes (neutral 1/2, happy 0)
    assert same["mean"] == pytest.approx((1.0 + 0.25) / 2) and same["wild_lower"] == 0.0
    weights = np.array([1, 1, 1, 3, 1, 1, 1.5])  # neutral 0.4 x 1.5 > surprise 0.5; happy 0.4 x 3 > neutral 0.6 x 1.5
    moved = class_weights.scored(val, majority, wild, found, rows, classes, weights)
    assert (moved["ferplus"], moved["wild"], moved["wild_neutral"], moved["wild_happy"]) == (0.5, 1.0, 1.0, 1.0)
    assert moved["mean"] == pytest.approx(0.75) and moved["wild_lower"] == 1.0
    table = [
        ({"neutral": 1}, same),
        ({"neutral": 1.5}, moved),
        ({"neutral": 2}, {"ferplus": 0.9, "mean": 0.8, "wild_lower": 0.86}),
        ({"neutral": 3}, {"ferplus": 0.95, "mean": 0.9, "wild_lower": 0.84}),
        ({"happy": 2}, {"ferplus": 0.88, "mean": 0.75, "wild_lower": 0.86}),
    ]
    # not the best lower recall, whose FER+ validation is too low; nor the best mean, whose lower recall is
    # lower; of two equal lower recalls, the better mean
    assert class_weights.pick(table) == {"neutral": 2}
    with pytest.raises(SystemExit, match="no weighting keeps"):
        class_weights.pick(table[1:2])
