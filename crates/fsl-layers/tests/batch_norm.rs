//! Batch normalisation: training and evaluation modes and the running statistics.

mod common;

use candle_core::{DType, Device, Tensor};
use fsl_layers::ops::BatchNorm2d;
use fsl_layers::params::ParamStore;

fn assert_all_close(actual: &[f32], expected: &[f32], what: &str) {
    for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() < 1e-5, "{what}[{index}]: got {a}, expected {e}");
    }
    assert_eq!(actual.len(), expected.len(), "{what}: length");
}

/// Values by hand: mean 5, biased variance 5, unbiased variance 20/3.
#[test]
fn batch_norm_train_then_eval() {
    let store = ParamStore::new(0, DType::F32, &Device::Cpu);
    let norm = BatchNorm2d::new(1, &store.builder().push("bn")).unwrap();
    let x = Tensor::new(&[2f32, 4., 6., 8.], &Device::Cpu)
        .unwrap()
        .reshape((4, 1, 1, 1))
        .unwrap();

    let train = norm
        .forward(&x, true)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_all_close(&train, &[-1.341639, -0.447213, 0.447213, 1.341639], "train output");

    let (mean, var) = norm.running_statistics();
    assert_all_close(&mean.to_vec1::<f32>().unwrap(), &[0.5], "running mean");
    assert_all_close(&var.to_vec1::<f32>().unwrap(), &[1.566667], "running var");

    let eval = norm
        .forward(&x, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_all_close(&eval, &[1.198399, 2.796265, 4.394131, 5.991997], "eval output");

    let (mean, var) = norm.running_statistics();
    assert_all_close(&mean.to_vec1::<f32>().unwrap(), &[0.5], "running mean after eval");
    assert_all_close(&var.to_vec1::<f32>().unwrap(), &[1.566667], "running var after eval");
}

/// One value per channel has no variance: training on it is an error and the statistics stay.
#[test]
fn batch_norm_rejects_single_value_training() {
    let store = ParamStore::new(0, DType::F32, &Device::Cpu);
    let norm = BatchNorm2d::new(1, &store.builder()).unwrap();
    let single = Tensor::new(&[5f32], &Device::Cpu)
        .unwrap()
        .reshape((1, 1, 1, 1))
        .unwrap();

    let error = norm.forward(&single, true).unwrap_err();
    assert!(error.to_string().contains("evaluation mode"), "{error}");

    let (mean, var) = norm.running_statistics();
    assert_eq!(mean.to_vec1::<f32>().unwrap(), [0.0]);
    assert_eq!(var.to_vec1::<f32>().unwrap(), [1.0]);

    let eval = norm
        .forward(&single, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(eval[0].is_finite(), "eval {eval:?}");
    assert!((eval[0] - 5.0).abs() < 1e-3, "eval {eval:?}");
}

/// Training-mode output, input gradient and parameter gradients against numpy.
#[test]
fn batch_norm_matches_numpy_reference() {
    use candle_core::Var;

    let case = &common::reference()["batch_norm"];
    let shape = common::sizes(&case["shape"]);
    let store = ParamStore::new(0, DType::F32, &Device::Cpu);
    let params = store.builder().push("bn");
    let norm = BatchNorm2d::new(shape[1], &params).unwrap();
    params
        .var("weight")
        .unwrap()
        .set(
            &Tensor::from_vec(common::floats(&case["gamma"]), shape[1], &Device::Cpu)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap(),
        )
        .unwrap();
    params
        .var("bias")
        .unwrap()
        .set(
            &Tensor::from_vec(common::floats(&case["beta"]), shape[1], &Device::Cpu)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap(),
        )
        .unwrap();

    let x = Var::from_tensor(
        &Tensor::from_vec(common::floats(&case["input"]), shape.as_slice(), &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap(),
    )
    .unwrap();
    let upstream = Tensor::from_vec(common::floats(&case["upstream"]), shape.as_slice(), &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let output = norm.forward(x.as_tensor(), true).unwrap();
    let gradients = (output.clone() * upstream)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();

    let as_f64 = |t: &Tensor| {
        t.flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    common::assert_close(&as_f64(&output), &common::floats(&case["output"]), 1e-4, "output");
    common::assert_close(
        &as_f64(gradients.get(x.as_tensor()).unwrap()),
        &common::floats(&case["grad_input"]),
        1e-4,
        "grad input",
    );
    common::assert_close(
        &as_f64(gradients.get(&params.var("weight").unwrap()).unwrap()),
        &common::floats(&case["grad_gamma"]),
        1e-4,
        "grad gamma",
    );
    common::assert_close(
        &as_f64(gradients.get(&params.var("bias").unwrap()).unwrap()),
        &common::floats(&case["grad_beta"]),
        1e-4,
        "grad beta",
    );

    let (mean, var) = norm.running_statistics();
    common::assert_close(
        &as_f64(&mean),
        &common::floats(&case["running_mean"]),
        1e-5,
        "running mean",
    );
    common::assert_close(
        &as_f64(&var),
        &common::floats(&case["running_var"]),
        1e-5,
        "running var",
    );
}

/// Builds a batch norm over `channels` channels with the given scale and shift.
fn batch_norm_with(store: &ParamStore, gamma: &[f64], beta: &[f64]) -> BatchNorm2d {
    let params = store.builder().push("bn");
    let norm = BatchNorm2d::new(gamma.len(), &params).unwrap();
    for (name, values) in [("weight", gamma), ("bias", beta)] {
        let values = Tensor::new(values, &Device::Cpu).unwrap();
        params.var(name).unwrap().set(&values).unwrap();
    }
    norm
}

/// The fused normalisation and pooling gives the values, running statistics and gradients of
/// the two operations applied one after the other: on sizes that are not multiples of the
/// stride, with tied values, a negative scale and overlapping padded windows.
#[test]
fn forward_pooled_matches_separate_operations() {
    use candle_core::Var;
    use fsl_layers::ops::MaxPool2d;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    let shape = (3, 4, 7, 9);
    let mut rng = StdRng::seed_from_u64(5);
    // Values on a coarse grid, so that many windows hold tied maxima.
    let values: Vec<f64> = (0..3 * 4 * 7 * 9)
        .map(|_| f64::from(rng.random_range(0..5u8)))
        .collect();
    let gamma = [1.5, -0.7, 0.0, 2.0];
    let beta = [0.1, 0.2, -0.3, 0.0];

    for pool in [
        MaxPool2d::new(2).unwrap(),
        MaxPool2d::with_geometry((3, 3), (2, 2), (1, 1)).unwrap(),
    ] {
        let run = |fused: bool| {
            let store = ParamStore::new(0, DType::F64, &Device::Cpu);
            let norm = batch_norm_with(&store, &gamma, &beta);
            let x = Var::from_tensor(&Tensor::from_vec(values.clone(), shape, &Device::Cpu).unwrap()).unwrap();
            let pooled = if fused {
                norm.forward_pooled(x.as_tensor(), true, &pool).unwrap()
            } else {
                pool.forward(&norm.forward(x.as_tensor(), true).unwrap()).unwrap()
            };

            // An upstream gradient that differs per window, so routing errors show.
            let count = pooled.elem_count();
            let weights: Vec<f64> = (0..count).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
            let weights = Tensor::from_vec(weights, pooled.shape(), &Device::Cpu).unwrap();
            let gradients = (&pooled * weights).unwrap().sum_all().unwrap().backward().unwrap();

            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let tensors = store.tensors();
            let gradient = |name: &str| flat(gradients.get(&tensors[name]).unwrap());
            let (mean, var) = norm.running_statistics();
            (
                flat(&pooled),
                flat(gradients.get(x.as_tensor()).unwrap()),
                gradient("bn.weight"),
                gradient("bn.bias"),
                [flat(&mean), flat(&var)].concat(),
            )
        };

        let (fused, separate) = (run(true), run(false));
        let close = |a: &[f64], b: &[f64], what: &str| {
            assert_eq!(a.len(), b.len(), "{what}: length");
            for (index, (a, b)) in a.iter().zip(b).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                    "{what}[{index}]: fused {a}, separate {b}"
                );
            }
        };
        assert_eq!(fused.0, separate.0, "{pool:?}: pooled values");
        close(&fused.1, &separate.1, "input gradient");
        close(&fused.2, &separate.2, "scale gradient");
        close(&fused.3, &separate.3, "shift gradient");
        assert_eq!(fused.4, separate.4, "{pool:?}: running statistics");
    }
}

#[test]
fn forward_pooled_rejects_what_forward_rejects() {
    use fsl_layers::ops::MaxPool2d;

    let store = ParamStore::new(0, DType::F32, &Device::Cpu);
    let norm = BatchNorm2d::new(2, &store.builder().push("bn")).unwrap();
    let pool = MaxPool2d::new(2).unwrap();

    let single = Tensor::zeros((1, 2, 1, 1), DType::F32, &Device::Cpu).unwrap();
    let error = norm.forward_pooled(&single, true, &pool).unwrap_err().to_string();
    assert!(error.contains("at least two values"), "{error}");

    let wrong_channels = Tensor::zeros((2, 3, 4, 4), DType::F32, &Device::Cpu).unwrap();
    let error = norm
        .forward_pooled(&wrong_channels, true, &pool)
        .unwrap_err()
        .to_string();
    assert!(error.contains("3 channels"), "{error}");
}
