//! Benchmarks of the data path: episode sampling, Omniglot augmentation and PNG decoding.
//!
//! Sizes follow Omniglot: a background alphabet split has classes of 20 drawings each, and every
//! drawing is a 105x105 black-on-white image that the models see as 28x28 f32 values.
//!
//! The `read_decode` group reads `images_background_small1.zip` from `FSL_DATA_DIR`, or from
//! `../shared/data/omniglot` beside the repository, and panics with instructions when it is
//! missing.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fsl::augment::{Affine, Augmenter};
use fsl::datasets::decode::{DecodeOptions, decode_image, decode_luma8, decode_table, gray_to_f32};
use fsl::datasets::omniglot;
use fsl::sequences::{EpisodeSampler, EpisodeSpec, SamplerOptions};
use image::{GrayImage, ImageFormat, Luma};
use rand::SeedableRng;
use rand::rngs::StdRng;

const OMNIGLOT_SIDE: u32 = 105;
const MODEL_SIDE: u32 = 28;

/// Draws a character-like image: black strokes about 3 px wide on white, only 0 and 255 values
/// like the 1-bit Omniglot PNGs.
fn stroke_image() -> GrayImage {
    let mut image = GrayImage::from_pixel(OMNIGLOT_SIDE, OMNIGLOT_SIDE, Luma([255]));
    let centre = OMNIGLOT_SIDE as f32 / 2.0;

    for y in 0..OMNIGLOT_SIDE {
        for x in 0..OMNIGLOT_SIDE {
            let (dx, dy) = (x as f32 - centre, y as f32 - centre);
            let on_ring = ((dx * dx + dy * dy).sqrt() - 30.0).abs() < 1.5;
            let on_diagonal = (dx - dy).abs() < 2.0 && dx.abs() < 40.0;
            let on_bar = (y as f32 - 70.0).abs() < 1.5 && (20..85).contains(&x);
            if on_ring || on_diagonal || on_bar {
                image.put_pixel(x, y, Luma([0]));
            }
        }
    }
    image
}

fn bench_sampler(c: &mut Criterion) {
    let (classes, per_class) = (136u32, 20u32);
    let labels: Vec<u32> = (0..classes * per_class).map(|item| item / per_class).collect();

    let mut group = c.benchmark_group("sampler");
    for (n_way, k_shot, q_query) in [(5usize, 1usize, 15usize), (60, 5, 5)] {
        let spec = EpisodeSpec::new(n_way, k_shot, q_query).expect("a valid episode shape");
        let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).expect("classes large enough");
        let id = BenchmarkId::new("episode", format!("{classes}x{per_class}_{n_way}w{k_shot}s{q_query}q"));

        let mut index = 0u64;
        group.bench_function(id, |bencher| {
            bencher.iter(|| {
                index += 1;
                sampler.episode(7, black_box(index))
            });
        });
    }
    group.finish();
}

fn bench_augment(c: &mut Criterion) {
    let image = stroke_image();
    let affine = Affine::omniglot();
    let mut rng = StdRng::seed_from_u64(3);

    let mut group = c.benchmark_group("augment");
    group.throughput(Throughput::Elements(1));
    let id = BenchmarkId::new("affine_omniglot", format!("{OMNIGLOT_SIDE}x{OMNIGLOT_SIDE}"));
    group.bench_function(id, |bencher| {
        bencher.iter(|| affine.augment(black_box(&image), &mut rng));
    });
    group.finish();
}

fn bench_decode(c: &mut Criterion) {
    // NOTE: the encoder writes 8-bit grayscale, but Omniglot's own files are 1-bit PNGs whose
    // decoding also unpacks bits. Pixel values and sizes are the same.
    let mut png = Vec::new();
    stroke_image()
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .expect("PNG encoding into memory");

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(png.len() as u64));
    let id = BenchmarkId::new(
        "png_luma8_to_f32",
        format!("{OMNIGLOT_SIDE}x{OMNIGLOT_SIDE}_to_{MODEL_SIDE}x{MODEL_SIDE}"),
    );
    group.bench_function(id, |bencher| {
        bencher.iter(|| {
            let image = decode_luma8(black_box(&png)).expect("a valid PNG");
            gray_to_f32(&image, MODEL_SIDE, MODEL_SIDE, true)
        });
    });
    group.finish();
}

/// Returns the small background archive, panicking with instructions when it is missing.
fn omniglot_small1() -> PathBuf {
    let folder = match std::env::var_os("FSL_DATA_DIR") {
        Some(folder) => PathBuf::from(folder),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/omniglot"),
    };
    let archive = folder.join("images_background_small1.zip");
    assert!(
        archive.is_file(),
        "{} not found: set FSL_DATA_DIR to the folder that contains images_background_small1.zip",
        archive.display()
    );
    archive
}

fn bench_read_decode(c: &mut Criterion) {
    let archive = omniglot_small1();
    let table = omniglot::load(&archive).expect("a readable Omniglot archive");
    // Every fifth image, 544 of the 2720, spread over all alphabets.
    let rows: Vec<usize> = (0..table.num_rows()).step_by(5).collect();
    let options = DecodeOptions::new(MODEL_SIDE, MODEL_SIDE).with_invert(true);

    let mut group = c.benchmark_group("read_decode");
    group.throughput(Throughput::Elements(table.num_rows() as u64));
    group.bench_function("omniglot_zip_load/small1", |bencher| {
        bencher.iter(|| omniglot::load(black_box(&archive)).expect("a readable Omniglot archive"));
    });

    // One thread: the same per-image work as `decode_table`, in a plain loop.
    group.throughput(Throughput::Elements(rows.len() as u64));
    let id = BenchmarkId::new("omniglot_png_to_f32_28x28", "1_thread");
    group.bench_function(id, |bencher| {
        bencher.iter(|| {
            let mut values = Vec::with_capacity(rows.len() * options.values_per_image());
            for &row in &rows {
                let bytes = table.image_bytes(row).expect("image bytes in the table");
                values.extend(decode_image(&bytes, "row", None, &options).expect("a valid PNG"));
            }
            values
        });
    });

    // rayon's global pool has one thread per core unless RAYON_NUM_THREADS sets another count.
    let id = BenchmarkId::new("omniglot_png_to_f32_28x28", "parallel");
    group.bench_function(id, |bencher| {
        bencher.iter(|| decode_table(&table, black_box(&rows), &options).expect("valid PNGs"));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Small defaults keep a full `cargo bench` within minutes on two cores. Command-line
    // options such as `--measurement-time` override them.
    // mimalloc keeps freed pages, as in the `fsl` binary, so that steps do not fault them in again.
    config = {
        fsl::allocator::keep_freed_pages();
        Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2))
    };
    targets = bench_sampler, bench_augment, bench_decode, bench_read_decode
}
criterion_main!(benches);
