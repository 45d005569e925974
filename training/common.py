"""What both training scripts share: arguments, TensorFlow set-up, batches, the fit loop."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def add_common_args(p, epochs: int, batch_size: int, patience: int, limit_help: str):
    p.add_argument("--out", required=True, help="run folder: checkpoints, history, model, predictions")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay after warm-up)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--patience", type=int, default=patience, help="early stopping, in epochs (watched from the second half of the run on)")
    p.add_argument("--limit", type=int, default=0, help=limit_help)
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = all cores)")


def start(args) -> Path:
    """Seed everything, cap TensorFlow's threads, make the run folder."""
    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def batches(index, make_batch, batch_size: int, shuffle: bool, seed: int):
    """A tf.data dataset of ``make_batch(indices) -> (x, y)`` numpy batches over ``index``, in a new
    order each epoch if asked (``seed`` fixes the orders).

    The batches are made in a ``tf.numpy_function`` over batch numbers: Keras' ``PyDataset`` feeds
    ``tf.data.Dataset.from_generator``, which cost a 2-core machine 0.8 s of system time a training
    step (expression model, batch 64: 1.0 s a step against 0.5 s this way).
    """
    import tensorflow as tf

    index = np.array(index)
    rng = np.random.default_rng(seed)
    n_batches = int(np.ceil(len(index) / batch_size))

    def numbered_batch(i):
        if i == 0 and shuffle:  # Keras reads every epoch from batch 0 on, in order
            rng.shuffle(index)
        return make_batch(index[i * batch_size:(i + 1) * batch_size])

    x, y = make_batch(index[:1])  # dtypes and per-item shapes of what make_batch returns
    specs = [tf.TensorSpec((None,) + a.shape[1:], tf.as_dtype(a.dtype)) for a in (x, y)]

    def numbered_tensors(i):
        tensors = tf.numpy_function(numbered_batch, [i], [s.dtype for s in specs], stateful=True)
        return tuple(tf.ensure_shape(t, s.shape) for t, s in zip(tensors, specs))

    return tf.data.Dataset.range(n_batches).map(numbered_tensors).prefetch(1)


def fit(model, train, val, args, out: Path, loss, monitor: str, metrics=(), class_weight=None) -> float:
    """Adam with warm-up and cosine decay; early stopping in the second half of the run, with the
    best weights of that half restored; a backup every epoch so a killed run continues where it
    stopped. Returns the seconds spent."""
    import keras

    steps = args.epochs * len(train)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr * 0.1, steps, warmup_target=args.lr, warmup_steps=min(len(train), steps // 10))
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=list(metrics))
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        # not in the first half: the cosine schedule's gains come late, and a noisy validation score
        # under a high learning rate stopped a 100-epoch run at epoch 57, below the 50-epoch run
        keras.callbacks.EarlyStopping(monitor=monitor, patience=args.patience, restore_best_weights=True,
                                      start_from_epoch=args.epochs // 2),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]
    start_time = time.time()
    model.fit(train, validation_data=val, epochs=args.epochs, class_weight=class_weight, callbacks=callbacks,
              shuffle=False,  # batches() shuffles
              verbose=2)
    model.save(out / "model.keras")
    return time.time() - start_time


def epochs_run(out: Path) -> int:
    return len((out / "history.csv").read_text().splitlines()) - 1
