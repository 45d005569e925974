"""Evaluation report of a keypoint training run on its held-out people: markdown, PNG figures, card.json.

    python -m training.report_keypoints runs/keypoints --data ../shared/data/keypoints/udacity_p1 \\
        --out reports/keypoints

The report of a shipped file scores that file (one run's export, or the mean of several runs made
by ``export.ensemble``, the runs all named):

    python -m training.report_keypoints runs/keypoints-c --model runs/keypoints-c/model.onnx \
        --data ../shared/data/keypoints/udacity_p1 --out reports/keypoints

Two measurements: on crops cut from the true eye and mouth points (the model alone), and end to
end (detector -> shared crop rule -> model -> original-image pixels), which is what a user gets.
NME is the mean point error divided by the distance of the outer eye corners (iBUG 36 and 45).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import cv2
import numpy as np

from batchface.faces import crop
from batchface.faces.detection import create_detector
from batchface.faces.landmarks import IBUG68_NAMES, alignment_points, kaggle_keypoints
from batchface.faces.models import to_unit
from training.metrics import nme, rmse
from training.report_expression import curves

OUTER = (IBUG68_NAMES.index("left_eye_3"), IBUG68_NAMES.index("right_eye_0"))  # iBUG 45, 36


def kaggle(points):
    return kaggle_keypoints(points, IBUG68_NAMES)


def nme15(predicted68, truth68):
    """NME of the 15 Kaggle points, normalised by the outer eye corners of the true 68."""
    norm = np.linalg.norm(truth68[:, OUTER[0]] - truth68[:, OUTER[1]], axis=-1)
    return np.linalg.norm(kaggle(predicted68) - kaggle(truth68), axis=-1).mean(-1) / norm


def end_to_end(model, detector, data: Path, frames, size: int):
    """Predicted and true 68 points in image pixels for the frames where the detector finds the face."""

    truth_of = {}
    for folder, name in (("training", "training_frames_keypoints.csv"), ("test", "test_frames_keypoints.csv")):
        if (data / name).exists():
            for row in csv.reader(open(data / name)):
                if row and row[0].endswith(".jpg"):
                    truth_of[f"{folder}/{row[0]}"] = np.array(row[1:137], float).reshape(68, 2)
    preds, truths, missed = [], [], 0
    for frame in frames:
        image = cv2.imread(str(data / frame))
        truth = truth_of[frame]
        det = detector.detect(image)
        if len(det) == 0:
            missed += 1
            continue
        anchor = alignment_points(truth, IBUG68_NAMES)
        k = int(np.argmin(np.linalg.norm(det.points.mean(1) - anchor.mean(0), axis=1)))
        m = crop.alignment_matrix(det.points[k], size)
        patch = to_unit(crop.cut(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), m, size))
        out = model.predict(patch[None, ..., None], verbose=0).reshape(-1, 2)
        preds.append(crop.to_image(out, m))
        truths.append(truth)
    return np.array(preds), np.array(truths), missed


class ExportedPoints:
    """An exported keypoint file, answering the ``predict`` call of a Keras model."""

    def __init__(self, path):
        from batchface.faces.models import KeypointModel

        self.session = KeypointModel(path).session

    def predict(self, x, verbose=0):
        return self.session.run(None, {"image": np.asarray(x, np.float32)})[0]


def figures(out: Path, crops, truth, predicted, errors68, per_point, ced):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3))
    ax.bar(range(68), per_point)
    (
        ax.set_xlabel("iBUG point"),
        ax.set_ylabel("mean error / outer-eye distance"),
        ax.set_title("error per point (crops)"),
    )
    fig.tight_layout(), fig.savefig(out / "per_point.png", dpi=110), plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    for label, errs in ced.items():
        xs = np.sort(errs)
        ax.plot(xs, np.arange(1, len(xs) + 1) / len(xs), label=label)
    ax.set_xlim(0, 0.2), ax.set_xlabel("NME"), ax.set_ylabel("fraction of faces"), ax.legend(fontsize=7)
    ax.set_title("cumulative error distribution"), ax.grid(alpha=0.3)
    fig.tight_layout(), fig.savefig(out / "ced.png", dpi=110), plt.close(fig)

    pick = np.argsort(errors68)[np.linspace(0, len(errors68) - 1, 16).astype(int)]
    fig, axes = plt.subplots(2, 8, figsize=(16, 4.6))
    for ax, i in zip(axes.ravel(), pick):
        ax.imshow(crops[i], cmap="gray")
        ax.scatter(truth[i, :, 0], truth[i, :, 1], s=4, c="lime", label="true")
        ax.scatter(predicted[i, :, 0], predicted[i, :, 1], s=4, c="red", label="predicted")
        ax.set_title(f"NME {errors68[i]:.3f}", fontsize=8), ax.axis("off")
    axes[0, 0].legend(fontsize=6, loc="lower left")
    fig.suptitle("held-out people, best to worst (green true, red predicted)", fontsize=9)
    fig.tight_layout(), fig.savefig(out / "faces.png", dpi=100), plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="the training run, or the runs whose mean the --model file is")
    p.add_argument("--data", required=True)
    p.add_argument("--model", help="score this exported file (.onnx) instead of the run's Keras network")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if len(args.runs) > 1 and not args.model:
        raise SystemExit("several runs are reported through the file that averages them: give --model")
    import keras

    from training.blocks import as_exported

    runs, out, data = [Path(r) for r in args.runs], Path(args.out), Path(args.data)
    run = runs[0]
    out.mkdir(parents=True, exist_ok=True)
    metas = [json.loads((r / "train_meta.json").read_text()) for r in runs]
    if len({(m["split"], m["test_frames"]) for m in metas}) > 1:
        raise SystemExit("the runs were split differently: they cannot be reported together")
    meta = metas[0]
    size = meta["input_size"]
    saved = np.load(run / "test_crops.npz")
    crops, truth, frames = saved["crops"], saved["truth"], list(saved["frames"])
    # the network as the shipped file runs it, with the views inside, or that file itself
    model = (
        ExportedPoints(args.model)
        if args.model
        else as_exported(keras.models.load_model(run / "model.keras", compile=False), meta)
    )
    predicted = model.predict(crops[..., None], verbose=0).reshape(len(crops), -1, 2)

    errors68, errors15 = nme(predicted, truth, *OUTER), nme15(predicted, truth)
    rmse15 = rmse(kaggle(predicted), kaggle(truth))
    per_point = (
        np.linalg.norm(predicted - truth, axis=-1)
        / np.linalg.norm(truth[:, OUTER[0]] - truth[:, OUTER[1]], axis=-1)[:, None]
    ).mean(0)
    card = {
        "test_set": f"{len(frames)} frames of {len(meta['test_people'])} held-out people (person-wise split)",
        "nme68_crops": round(float(errors68.mean()), 4),
        "nme15_crops": round(float(errors15.mean()), 4),
        "rmse15_crop_px": round(rmse15, 3),
    }
    ced = {"crops, 68 points": errors68, "crops, 15 Kaggle points": errors15}

    detectors = {"yunet": create_detector("yunet"), "blazeface": create_detector("blazeface")}
    e2e_rows = []
    for name, detector in detectors.items():
        pred_img, truth_img, missed = end_to_end(model, detector, data, frames, size)
        e68, e15 = nme(pred_img, truth_img, *OUTER), nme15(pred_img, truth_img)
        card[f"nme68_end_to_end_{name}"] = round(float(e68.mean()), 4)
        card[f"nme15_end_to_end_{name}"] = round(float(e15.mean()), 4)
        card[f"detected_{name}"] = f"{len(frames) - missed}/{len(frames)}"
        ced[f"end to end ({name}), 15 points"] = e15
        e2e_rows.append(
            f"| {name} | {len(frames) - missed}/{len(frames)} | {e68.mean():.2%} | {e15.mean():.2%} | "
            f"{np.median(e15):.2%} | {(e15 > 0.1).mean():.1%} |"
        )
    (out / "card.json").write_text(json.dumps(card, indent=2))
    curves([r / "history.csv" for r in runs if (r / "history.csv").exists()], out / "curves.png")
    figures(out, crops, truth, predicted, errors68, per_point, ced)

    worst = np.argsort(per_point)[::-1][:5]
    scored = (
        f"Scored: `{args.model}`" + (f", the mean of the points of {len(runs)} runs" if len(runs) > 1 else "") + "."
        if args.model
        else "Scored: the run's network, with the views its exported file runs."
    )
    lines = ["# Keypoint model: evaluation report", "", scored, ""]
    lines += [
        f"- Run `{r}`: {m['epochs_run']} epochs (of at most {m['epochs_max']}), batch {m['batch_size']}, "
        f"seed {m['seed']}, {m['params']:,} parameters. Crops for training: {m['alignment']}. "
        f"Loss (`--loss`): {m.get('loss', 'mse')}."
        + (
            f" Views: the crop zoomed about its centre by {' and '.join(map(str, m['test_time_zooms']))}, "
            "points averaged."
            if len(m.get("test_time_zooms") or []) > 1
            else ""
        )
        + (f" {m['rebuilt_from']}." if m.get("rebuilt_from") else "")
        for r, m in zip(runs, metas)
    ]
    lines += [
        "",
        f"Data: `{meta['data']}` (68 iBUG points). Split: {meta['split']}; {meta['train_frames']} training, "
        f"{meta['val_frames']} validation and {meta['test_frames']} test frames.",
        "",
        "## Held-out people, on crops",
        "",
        "Crops cut by the shared rule from the true eye centres and mouth-corner midpoint (no jitter).",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| NME, 68 points | {errors68.mean():.2%} (median {np.median(errors68):.2%}) |",
        f"| NME, 15 Kaggle points | {errors15.mean():.2%} (median {np.median(errors15):.2%}) |",
        f"| RMSE, 15 Kaggle points, {size}x{size} crop pixels | {rmse15:.2f} |",
        "",
        "Worst points (mean NME): " + ", ".join(f"{IBUG68_NAMES[i]} {per_point[i]:.3f}" for i in worst) + ".",
        "",
        "## Held-out people, end to end",
        "",
        "Detector -> crop from the detector's eye and mouth points -> model -> original-image pixels; a frame "
        "whose face the detector misses is not scored (the count says how many were found).",
        "",
        "| detector | faces found | NME 68 | NME 15 | median NME 15 | faces with NME 15 > 10% |",
        "| --- | --- | --- | --- | --- | --- |",
        *e2e_rows,
        "",
        "![ced](ced.png)",
        "",
        "![per point](per_point.png)",
        "",
        "![faces](faces.png)",
        "",
        "## Training curves",
        "",
        "![curves](curves.png)",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines))
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
