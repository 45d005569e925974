"""ResNet-style building blocks shared by the keypoint and the expression model."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def _conv_bn(x, filters: int, kernel: int, stride: int = 1, relu: bool = True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, kernel_initializer="he_normal")(
        x
    )
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x) if relu else x


def conv_block(x, filters: int, stride: int = 2):
    """Two 3x3 convolutions beside a 1x1 projection shortcut (changes width and resolution)."""
    shortcut = _conv_bn(x, filters, 1, stride, relu=False)
    y = _conv_bn(x, filters, 3, stride)
    y = _conv_bn(y, filters, 3, relu=False)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def identity_block(x, filters: int):
    """Two 3x3 convolutions beside an identity skip connection."""
    y = _conv_bn(x, filters, 3)
    y = _conv_bn(y, filters, 3, relu=False)
    return layers.ReLU()(layers.Add()([y, x]))


def resnet_trunk(inputs, stem_stride: int, widths=(32, 64, 128, 256), identity_blocks=(1, 1, 0)):
    """Stem convolution, then per stage one conv block (stride 2) and ``identity_blocks`` identity blocks.

    A max-pool follows the stem, as in the ResNet of the original write-up; the output is the last
    feature map (input side / (stem_stride * 2 ** (stages + 1)) pixels wide).
    """
    x = _conv_bn(inputs, widths[0], 3, stem_stride)
    x = layers.MaxPooling2D(2)(x)
    for filters, n_identity in zip(widths[1:], identity_blocks):
        x = conv_block(x, filters)
        for _ in range(n_identity):
            x = identity_block(x, filters)
    return x


@keras.saving.register_keras_serializable(package="batchface")
class Standardized(layers.Layer):
    """Each image of the batch less its mean, over its standard deviation (at least ``floor``): a
    dim, flat face from a dark hall reads as a well-lit one (the floor keeps a blank crop's noise
    from being blown up)."""

    def __init__(self, floor: float = 8 / 255, **kwargs):
        super().__init__(**kwargs)
        self.floor = floor

    def call(self, t):
        mean = keras.ops.mean(t, axis=(1, 2, 3), keepdims=True)
        std = keras.ops.sqrt(keras.ops.mean(keras.ops.square(t - mean), axis=(1, 2, 3), keepdims=True))
        return (t - mean) / keras.ops.maximum(std, self.floor)

    def get_config(self):
        return {**super().get_config(), "floor": self.floor}


def expression_net(
    size: int, n_classes: int, dropout: float, widths=(32, 64, 128, 256), standardize: bool = False
) -> keras.Model:
    """ResNet classifier: [N, size, size, 1] in [0, 1] -> [N, n_classes] probabilities; ``standardize``:
    the network first brings each image to mean 0 and standard deviation 1 (:class:`Standardized`)."""
    inputs = keras.Input((size, size, 1), name="image")
    x = resnet_trunk(Standardized(name="standardized")(inputs) if standardize else inputs, stem_stride=1, widths=widths)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="expression")


def keypoint_net(size: int, n_points: int, dropout: float = 0.0) -> keras.Model:
    """ResNet regressor: [N, size, size, 1] in [0, 1] -> [N, 2K] as x0, y0, x1, y1, ... in crop pixels.

    The last layer scales a centred unit output to pixels, so the exported model speaks pixels and
    the loss can still be computed on a unit scale.
    """
    inputs = keras.Input((size, size, 1), name="image")
    x = resnet_trunk(inputs, stem_stride=2)
    x = _conv_bn(x, 64, 1)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(2 * n_points)(x)
    outputs = layers.Rescaling(scale=float(size), offset=size / 2.0, name="keypoints")(x)
    return keras.Model(inputs, outputs, name="keypoints")


def zoom_matrix(size: int, zoom: float) -> np.ndarray:
    """[size, size] bilinear interpolation matrix that scales one image axis by ``zoom`` about its centre.

    ``m @ image @ m.T`` zooms a [size, size] image as ``cv2.warpAffine`` with
    ``cv2.getRotationMatrix2D(((size - 1) / 2,) * 2, 0, zoom)`` and ``BORDER_REPLICATE`` does: pixel
    centres sit on integers, and a sample beyond the edge takes the edge pixel.
    """
    centre = (size - 1) / 2
    source = np.clip((np.arange(size) - centre) / zoom + centre, 0, size - 1)
    low = np.floor(source).astype(int)
    weight = source - low
    m = np.zeros((size, size), np.float32)
    np.add.at(m, (np.arange(size), low), 1 - weight)
    np.add.at(m, (np.arange(size), np.minimum(low + 1, size - 1)), weight)
    return m


def zoomed(inputs, zoom: float, name: str):
    """The [N, S, S, C] image batch zoomed about its centre by ``zoom`` (see :func:`zoom_matrix`)."""
    m = zoom_matrix(int(inputs.shape[1]), zoom)
    return layers.Lambda(lambda t, m=m: keras.ops.einsum("ij,bjkc,lk->bilc", m, t, m), name=name)(inputs)


def views_averaged(model: keras.Model, zooms=(1.0,)) -> keras.Model:
    """The same network answering with the mean of its outputs on several views of the image: the
    image zoomed about its centre by each of ``zooms``, each view also mirrored.

    An expression reads the same in a mirror and at a slightly other framing; what the views gain is
    in ``reports/expression-experiments.md``. The exported file carries the whole thing.
    """
    inputs = keras.Input(model.input_shape[1:], name="image")
    outputs = []
    for i, zoom in enumerate(zooms):
        view = inputs if zoom == 1.0 else zoomed(inputs, zoom, f"zoom_{i}")
        mirrored = layers.Lambda(lambda t: keras.ops.flip(t, axis=2), name=f"mirror_{i}")(view)
        outputs += [model(view), model(mirrored)]
    return keras.Model(inputs, layers.Average(name="mean_of_views")(outputs), name=model.name)


def points_zoom_averaged(model: keras.Model, zooms=(1.0,)) -> keras.Model:
    """The keypoint network answering with the mean of its points on the crop zoomed about its
    centre by each of ``zooms``, each view's points mapped back to the crop's pixels.

    A zoom is not a mirror: mirrored, the points would have to swap sides. What the views gain is in
    ``reports/keypoint-experiments.md``.
    """
    inputs = keras.Input(model.input_shape[1:], name="image")
    centre = (int(model.input_shape[1]) - 1) / 2
    outputs = []
    for i, zoom in enumerate(zooms):
        if zoom == 1.0:
            outputs.append(model(inputs))
            continue
        points = model(zoomed(inputs, zoom, f"zoom_{i}"))
        # a point at x in the crop lands at (x - centre) * zoom + centre in the zoomed view
        outputs.append(layers.Lambda(lambda p, z=zoom: (p - centre) / z + centre, name=f"unzoom_{i}")(points))
    mean = layers.Average(name="mean_of_views")(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(inputs, mean, name=model.name)


def as_exported(model: keras.Model, meta: dict) -> keras.Model:
    """The trained network as its exported file runs it: with the views of the run's
    ``test_time_zooms`` (``train_meta.json``), if any."""
    zooms = meta.get("test_time_zooms")
    if not zooms:
        return model
    return (points_zoom_averaged if meta["task"] == "keypoints" else views_averaged)(model, zooms)
