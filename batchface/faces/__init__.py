"""The faces layer: detection, crops, keypoints, expressions, tracking and head pose of one frame or video."""
