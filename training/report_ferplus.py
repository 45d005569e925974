"""Evaluation report of an expression model file against FER+'s votes, FER2013's labels and faces
of real video labelled by eye: markdown, PNG figures and card.json.

    python -m training.report_ferplus runs/ferplus-a --model runs/expression-ferplus.onnx \
        --ferplus ../shared/data/fer2013/ferplus --data ../shared/data --out reports/expression-ferplus

Scored on PublicTest (FER+'s ``FER2013Valid``, 3,579 faces; never used to choose a model):

- against FER+'s majority (``training.data.majority_labels``: Barsoum et al.'s, single votes dropped,
  a class with more than half of the rest; the faces whose majority is one of the seven classes),
  and against the plurality of the raw votes (ties left out), a looser reading;
- against FER2013's own label of each face, beside the ceiling that the votes reach there (the
  vote majority read as an answer);
- the share of FER+-neutral faces read neutral, macro-F1, the confusion matrix;
- on the in-the-wild faces (``training.in_the_wild``): agreement and recall per class;
- the answers on every frame of the two sample videos, and a strip of annotated frames;
- the time a face on one thread, in batches of 16.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from training import in_the_wild
from training.data import FER_CLASSES, majority_labels, plurality_labels, read_ferplus, vote_targets
from training.metrics import confusion, per_class
from training.report_expression import confusion_png, curves

COST_BATCH = 16  # faces a model call, as a run's tasks of 16 images about give


def against(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """Accuracy, macro-F1, per-class recall and confusion over the faces whose label is >= 0."""
    ok = labels >= 0
    matrix = confusion(labels[ok], predicted[ok], n_classes)
    stats = per_class(matrix)
    return {
        "faces": int(ok.sum()),
        "accuracy": float((labels[ok] == predicted[ok]).mean()),
        "macro_f1": float(stats["f1"].mean()),
        "recall": stats["recall"].tolist(),
        "confusion": matrix,
    }


def ms_a_face(model, crops: np.ndarray, repeats: int = 3) -> float:
    """Median over ``repeats`` of the milliseconds a face, ``crops`` read in batches of :data:`COST_BATCH`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(crops), COST_BATCH):
            model.predict(crops[i : i + COST_BATCH])
        times.append((time.perf_counter() - start) * 1000 / len(crops))
    return float(np.median(times))


def score(model_path, ferplus: Path, data: Path | None) -> dict:
    """Every measure of the report for the expression model file ``model_path``."""
    from batchface.faces.models import ExpressionModel

    model = ExpressionModel(model_path, threads=0)
    classes = list(model.classes)
    if classes != list(FER_CLASSES):
        raise SystemExit(f"{model_path}: classes {classes}, expected {list(FER_CLASSES)}")
    images, votes, fer2013 = read_ferplus(ferplus / "publictest.npz")
    probs = np.concatenate([model.predict(images[i : i + 256]) for i in range(0, len(images), 256)])
    predicted = probs.argmax(1)
    majority = majority_labels(votes)
    n = len(classes)
    result = {
        "model": str(model_path),
        "majority": against(majority, predicted, n),
        "plurality": against(plurality_labels(votes), predicted, n),
        "fer2013": against(fer2013, predicted, n),
        # the votes read as an answer: their majority where there is one, else their most voted of the seven
        "votes_on_fer2013": against(fer2013, np.where(majority >= 0, majority, vote_targets(votes)[0].argmax(1)), n),
    }
    neutral = FER_CLASSES.index("neutral")
    result["neutral_read_neutral"] = result["majority"]["recall"][neutral]
    single = ExpressionModel(model_path, threads=1)
    result["ms_a_face"] = ms_a_face(single, images[:512])
    if data is not None:
        result["in_the_wild"] = in_the_wild.evaluate(model_path, data)
        result["photos"] = in_the_wild.evaluate(model_path, data, in_the_wild.PHOTOS)
    return result


