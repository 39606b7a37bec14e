//! Throughput of the augmentation presets: the Koch et al. Omniglot distortion on 105x105
//! grayscale drawings, and the natural-image pipeline from a 320x240 RGB photo to a 224x224
//! crop.
//!
//! Each iteration augments one image, so criterion's elements per second are images per second.
//! Both presets run on one thread here: `u8` images take the crate's single-threaded paths (the
//! fixed-point affine warp, fast_image_resize built without its `rayon` feature, table-driven
//! colour jitter), and nothing in them uses the rayon pool inside one image. Only bicubic or
//! `f32` affine warps go through imageproc's row-parallel `warp`, which these presets do not
//! use. `benches/augment_compare.py` times Pillow and torchvision.transforms.v2 doing the same
//! operations on one thread for comparison.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fsl::augment::Augmenter;
use fsl::augment::presets::{koch_omniglot, natural_image};
use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const OMNIGLOT_SIDE: u32 = 105;
const NATURAL_INPUT: (u32, u32) = (320, 240);
const NATURAL_SIDE: u32 = 224;

/// Draws a character-like image: a ring and a bar of black strokes on white, values 0 and 255.
fn stroke_image() -> GrayImage {
    let centre = OMNIGLOT_SIDE as f32 / 2.0;

    GrayImage::from_fn(OMNIGLOT_SIDE, OMNIGLOT_SIDE, |x, y| {
        let (dx, dy) = (x as f32 - centre, y as f32 - centre);
        let on_ring = ((dx * dx + dy * dy).sqrt() - 30.0).abs() < 1.5;
        let on_bar = (y as f32 - 70.0).abs() < 1.5 && (20..85).contains(&x);
        Luma([if on_ring || on_bar { 0 } else { 255 }])
    })
}

/// Builds a seeded noisy colour gradient, so no operation receives a constant image.
fn photo_image() -> RgbImage {
    let mut rng = StdRng::seed_from_u64(17);
    let (width, height) = NATURAL_INPUT;

    RgbImage::from_fn(width, height, |x, y| {
        let noise: u8 = rng.random_range(0..32);
        Rgb([(x * 255 / width) as u8 ^ noise, (y * 255 / height) as u8, noise * 4])
    })
}

fn bench_koch(c: &mut Criterion) {
    let image = stroke_image();
    let augmenter = koch_omniglot();
    let mut rng = StdRng::seed_from_u64(3);

    let mut group = c.benchmark_group("augment_preset");
    group.throughput(Throughput::Elements(1));
    let id = BenchmarkId::new("koch_omniglot_gray", format!("{OMNIGLOT_SIDE}x{OMNIGLOT_SIDE}"));
    group.bench_function(id, |bencher| {
        bencher.iter(|| augmenter.augment(black_box(&image), &mut rng));
    });
    group.finish();
}

fn bench_natural(c: &mut Criterion) {
    let image = photo_image();
    let augmenter = natural_image(NATURAL_SIDE).expect("a non-zero output size");
    let mut rng = StdRng::seed_from_u64(5);

    let mut group = c.benchmark_group("augment_preset");
    group.throughput(Throughput::Elements(1));
    let (width, height) = NATURAL_INPUT;
    let id = BenchmarkId::new("natural_image_rgb", format!("{width}x{height}_to_{NATURAL_SIDE}"));
    group.bench_function(id, |bencher| {
        bencher.iter(|| augmenter.augment_rgb(black_box(&image), &mut rng));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Small defaults keep the run within a minute on two cores; command-line options such as
    // `--measurement-time` override them.
    // mimalloc keeps freed pages, as in the `fsl` binary, so that steps do not fault them in again.
    config = {
        fsl::allocator::keep_freed_pages();
        Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
    };
    targets = bench_koch, bench_natural
}
criterion_main!(benches);
