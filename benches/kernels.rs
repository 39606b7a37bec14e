//! Benchmarks of the kernels, the loss and the custom CPU operations of `fsl-layers`.
//!
//! The operation shapes are those of a 5-way 1-shot 15-query Conv-4 episode: 80 images whose
//! 64-channel feature maps are 14x14 after the first block. All inputs are seeded and built
//! outside the timed closures.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use candle_core::{DType, Device, Tensor, Var};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fsl::layers::ops::{BatchNorm2d, Conv2d, MaxPool2d};
use fsl::layers::params::ParamStore;
use fsl::layers::{CentroidsMatrix, CosineSimilarity, GramMatrix, Kernel, SquaredL2, prototypical_loss, squared_l2};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Returns a tensor of values drawn uniformly from [-1, 1) with a fixed seed.
fn seeded_tensor(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let count = shape.iter().product();
    let values: Vec<f32> = (0..count).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).expect("the shape matches the number of values")
}

fn bench_squared_l2(c: &mut Criterion) {
    let (rows, cols, dim) = (1024usize, 1024usize, 1600usize);
    let a = seeded_tensor(&[rows, dim], 1);
    let b = seeded_tensor(&[cols, dim], 2);

    // The FLOP count is that of the matrix product a·bᵀ alone, one multiply and one add per
    // term. The norms, centring and clamping add O((rows + cols) * dim) work on top. Criterion
    // reports the count as elements per second, which here reads as FLOP/s.
    let flops = 2 * rows as u64 * cols as u64 * dim as u64;
    let mut group = c.benchmark_group("kernel");
    group.throughput(Throughput::Elements(flops));
    group.bench_function(
        BenchmarkId::new("squared_l2", format!("{rows}x{cols}_d{dim}")),
        |bencher| {
            bencher.iter(|| squared_l2(black_box(&a), black_box(&b)).expect("valid shapes"));
        },
    );
    group.finish();
}

/// Gram and centroids matrices of 1024 embeddings with the two matrix-product kernels, at the
/// embedding size of Conv-4 on 28x28 images (64) and on 84x84 images (1600).
fn bench_support_layers(c: &mut Criterion) {
    let (items, classes) = (1024usize, 64usize);
    let labels: Vec<u32> = (0..items).map(|item| (item % classes) as u32).collect();

    let mut group = c.benchmark_group("support");
    for dim in [64usize, 1600] {
        let embeddings = seeded_tensor(&[items, dim], 7);
        let queries = seeded_tensor(&[items, dim], 8);
        group.throughput(Throughput::Elements(2 * (items * items * dim) as u64));

        bench_kernel_layers(
            &mut group,
            "squared_l2",
            SquaredL2,
            &embeddings,
            &queries,
            &labels,
            classes,
        );
        bench_kernel_layers(
            &mut group,
            "cosine",
            CosineSimilarity,
            &embeddings,
            &queries,
            &labels,
            classes,
        );
    }
    group.finish();
}

fn bench_kernel_layers<K: Kernel + Copy>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    kernel: K,
    embeddings: &Tensor,
    queries: &Tensor,
    labels: &[u32],
    classes: usize,
) {
    let dim = embeddings.dims()[1];
    let gram = GramMatrix::new(kernel);
    group.bench_function(
        BenchmarkId::new(format!("gram_{name}"), format!("1024_d{dim}")),
        |bencher| {
            bencher.iter(|| gram.forward(black_box(embeddings)).expect("valid shapes"));
        },
    );

    let centroids = CentroidsMatrix::new(kernel);
    group.bench_function(
        BenchmarkId::new(format!("centroids_{name}"), format!("1024x{classes}_d{dim}")),
        |bencher| {
            bencher.iter(|| {
                centroids
                    .forward(black_box(queries), black_box(embeddings), labels, classes)
                    .expect("valid shapes")
            });
        },
    );
}