def video_lines(counts: dict, strip: str) -> list[str]:
    """The report's lines on the sample videos' answers (:func:`sample_videos`)."""
    lines = ["The answers on every frame's faces (the default detector):", ""]
    for name, c in counts.items():
        lines.append(f"- `{name}`: " + ", ".join(f"{k} {v}" for k, v in c.items()) + f" ({sum(c.values())} faces)")
    return lines + ["", f"Eight frames of each, evenly spaced, as `--annotate` draws them: ![strip]({strip})", ""]


SAMPLE_VIDEOS = ("0492_03_009_bill_gates.avi", "short_hamilton_clip.mp4")


def sample_videos(model_path, data: Path, out_jpg: Path, shown: int = 8) -> dict:
    """Every frame of the sample videos through the run's analyzer with the model ``model_path``:
    the count of each answer per video, and a strip of ``shown`` frames of each, evenly spaced and
    annotated as ``--annotate`` draws them, in ``out_jpg``."""
    import cv2

    from batchface.faces.analysis import Analyzer
    from batchface.media.video import VideoReader
    from batchface.output.drawing import draw

    analyzer = Analyzer(expression_model=model_path)
    counts, rows = {}, []
    for name in SAMPLE_VIDEOS:
        frames = [(f.image, analyzer.analyze(f.image)) for f in VideoReader(data / "samples" / "videos" / name)]
        answers = [f.emotion for _, faces in frames for f in faces]
        counts[name] = {c: answers.count(c) for c in sorted(set(answers), key=answers.count, reverse=True)}
        picked = np.linspace(0, len(frames) - 1, shown).round().astype(int)
        tiles = [cv2.resize(draw(*frames[i]), (320, 180 if name.endswith(".mp4") else 240)) for i in picked]
        rows += [np.hstack(tiles[k : k + 4]) for k in range(0, len(tiles), 4)]  # four frames a row
    cv2.imwrite(str(out_jpg), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return counts


def card_of(r: dict) -> dict:
    """The model card's figures (``card.json``), rounded."""
    card = {
        "test_set": "FER2013 PublicTest with FER+'s ten votes a face (3,579 faces)",
        "ferplus_majority_accuracy": round(r["majority"]["accuracy"], 4),
        "ferplus_majority_macro_f1": round(r["majority"]["macro_f1"], 4),
        "ferplus_majority_faces": r["majority"]["faces"],
        "ferplus_neutral_read_neutral": round(r["neutral_read_neutral"], 4),
        "ferplus_plurality_accuracy": round(r["plurality"]["accuracy"], 4),
        "fer2013_label_accuracy": round(r["fer2013"]["accuracy"], 4),
        "fer2013_label_ceiling_of_the_votes": round(r["votes_on_fer2013"]["accuracy"], 4),
    }
    for key in ("in_the_wild", "photos"):
        if key in r:
            w = r[key]
            card[f"{key}_agreement"] = round(w["agreement"], 4)
            card[f"{key}_faces"] = w["faces"]
            card |= {f"{key}_recall_{c}": round(v, 4) for c, v in w["recall"].items() if w["support"][c] >= 10}
    return card


def lines_of(r: dict, title: str) -> list[str]:
    """The report's section on one model file."""
    m, p, f, v = r["majority"], r["plurality"], r["fer2013"], r["votes_on_fer2013"]
    out = [
        f"## {title}",
        "",
        f"`{r['model']}`; {r['ms_a_face']:.2f} ms a face on one thread (batches of {COST_BATCH}).",
        "",
        "| measure (PublicTest) | value | faces |",
        "| --- | --- | --- |",
        f"| accuracy against FER+'s majority (7 classes) | **{m['accuracy']:.2%}** | {m['faces']:,} |",
        f"| macro-F1 against FER+'s majority | {m['macro_f1']:.3f} | {m['faces']:,} |",
        f"| FER+-neutral faces read neutral | **{r['neutral_read_neutral']:.2%}** | "
        f"{int(m['confusion'][FER_CLASSES.index('neutral')].sum()):,} |",
        f"| accuracy against the plurality of the raw votes (ties left out) | {p['accuracy']:.2%} | {p['faces']:,} |",
        f"| accuracy against FER2013's own labels | {f['accuracy']:.2%} | {f['faces']:,} |",
        f"| the votes themselves against FER2013's labels (the ceiling of a model that follows them) "
        f"| {v['accuracy']:.2%} | {v['faces']:,} |",
        "",
        "Recall per FER+ majority class: "
        + ", ".join(f"{c} {m['recall'][i]:.1%}" for i, c in enumerate(FER_CLASSES))
        + ".",
        "",
    ]
    for key, name in (
        ("in_the_wild", "In the wild, video frames (`training/wild/labels.csv`)"),
        ("photos", "In the wild, photos (`training/wild/photos.csv`)"),
    ):
        if key in r:
            w = r[key]
            recall = ", ".join(
                f"{c} {x:.1%} ({w['support'][c]} faces; {in_the_wild.between(w['recall_interval'][c])})"
                for c, x in w["recall"].items()
            )
            out += [
                f"{name}: agreement **{w['agreement']:.1%}** of {w['faces']} faces labelled with an expression "
                f"({in_the_wild.between(w['agreement_interval'])}); "
                f"recall {recall}; {w['not_found']} labelled faces not found again by the detector.",
                "",
            ]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="the training runs whose networks the --model file holds")
    p.add_argument("--model", required=True, help="the exported file to score")
    p.add_argument("--compare", nargs="*", default=[], help="other expression files, scored beside it")
    p.add_argument("--ferplus", required=True, help="the folder of publictest.npz")
    p.add_argument("--data", help="the data folder of the in-the-wild labels' sources (left out if not given)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    out, runs = Path(args.out), [Path(r) for r in args.runs]
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data) if args.data else None
    results = [score(m, Path(args.ferplus), data) for m in [args.model, *args.compare]]
    card = card_of(results[0])
    (out / "card.json").write_text(json.dumps(card, indent=2))
    confusion_png(results[0]["majority"]["confusion"], FER_CLASSES, out / "confusion.png")
    histories = [run / "history.csv" for run in runs if (run / "history.csv").exists()]
    if histories:
        curves(histories, out / "curves.png", "accuracy")
    metas = [json.loads((run / "train_meta.json").read_text()) for run in runs]
    lines = [
        "# Expression model: evaluation report",
        "",
        *(
            f"Run `{run.name}`: {m['data']}, {m['targets']}, {m['epochs_run']} epochs (of at most "
            f"{m['epochs_max']}), batch {m['batch_size']}, seed {m['seed']}, {m['params']:,} parameters; "
            f"split: {m['split']}."
            for run, m in zip(runs, metas)
        ),
        "",
        "PublicTest is FER2013's PublicTest with FER+'s votes (`../shared/data/fer2013/ferplus/publictest.npz`), "
        "never used to choose; FER+'s majority is Barsoum et al.'s (single votes dropped, then more than half "
        "of the rest), the faces whose majority is `contempt`, `unknown` or not a face left out. "
        "`python -m training.report_ferplus --help` says how each measure is made.",
        "",
    ]
    for i, r in enumerate(results):
        lines += lines_of(r, "The file" if i == 0 else f"Beside it: `{Path(r['model']).name}`")
    if data is not None:
        lines += ["## The sample videos", ""]
        for i, model in enumerate([args.model, *args.compare]):
            strip = f"videos-{i}.jpg"
            counts = sample_videos(model, data, out / strip)
            lines += [f"### `{Path(model).name}`", ""] + video_lines(counts, strip)
    lines += ["![confusion against FER+'s majority](confusion.png)", ""]
    if histories:
        lines += ["![training curves](curves.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    print(json.dumps(card, indent=2))
    for r in results[1:]:
        print(json.dumps(card_of(r), indent=2))


if __name__ == "__main__":
    main()
