"""Times Pillow doing the operations of the fsl-augment presets, for comparison with
`cargo bench --bench augment`.

Koch preset: one affine warp of a 105x105 grayscale image (rotation in [-10, 10] degrees,
shear and scale per axis, translation in [-2, 2] px, each component with probability 0.5,
bilinear, white fill). Natural preset: random resized crop of a 320x240 RGB image to 224x224
(area 8-100 %, aspect ratio 3/4-4/3, bilinear), horizontal flip with probability 0.5, then
brightness, contrast and saturation jitter of strength 0.4 with ImageEnhance. These are the
calls torchvision's transforms make on PIL images.

Usage: python3 benches/augment_compare.py [--seconds 3]. Prints images per second; exits with
a message when Pillow or numpy is missing.
"""

import argparse
import math
import random
import sys
import time

try:
    import numpy as np
    import PIL
    from PIL import Image, ImageEnhance
except ImportError as error:
    sys.exit(f"augment_compare.py needs Pillow and numpy ({error}); install them with pip install pillow numpy")

OMNIGLOT_SIDE = 105
NATURAL_INPUT = (320, 240)
NATURAL_SIDE = 224


def stroke_image():
    """Return a ring and a bar of black strokes on white, like the Rust benchmark's input."""
    y, x = np.mgrid[0:OMNIGLOT_SIDE, 0:OMNIGLOT_SIDE].astype(np.float32)
    centre = OMNIGLOT_SIDE / 2.0
    ring = np.abs(np.hypot(x - centre, y - centre) - 30.0) < 1.5
    bar = (np.abs(y - 70.0) < 1.5) & (x >= 20) & (x < 85)
    return Image.fromarray(np.where(ring | bar, 0, 255).astype(np.uint8), mode="L")


def photo_image():
    """Return a seeded noisy colour gradient of the natural benchmark's input size."""
    width, height = NATURAL_INPUT
    rng = np.random.default_rng(17)
    y, x = np.mgrid[0:height, 0:width]
    noise = rng.integers(0, 32, size=(height, width))
    red = (x * 255 // width) ^ noise
    green = y * 255 // height
    blue = noise * 4
    return Image.fromarray(np.stack([red, green, blue], axis=-1).astype(np.uint8), mode="RGB")


def koch(image, rng):
    width, height = image.size
    p = 0.5
    angle = math.radians(rng.uniform(-10, 10)) if rng.random() < p else 0.0
    shear = (rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)) if rng.random() < p else (0.0, 0.0)
    scale = (rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)) if rng.random() < p else (1.0, 1.0)
    shift = (rng.uniform(-2, 2), rng.uniform(-2, 2)) if rng.random() < p else (0.0, 0.0)

    cos, sin = math.cos(angle), math.sin(angle)
    forward = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, shear[0]], [shear[1], 1]]) @ np.diag(scale)
    inverse = np.linalg.inv(forward)
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    offset = centre - inverse @ (centre + np.array(shift))
    # Pillow maps output (x, y) to input (a x + b y + c, d x + e y + f) with pixel centres at
    # half-integers, so shift by 0.5 on both sides.
    a, b, d, e = inverse[0, 0], inverse[0, 1], inverse[1, 0], inverse[1, 1]
    c = offset[0] + 0.5 - 0.5 * (a + b)
    f = offset[1] + 0.5 - 0.5 * (d + e)
    return image.transform(image.size, Image.AFFINE, (a, b, c, d, e, f), Image.BILINEAR, fillcolor=255)


def random_resized_crop(image, rng):
    width, height = image.size
    area = width * height
    log_ratio = (math.log(3 / 4), math.log(4 / 3))
    for _ in range(10):
        target = area * rng.uniform(0.08, 1.0)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = rng.randint(0, height - h)
            left = rng.randint(0, width - w)
            break
    else:
        w, h, top, left = width, height, 0, 0
    return image.resize((NATURAL_SIDE, NATURAL_SIDE), Image.BILINEAR, box=(left, top, left + w, top + h))


def natural(image, rng):
    image = random_resized_crop(image, rng)
    if rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.6, 1.4))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.6, 1.4))
    return ImageEnhance.Color(image).enhance(rng.uniform(0.6, 1.4))


def images_per_second(augment, image, seconds):
    rng = random.Random(3)
    for _ in range(20):
        augment(image, rng)

    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        augment(image, rng)
        count += 1
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measurement time per preset, in seconds")
    args = parser.parse_args()

    print(f"Pillow {PIL.__version__}, numpy {np.__version__}, one thread")
    koch_rate = images_per_second(koch, stroke_image(), args.seconds)
    print(f"koch_omniglot_gray {OMNIGLOT_SIDE}x{OMNIGLOT_SIDE}: {koch_rate:.0f} images/s")
    natural_rate = images_per_second(natural, photo_image(), args.seconds)
    print(f"natural_image_rgb {NATURAL_INPUT[0]}x{NATURAL_INPUT[1]} to {NATURAL_SIDE}: {natural_rate:.0f} images/s")


if __name__ == "__main__":
    main()
