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
