"""Evaluation report of an expression training run: markdown, PNG figures and card.json.

    python -m training.report_expression runs/expression --data ../shared/data/fer2013 --out reports/expression

The shipped file averages several runs (``export.ensemble``); its report scores that file:

    python -m training.report_expression runs/expression-a runs/expression-b runs/expression-c \
        --model batchface/assets/expression.onnx --data ../shared/data/fer2013 --out reports/expression
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import cv2
import numpy as np

from batchface.faces import crop
from training.data import pixel_hashes, read_fer_folders, select_classes
from training.metrics import confusion, per_class


def curves(histories: Path | list[Path], out_png: Path, metric: str | None = None):
    """Training and validation loss per epoch, and ``metric`` beside it when given; several runs'
    histories in one figure, each line named after its run folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    histories = histories if isinstance(histories, list) else [histories]
    keys = ["loss", metric] if metric else ["loss"]
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.5), squeeze=False)
    for path in histories:
        rows = list(csv.DictReader(open(path)))
        epochs = [int(r["epoch"]) + 1 for r in rows]
        run = f"{path.parent.name}: " if len(histories) > 1 else ""
        for ax, key in zip(axes[0], keys):
            ax.plot(epochs, [float(r[key]) for r in rows], label=run + "train")
            ax.plot(epochs, [float(r["val_" + key]) for r in rows], label=run + "validation")
    for ax, key in zip(axes[0], keys):
        ax.set_xlabel("epoch"), ax.set_title(key), ax.legend(fontsize=6 if len(histories) > 1 else None)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def confusion_png(matrix, classes, out_png: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                f"{matrix[i, j]}\n{norm[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xlabel("predicted"), ax.set_ylabel("true"), ax.set_title("PublicTest confusion (counts, row %)")
    fig.colorbar(im)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def faces_grid(images, labels, predicted, classes, out_png: Path, n: int = 24, seed: int = 0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pick = np.random.default_rng(seed).choice(len(images), n, replace=False)
    fig, axes = plt.subplots(3, n // 3, figsize=(n // 3 * 1.5, 3 * 1.8))
    for ax, i in zip(axes.ravel(), pick):
        ax.imshow(images[i], cmap="gray")
        ok = labels[i] == predicted[i]
        ax.set_title(f"{classes[labels[i]]}\n→ {classes[predicted[i]]}", fontsize=7, color="green" if ok else "red")
        ax.axis("off")
    fig.suptitle("PublicTest faces: true → predicted (green right, red wrong)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def framing_png(fer_images, samples: Path | None, out_png: Path, n: int = 12):
    """Run-time crops (detector -> shared crop rule) beside FER2013 training images."""
    from batchface.faces.detection import create_detector

    crops = []
    if samples and samples.exists():
        detector = create_detector()
        for path in sorted(samples.rglob("*.jpg")):
            image = cv2.imread(str(path))
            if image is None:
                continue
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            for points in detector.detect(image).points[:2]:
                crops.append(crop.cut(gray, crop.alignment_matrix(points, 48), 48))
            if len(crops) >= n:
                break
    rows = [np.hstack(list(fer_images[:n]))]
    if crops:
        rows.append(np.hstack(crops[:n] + [np.zeros((48, 48), np.uint8)] * (n - len(crops[:n]))))
    grid = np.vstack(rows)
    cv2.imwrite(str(out_png), cv2.resize(grid, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
    return len(crops)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="the training run, or the runs whose mean the --model file is")
    p.add_argument("--model", help="score this exported file (onnxruntime) instead of the run's saved predictions")
    p.add_argument("--data", required=True, help="the FER2013 image folders the runs were trained on")
    p.add_argument("--samples", default=None, help="photos for the crop-framing figure (default: DATA/../samples)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    runs, out = [Path(r) for r in args.runs], Path(args.out)
    if len(runs) > 1 and not args.model:
        raise SystemExit("several runs are reported through the file that averages them: give --model")
    out.mkdir(parents=True, exist_ok=True)
    metas = [json.loads((run / "train_meta.json").read_text()) for run in runs]
    meta = metas[0]
    classes = meta["classes"]

    data = read_fer_folders(args.data)
    train_imgs, _ = select_classes(*data["Training"][:2], classes)[:2]
    test_imgs, labels = select_classes(*data["PublicTest"][:2], classes)[:2]
    if args.model:
        from batchface.faces.models import ExpressionModel

        model = ExpressionModel(args.model, threads=0)
        if list(model.classes) != classes:
            raise SystemExit(f"{args.model} has other classes than {runs[0]}: {model.classes} against {classes}")
        probs = np.concatenate([model.predict(test_imgs[i : i + 256]) for i in range(0, len(test_imgs), 256)])
        weights = model.metadata.get("weights")
        cascade = json.loads(model.metadata.get("cascade", "null"))
    else:
        weights = cascade = None
        saved = np.load(runs[0] / "test_predictions.npz")
        probs = saved["probabilities"]
        assert (saved["labels"] == labels).all(), "the test set differs from the one the run predicted"
    predicted = probs.argmax(1)
    train_hashes = set(pixel_hashes(train_imgs))
    duplicate = np.array([h in train_hashes for h in pixel_hashes(test_imgs)])
    blank = test_imgs.reshape(len(test_imgs), -1).std(1) < 3

    matrix = confusion(labels, predicted, len(classes))
    stats = per_class(matrix)
    accuracy = float((predicted == labels).mean())
    macro_f1 = float(stats["f1"].mean())
    clean = ~duplicate & ~blank
    matrix_clean = confusion(labels[clean], predicted[clean], len(classes))
    card = {
        "test_set": "FER2013 PublicTest (3,589 images)",
        "test_accuracy": round(accuracy, 4),
        "test_macro_f1": round(macro_f1, 4),
        "test_accuracy_without_train_duplicates": round(float((predicted == labels)[~duplicate].mean()), 4),
        "test_macro_f1_without_train_duplicates": round(
            float(per_class(confusion(labels[~duplicate], predicted[~duplicate], len(classes)))["f1"].mean()), 4
        ),
        "test_images_duplicating_train": int(duplicate.sum()),
        "test_accuracy_clean": round(float((predicted == labels)[clean].mean()), 4),
        "test_macro_f1_clean": round(float(per_class(matrix_clean)["f1"].mean()), 4),
    }
    (out / "card.json").write_text(json.dumps(card, indent=2))

    histories = [run / "history.csv" for run in runs if (run / "history.csv").exists()]
    if histories:  # else the figure drawn when the runs' histories were at hand stays
        curves(histories, out / "curves.png", "accuracy")
    confusion_png(matrix, classes, out / "confusion.png")
    faces_grid(test_imgs, labels, predicted, classes, out / "faces.png")
    samples = Path(args.samples) if args.samples else Path(args.data).parent / "samples"
    n_runtime = framing_png(train_imgs, samples, out / "framing.png")

    scored = (
        f"the file `{args.model}` (onnxruntime{'; weights ' + weights if weights else ''})"
        if args.model
        else "the run's own predictions"
    )
    lines = [
        "# Expression model: evaluation report",
        "",
        *(
            f"Run `{run}`: {m['epochs_run']} epochs (of at most {m['epochs_max']}), batch {m['batch_size']}, "
            f"seed {m['seed']}, {m['params']:,} parameters."
            for run, m in zip(runs, metas)
        ),
        "",
        f"Data: `{meta['data']}`. Split: {meta['split']}; {meta['train_images']:,} training, "
        f"{meta['val_images']:,} validation, {meta['test_images']:,} test images. Scored: {scored}"
        + (
            f", `{cascade['run']}` in front of the mean of the other runs' outputs: a face whose most probable "
            f"class it gives at least {cascade['sure']} keeps its answer (`export/cascade.py`)"
            if cascade
            else f", the mean of the {len(runs)} runs' outputs"
            if len(runs) > 1
            else ""
        )
        + "."
        + (
            f" Each {'averaged ' if cascade else ''}network's output is the mean of its outputs on the image zoomed by "
            f"{' and '.join(map(str, meta['test_time_zooms']))} and on each view's mirror image, as in the shipped "
            "file."
            if meta.get("test_time_zooms")
            else ""
        ),
        "",
        "## PublicTest",
        "",
        "| measure | all test images | without test images that duplicate a training image "
        "| also without blank images |",
        "| --- | --- | --- | --- |",
        f"| accuracy | {accuracy:.2%} | {card['test_accuracy_without_train_duplicates']:.2%} "
        f"| {card['test_accuracy_clean']:.2%} |",
        f"| macro-F1 | {macro_f1:.3f} | {card['test_macro_f1_without_train_duplicates']:.3f} "
        f"| {card['test_macro_f1_clean']:.3f} |",
        f"| images | {len(labels)} | {int((~duplicate).sum())} | {int(clean.sum())} |",
        "",
        "Duplicates are exact pixel copies of a training image (after JPEG decoding); blank images have a "
        "pixel standard deviation under 3. `../shared/data/SOURCES.md` counts 568 test images in a duplicate "
        f"group with a training image; on the PublicTest folder at hand we find {int(duplicate.sum())} "
        "(the same with OpenCV's and Pillow's JPEG decoders), and report that count.",
        "",
        "## Per class (all PublicTest images)",
        "",
        "| class | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for i, c in enumerate(classes):
        lines.append(
            f"| {c} | {stats['precision'][i]:.3f} | {stats['recall'][i]:.3f} | {stats['f1'][i]:.3f} | "
            f"{stats['support'][i]} |"
        )
    missing = [run.name for run in runs if not (run / "history.csv").exists()]
    lines += [
        "",
        "![confusion](confusion.png)",
        "",
        "![faces](faces.png)",
        "",
        "## Training curves",
        "",
        *(
            [
                f"Not kept for {', '.join(missing)} (no history.csv)"
                + ("; the figure was drawn when they were trained." if len(missing) == len(runs) else "."),
                "",
            ]
            if missing
            else []
        ),
        "![curves](curves.png)",
        "",
        "## Crop framing",
        "",
        "Top row: FER2013 training images. Bottom row: run-time crops cut from the sample photos by the "
        f"shared crop rule (`batchface/faces/crop.py`, the default detector's points; {n_runtime} crops). "
        "The template was "
        "calibrated on FER2013 itself (`training/calibrate_template.py`), so the two rows should be framed alike.",
        "",
        "![framing](framing.png)",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines))
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