fn bench_prototypical_loss(c: &mut Criterion) {
    let (queries, classes) = (75usize, 5usize);
    let distances = seeded_tensor(&[queries, classes], 3).abs().expect("abs of a tensor");
    let labels: Vec<u32> = (0..queries).map(|query| (query / 15) as u32).collect();
    let distances_var = Var::from_tensor(&distances).expect("a variable from a tensor");

    let shape = format!("{queries}x{classes}");
    let mut group = c.benchmark_group("loss");
    group.bench_function(BenchmarkId::new("prototypical_forward", &shape), |bencher| {
        bencher.iter(|| prototypical_loss(black_box(&distances), &labels).expect("valid labels"));
    });
    group.bench_function(BenchmarkId::new("prototypical_forward_backward", &shape), |bencher| {
        bencher.iter(|| {
            let loss = prototypical_loss(distances_var.as_tensor(), &labels).expect("valid labels");
            loss.backward().expect("backward pass")
        });
    });
    group.finish();
}

fn bench_ops(c: &mut Criterion) {
    let shape = [80usize, 64, 14, 14];
    let label = format!("{}x{}x{}x{}", shape[0], shape[1], shape[2], shape[3]);
    let input = Var::from_tensor(&seeded_tensor(&shape, 4)).expect("a variable from a tensor");

    // A hidden Conv-4 block: 64 -> 64 channels, 3x3 kernel, padding 1. Weight, bias and input
    // are variables, so the backward pass computes all three gradients as in training.
    let weight = Var::from_tensor(&(seeded_tensor(&[64, 64, 3, 3], 5) * (1.0 / 24.0)).expect("scaling"))
        .expect("a variable from a tensor");
    let bias = Var::from_tensor(&(seeded_tensor(&[64], 6) * (1.0 / 24.0)).expect("scaling"))
        .expect("a variable from a tensor");
    let conv =
        Conv2d::new(weight.as_tensor().clone(), Some(bias.as_tensor().clone()), 1, 1).expect("a valid convolution");
    let pool = MaxPool2d::new(2).expect("a valid pooling");
    let params = ParamStore::new(0, DType::F32, &Device::Cpu);
    let norm = BatchNorm2d::new(64, &params.builder().push("bn")).expect("a valid batch norm");

    let mut group = c.benchmark_group("ops");
    group.throughput(Throughput::Elements(shape[0] as u64));
    group.bench_function(BenchmarkId::new("conv2d_k3_forward", &label), |bencher| {
        bencher.iter(|| conv.forward(black_box(input.as_tensor())).expect("forward pass"));
    });
    group.bench_function(BenchmarkId::new("conv2d_k3_forward_backward", &label), |bencher| {
        bencher.iter(|| {
            let output = conv.forward(input.as_tensor()).expect("forward pass");
            output.sum_all().expect("sum").backward().expect("backward pass")
        });
    });
    group.bench_function(BenchmarkId::new("max_pool2d_forward", &label), |bencher| {
        bencher.iter(|| pool.forward(black_box(input.as_tensor())).expect("forward pass"));
    });
    group.bench_function(BenchmarkId::new("max_pool2d_forward_backward", &label), |bencher| {
        bencher.iter(|| {
            let output = pool.forward(input.as_tensor()).expect("forward pass");
            output.sum_all().expect("sum").backward().expect("backward pass")
        });
    });
    group.bench_function(
        BenchmarkId::new("batch_norm2d_train_forward_backward", &label),
        |bencher| {
            bencher.iter(|| {
                let output = norm.forward(input.as_tensor(), true).expect("forward pass");
                output
                    .sqr()
                    .expect("square")
                    .sum_all()
                    .expect("sum")
                    .backward()
                    .expect("backward pass")
            });
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    // Small defaults keep a full `cargo bench` within minutes on two cores. Command-line
    // options such as `--measurement-time` override them.
    // mimalloc keeps freed pages, as in the `fsl` binary, so that steps do not fault them in again.
    config = {
        fsl::allocator::keep_freed_pages();
        Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3))
    };
    targets = bench_squared_l2, bench_support_layers, bench_prototypical_loss, bench_ops
}
criterion_main!(benches);
