"""Choose an expression file's class weights on the two validation sets.

    python -m training.class_weights runs/expression-ferplus-mean.onnx \\
        --ferplus ../shared/data/fer2013/ferplus --data ../shared/data

FER+ is a set of stock photos chosen to hold every expression; the users' photos and video are mostly
calm and smiling faces, and a file trained on FER+'s votes keeps FER+'s priors: on the in-the-wild
faces it reads a calm, talking face `surprise` or `sad` where `neutral` is a little less probable.
Multiplying the probabilities of `neutral` and `happy` by a weight and dividing by their sum moves
the priors (Saerens et al. 2002). Each pair of weights on :data:`GRID` is scored on the FER+
validation faces (accuracy against the majority) and on the in-the-wild faces (the mean recall of
their labelled classes, neutral and happy, so that the many calm faces do not outweigh the smiles);
among the pairs that keep FER+ validation at :data:`MIN_FERPLUS` or more, the chosen one has the
highest lower of the in-the-wild neutral and happy recalls (the issue asks each to be 85 % or
more), the best mean of the two scores breaking ties. PublicTest is never read here.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from export.common import reweighed
from training import in_the_wild
from training.validate import ferplus_validation

GRID = (1.0, 1.5, 2.0, 3.0)  # the weights tried for neutral and for happy
#: FER+ validation accuracy that a weighting must keep: a point over the issue's 84 % on PublicTest,
#: since validation and PublicTest differ by about a point
MIN_FERPLUS = 0.85


def scored(val_probs, majority, wild_probs, found, rows, classes, weights) -> dict:
    """The validation figures of one weighting."""
    answers = reweighed(val_probs, weights).argmax(1)
    ok, neutral = majority >= 0, majority == classes.index("neutral")
    # a face not found again has a row of zeros, left out of the scores: one added keeps its sum off 0
    wild = in_the_wild.scores_of(reweighed(wild_probs + ~found[:, None], weights), found, rows, classes)
    figures = {
        "ferplus": float((answers == majority)[ok].mean()),
        "ferplus_neutral": float((answers[neutral] == majority[neutral]).mean()),
        "wild": wild["agreement"],
        "wild_neutral": wild["recall"].get("neutral", float("nan")),
        "wild_happy": wild["recall"].get("happy", float("nan")),
        "wild_balanced": float(np.mean(list(wild["recall"].values()))),
        "wild_lower": float(min(wild["recall"].values())),
    }
    figures["mean"] = (figures["ferplus"] + figures["wild_balanced"]) / 2
    return figures


def choose(model_path, ferplus: Path, data: Path) -> tuple[dict, list[tuple[dict, dict]]]:
    """(the chosen weights by class name, every weighting of the grid with its figures)."""
    from batchface.faces.models import ExpressionModel

    model = ExpressionModel(model_path, threads=0)
    classes = list(model.classes)
    images, majority, _ = ferplus_validation(ferplus)
    val_probs = np.concatenate([model.predict(images[i : i + 256]) for i in range(0, len(images), 256)])
    rows = in_the_wild.read_labels()
    wild_probs, found = in_the_wild.probabilities(model, data, rows)
    table = []
    for neutral, happy in itertools.product(GRID, GRID):
        named = {"neutral": neutral, "happy": happy}
        weights = np.array([named.get(c, 1.0) for c in classes], np.float32)
        table.append((named, scored(val_probs, majority, wild_probs, found, rows, classes, weights)))
    return pick(table), table


def pick(table: list[tuple[dict, dict]]) -> dict:
    """The rule: of the weightings that keep FER+ validation at :data:`MIN_FERPLUS`, the one whose
    lower in-the-wild recall (of neutral and happy) is highest; of equals, the one with the best mean
    of FER+ validation and in-the-wild balanced recall (then the first, fewer weights first)."""
    kept = [(named, f) for named, f in table if f["ferplus"] >= MIN_FERPLUS]
    if not kept:
        raise SystemExit(f"no weighting keeps FER+ validation at {MIN_FERPLUS:.0%}")
    return max(kept, key=lambda t: (t[1]["wild_lower"], t[1]["mean"]))[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="an expression file without class weights (.onnx)")
    p.add_argument("--ferplus", required=True, help="the FER+ folder (train.npz)")
    p.add_argument("--data", required=True, help="the data folder the in-the-wild labels' sources are relative to")
    args = p.parse_args(argv)
    chosen, table = choose(args.model, Path(args.ferplus), Path(args.data))
    print(
        "| neutral | happy | FER+ validation: majority / neutral | in the wild: agreement / neutral / happy "
        "| mean of FER+ validation and the wild's neutral and happy |"
    )
    print("| --- | --- | --- | --- | --- |")
    for named, f in table:
        mark = "**" if named == chosen else ""
        print(
            f"| {mark}x{named['neutral']:g}{mark} | {mark}x{named['happy']:g}{mark} | {f['ferplus']:.2%} / "
            f"{f['ferplus_neutral']:.2%} | {f['wild']:.1%} / {f['wild_neutral']:.1%} / {f['wild_happy']:.1%} | "
            f"{f['mean']:.2%} |"
        )
    print("chosen: " + ",".join(f"{c}={w:g}" for c, w in chosen.items()))


if __name__ == "__main__":
    main()
