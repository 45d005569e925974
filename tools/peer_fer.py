"""The peer for ``tools/bench.py``: the ``fer`` package as its users run it; prints JSON.

    .venv-peer/bin/python tools/peer_fer.py LIST_OF_IMAGES

One process, fer's defaults (OpenCV's Haar cascade, its quantized mini-Xception through TensorFlow
Lite): ``cv2.imread`` and ``FER().detect_emotions`` on each image. The first image loads the models
and is not timed. fer needs OpenCV 4 (``cv2.CascadeClassifier``) and TensorFlow, so it runs in an
environment of its own (``make bench`` makes it from ``tools/peer-requirements.txt``).
"""

import json
import resource
import sys
import time

if __name__ == "__main__":
    import cv2
    from fer import __version__
    from fer.fer import FER

    paths = [line.rstrip("\n") for line in open(sys.argv[1]) if line.strip()]
    detector = FER()
    detector.detect_emotions(cv2.imread(paths[0]))
    faces = 0
    start = time.perf_counter()
    for path in paths:
        faces += len(detector.detect_emotions(cv2.imread(path)))
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "name": f"fer {__version__}",
                "images": len(paths),
                "faces": faces,
                "seconds": seconds,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )
