//! Benchmarks of the sequences: episode sampling at index level over an Omniglot-sized table,
//! and the parallel loader end to end (read, decode, augment, resize, stack) with 1 and 2
//! workers.
//!
//! The index-level table has the shape of Omniglot's background set: 964 classes of 20 images.
//! The loader reads a small synthetic image folder of 105x105 PNGs, Omniglot's image size.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fsl::augment::Affine;
use fsl::sequences::{
    EpisodeSampler, EpisodeSequence, EpisodeSpec, LoaderConfig, LoaderImages, ParallelLoader, SamplerOptions, Sequence,
};
use image::{GrayImage, Luma};

const OMNIGLOT_CLASSES: u32 = 964;
const OMNIGLOT_PER_CLASS: u32 = 20;
const OMNIGLOT_SIDE: u32 = 105;

/// Classes and images per class of the loader's synthetic table.
const LOADER_CLASSES: usize = 10;
const LOADER_PER_CLASS: usize = 20;
/// Episodes per epoch in the loader benchmark; one iteration loads a whole epoch.
const LOADER_EPISODES: usize = 8;

/// Draws a character-like image: black strokes about 3 px wide on white, with a ring whose
/// radius depends on `variant` so images differ.
fn stroke_image(variant: usize) -> GrayImage {
    let mut image = GrayImage::from_pixel(OMNIGLOT_SIDE, OMNIGLOT_SIDE, Luma([255]));
    let centre = OMNIGLOT_SIDE as f32 / 2.0;
    let radius = 20.0 + (variant % 20) as f32;

    for y in 0..OMNIGLOT_SIDE {
        for x in 0..OMNIGLOT_SIDE {
            let (dx, dy) = (x as f32 - centre, y as f32 - centre);
            let on_ring = ((dx * dx + dy * dy).sqrt() - radius).abs() < 1.5;
            let on_diagonal = (dx - dy).abs() < 2.0 && dx.abs() < 40.0;
            if on_ring || on_diagonal {
                image.put_pixel(x, y, Luma([0]));
            }
        }
    }
    image
}

/// Writes `root/<class>/<image>.png` for the loader benchmark.
fn write_image_folder(root: &Path) {
    for class in 0..LOADER_CLASSES {
        let folder = root.join(format!("class{class:02}"));
        std::fs::create_dir_all(&folder).expect("a writable temporary folder");
        for image in 0..LOADER_PER_CLASS {
            stroke_image(class * LOADER_PER_CLASS + image)
                .save(folder.join(format!("{image:02}.png")))
                .expect("PNG encoding into the temporary folder");
        }
    }
}

fn bench_episode_sequence(c: &mut Criterion) {
    let labels: Vec<u32> = (0..OMNIGLOT_CLASSES * OMNIGLOT_PER_CLASS)
        .map(|item| item / OMNIGLOT_PER_CLASS)
        .collect();

    let mut group = c.benchmark_group("episode_sequence");
    group.throughput(Throughput::Elements(1));
    for (n_way, k_shot, q_query) in [(5usize, 1usize, 15usize), (20, 5, 5)] {
        let spec = EpisodeSpec::new(n_way, k_shot, q_query).expect("a valid episode shape");
        let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).expect("classes large enough");
        let episodes = 1_000_000;
        let sequence = EpisodeSequence::new(sampler, episodes, 7).expect("episodes per epoch above zero");
        let id = BenchmarkId::new(
            "batch",
            format!("{OMNIGLOT_CLASSES}x{OMNIGLOT_PER_CLASS}_{n_way}w{k_shot}s{q_query}q"),
        );

        let mut index = 0usize;
        group.bench_function(id, |bencher| {
            bencher.iter(|| {
                index = (index + 1) % episodes;
                sequence
                    .batch(0, black_box(index))
                    .expect("index below the epoch length")
            });
        });
    }
    group.finish();
}

fn bench_parallel_loader(c: &mut Criterion) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    write_image_folder(folder.path());
    let table = fsl::datasets::image_folder::load(folder.path()).expect("the folder just written");
    let labels = table.strings("label").expect("a label column");

    let spec = EpisodeSpec::new(5, 1, 15).expect("a valid episode shape");
    let mut group = c.benchmark_group("parallel_loader");
    group.throughput(Throughput::Elements(LOADER_EPISODES as u64));
    for workers in [1usize, 2] {
        let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).expect("classes large enough");
        let sequence = EpisodeSequence::new(sampler, LOADER_EPISODES, 7).expect("episodes per epoch above zero");
        let config = LoaderConfig {
            seed: 3,
            augmenter: Some(Arc::new(Affine::omniglot())),
            query_augmenter: None,
            ..Default::default()
        };
        let loader = ParallelLoader::new(sequence, LoaderImages::Encoded(Arc::new(table.clone())), config)
            .and_then(|loader| loader.with_workers(workers))
            .expect("a valid loader configuration");
        let id = BenchmarkId::new(
            "epoch_5w1s15q_affine",
            format!("{LOADER_CLASSES}x{LOADER_PER_CLASS}_{OMNIGLOT_SIDE}px_{workers}workers"),
        );

        let mut epoch = 0u64;
        group.bench_function(id, |bencher| {
            bencher.iter(|| {
                epoch += 1;
                let batches = loader.epoch(epoch).expect("worker threads start");
                batches
                    .map(|batch| batch.expect("every image decodes"))
                    .collect::<Vec<_>>()
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Small defaults keep a full `cargo bench` within minutes on two cores. Command-line
    // options such as `--measurement-time` override them.
    // mimalloc keeps freed pages, as in the `fsl` binary, so that steps do not fault them in again.
    config = {
        fsl::allocator::keep_freed_pages();
        Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2))
    };
    targets = bench_episode_sequence, bench_parallel_loader
}
criterion_main!(benches);
