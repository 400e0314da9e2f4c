"""A user's own scoring script, written from docs/deployment.md ("Preprocessing, exactly") alone: numpy,
Pillow and ONNX Runtime, nothing of this library. It writes the CSV of ``recognizability quality``.

    python onnx_plain_script.py model.onnx scores.csv IMAGE [IMAGE ...]
"""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import onnxruntime
from PIL import Image


def cubic(x, a=-0.5):
    """Pillow's bicubic kernel."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = a * (((x - 5) * x + 8) * x - 4)
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def resize_weights(n_in, n_out):
    """(n_out, n_in) weights of one axis: the kernel stretched when shrinking, each row summing to 1."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        first = max(int(center - 2 * stretch + 0.5), 0)
        last = min(int(center + 2 * stretch + 0.5), n_in)
        taps = cubic((np.arange(first, last) - center + 0.5) / stretch)
        weights[i, first:last] = taps / taps.sum()
    return weights


def network_input(path, size):
    """float32 (3, size, size): RGB, 0..255, resized as the command resizes."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64).transpose(2, 0, 1)
    if rgb.shape[1:] != (size, size):
        rows, columns = resize_weights(rgb.shape[1], size), resize_weights(rgb.shape[2], size)
        rgb = np.einsum("oh,chw,pw->cop", rows, rgb, columns)
        rgb = np.clip(np.rint(np.round(rgb, 6)), 0, 255)
    return rgb.astype(np.float32)


def main(argv):
    model, out, paths = argv[0], argv[1], argv[2:]
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    size = json.loads(metadata["recognizability.preprocessing"])["input_size"]
    knots = json.loads(metadata["recognizability.calibration"])
    batch = np.stack([network_input(path, size) for path in paths])
    _, xi_hat = session.run(["embedding", "xi_hat"], {"images": batch})
    probability = np.interp(xi_hat.astype(np.float64), knots["xi_knots"], knots["probability_knots"])
    quality = np.rint(100 * probability).astype(int)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["path", "quality", "xi_hat"])
        for path, q, xi in zip(paths, quality, xi_hat, strict=True):
            writer.writerow([path, int(q), f"{float(xi):.6f}"])


if __name__ == "__main__":
    main(sys.argv[1:])
