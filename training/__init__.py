"""Training code for batchface's models (TensorFlow/Keras; the ``train`` extra). Never imported by the runtime."""
