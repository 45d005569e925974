"""The media layer: the walk of the inputs and the decoding of images and video frames."""
