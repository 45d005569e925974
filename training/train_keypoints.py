"""Train the keypoint regressor on the 68-point iBUG layout (Udacity P1 / YouTube Faces frames).

    python -m training.train_keypoints --data ../shared/data/keypoints/udacity_p1 --out runs/keypoints

Frames are split by person (the name before the last ``_``), because the set's own test folder
shares people with its training folder. The model sees the 96x96 crop of ``batchface.faces.crop``. Its
alignment points are, for each training sample, picked at random among the ground truth (eye
centres, mouth-corner midpoint) and the points of each runtime detector that finds the face
(``--detectors``), plus random jitter. The detectors' points are what the runtime cuts from, and
they differ from the ground truth's by a bias of their own (about 7 % of the eye distance for
BlazeFace, 11 % for YuNet): training on them teaches the model the crops it will see; the ground
truth keeps frames that a detector misses in training, and teaches the crops cut from the model's
own points (a face followed through a video). Validation and test crops come from the
ground truth without jitter. An interrupted run continues when started again with the same ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from batchface.faces import crop
from batchface.faces.landmarks import IBUG68_NAMES, KAGGLE_NAMES, alignment_points
from batchface.faces.models import to_unit
from training import augment, common
from training.data import person_of, read_ibug_csv, read_kaggle_keypoints

SIZE = 96
#: what the model card says each --data source is (its path is only this machine's)
DATA_NAMES = {
    "ibug": "Udacity's 68-point keypoint set (YouTube Faces frames)",
    "kaggle": "Kaggle's facial keypoints (15 points)",
}

#: Index of each iBUG point's mirror image: a horizontal flip must swap left and right labels.
IBUG68_FLIP = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46]
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)
#: The same for Kaggle's 15 keypoints.
KAGGLE_FLIP = np.array([1, 0, 4, 5, 2, 3, 8, 9, 6, 7, 10, 12, 11, 13, 14])


def sample(image, points, names, rng, jitter: float, train: bool, flip_index, anchors=()):
    """Cut one crop; returns (crop float32 [S,S] in [0,1], points in crop pixels [K,2]).

    ``anchors``: alignment points [3,2] found by detectors (NaN where one missed); a training crop
    is cut from the ground truth's or one of these, picked at random.
    """
    anchor = alignment_points(points, names)
    if train:
        found = [a for a in anchors if not np.isnan(a).any()]
        pick = rng.integers(len(found) + 1)
        anchor = anchor if pick == len(found) else found[pick]
        interocular = np.linalg.norm(anchor[1] - anchor[0])
        anchor = anchor + rng.normal(0, jitter * interocular, anchor.shape)
    m = crop.alignment_matrix(anchor, SIZE)
    if train:
        m = augment.compose(augment.random_similarity(rng, SIZE, 15, 0.1, 4), m)
    patch = to_unit(crop.cut(image, m, SIZE))
    pts = crop.to_crop(points, m)
    if train and rng.random() < 0.5:
        # pixel centres sit on integers, so x mirrors to (S - 1) - x
        patch = patch[:, ::-1]
        pts = pts[flip_index]
        pts[:, 0] = SIZE - 1 - pts[:, 0]
    if train:
        patch = augment.photometric(rng, patch)
    return patch, pts.astype(np.float32)


def masked_unit_mse(y_true, y_pred):
    """MSE on coordinates divided by the crop side, ignoring NaN targets (Kaggle's partial rows)."""
    from keras import ops

    mask = ops.logical_not(ops.isnan(y_true))
    diff = ops.where(mask, (y_pred - ops.where(mask, y_true, 0.0)) / SIZE, 0.0)
    return ops.sum(diff**2) / ops.maximum(ops.sum(ops.cast(mask, "float32")), 1.0)


def masked_unit_distance(y_true, y_pred):
    """Mean Euclidean point error divided by the crop side, ignoring points with NaN targets.

    NME averages point distances, so this loss optimises what is reported; MSE weighs the large
    errors more and the many small ones less."""
    from keras import ops

    true = ops.reshape(y_true, (-1, 2))
    pred = ops.reshape(y_pred, (-1, 2))
    missing = ops.isnan(true)
    diff = (pred - ops.where(missing, 0.0, true)) / SIZE
    distance = ops.sqrt(ops.sum(diff**2, axis=-1) + 1e-12)
    mask = ops.cast(ops.logical_not(ops.any(missing, axis=-1)), "float32")
    return ops.sum(distance * mask) / ops.maximum(ops.sum(mask), 1.0)


def load_ibug(root):
    """All labelled frames of the Udacity set (training and test folders), with their names."""
    root = Path(root)
    images, points, names = [], [], []
    for folder, csv_name in (("training", "training_frames_keypoints.csv"), ("test", "test_frames_keypoints.csv")):
        if (root / csv_name).exists():
            i, p, n = read_ibug_csv(root / csv_name, root / folder)
            images += i
            points.append(p)
            names += [f"{folder}/{x}" for x in n]
    return images, np.concatenate(points), names


def detector_anchors(root, frames, points, detectors) -> np.ndarray:
    """Alignment points [N, D, 3, 2] of each detector's face nearest the true one (NaN if none within
    an eye distance), found on the colour frames as the runtime sees them."""
    import cv2

    anchors = np.full((len(frames), len(detectors), 3, 2), np.nan, np.float32)
    for i, (frame, truth) in enumerate(zip(frames, points)):
        image = cv2.imread(str(Path(root) / frame))
        true_anchor = alignment_points(truth, IBUG68_NAMES)
        eye_distance = np.linalg.norm(true_anchor[1] - true_anchor[0])
        for d, detector in enumerate(detectors):
            found = detector.detect(image).points
            if len(found):
                offsets = np.linalg.norm(found - true_anchor, axis=-1).mean(-1)
                if offsets.min() < eye_distance:
                    anchors[i, d] = found[offsets.argmin()]
    return anchors


def person_split(names, test_fraction, val_fraction, seed):
    """Split frame indices by person: (train, validation, test)."""
    people = sorted({person_of(n) for n in names})
    rng = np.random.default_rng(seed)
    rng.shuffle(people)
    n_test, n_val = round(len(people) * test_fraction), round(len(people) * val_fraction)
    test, val = set(people[:n_test]), set(people[n_test : n_test + n_val])
    who = [person_of(n) for n in names]
    pick = lambda group: np.array([i for i, p in enumerate(who) if p in group], dtype=np.int64)
    return pick(set(people) - test - val), pick(val), pick(test)


def make_detectors(names):
    from batchface.faces.detection import create_detector

    return [create_detector(name) for name in names]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder with training/, test/ and their *_frames_keypoints.csv (68 points)")
    src.add_argument("--kaggle-csv", help="Kaggle training.csv (96x96 images, 15 keypoints)")
    p.add_argument(
        "--jitter", type=float, default=0.05, help="sd of the alignment-point noise, as a fraction of the eye distance"
    )
    p.add_argument(
        "--detectors",
        default="yunet",
        help="comma-separated runtime detectors whose points also cut training crops (yunet, "
        "blazeface); empty: ground truth only",
    )
    p.add_argument("--dropout", type=float, default=0.0, help="dropout before the last layer")
    p.add_argument(
        "--loss",
        choices=("mse", "distance"),
        default="distance",
        help="the mean point distance (what NME measures), or the mean squared error of the "
        "coordinates (Kaggle's RMSE)",
    )
    p.add_argument(
        "--test-time-zooms",
        default="1.0,1.08",
        help="the views the exported file averages: the crop zoomed about its centre by each of these "
        "('1.0' or 'none': the crop alone)",
    )
    p.add_argument(
        "--split-seed",
        type=int,
        help="seed of the split into people (default: --seed); the runs of one averaged file share it",
    )
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--val-fraction", type=float, default=0.1)
    common.add_common_args(
        p, epochs=80, batch_size=32, patience=40, limit_help="use only this many frames (smoke runs)"
    )
    args = p.parse_args(argv)
    out = common.start(args)
    from training.blocks import keypoint_net

    split_seed = args.seed if args.split_seed is None else args.split_seed
    anchors = None
    if args.data:
        images, points, frame_names = load_ibug(args.data)
        point_names, flip_index = IBUG68_NAMES, IBUG68_FLIP
        tr, va, te = person_split(frame_names, args.test_fraction, args.val_fraction, split_seed)
        detectors = [d for d in args.detectors.split(",") if d]
        if detectors:
            cache = out / "anchors.npz"  # detection takes minutes: a continued run reuses it
            if not cache.exists():
                np.savez(cache, anchors=detector_anchors(args.data, frame_names, points, make_detectors(detectors)))
            anchors = np.load(cache)["anchors"]
    else:
        # Kaggle images are already 96x96 face crops and carry no person: split frames at random
        kimages, points = read_kaggle_keypoints(args.kaggle_csv)
        images, frame_names = list(kimages), [f"row{i}" for i in range(len(kimages))]
        point_names, flip_index = KAGGLE_NAMES, KAGGLE_FLIP
        order = np.random.default_rng(split_seed).permutation(len(images))
        n_te, n_va = int(len(order) * args.test_fraction), int(len(order) * args.val_fraction)
        te, va, tr = np.sort(order[:n_te]), np.sort(order[n_te : n_te + n_va]), np.sort(order[n_te + n_va :])
    if args.limit:
        tr, va, te = tr[: args.limit], va[: max(1, args.limit // 4)], te[: max(1, args.limit // 4)]
    rng = np.random.default_rng(args.seed)

    def batch(idx, train):
        crops, pts = zip(
            *(
                sample(
                    images[j],
                    points[j],
                    point_names,
                    rng,
                    args.jitter,
                    train,
                    flip_index,
                    () if anchors is None else anchors[j],
                )
                for j in idx
            )
        )
        return np.stack(crops)[..., None], np.stack(pts).reshape(len(idx), -1)

    train_data = common.batches(tr, lambda i: batch(i, True), args.batch_size, True, args.seed)
    val_data = common.batches(va, lambda i: batch(i, False), args.batch_size, False, args.seed)
    model = keypoint_net(SIZE, len(point_names), args.dropout)
    loss = masked_unit_mse if args.loss == "mse" else masked_unit_distance
    seconds = common.fit(model, train_data, val_data, args, out, loss, monitor="val_loss")
    # the test crops, for training.report_keypoints: the test people are read nowhere else
    crops, truth = zip(*(sample(images[j], points[j], point_names, rng, 0, False, flip_index) for j in te))
    np.savez_compressed(
        out / "test_crops.npz",
        crops=np.stack(crops),
        truth=np.stack(truth),
        frames=np.array([frame_names[j] for j in te]),
    )
    train_crops = [sample(images[j], points[j], point_names, rng, 0, False, flip_index)[0] for j in tr]
    common.save_calibration_crops(out, np.round(np.stack(train_crops) * 255).astype(np.uint8), args.seed)
    meta = {
        "task": "keypoints",
        "keypoint_names": list(point_names),
        "input_size": SIZE,
        "data": f"{DATA_NAMES['ibug' if args.data else 'kaggle']}, {len(tr) + len(va) + len(te):,} faces",
        "split": f"by person, seed {split_seed}: "
        f"{args.test_fraction:.0%} of people test, {args.val_fraction:.0%} validation",
        "train_frames": int(len(tr)),
        "val_frames": int(len(va)),
        "test_frames": int(len(te)),
        "test_people": sorted({person_of(frame_names[j]) for j in te}),
        "alignment": "ground truth eye centres and mouth-corner midpoint"
        + "".join(f" or {d}'s points" for d in args.detectors.split(",") if d and args.data)
        + f" (picked at random per sample) + N(0, {args.jitter} x eye distance)",
        "epochs_run": common.epochs_run(out),
        "epochs_max": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "split_seed": split_seed,
        "params": int(model.count_params()),
        "loss": args.loss,
        "dropout": args.dropout,
        "test_time_zooms": common.zooms(args.test_time_zooms),
        "train_seconds_last_session": round(seconds),
    }
    (out / "train_meta.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps({k: v for k, v in meta.items() if k not in ("keypoint_names", "test_people")}, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
