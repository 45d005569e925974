"""Export steps: Keras models and MediaPipe's BlazeFace to ONNX (the ``train`` extra)."""
