//! The fused convolution, batch normalisation and max pooling of a Conv-4 block against the
//! three operations applied one after the other, in training and in evaluation mode, with and
//! without ReLU.

use candle_core::{DType, Device, Tensor, Var};
use fsl_layers::ops::{BatchNorm2d, Conv2d, MaxPool2d, conv_norm_pool, conv_norm_relu_pool};
use fsl_layers::params::ParamStore;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Pooled values, then the gradients of the input, the convolution weight and bias and the
/// batch-norm scale and shift, then the running statistics.
type Outputs = Vec<Vec<f64>>;

/// How the block runs: fused or as separate operations, training or evaluation mode, with or
/// without ReLU.
#[derive(Debug, Clone, Copy)]
struct Mode {
    fused: bool,
    train: bool,
    relu: bool,
}

fn run(mode: Mode, values: &[f64], shape: (usize, usize, usize, usize), pool: MaxPool2d) -> Outputs {
    let Mode { fused, train, relu } = mode;
    let store = ParamStore::new(3, DType::F64, &Device::Cpu);
    let params = store.builder();
    let conv = Conv2d::init(shape.1, 5, 3, 1, 1, &params.push("conv")).unwrap();
    let norm = BatchNorm2d::new(5, &params.push("bn")).unwrap();
    // A negative and a zero scale, so that the pooling meets reversed and constant channels.
    let gamma = Tensor::new(&[1.5f64, -0.7, 0.0, 2.0, 1.0], &Device::Cpu).unwrap();
    params.push("bn").var("weight").unwrap().set(&gamma).unwrap();
    // Running statistics away from their initial 0 and 1, for evaluation mode.
    let mean = Tensor::new(&[0.3f64, -1.2, 0.5, 2.0, 0.0], &Device::Cpu).unwrap();
    let variance = Tensor::new(&[0.5f64, 2.0, 1.5, 0.25, 4.0], &Device::Cpu).unwrap();
    params.push("bn").var("running_mean").unwrap().set(&mean).unwrap();
    params.push("bn").var("running_var").unwrap().set(&variance).unwrap();

    let x = Var::from_tensor(&Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).unwrap()).unwrap();
    let pooled = match (fused, relu) {
        (true, false) => conv_norm_pool(x.as_tensor(), &conv, &norm, &pool, train).unwrap(),
        (true, true) => conv_norm_relu_pool(x.as_tensor(), &conv, &norm, &pool, train).unwrap(),
        (false, _) => {
            let pooled = pool
                .forward(&norm.forward(&conv.forward(x.as_tensor()).unwrap(), train).unwrap())
                .unwrap();
            if relu {
                // ReLU with PyTorch's gradient, zero at zero: the mask is a constant.
                let positive = pooled.gt(0.0).unwrap().to_dtype(DType::F64).unwrap();
                (&pooled * positive).unwrap()
            } else {
                pooled
            }
        }
    };

    // An upstream gradient that differs per window, so that routing errors show.
    let weights: Vec<f64> = (0..pooled.elem_count()).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
    let weights = Tensor::from_vec(weights, pooled.shape(), &Device::Cpu).unwrap();
    let gradients = (&pooled * weights).unwrap().sum_all().unwrap().backward().unwrap();

    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let tensors = store.tensors();
    let mut outputs = vec![flat(&pooled), flat(gradients.get(x.as_tensor()).unwrap())];
    for name in ["conv.weight", "conv.bias", "bn.weight", "bn.bias"] {
        outputs.push(flat(gradients.get(&tensors[name]).unwrap()));
    }
    let (mean, var) = norm.running_statistics();
    outputs.push([flat(&mean), flat(&var)].concat());
    outputs
}

#[test]
fn fused_block_matches_separate_operations() {
    let shape = (3, 2, 9, 7);
    let mut rng = StdRng::seed_from_u64(11);
    // Values on a coarse grid with flat regions, so that windows hold tied maxima.
    let values: Vec<f64> = (0..3 * 2 * 9 * 7)
        .map(|i| {
            if i % 5 == 0 {
                0.0
            } else {
                f64::from(rng.random_range(0..4u8))
            }
        })
        .collect();
    let names = [
        "pooled values",
        "input gradient",
        "weight gradient",
        "bias gradient",
        "scale gradient",
        "shift gradient",
        "running statistics",
    ];

    let pools = [
        MaxPool2d::new(2).unwrap(),
        MaxPool2d::with_geometry((3, 3), (2, 2), (1, 1)).unwrap(),
    ];
    let cases = [(true, false), (false, false), (true, true), (false, true)]
        .into_iter()
        .flat_map(|(train, relu)| pools.map(|pool| (train, relu, pool)));
    for (train, relu, pool) in cases {
        let fused = run(
            Mode {
                fused: true,
                train,
                relu,
            },
            &values,
            shape,
            pool,
        );
        let separate = run(
            Mode {
                fused: false,
                train,
                relu,
            },
            &values,
            shape,
            pool,
        );
        for ((name, fused), separate) in names.iter().zip(&fused).zip(&separate) {
            assert_eq!(fused.len(), separate.len(), "{name}: length");
            // The bias gradient is zero in exact arithmetic (batch norm removes any shift), so
            // it is compared against the scale of the weight gradient.
            let scale = if *name == "bias gradient" { 1.0 } else { 0.0 };
            for (index, (a, b)) in fused.iter().zip(separate).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-9 * (1.0 + scale + b.abs()),
                    "train {train} relu {relu} {pool:?} {name}[{index}]: fused {a}, separate {b}"
                );
            }
        }
    }
}

#[test]
fn fused_block_rejects_bad_input() {
    let store = ParamStore::new(0, DType::F32, &Device::Cpu);
    let conv = Conv2d::init(2, 4, 3, 1, 1, &store.builder().push("conv")).unwrap();
    let norm = BatchNorm2d::new(4, &store.builder().push("bn")).unwrap();
    let pool = MaxPool2d::new(2).unwrap();
    let fused = |shape: (usize, usize, usize, usize)| {
        let xs = Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();
        conv_norm_pool(&xs, &conv, &norm, &pool, true).unwrap_err().to_string()
    };

    assert!(fused((2, 3, 8, 8)).contains("3 channels"));
    assert!(fused((1, 2, 1, 1)).contains("at least two values"));
    let other_norm = BatchNorm2d::new(6, &store.builder().push("other")).unwrap();
    let xs = Tensor::zeros((2, 2, 8, 8), DType::F32, &Device::Cpu).unwrap();
    let error = conv_norm_pool(&xs, &conv, &other_norm, &pool, true)
        .unwrap_err()
        .to_string();
    assert!(error.contains("4 channels"), "{error}");
}
