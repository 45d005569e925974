"""Train the expression classifier on FER2013's 48x48 grayscale faces: on FER+'s ten votes per face
(the default model), or on FER2013's own labels.

    python -m training.train_expression --ferplus ../shared/data/fer2013/ferplus --like-runtime --out runs/ferplus
    python -m training.train_expression --data ../shared/data/fer2013 --out runs/expression

With ``--ferplus`` each face's target is its share of the votes (``training.data.vote_targets``):
Barsoum et al. 2016 found training on the vote distribution better than on the majority.
Validation is a stratified part of Training; PublicTest is the reported test. An interrupted run
continues from its last epoch when started again with the same ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

from batchface.faces.models import to_unit
from training import augment, common
from training.data import (
    FER_CLASSES,
    FER_CLASSES_5,
    majority_labels,
    read_fer_csv,
    read_fer_folders,
    read_ferplus,
    select_classes,
    vote_targets,
)

SIZE = 48
DROPOUT = 0.4  # before the last layer


def load(args):
    """Return the classes and {usage: (images, targets)}: targets are class indices, or with
    ``--ferplus`` each face's share of the votes over the classes (faces without one left out)."""
    if args.ferplus:
        splits = {}
        for usage, file in (("Training", "train.npz"), ("PublicTest", "publictest.npz")):
            images, votes, _ = read_ferplus(os.path.join(args.ferplus, file))
            targets, keep = vote_targets(votes, FER_CLASSES)
            splits[usage] = (images[keep], targets[keep])
        return FER_CLASSES, splits
    if args.csv:
        splits = {u: (i, y) for u, (i, y) in read_fer_csv(args.csv).items()}
    else:
        splits = {u: (i, y) for u, (i, y, _) in read_fer_folders(args.data).items()}
    classes = FER_CLASSES_5 if args.classes == 5 else FER_CLASSES
    return classes, {u: select_classes(i, y, classes)[:2] for u, (i, y) in splits.items()}


def stratified_split(labels, fraction: float, rng):
    """Indices (train, validation), taking ``fraction`` of each class for validation."""
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        val.extend(rng.choice(idx, size=max(1, int(round(len(idx) * fraction))), replace=False))
    val = np.sort(np.array(val))
    return np.setdiff1d(np.arange(len(labels)), val), val


def load_teacher(path, classes):
    """An onnxruntime session of the expression model ``path``, which must answer in ``classes``."""
    from batchface.faces.models import ExpressionModel

    teacher = ExpressionModel(path)
    if teacher.classes != tuple(classes) or teacher.input_size != SIZE:
        raise SystemExit(f"{path}: a teacher must answer in {', '.join(classes)} on {SIZE}-pixel crops")
    return teacher.session


def load_wild(files: list[str], data: Path, classes) -> tuple[np.ndarray, np.ndarray]:
    """The labelled faces of real video frames in ``files`` (``training/wild``'s format, sources relative to
    ``data``), cut as the run cuts them: (crops [N, SIZE, SIZE] uint8, class indices [N])."""
    from batchface.faces import crop
    from training.in_the_wild import training_faces

    faces = [training_faces(f, data, SIZE, crop.TEMPLATE, classes) for f in files]
    images, labels = (np.concatenate(parts) for parts in zip(*faces))
    if not len(labels):
        raise SystemExit(f"--wild {' '.join(files)}: the detector finds none of the labelled faces again")
    return images, labels


def wild_repeats(text: str, classes) -> np.ndarray:
    """``"happy=3"`` as how many times each class's faces enter the pool of wild draws, in ``classes``
    order (1 for those not named)."""
    from export.common import parse_class_weights

    repeats = parse_class_weights(text, classes, "--wild-repeat")
    if (repeats < 1).any() or (repeats != np.round(repeats)).any():
        raise SystemExit(f"--wild-repeat: {text!r}: each class's repeat must be a whole number, 1 or more")
    return repeats.astype(np.int64)


