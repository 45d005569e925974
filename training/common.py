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
    """A Keras dataset of ``make_batch(indices) -> (x, y)`` over ``index``, reshuffled each epoch if asked."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.index = np.array(index)
            self.rng = np.random.default_rng(seed)
            self.on_epoch_end()

        def __len__(self):
            return int(np.ceil(len(self.index) / batch_size))

        def on_epoch_end(self):
            if shuffle:
                self.rng.shuffle(self.index)

        def __getitem__(self, i):
            return make_batch(self.index[i * batch_size:(i + 1) * batch_size])

    return Batches()


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
              verbose=2)
    model.save(out / "model.keras")
    return time.time() - start_time


def epochs_run(out: Path) -> int:
    return len((out / "history.csv").read_text().splitlines()) - 1
