//! Squared Euclidean distances against independently computed values.

mod common;

use candle_core::{Device, Tensor};
use common::{assert_close, floats, reference, sizes};
use fsl_layers::{Error, squared_l2};

#[test]
fn squared_l2_matches_numpy() {
    let case = &reference()["squared_l2"];
    let a_shape = sizes(&case["a_shape"]);
    let b_shape = sizes(&case["b_shape"]);
    let a: Vec<f32> = floats(&case["a"]).iter().map(|&v| v as f32).collect();
    let b: Vec<f32> = floats(&case["b"]).iter().map(|&v| v as f32).collect();

    let a = Tensor::from_vec(a, (a_shape[0], a_shape[1]), &Device::Cpu).unwrap();
    let b = Tensor::from_vec(b, (b_shape[0], b_shape[1]), &Device::Cpu).unwrap();
    let distances = squared_l2(&a, &b).unwrap();

    assert_eq!(distances.dims(), [a_shape[0], b_shape[0]]);
    let actual: Vec<f64> = distances
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    assert_close(&actual, &floats(&case["distances"]), 1e-4, "distances");
}

/// Nearly equal points far from the origin: the plain matrix-product identity gives negative
/// squared distances here in f32, and clamping alone turns a real distance into zero.
#[test]
fn squared_l2_survives_cancellation() {
    let points = Tensor::new(&[[903.0f32, 87.0], [903.01, 87.0], [903.5, 87.0]], &Device::Cpu).unwrap();

    let squared = squared_l2(&points, &points).unwrap().to_vec2::<f32>().unwrap();
    let distances: Vec<Vec<f64>> = squared
        .iter()
        .map(|row| row.iter().map(|&v| (v as f64).sqrt()).collect())
        .collect();

    let expected = [
        [0.0, 0.010009765625, 0.5],
        [0.010009765625, 0.0, 0.489990234375],
        [0.5, 0.489990234375, 0.0],
    ];
    for (i, row) in distances.iter().enumerate() {
        for (j, &d) in row.iter().enumerate() {
            assert!(d.is_finite(), "d[{i}][{j}] = {d}");
            assert!(d >= 0.0, "d[{i}][{j}] = {d}");
            assert!(
                (d - expected[i][j]).abs() <= 1e-3,
                "d[{i}][{j}] = {d}, expected {}",
                expected[i][j]
            );
        }
        assert_eq!(row[i], 0.0, "diagonal at {i}");
    }
}

#[test]
fn squared_l2_rejects_mismatched_sizes() {
    let a = Tensor::zeros((3, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
    let b = Tensor::zeros((2, 5), candle_core::DType::F32, &Device::Cpu).unwrap();

    let error = squared_l2(&a, &b).unwrap_err();

    assert!(matches!(error, Error::ShapeMismatch { .. }), "{error:?}");
    assert!(error.to_string().contains("[3, 4]"), "{error}");
    assert!(error.to_string().contains("[2, 5]"), "{error}");
}

/// Identical points are at distance 0, where a square root would have an infinite slope: the
/// squared distance and its gradient stay finite, and the gradient is 0 there.
#[test]
fn squared_l2_gradient_finite_at_zero_distance() {
    let x = candle_core::Var::new(&[[0.3f32, 0.4]], &Device::Cpu).unwrap();
    let y = Tensor::new(&[[0.3f32, 0.4], [1.3, 0.4]], &Device::Cpu).unwrap();

    let distances = squared_l2(x.as_tensor(), &y).unwrap();
    let gradients = distances.sum_all().unwrap().backward().unwrap();
    let grad = gradients
        .get(x.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();

    let values = distances.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(values[0], 0.0);
    assert!((values[1] - 1.0).abs() < 1e-5, "{values:?}");
    // d/dx of |x - y0|² + |x - y1|² = 2(x - y0) + 2(x - y1) = (-2, 0).
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
    assert!((grad[0] + 2.0).abs() < 1e-4, "{grad:?}");
    assert!(grad[1].abs() < 1e-4, "{grad:?}");
}
