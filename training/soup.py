"""Average the weights of runs fine-tuned from one start: a uniform model soup (Wortsman et al. 2022).

    python -m training.soup runs/ferplus-a-1240 runs/ferplus-a-1250 --out runs/ferplus-a-soup

Fine-tunes of one network from the same weights stay in one basin of the loss, so the mean of their
weights is a network about as good as either, with less of the spread that one seed's draws
leave (``reports/expression-experiments.md``, "A larger validation set"). The runs must share
the start (``--init``) and every option but the seed. The soup's folder is a run folder like theirs
(``model.keras``, ``train_meta.json``, ``options.json``, the first run's calibration crops,
history and test crops), which ``export.keras_to_onnx`` and ``export.ensemble`` read; its ``seed`` names the
runs' seeds and ``soup`` the runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

#: options that may differ between the runs of one soup
FREE_OPTIONS = ("seed",)
#: files of the first run that the soup's folder keeps: int8 calibration, the curves of the report
KEPT_FILES = ("calibration_crops.npz", "history.csv")


def mean_weights(weight_lists: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of several networks' weights (each a list of arrays in one order),
    batch norms' moving statistics included, each array kept in its dtype."""
    return [np.mean(arrays, axis=0).astype(arrays[0].dtype) for arrays in zip(*weight_lists)]


def check_alike(options: list[dict]) -> None:
    """Raise ``SystemExit`` unless the runs share a start and every option but :data:`FREE_OPTIONS`."""
    if not options[0].get("init"):
        raise SystemExit("a soup is of fine-tunes of one start: the runs need --init")
    for other in options[1:]:
        differ = sorted(k for k in {*options[0], *other} if k not in FREE_OPTIONS and options[0].get(k) != other.get(k))
        if differ:
            raise SystemExit(f"the runs differ in {', '.join(differ)}: a soup averages runs alike but for the seed")


def soup(runs: list[Path], out: Path) -> Path:
    """Write the soup of ``runs`` to the run folder ``out`` and return it."""
    import keras

    from training import blocks  # noqa: F401  (registers the custom layers that model.keras names)

    if len(runs) < 2:
        raise SystemExit("a soup needs two runs or more")
    options = [json.loads((run / "options.json").read_text()) for run in runs]
    check_alike(options)
    models = [keras.models.load_model(run / "model.keras", compile=False) for run in runs]
    model = models[0]
    model.set_weights(mean_weights([m.get_weights() for m in models]))
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    metas = [json.loads((run / "train_meta.json").read_text()) for run in runs]
    meta = {**metas[0], "seed": ", ".join(str(m["seed"]) for m in metas), "soup": [run.name for run in runs]}
    meta.pop("test_accuracy", None)  # the first run's, not the soup's
    (out / "train_meta.json").write_text(json.dumps(meta, indent=2))
    (out / "options.json").write_text(json.dumps({**options[0], "seed": meta["seed"]}, indent=2))
    for name in KEPT_FILES:
        if (runs[0] / name).exists():
            shutil.copy(runs[0] / name, out / name)
    # the export's parity check reads real crops beside the model; the first run's predictions are not the soup's
    if (runs[0] / "test_predictions.npz").exists():
        np.savez(out / "test_crops.npz", crops=np.load(runs[0] / "test_predictions.npz")["crops"])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="training run folders fine-tuned from one start (model.keras, options.json)")
    p.add_argument("--out", required=True, help="the soup's run folder")
    args = p.parse_args(argv)
    print(soup([Path(r) for r in args.runs], Path(args.out)))


if __name__ == "__main__":
    main()
