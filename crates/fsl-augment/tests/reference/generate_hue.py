"""Reference outputs of hue rotation for the fsl-augment tests.

Written with torch 2.15.0, torchvision 0.29.2 and numpy 2.4.6; run from this folder with
`python3 generate_hue.py` to rewrite `hue.json`. The Rust tests only read the JSON.

The expected images come from torchvision.transforms.v2.functional.adjust_hue on a float32
tensor, the exact HSV rotation (RGB to HSV, hue + factor modulo 1, back to RGB). The 8-bit input
is divided by 255 first. Neither of torchvision's other paths is used as the reference, because
its uint8 path truncates on the way back and its PIL path rotates a hue quantised to 256 steps.
"""

import json

import numpy as np
import torch
import torchvision
from torchvision.transforms.v2 import functional as F

WIDTH, HEIGHT = 16, 8
FACTORS = [-0.5, -0.31, -0.1, 0.0, 0.04, 0.2, 0.37, 0.5]


def input_image():
    """Seeded random colours plus pixels that test ties and edge cases, as HxWx3 uint8."""
    rng = np.random.default_rng(2024)
    image = rng.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    special = [
        (255, 0, 0),  # primaries and secondaries
        (0, 255, 0),
        (0, 0, 255),
        (255, 255, 0),
        (0, 255, 255),
        (255, 0, 255),
        (128, 128, 128),  # gray: no hue
        (0, 0, 0),
        (255, 255, 255),
        (200, 200, 10),  # red and green tie for the maximum
        (10, 200, 200),  # green and blue tie
        (200, 10, 200),  # red and blue tie
        (1, 0, 0),  # smallest chroma
        (254, 255, 255),
        (37, 90, 91),
        (250, 5, 6),  # hue just below 1 wraps to 0
    ]
    for index, colour in enumerate(special):
        image[0, index] = colour
    return image


def main():
    image = input_image()
    tensor = torch.from_numpy(image).permute(2, 0, 1).to(torch.float32) / 255.0

    cases = []
    for factor in FACTORS:
        rotated = F.adjust_hue(tensor, factor)
        cases.append({"factor": factor, "expected": rotated.permute(1, 2, 0).reshape(-1).tolist()})

    fixture = {
        "generator": f"generate_hue.py with torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"numpy {np.__version__}",
        "width": WIDTH,
        "height": HEIGHT,
        "input": image.reshape(-1).tolist(),
        "cases": cases,
    }
    with open("hue.json", "w") as file:
        json.dump(fixture, file, indent=1)


if __name__ == "__main__":
    main()
