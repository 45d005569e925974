"""What both training scripts share: arguments, set-up, batches, the fit loop.

The scripts run on Keras' TensorFlow backend (the ``train`` extra). They also run on its JAX
backend (``KERAS_BACKEND=jax``), for a GPU machine that has JAX and no TensorFlow.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def add_common_args(p, epochs: int, batch_size: int, patience: int, limit_help: str):
    p.add_argument("--out", required=True, help="run folder: options, checkpoints, history, model, predictions")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay after warm-up)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument(
        "--patience",
        type=int,
        default=patience,
        help="early stopping, in epochs (watched from the second half of the run on)",
    )
    p.add_argument("--limit", type=int, default=0, help=limit_help)
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = all cores; TensorFlow backend only)")


def start(args) -> Path:
    """Make the run folder, seed everything, cap TensorFlow's threads (on that backend).

    A folder with a backup holds an unfinished run, which this one continues; it must have the
    options that run started with (``options.json``): another ``--epochs``, for one, would stretch
    the learning-rate schedule mid-run. Without a backup a new run starts there, and the history
    of an earlier one is dropped.
    """
    import keras

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    options = {k: v for k, v in vars(args).items() if k not in ("out", "threads")}  # neither changes the run
    saved = out / "options.json"
    if (out / "backup").exists():
        before = json.loads(saved.read_text()) if saved.exists() else options  # runs from before options.json
        changed = sorted(k for k in before.keys() | options.keys() if before.get(k) != options.get(k))
        if changed:
            raise SystemExit(
                f"{out} holds an unfinished run with other options ("
                + "; ".join(f"{k}: {before.get(k)} then, {options.get(k)} now" for k in changed)
                + "): continue it with the same options, or give another --out"
            )
    else:
        (out / "history.csv").unlink(missing_ok=True)
    saved.write_text(json.dumps(options, indent=2))
    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(args.seed)
    return out


def batches(index, make_batch, batch_size: int, shuffle: bool, seed: int):
    """Batches ``make_batch(indices) -> (x, y)`` (numpy) over ``index``, in a new order each epoch if
    asked (``seed`` fixes the orders): a tf.data dataset on the TensorFlow backend, a Keras
    ``PyDataset`` on any other.

    tf.data shuffles and batches the indices; numpy makes the batches in a ``tf.numpy_function``.
    Keras' ``PyDataset`` feeds ``tf.data.Dataset.from_generator`` on TensorFlow, which cost a 2-core
    machine 0.8 s of system time a training step (expression model, batch 64: about 1.0 s a step
    against 0.6-0.7 s this way).
    """
    import keras

    index = np.asarray(index)
    if keras.backend.backend() != "tensorflow":
        return _py_dataset(index, make_batch, batch_size, shuffle, seed)
    import tensorflow as tf

    x, y = make_batch(index[:1])  # dtypes and per-item shapes of what make_batch returns
    specs = [tf.TensorSpec((None,) + a.shape[1:], tf.as_dtype(a.dtype)) for a in (x, y)]

    def batch_tensors(indices):
        tensors = tf.numpy_function(make_batch, [indices], [s.dtype for s in specs], stateful=True)
        return tuple(tf.ensure_shape(t, s.shape) for t, s in zip(tensors, specs))

    ds = tf.data.Dataset.from_tensor_slices(index)
    if shuffle:
        ds = ds.shuffle(len(index), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(batch_tensors).prefetch(1)


def _py_dataset(index, make_batch, batch_size: int, shuffle: bool, seed: int):
    """:func:`batches` as a ``keras.utils.PyDataset``: one thread makes the next batches while the
    accelerator runs this one. More threads fight over Python's lock: making the expression
    model's batches (64 faces) took 5.7 ms a batch with one thread, 10.0 with two and 15.0 with four
    on this project's 2-core machine."""
    import keras

    rng = np.random.default_rng(seed)

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False, max_queue_size=16)
            self.order = rng.permutation(index) if shuffle else index

        def __len__(self):
            return -(-len(index) // batch_size)

        def __getitem__(self, i):
            return make_batch(self.order[i * batch_size : (i + 1) * batch_size])

        def on_epoch_end(self):
            if shuffle:
                self.order = rng.permutation(index)

    return Batches()


def keep_best(path: Path, monitor: str, start_epoch: int):
    """A callback that keeps the weights of the best epoch from ``start_epoch`` (0-based) on in
    ``path`` (``*.weights.h5``) and loads them when training ends.

    EarlyStopping's ``restore_best_weights`` holds them in memory and forgets them when a killed
    run continues from its backup; these are on disk, their epoch (counted from 1, as Keras prints
    it) and score beside them in ``path`` with ``.json`` for ``.h5``. Lower is better for a loss,
    higher for anything else.
    """
    import keras

    sign = -1.0 if "loss" in monitor else 1.0
    score_file = path.with_suffix(".json")

    class KeepBest(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 0:  # a new run in this folder: what an earlier one kept is not ours
                path.unlink(missing_ok=True)
                score_file.unlink(missing_ok=True)

        def on_epoch_end(self, epoch, logs=None):
            if epoch < start_epoch:
                return
            if score_file.exists() and sign * logs[monitor] <= sign * json.loads(score_file.read_text())[monitor]:
                return
            self.model.save_weights(path)
            score_file.write_text(json.dumps({"epoch": epoch + 1, monitor: float(logs[monitor])}))

        def on_train_end(self, logs=None):
            if path.exists():
                self.model.load_weights(path)

    return KeepBest()


def fit(model, train, val, args, out: Path, loss, monitor: str, metrics=(), class_weight=None) -> float:
    """Adam with warm-up and cosine decay; early stopping in the second half of the run, with the
    best weights of that half restored (:func:`keep_best`); a backup every epoch so a killed run
    continues where it stopped. Returns the seconds spent."""
    import keras

    steps = args.epochs * len(train)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr * 0.1, steps, warmup_target=args.lr, warmup_steps=min(len(train), steps // 10)
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=list(metrics))
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        # not in the first half: the cosine schedule's gains come late, and a noisy validation score
        # under a high learning rate stopped a 100-epoch run at epoch 57, below the 50-epoch run
        keras.callbacks.EarlyStopping(monitor=monitor, patience=args.patience, start_from_epoch=args.epochs // 2),
        keep_best(out / "best.weights.h5", monitor, start_epoch=args.epochs // 2),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]
    start_time = time.time()
    model.fit(
        train,
        validation_data=val,
        epochs=args.epochs,
        class_weight=class_weight,
        callbacks=callbacks,
        shuffle=False,  # batches() shuffles
        verbose=2,
    )
    model.save(out / "model.keras")
    return time.time() - start_time


def zooms(text: str) -> list[float]:
    """``--test-time-zooms``: comma-separated zooms, or ``none``."""
    return [] if text == "none" else [float(z) for z in text.split(",")]


def save_calibration_crops(out: Path, crops: np.ndarray, seed: int, n: int = 512) -> None:
    """``n`` of the run's training crops (uint8, as cut), picked at random, for ``export.quantize``."""
    pick = np.sort(np.random.default_rng(seed).choice(len(crops), size=min(n, len(crops)), replace=False))
    np.savez_compressed(out / "calibration_crops.npz", crops=np.asarray(crops)[pick])


def epochs_run(out: Path) -> int:
    return len((out / "history.csv").read_text().splitlines()) - 1
