"""Times Pillow and torchvision doing the operations of the fsl-augment presets, for comparison
with `cargo bench --bench augment`.

Koch preset: one affine warp of a 105x105 grayscale image (rotation in [-10, 10] degrees,
shear and scale per axis, translation in [-2, 2] px, each component with probability 0.5,
bilinear, white fill). Natural preset: random resized crop of a 320x240 RGB image to 224x224
(area 8-100 %, aspect ratio 3/4-4/3, bilinear), horizontal flip with probability 0.5, then
brightness, contrast and saturation jitter of strength 0.4.

Variants, each on one thread (torch.set_num_threads(1)):
- pillow: the PIL calls torchvision's transforms make, called directly (Image.transform,
  resize with box=, transpose, ImageEnhance);
- torchvision_v2_pil / torchvision_v2_tensor: torchvision.transforms.v2 on a PIL image or a
  uint8 CHW tensor. The natural preset is v2.Compose([RandomResizedCrop(224, antialias=True),
  RandomHorizontalFlip(), ColorJitter(0.4, 0.4, 0.4)]). The Koch warp on PIL images is
  v2.functional.affine, which has one isotropic scale, so it gets the x-axis draw. On tensors it
  samples with the composed matrix through the grid helpers that v2.functional.affine uses.

Written against Pillow 13.0.0, numpy 2.4.6, torch 2.15.0 and torchvision 0.29.2; the grid helpers
are private to torchvision and may move in other versions.

Usage: python3 benches/augment_compare.py [--seconds 3]. Prints images per second of every
variant and the fastest per preset; exits with a message when a package is missing.
"""

import argparse
import math
import random
import sys
import time

try:
    import numpy as np
    import PIL
    import torch
    import torchvision
    from PIL import Image, ImageEnhance
    from torchvision.transforms import v2
    from torchvision.transforms.v2 import functional as F
    from torchvision.transforms.v2.functional._geometry import _affine_grid, _apply_grid_transform
except ImportError as error:
    sys.exit(
        f"augment_compare.py needs Pillow, numpy, torch and torchvision ({error}); "
        "install them with pip install pillow numpy torch torchvision"
    )

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


def koch_draw(rng):
    """Draw the Koch distortion: angle in radians, shear, scale and shift per axis."""
    p = 0.5
    angle = math.radians(rng.uniform(-10, 10)) if rng.random() < p else 0.0
    shear = (rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)) if rng.random() < p else (0.0, 0.0)
    scale = (rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)) if rng.random() < p else (1.0, 1.0)
    shift = (rng.uniform(-2, 2), rng.uniform(-2, 2)) if rng.random() < p else (0.0, 0.0)
    return angle, shear, scale, shift


def koch_inverse(angle, shear, scale):
    """Return the 2x2 map ((a, b), (d, e)) from output to input offsets around the image centre.

    Plain floats, not numpy: numpy's per-call overhead on 2x2 matrices would cost more than the
    warp of a 105x105 image.
    """
    cos, sin = math.cos(angle), math.sin(angle)
    # R @ H @ S with R = [[cos, -sin], [sin, cos]], H = [[1, shear_x], [shear_y, 1]].
    f00 = (cos - sin * shear[1]) * scale[0]
    f01 = (cos * shear[0] - sin) * scale[1]
    f10 = (sin + cos * shear[1]) * scale[0]
    f11 = (sin * shear[0] + cos) * scale[1]
    determinant = f00 * f11 - f01 * f10
    return (f11 / determinant, -f01 / determinant), (-f10 / determinant, f00 / determinant)


def koch(image, rng):
    width, height = image.size
    angle, shear, scale, shift = koch_draw(rng)
    (a, b), (d, e) = koch_inverse(angle, shear, scale)
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    # Input = inverse @ (output - centre - shift) + centre.
    offset_x = centre_x - (a * (centre_x + shift[0]) + b * (centre_y + shift[1]))
    offset_y = centre_y - (d * (centre_x + shift[0]) + e * (centre_y + shift[1]))
    # Pillow maps output (x, y) to input (a x + b y + c, d x + e y + f) with pixel centres at
    # half-integers, so shift by 0.5 on both sides.
    c = offset_x + 0.5 - 0.5 * (a + b)
    f = offset_y + 0.5 - 0.5 * (d + e)
    return image.transform(image.size, Image.AFFINE, (a, b, c, d, e, f), Image.BILINEAR, fillcolor=255)


def koch_v2_pil(image, rng):
    angle, shear, scale, shift = koch_draw(rng)
    # v2.functional.affine takes degrees, shear angles in degrees and one scale.
    shear_degrees = [math.degrees(math.atan(value)) for value in shear]
    return F.affine(
        image,
        angle=math.degrees(angle),
        translate=list(shift),
        scale=scale[0],
        shear=shear_degrees,
        interpolation=v2.InterpolationMode.BILINEAR,
        fill=255,
    )


def koch_v2_tensor(image, rng):
    height, width = image.shape[-2:]
    angle, shear, scale, shift = koch_draw(rng)
    (a, b), (d, e) = koch_inverse(angle, shear, scale)
    # The grid works in offsets from the image centre: input = inverse @ (output - shift).
    c = -(a * shift[0] + b * shift[1])
    f = -(d * shift[0] + e * shift[1])
    theta = torch.tensor([[a, b, c], [d, e, f]], dtype=torch.float32).reshape(1, 2, 3)
    grid = _affine_grid(theta, w=width, h=height, ow=width, oh=height)
    return _apply_grid_transform(image, grid, "bilinear", fill=[255.0])


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


NATURAL_V2 = v2.Compose(
    [
        v2.RandomResizedCrop(NATURAL_SIDE, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        v2.RandomHorizontalFlip(p=0.5),
        v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),
    ]
)


def natural_v2(image, _rng):
    return NATURAL_V2(image)


def images_per_second(augment, image, seconds):
    rng = random.Random(3)
    torch.manual_seed(3)
    for _ in range(20):
        augment(image, rng)

    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        augment(image, rng)
        count += 1
    return count / (time.perf_counter() - start)


def report(name, variants, seconds):
    """Time every variant of one preset, print its rate and then the fastest."""
    rates = {}
    for variant, (augment, image) in variants.items():
        rates[variant] = images_per_second(augment, image, seconds)
        print(f"{name} {variant}: {rates[variant]:.0f} images/s")

    fastest = max(rates, key=rates.get)
    print(f"{name} fastest: {fastest}, {rates[fastest]:.0f} images/s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measurement time per variant, in seconds")
    args = parser.parse_args()

    torch.set_num_threads(1)
    print(
        f"Pillow {PIL.__version__}, numpy {np.__version__}, torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}, one thread"
    )

    stroke = stroke_image()
    stroke_tensor = F.pil_to_tensor(stroke)
    report(
        f"koch_omniglot_gray {OMNIGLOT_SIDE}x{OMNIGLOT_SIDE}",
        {
            "pillow": (koch, stroke),
            "torchvision_v2_pil": (koch_v2_pil, stroke),
            "torchvision_v2_tensor": (koch_v2_tensor, stroke_tensor),
        },
        args.seconds,
    )

    photo = photo_image()
    photo_tensor = F.pil_to_tensor(photo)
    report(
        f"natural_image_rgb {NATURAL_INPUT[0]}x{NATURAL_INPUT[1]} to {NATURAL_SIDE}",
        {
            "pillow": (natural, photo),
            "torchvision_v2_pil": (natural_v2, photo),
            "torchvision_v2_tensor": (natural_v2, photo_tensor),
        },
        args.seconds,
    )


if __name__ == "__main__":
    main()
