//! Benchmarks of Conv-4 prototypical-network training steps and of embedding in eval mode.
//!
//! One training step is what `fsl_models::train` does per episode: the forward pass of support
//! and query images, the loss and accuracy, the backward pass and one Adam update. The network
//! and the optimiser are built once, so the timings exclude initialisation. Images are 28x28
//! single-channel f32 values from a seeded generator.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use candle_core::{Device, Tensor};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use fsl::layers::EpisodeBatch;
use fsl::models::optim::{Optimizer, OptimizerConfig};
use fsl::models::{Backend, Conv4Config, EncoderConfig, FewShotNetwork, HeadConfig, ModelConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const IMAGE_SIZE: usize = 28;

/// Returns `count` single-channel images with pixel values drawn uniformly from [0, 1).
fn seeded_images(count: usize, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..count * IMAGE_SIZE * IMAGE_SIZE).map(|_| rng.random()).collect();
    Tensor::from_vec(values, (count, 1, IMAGE_SIZE, IMAGE_SIZE), &Device::Cpu)
        .expect("the shape matches the number of values")
}

/// Builds an `n_way` episode with class-major labels, as the episode samplers produce.
fn seeded_episode(n_way: usize, k_shot: usize, q_query: usize, seed: u64) -> EpisodeBatch {
    let labels =
        |per_class: usize| -> Vec<u32> { (0..n_way * per_class).map(|item| (item / per_class) as u32).collect() };
    EpisodeBatch {
        support: seeded_images(n_way * k_shot, seed),
        support_labels: labels(k_shot),
        query: seeded_images(n_way * q_query, seed + 1),
        query_labels: labels(q_query),
        n_way,
    }
}

/// Learning rate of the Adam steps, the default of `fsl_models::TrainConfig`.
const LEARNING_RATE: f64 = 1e-3;

/// Builds the default Conv-4 network (64 filters, 28x28 inputs) on `backend` and the optimiser
/// of `fsl_models::train`: Adam with PyTorch's defaults.
fn network_and_optimizer(backend: Backend) -> (FewShotNetwork, Optimizer) {
    let network = FewShotNetwork::new(ModelConfig {
        seed: 0,
        head: HeadConfig::Prototypical,
        encoder: EncoderConfig::Conv4(Conv4Config {
            backend,
            ..Default::default()
        }),
    })
    .expect("a valid default configuration");
    let optimizer = Optimizer::for_params(OptimizerConfig::adam(), network.params())
        .expect("an optimiser over the trainable parameters");
    (network, optimizer)
}

fn bench_training_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("training_step");

    // A step takes from tens of milliseconds to seconds, so flat sampling runs the same number
    // of iterations per sample instead of criterion's linearly growing counts.
    group.sampling_mode(SamplingMode::Flat);
    // The stock-candle backend runs the small shape only: its 60-way step takes seconds.
    let cases = [
        ("conv4_adam", Backend::Fsl, (5usize, 1usize, 15usize)),
        ("conv4_adam", Backend::Fsl, (60, 5, 5)),
        ("conv4_adam_candle", Backend::Candle, (5, 1, 15)),
    ];
    for (name, backend, (n_way, k_shot, q_query)) in cases {
        let (network, mut optimizer) = network_and_optimizer(backend);
        let episode = seeded_episode(n_way, k_shot, q_query, 10);
        let images = n_way * (k_shot + q_query);

        group.throughput(Throughput::Elements(images as u64));
        let id = BenchmarkId::new(name, format!("{n_way}w{k_shot}s{q_query}q"));
        group.bench_function(id, |bencher| {
            bencher.iter(|| {
                let output = network.episode(black_box(&episode), true).expect("forward pass");
                let gradients = output.loss.backward().expect("backward pass");
                optimizer.step(&gradients, LEARNING_RATE).expect("Adam update");
                output.accuracy
            });
        });
    }
    group.finish();
}

fn bench_embed(c: &mut Criterion) {
    let (network, _) = network_and_optimizer(Backend::Fsl);
    let count = 256usize;
    let images = seeded_images(count, 20);

    let mut group = c.benchmark_group("embed");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function(BenchmarkId::new("conv4_eval", count), |bencher| {
        bencher.iter(|| network.embed(black_box(&images), false).expect("forward pass"));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Small defaults keep a full `cargo bench` within minutes on two cores. Command-line
    // options such as `--measurement-time` override them.
    // mimalloc keeps freed pages, as in the `fsl` binary, so that steps do not fault them in again.
    config = {
        // SAFETY: criterion builds its configuration before it starts any thread.
        #[allow(unsafe_code)]
        unsafe {
            fsl::threads::candle_ops_on_calling_thread()
        };
        fsl::allocator::keep_freed_pages();
        Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(5))
    };
    targets = bench_training_step, bench_embed
}
criterion_main!(benches);
