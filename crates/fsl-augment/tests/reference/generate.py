"""Reference outputs of affine warps and Gaussian blurs for the fsl-augment tests.

Written with numpy 2.4.6 and scipy 1.17.1 (scipy.ndimage); run from this folder with
`python3 generate.py` to rewrite `affine_blur.json`. The Rust tests only read the JSON.

Conventions shared with the Rust crate, recomputed here independently:
- pixel (x, y) has its centre at integer coordinates, the image centre is ((w-1)/2, (h-1)/2);
- the affine map sends input point p to c + R(angle) @ H @ S @ (p - c) + t, with
  R = [[cos, -sin], [sin, cos]] (positive angles turn clockwise on screen because y points
  down), H = [[1, shear_x], [shear_y, 1]], S = diag(scale_x, scale_y);
- bilinear interpolation reads the fill value outside the image (scipy mode "grid-constant");
- the Gaussian blur kernel has radius ceil(2 sigma), is normalised to sum 1, and repeats the
  edge pixels beyond the border (scipy mode "nearest").
"""

import json
import math

import numpy as np
import scipy
from scipy import ndimage

WIDTH, HEIGHT = 13, 11


def input_image():
    """Smooth gradient plus a bright bar and a dark block, values in [0, 1] on the 8-bit grid."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    levels = (x * 13 + y * 7) % 200 + 20
    levels[3:5, 2:11] = 250
    levels[6:9, 4:7] = 5
    return levels.astype(np.float64) / 255.0


def affine(image, case):
    angle = math.radians(case["rotation_degrees"])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shear = np.array([[1.0, case["shear_x"]], [case["shear_y"], 1.0]])
    scale = np.diag([case["scale_x"], case["scale_y"]])
    forward = rotation @ shear @ scale
    centre = np.array([(WIDTH - 1) / 2.0, (HEIGHT - 1) / 2.0])
    translation = np.array([case["translate_x"], case["translate_y"]])

    # Output point q reads input point p = F^-1 (q - c - t) + c; scipy wants (row, col) order.
    inverse = np.linalg.inv(forward)
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    matrix = swap @ inverse @ swap
    offset = swap @ (centre - inverse @ (centre + translation))
    return ndimage.affine_transform(
        image, matrix, offset=offset, order=1, mode="grid-constant", cval=case["fill"] / 255.0
    )


def blur(image, sigma):
    radius = math.ceil(2.0 * sigma)
    return ndimage.gaussian_filter(image, sigma, mode="nearest", radius=radius)


def main():
    image = input_image()
    affine_cases = [
        dict(rotation_degrees=17.0, shear_x=0.0, shear_y=0.0, scale_x=1.0, scale_y=1.0,
             translate_x=0.0, translate_y=0.0, fill=0),
        dict(rotation_degrees=-8.0, shear_x=0.2, shear_y=-0.1, scale_x=0.9, scale_y=1.15,
             translate_x=1.5, translate_y=-0.75, fill=255),
        dict(rotation_degrees=0.0, shear_x=-0.3, shear_y=0.25, scale_x=1.2, scale_y=0.8,
             translate_x=-2.0, translate_y=1.25, fill=128),
    ]
    for case in affine_cases:
        case["expected"] = affine(image, case).ravel().tolist()

    blur_cases = [dict(sigma=sigma, expected=blur(image, sigma).ravel().tolist()) for sigma in (0.7, 1.0, 1.6)]

    fixture = {
        "generator": f"generate.py with numpy {np.__version__}, scipy {scipy.__version__}",
        "width": WIDTH,
        "height": HEIGHT,
        "input": image.ravel().tolist(),
        "affine": affine_cases,
        "blur": blur_cases,
    }
    with open("affine_blur.json", "w") as file:
        json.dump(fixture, file, indent=1)


if __name__ == "__main__":
    main()
