//! Max pooling: forward values and gradients against hand-computed and numpy reference values.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::{assert_close, floats, reference, sizes};
use fsl_layers::ops::MaxPool2d;

/// Runs the pooling and `loss = Σ upstream ⊙ pool(x)`, returning the output and `∂loss/∂x`.
fn pool_with_gradient(pool: &MaxPool2d, input: &Tensor, upstream: Option<&Tensor>) -> (Vec<f64>, Vec<f64>) {
    let x = Var::from_tensor(input).unwrap();
    let output = pool.forward(x.as_tensor()).unwrap();
    let loss = match upstream {
        Some(upstream) => (output.clone() * upstream).unwrap().sum_all().unwrap(),
        None => output.sum_all().unwrap(),
    };
    let gradients = loss.backward().unwrap();
    let grad = gradients.get(x.as_tensor()).expect("input receives a gradient");

    let as_f64 = |t: &Tensor| {
        t.flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    (as_f64(&output), as_f64(grad))
}

/// Ties inside a window: the first maximum takes the whole upstream gradient, and each window
/// passes on exactly its upstream gradient.
#[test]
fn max_pool_routes_ties_to_first_max() {
    let x = Tensor::new(
        &[1f32, 5., 3., 3., 2., 4., 1., 0., 7., 7., 6., 6., 7., 7., 6., 6.],
        &Device::Cpu,
    )
    .unwrap()
    .reshape((1, 1, 4, 4))
    .unwrap();

    let (output, grad) = pool_with_gradient(&MaxPool2d::new(2).unwrap(), &x, None);

    assert_eq!(output, [5.0, 3.0, 7.0, 6.0]);
    assert_eq!(grad, [0., 1., 1., 0., 0., 0., 0., 0., 1., 0., 1., 0., 0., 0., 0., 0.]);
}

/// Overlapping windows (kernel 2, stride 1) accumulate on a shared maximum.
#[test]
fn max_pool_overlapping_windows_accumulate() {
    let x = Tensor::new(&[1f32, 2., 3., 4., 6., 5., 0., 7., 1.], &Device::Cpu)
        .unwrap()
        .reshape((1, 1, 3, 3))
        .unwrap();
    let pool = MaxPool2d::with_geometry((2, 2), (1, 1), (0, 0)).unwrap();

    let (output, grad) = pool_with_gradient(&pool, &x, None);

    assert_eq!(output, [6.0, 6.0, 7.0, 7.0]);
    assert_eq!(grad, [0., 0., 0., 0., 2., 0., 0., 2., 0.]);
}

/// Random inputs with ties, sizes that are not multiples of the stride, and padding.
#[test]
fn max_pool_matches_numpy_reference() {
    for (index, case) in reference()["max_pool"].as_array().unwrap().iter().enumerate() {
        let shape = sizes(&case["shape"]);
        let output_shape = sizes(&case["output_shape"]);
        let kernel = case["kernel"].as_u64().unwrap() as usize;
        let stride = case["stride"].as_u64().unwrap() as usize;
        let padding = case["padding"].as_u64().unwrap() as usize;
        let pool = MaxPool2d::with_geometry((kernel, kernel), (stride, stride), (padding, padding)).unwrap();

        for dtype in [DType::F32, DType::F64] {
            let input = Tensor::from_vec(floats(&case["input"]), shape.as_slice(), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let upstream = Tensor::from_vec(floats(&case["upstream"]), output_shape.as_slice(), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();

            let (output, grad) = pool_with_gradient(&pool, &input, Some(&upstream));

            let what = format!("case {index} {dtype:?}");
            assert_close(&output, &floats(&case["output"]), 1e-6, &format!("{what} output"));
            assert_close(&grad, &floats(&case["grad_input"]), 1e-5, &format!("{what} gradient"));
        }
    }
}

/// Central differences in f64 on inputs without ties, where the pooling is differentiable.
#[test]
fn max_pool_gradient_matches_finite_differences() {
    let shapes = [
        ((1, 2, 5, 5), 2, 2, 0),
        ((2, 1, 7, 6), 3, 2, 1),
        ((1, 1, 4, 5), 2, 1, 0),
    ];
    for (case, &(shape, kernel, stride, padding)) in shapes.iter().enumerate() {
        let pool = MaxPool2d::with_geometry((kernel, kernel), (stride, stride), (padding, padding)).unwrap();
        let count = shape.0 * shape.1 * shape.2 * shape.3;

        // Distinct values spaced far wider than the step, so no perturbation changes an argmax.
        let values: Vec<f64> = (0..count)
            .map(|i| ((i * 7919 + case * 31) % count) as f64 * 0.1)
            .collect();
        let input = Tensor::from_vec(values.clone(), shape, &Device::Cpu).unwrap();
        let (_, grad) = pool_with_gradient(&pool, &input, None);

        let loss_at = |values: Vec<f64>| {
            let x = Tensor::from_vec(values, shape, &Device::Cpu).unwrap();
            pool.forward(&x).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
        };
        let step = 1e-3;
        for position in 0..count {
            let mut plus = values.clone();
            plus[position] += step;
            let mut minus = values.clone();
            minus[position] -= step;
            let numeric = (loss_at(plus) - loss_at(minus)) / (2.0 * step);
            assert!(
                (numeric - grad[position]).abs() < 1e-6,
                "case {case} position {position}: analytic {} numeric {numeric}",
                grad[position]
            );
        }
    }
}

#[test]
fn max_pool_rejects_invalid_geometry() {
    assert!(MaxPool2d::new(0).is_err());
    assert!(MaxPool2d::with_geometry((2, 2), (0, 1), (0, 0)).is_err());

    let error = MaxPool2d::with_geometry((2, 2), (2, 2), (2, 0)).unwrap_err();
    assert!(error.to_string().contains("padding"), "{error}");

    let tiny = Tensor::zeros((1, 1, 1, 1), DType::F32, &Device::Cpu).unwrap();
    let error = MaxPool2d::new(2).unwrap().forward(&tiny).unwrap_err();
    assert!(error.to_string().contains("smaller than the kernel"), "{error}");
}
