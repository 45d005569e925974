"""Train the expression classifier on FER2013 (48x48 grayscale faces).

    python -m training.train_expression --data ../shared/data/fer2013 --out runs/expression

Validation is a stratified part of Training; PublicTest is the reported test. An interrupted run
continues from its last epoch when started again with the same ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from training import augment
from training.data import FER_CLASSES, FER_CLASSES_5, read_fer_csv, read_fer_folders, select_classes

SIZE = 48


def load(args):
    """Return {usage: (images, labels)} with labels indexing the chosen classes."""
    if args.csv:
        splits = {u: (i, l) for u, (i, l) in read_fer_csv(args.csv).items()}
    else:
        splits = {u: (i, l) for u, (i, l, _) in read_fer_folders(args.data).items()}
    classes = FER_CLASSES_5 if args.classes == 5 else FER_CLASSES
    return classes, {u: select_classes(i, l, classes)[:2] for u, (i, l) in splits.items()}


def stratified_split(labels, fraction: float, rng):
    """Indices (train, validation), taking ``fraction`` of each class for validation."""
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        val.extend(rng.choice(idx, size=max(1, int(round(len(idx) * fraction))), replace=False))
    val = np.sort(np.array(val))
    return np.setdiff1d(np.arange(len(labels)), val), val


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder with train/<class>/*.jpg and test/<class>/*.jpg")
    src.add_argument("--csv", help="fer2013.csv or icml_face_data.csv")
    p.add_argument("--classes", type=int, choices=(7, 5), default=7)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--patience", type=int, default=6)
    p.add_argument("--limit", type=int, default=0, help="use only this many training images (smoke runs)")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = all cores)")
    args = p.parse_args(argv)

    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(args.seed)
    from training.blocks import expression_net

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    classes, splits = load(args)
    images, labels = splits["Training"]
    rng = np.random.default_rng(args.seed)
    if args.limit:
        keep = np.sort(rng.choice(len(labels), size=min(args.limit, len(labels)), replace=False))
        images, labels = images[keep], labels[keep]
    tr, va = stratified_split(labels, args.val_fraction, rng)
    n_classes = len(classes)
    counts = np.bincount(labels[tr], minlength=n_classes)
    # sqrt-balanced weights lift the rare classes (disgust: 436 images) without drowning the rest
    weights = np.sqrt(counts.sum() / (n_classes * np.maximum(counts, 1)))
    class_weight = {i: float(w) for i, w in enumerate(weights)}

    class Batches(keras.utils.PyDataset):
        def __init__(self, x, y, train: bool):
            super().__init__()
            self.x, self.y, self.train = x, y, train
            self.order = np.arange(len(y))
            self.rng = np.random.default_rng(args.seed)
            self.on_epoch_end()

        def __len__(self):
            return int(np.ceil(len(self.y) / args.batch_size))

        def on_epoch_end(self):
            if self.train:
                self.rng.shuffle(self.order)

        def __getitem__(self, i):
            idx = self.order[i * args.batch_size:(i + 1) * args.batch_size]
            batch = self.x[idx].astype(np.float32) / 255.0
            if self.train:
                batch = np.stack([augment_one(self.rng, im) for im in batch])
            return batch[..., None], self.y[idx]

    def augment_one(r, image):
        import cv2
        m = augment.random_similarity(r, SIZE, max_angle=12, max_scale=0.1, max_shift=3)
        image = cv2.warpAffine(image, m, (SIZE, SIZE), borderMode=cv2.BORDER_REPLICATE)
        if r.random() < 0.5:
            image = image[:, ::-1]
        return augment.photometric(r, image)

    train_data = Batches(images[tr], labels[tr], train=True)
    val_data = Batches(images[va], labels[va], train=False)
    model = expression_net(SIZE, n_classes)
    steps = args.epochs * len(train_data)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr * 0.1, steps, warmup_target=args.lr, warmup_steps=min(len(train_data), steps // 10))
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=args.patience,
                                      restore_best_weights=True),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]
    t0 = time.time()
    model.fit(train_data, validation_data=val_data, epochs=args.epochs, class_weight=class_weight,
              callbacks=callbacks, verbose=2)
    model.save(out / "model.keras")
    test_images, test_labels = splits["PublicTest"]
    probs = model.predict(test_images[..., None].astype(np.float32) / 255.0, verbose=0)
    np.savez_compressed(out / "test_predictions.npz", probabilities=probs, labels=test_labels,
                        crops=test_images[:64].astype(np.float32) / 255.0)
    meta = {
        "task": "expression", "classes": list(classes), "input_size": SIZE,
        "data": args.csv or args.data, "split": f"validation = {args.val_fraction:.0%} of Training "
        f"(stratified, seed {args.seed}); test = PublicTest", "train_images": int(len(tr)),
        "val_images": int(len(va)), "test_images": int(len(test_labels)), "epochs_run": len(
            open(out / "history.csv").read().splitlines()) - 1, "epochs_max": args.epochs,
        "batch_size": args.batch_size, "seed": args.seed, "params": int(model.count_params()),
        "train_seconds_last_session": round(time.time() - t0), "class_weight": class_weight,
        "test_accuracy": float((probs.argmax(1) == test_labels).mean()),
    }
    (out / "train_meta.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
