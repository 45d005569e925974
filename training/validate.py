"""Compare training runs on their validation split: the numbers a shipped model is chosen by.

    python -m training.validate keypoints runs/keypoints-a runs/keypoints-b --data ../shared/data/keypoints/udacity_p1
    python -m training.validate expression runs/expression-a runs/expression-b --data ../shared/data/fer2013
    python -m training.validate ferplus runs/expression-ferplus.onnx --data ../shared/data/fer2013/ferplus

Keypoints: NME of the 15 Kaggle points on the validation people, on crops from the true points and
end to end through the default detector (as ``batchface run`` sees them). Expression: validation accuracy.
Each alone and with the views the exported file averages (``test_time_zooms``). FER+: exported
expression files (.onnx) on the FER+ runs' validation split (10 % of Training, stratified by the
votes' top class, ``--split-seed``): accuracy against FER+'s majority, the share of FER+-neutral
faces read neutral, and agreement with the votes' top class on every face. The test sets are never
read here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def keypoints(runs, data):
    from batchface.faces.detection import create_detector
    from training import train_keypoints as tk
    from training.blocks import as_exported
    from training.report_keypoints import end_to_end, nme15

    images, points, names = tk.load_ibug(data)
    meta = same_split(runs, "val_frames")
    _, val, _ = tk.person_split(names, 0.15, 0.1, split_seed(meta))  # the training defaults
    check_split(len(val), meta["val_frames"])
    rng = np.random.default_rng(0)  # unused: no jitter outside training
    crops, truth = zip(*(tk.sample(images[j], points[j], tk.IBUG68_NAMES, rng, 0, False, tk.IBUG68_FLIP) for j in val))
    x, truth = np.stack(crops)[..., None], np.stack(truth)
    detector = create_detector()
    for run in runs:
        plain, run_meta = load(run)
        zooms = run_meta.get("test_time_zooms")
        models = [("alone", plain)]
        if zooms:
            models.append((f"zooms {zooms}", as_exported(plain, run_meta)))
        for label, model in models:
            on_crops = nme15(model.predict(x, verbose=0).reshape(len(x), -1, 2), truth).mean()
            predicted, true, missed = end_to_end(model, detector, Path(data), [names[j] for j in val], tk.SIZE)
            print(
                f"{run} ({label}): validation NME15 on true crops {on_crops:.2%} ({len(x)} frames), "
                f"through the default detector {nme15(predicted, true).mean():.2%} ({len(x) - missed} found)"
            )


def expression(runs, data):
    from batchface.faces.models import to_unit
    from training import train_expression as te
    from training.blocks import as_exported

    meta = same_split(runs, "val_images")
    _, splits = te.load(argparse.Namespace(csv=None, ferplus=None, data=data, classes=len(meta["classes"])))
    images, labels = splits["Training"]
    _, val = te.stratified_split(labels, 0.1, np.random.default_rng(split_seed(meta)))  # the training defaults
    check_split(len(val), meta["val_images"])
    x = to_unit(images[val])[..., None]
    for run in runs:
        model, run_meta = load(run)
        plain = (model.predict(x, verbose=0).argmax(1) == labels[val]).mean()
        views = (as_exported(model, run_meta).predict(x, verbose=0).argmax(1) == labels[val]).mean()
        zooms = run_meta.get("test_time_zooms")
        print(
            f"{run}: validation accuracy {plain:.2%} alone, {views:.2%} with the views of its file "
            f"({f'zooms {zooms}, each mirrored' if zooms else 'none'}; {len(val)} images)"
        )


def ferplus_validation(data, seed: int = 1234) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The FER+ runs' validation faces: (images [N, 48, 48] uint8, FER+'s majority [N] (-1: none),
    the votes' top class [N]), 10 % of Training stratified by the top class, split ``seed``."""
    from training import train_expression as te
    from training.data import majority_labels, read_ferplus, vote_targets

    images, votes, _ = read_ferplus(Path(data) / "train.npz")
    targets, keep = vote_targets(votes)
    images, votes, top = images[keep], votes[keep], targets[keep].argmax(1)
    _, val = te.stratified_split(top, 0.1, np.random.default_rng(seed))  # the training defaults
    return images[val], majority_labels(votes[val]), top[val]


def ferplus(files, data, seed: int = 1234):
    from batchface.faces.models import ExpressionModel
    from training.data import FER_CLASSES

    images, majority, top = ferplus_validation(data, seed)
    neutral = majority == FER_CLASSES.index("neutral")
    for file in files:
        model = ExpressionModel(file, threads=0)
        predicted = np.concatenate([model.predict(images[i : i + 256]) for i in range(0, len(images), 256)]).argmax(1)
        ok = majority >= 0
        print(
            f"{file}: FER+ validation, majority {(predicted == majority)[ok].mean():.2%} ({ok.sum()} faces), "
            f"neutral read neutral {(predicted[neutral] == majority[neutral]).mean():.2%}, "
            f"top class of the votes {(predicted == top).mean():.2%} ({len(images)} faces)"
        )


def same_split(runs, count):
    """The first run's training facts, after checking that every run has the same split seed and size."""
    metas = [json.loads((Path(run) / "train_meta.json").read_text()) for run in runs]
    if len({(split_seed(m), m[count]) for m in metas}) > 1:
        raise SystemExit("the runs were split differently (seed or validation size): compare them apart")
    return metas[0]


def split_seed(meta) -> int:
    """The seed of a run's validation split: its training seed unless it was given apart."""
    return meta.get("split_seed", meta["seed"])


def check_split(found, trained):
    if found != trained:
        raise SystemExit(
            f"the runs have {trained} validation items, the training defaults give {found}: "
            "they were split with other fractions"
        )


def load(run):
    """The run's trained network and its ``train_meta.json``."""
    import keras

    return (
        keras.models.load_model(Path(run) / "model.keras", compile=False),
        json.loads((Path(run) / "train_meta.json").read_text()),
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=("keypoints", "expression", "ferplus"))
    p.add_argument("runs", nargs="+", help="run folders written by training.train_* (ferplus: .onnx files)")
    p.add_argument("--data", required=True, help="the data the runs were trained on")
    p.add_argument("--split-seed", type=int, default=1234, help="ferplus: the runs' validation split seed")
    args = p.parse_args(argv)
    if args.task == "ferplus":
        ferplus(args.runs, args.data, args.split_seed)
    else:
        (keypoints if args.task == "keypoints" else expression)(args.runs, args.data)


if __name__ == "__main__":
    main()