def check_init(args, parser: argparse.ArgumentParser) -> None:
    """Refuse an ``--init`` run whose network is not this run's: its weights would load into another
    network (a standardizing one holds no weights of its own, so loading alone would not tell)."""
    saved = os.path.join(args.init, "options.json")
    if not os.path.exists(saved):
        raise SystemExit(f"--init {args.init}: no options.json there; give a training run folder")
    with open(saved) as f:
        theirs = json.load(f)
    # runs from before an option was added were trained with its default
    theirs = {k: theirs.get(k, parser.get_default(k)) for k in ("widths", "standardize")}
    differ = [k for k in theirs if theirs[k] != getattr(args, k)]
    if differ:
        raise SystemExit(
            f"--init {args.init}: its network differs from this run's ("
            + "; ".join(f"--{k}: {theirs[k]} there, {getattr(args, k)} here" for k in differ)
            + ")"
        )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder with train/<class>/*.jpg and test/<class>/*.jpg")
    src.add_argument("--csv", help="fer2013.csv or icml_face_data.csv")
    src.add_argument("--ferplus", help="folder with FER+'s votes joined to the images: train.npz, publictest.npz")
    p.add_argument("--classes", type=int, choices=(7, 5), default=7)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument(
        "--split-seed",
        type=int,
        help="seed of the validation split (default: --seed); the runs of one averaged file share it",
    )
    p.add_argument(
        "--erase",
        type=float,
        default=0.0,
        help="probability that a training face gets a random rectangle of noise (random erasing)",
    )
    p.add_argument(
        "--like-runtime",
        action="store_true",
        help="degrade training faces as real photos and video frames are (training.augment.like_runtime)",
    )
    p.add_argument(
        "--dim", type=float, default=0.0, help="with --like-runtime: the share of faces darkened as in a dim hall"
    )
    p.add_argument(
        "--turn",
        type=float,
        default=0.0,
        help="half the training faces turned by up to this many degrees (augment.random_turn)",
    )
    p.add_argument(
        "--wild",
        nargs="+",
        help="files of labelled faces of real video frames to train on as well (training/wild/train.csv): each "
        "face's label is its target; needs --wild-data",
    )
    p.add_argument("--wild-data", help="with --wild: the data folder its sources are relative to")
    p.add_argument(
        "--wild-share",
        type=float,
        default=0.1,
        help="with --wild: the share of each epoch's training faces drawn from them (each drawn many times)",
    )
    p.add_argument(
        "--wild-repeat",
        default="",
        help="with --wild: draw each face of these classes this many times as often as the others, e.g. happy=3 "
        "(the labelled smiles are few beside the calm faces)",
    )
    p.add_argument(
        "--init", help="a training run folder whose network (same --widths, --standardize) this run starts from"
    )
    p.add_argument("--widths", default="32,64,128,256", help="the network's channels, stem then each stage")
    p.add_argument(
        "--standardize",
        action="store_true",
        help="the network brings each face to mean 0 and standard deviation 1 first (training.blocks.Standardized)",
    )
    p.add_argument(
        "--test-time-zooms",
        default="1.0,1.08",
        help="the views the exported file averages: the face zoomed about its centre by each of these, "
        "each view also mirrored ('none': the face alone)",
    )
    p.add_argument(
        "--teacher",
        help="an expression model file (.onnx) to distil: its answers on each augmented "
        "training face are mixed into that face's target",
    )
    p.add_argument(
        "--teacher-weight",
        type=float,
        default=0.7,
        help="with --teacher: the share of the teacher's answer in a target; the rest is the label",
    )
    common.add_common_args(
        p, epochs=50, batch_size=64, patience=10, limit_help="use only this many training images (smoke runs)"
    )
    args = p.parse_args(argv)
    if args.wild and not args.wild_data:
        p.error("--wild needs --wild-data")
    if args.wild_repeat and not args.wild:
        p.error("--wild-repeat needs --wild")
    if not 0 < args.wild_share < 1:
        p.error("--wild-share must be between 0 and 1")
    if args.init:
        check_init(args, p)
    out = common.start(args)
    import keras

    from training.blocks import expression_net, views_averaged

    classes, splits = load(args)
    images, targets = splits["Training"]
    soft = targets.ndim == 2  # FER+ vote shares, else class indices
    labels = targets.argmax(1) if soft else targets
    split_seed = args.seed if args.split_seed is None else args.split_seed
    rng = np.random.default_rng(split_seed)
    if args.limit:
        keep = np.sort(rng.choice(len(labels), size=min(args.limit, len(labels)), replace=False))
        images, labels, targets = images[keep], labels[keep], targets[keep]
    tr, va = stratified_split(labels, args.val_fraction, rng)
    n_classes = len(classes)
    counts = np.bincount(labels[tr], minlength=n_classes)
    # sqrt-balanced weights lift the rare classes (disgust: 436 images) without drowning the rest; a
    # teacher's answers already lean that way (its runs were weighted so), so its student is not weighted again
    weights = np.sqrt(counts.sum() / (n_classes * np.maximum(counts, 1)))
    # votes are not weighted: FER+'s neutral faces are the most common, and should be read so
    class_weight = None if args.teacher or soft else {i: float(w) for i, w in enumerate(weights)}
    wild = draws = 0
    drawn_by_class: dict[str, int] = {}
    wild_files = ", ".join(os.path.basename(f) for f in args.wild or [])
    if args.wild:
        # the run's own crops of faces like the users': few, so each is drawn many times an epoch
        wild_images, wild_labels = load_wild(args.wild, Path(args.wild_data), classes)
        wild = len(wild_labels)
        start = len(labels)
        images, labels = np.concatenate([images, wild_images]), np.concatenate([labels, wild_labels])
        wild_targets = np.eye(n_classes, dtype=targets.dtype)[wild_labels] if soft else wild_labels
        targets = np.concatenate([targets, wild_targets])
        draws = int(round(args.wild_share * len(tr) / (1 - args.wild_share)))
        pool = np.repeat(np.arange(wild), wild_repeats(args.wild_repeat, classes)[wild_labels])
        drawn = pool[np.arange(draws) % len(pool)]
        tr = np.concatenate([tr, start + drawn])
        drawn_by_class = {
            classes[c]: int(n) for c, n in enumerate(np.bincount(wild_labels[drawn], minlength=n_classes)) if n
        }
    teacher = load_teacher(args.teacher, classes) if args.teacher else None
    aug_rng = np.random.default_rng(args.seed)

    def augment_one(image):
        m = augment.random_similarity(aug_rng, SIZE, max_angle=12, max_scale=0.1, max_shift=3)
        image = cv2.warpAffine(image, m, (SIZE, SIZE), borderMode=cv2.BORDER_REPLICATE)
        if aug_rng.random() < 0.5:
            image = image[:, ::-1]
        if args.turn and aug_rng.random() < 0.5:
            image = augment.random_turn(aug_rng, image, args.turn)
        image = augment.photometric(aug_rng, image)
        if args.like_runtime:
            image = augment.like_runtime(aug_rng, image, args.dim)
        return augment.random_erase(aug_rng, image) if aug_rng.random() < args.erase else image

    def batch(idx, train):
        x = to_unit(images[idx])
        if train:
            x = np.stack([augment_one(im) for im in x])
        x = x[..., None]
        if soft:
            return x, targets[idx]
        if teacher is None:
            return x, labels[idx]
        # targets as class distributions: the label, and in training the teacher's answer on this very view
        target = np.eye(n_classes, dtype=np.float32)[labels[idx]]
        if train:
            answer = teacher.run(None, {"image": x.astype(np.float32)})[0]
            target = (1 - args.teacher_weight) * target + args.teacher_weight * answer
        return x, target

    train_data = common.batches(tr, lambda i: batch(i, True), args.batch_size, True, args.seed)
    val_data = common.batches(va, lambda i: batch(i, False), args.batch_size, False, args.seed)
    widths = tuple(int(w) for w in args.widths.split(","))
    model = expression_net(SIZE, n_classes, DROPOUT, widths, args.standardize)
    if args.init:
        model.set_weights(keras.models.load_model(os.path.join(args.init, "model.keras"), compile=False).get_weights())
    if teacher is None and not soft:
        loss, metric = "sparse_categorical_crossentropy", "accuracy"
    else:
        loss, metric = "categorical_crossentropy", keras.metrics.CategoricalAccuracy(name="accuracy")
    seconds = common.fit(
        model,
        train_data,
        val_data,
        args,
        out,
        loss,
        monitor="val_accuracy",
        metrics=[metric],
        class_weight=class_weight,
    )
    test_images, test_labels = splits["PublicTest"]
    if soft:  # scored against Barsoum et al.'s majority of the votes, faces without one left out
        _, votes, _ = read_ferplus(os.path.join(args.ferplus, "publictest.npz"))
        test_labels = majority_labels(votes, classes)[vote_targets(votes, classes)[1]]
    # the exported file averages each face over zooms and mirror images (export does the same wrapping)
    zooms = common.zooms(args.test_time_zooms)
    probs = (views_averaged(model, zooms) if zooms else model).predict(to_unit(test_images)[..., None], verbose=0)
    np.savez_compressed(
        out / "test_predictions.npz", probabilities=probs, labels=test_labels, crops=to_unit(test_images[:64])
    )
    common.save_calibration_crops(out, images[tr], args.seed)
    meta = {
        "task": "expression",
        "classes": list(classes),
        "input_size": SIZE,
        "data": ("FER+ votes on FER2013 Training" if soft else f"FER2013 Training, {len(tr) - draws + len(va):,} faces")
        + (f" and {wild} faces of video frames labelled by eye ({wild_files})" if wild else ""),
        "targets": "FER+ vote shares" if soft else "FER2013 labels",
        "like_runtime": args.like_runtime,
        "dim": args.dim,
        "turn": args.turn,
        "init": args.init,
        "wild": {
            "file": wild_files,
            "faces": wild,
            "draws": draws,
            "share": args.wild_share,
            "repeat": args.wild_repeat,
            "draws_by_class": drawn_by_class,
        }
        if args.wild
        else None,
        "widths": list(widths),
        "standardize": args.standardize,
        "split": f"validation = {args.val_fraction:.0%} of Training (stratified, seed {split_seed}); test = PublicTest",
        "train_images": int(len(tr)),
        "val_images": int(len(va)),
        "test_images": int(len(test_labels)),
        "epochs_run": common.epochs_run(out),
        "epochs_max": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "split_seed": split_seed,
        "erase": args.erase,
        "dropout": DROPOUT,
        "params": int(model.count_params()),
        "train_seconds_last_session": round(seconds),
        "backend": keras.backend.backend(),
        "class_weight": class_weight,
        "test_time_zooms": zooms,
        "test_accuracy": float((probs.argmax(1) == test_labels)[test_labels >= 0].mean()),
    }
    if args.teacher:
        from batchface.faces.models import sha256_of

        meta["teacher"] = {
            "file": os.path.basename(args.teacher),
            "sha256": sha256_of(args.teacher),
            "weight": args.teacher_weight,
        }
    (out / "train_meta.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
