//! Squared Euclidean distances and cosine similarities against independently computed values.

mod common;

use candle_core::{DType, Device, Tensor};
use common::{assert_close, floats, reference, sizes};
use fsl_layers::{Error, cosine_similarity, squared_l2};

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
    assert_close(&as_f64(&distances), &floats(&case["distances"]), 1e-4, "distances");
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

/// Shapes that cut across the CPU kernel's tiles and its tasks. A tile is 6 rows of `a` by 64 of
/// `b`, in equal passes of at most 2048 coordinates, four coordinates per loop step. Rows of 4100
/// values make passes of 1367, 1367 and 1366. Rows of 2051 make two passes of 1026, which leave two
/// coordinates after the four-at-a-time loop. With three or fewer panels of `b`, the rows of `a`
/// are split into blocks too. The shapes run largest first, so that later calls reuse the packing
/// storage of earlier ones. The reference sums `(a - b)²` directly in f64.
#[test]
fn squared_l2_exact_across_tile_edges() {
    let shapes = [
        (3usize, 65usize, 4100usize),
        (7, 65, 2051),
        (13, 70, 1030),
        (200, 130, 300),
        (6, 64, 128),
        (7, 65, 129),
        (13, 70, 257),
        (200, 3, 5),
        (5, 1, 2),
        (1, 1, 1),
    ];
    for (case, &(rows, columns, dim)) in shapes.iter().enumerate() {
        let a = pseudo_random(rows * dim, 2 * case as u64);
        let b = pseudo_random(columns * dim, 2 * case as u64 + 1);

        let distances = squared_l2(
            &Tensor::from_slice(&a, (rows, dim), &Device::Cpu).unwrap(),
            &Tensor::from_slice(&b, (columns, dim), &Device::Cpu).unwrap(),
        )
        .unwrap();

        assert_eq!(distances.dims(), [rows, columns]);
        let expected = direct_squared_distances(&a, &b, dim);
        assert_close(&as_f64(&distances), &expected, 1e-4, &format!("{rows}x{columns}x{dim}"));
    }
}

/// The Gram matrix of a set of rows has an exactly zero diagonal, in f32 and f64, with rows
/// longer than one pass of the CPU kernel and more rows than one tile holds. A NaN row keeps its
/// NaN distance to itself.
#[test]
fn squared_l2_gram_diagonal_is_exactly_zero() {
    let (rows, dim) = (70usize, 2100usize);
    let mut values: Vec<f32> = pseudo_random(rows * dim, 21).into_iter().map(|v| 5.0 + v).collect();
    values[3 * dim + 7] = f32::NAN;
    let points = Tensor::from_slice(&values, (rows, dim), &Device::Cpu).unwrap();

    for dtype in [DType::F32, DType::F64] {
        let points = points.to_dtype(dtype).unwrap();
        let distances = squared_l2(&points, &points)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();

        assert!(
            distances[3][3].is_nan(),
            "{dtype:?}: NaN row to itself: {}",
            distances[3][3]
        );
        let nonzero: Vec<(usize, f64)> = (0..rows)
            .filter(|&row| row != 3)
            .map(|row| (row, distances[row][row]))
            .filter(|&(_, distance)| distance != 0.0)
            .collect();
        assert!(
            nonzero.is_empty(),
            "{dtype:?}: distances of rows to themselves: {nonzero:?}"
        );
    }
}

/// Many rows far from the origin, more than the centre averages: centring still removes the
/// cancellation, so distances between points 0.01 apart keep their digits.
#[test]
fn squared_l2_cancellation_many_rows() {
    let (rows, columns, dim) = (150usize, 130usize, 40usize);
    let far = |values: Vec<f32>| -> Vec<f32> { values.into_iter().map(|v| 1000.0 + 0.01 * v).collect() };
    let a = far(pseudo_random(rows * dim, 11));
    let b = far(pseudo_random(columns * dim, 12));

    let distances = squared_l2(
        &Tensor::from_slice(&a, (rows, dim), &Device::Cpu).unwrap(),
        &Tensor::from_slice(&b, (columns, dim), &Device::Cpu).unwrap(),
    )
    .unwrap();

    let expected = direct_squared_distances(&a, &b, dim);
    let actual = as_f64(&distances);
    for (index, (&got, &want)) in actual.iter().zip(&expected).enumerate() {
        assert!(
            (got - want).abs() <= 1e-3 * want,
            "distance {index}: got {got}, expected {want}"
        );
    }
}

/// Cosine similarities on shapes that cut across the CPU kernel's tiles, with zero rows and rows
/// of tiny and huge magnitude, against `x·y / (|x| |y|)` summed in f64.
#[test]
fn cosine_exact_across_tile_edges() {
    for (case, &(rows, columns, dim)) in [(200usize, 130usize, 300usize), (7, 65, 2051), (7, 65, 129), (5, 1, 2)]
        .iter()
        .enumerate()
    {
        let mut a = pseudo_random(rows * dim, 40 + case as u64);
        let mut b = pseudo_random(columns * dim, 50 + case as u64);
        a[..dim].fill(0.0);
        for value in &mut b[..dim] {
            *value *= 1e-30;
        }
        if rows > 1 {
            for value in &mut a[dim..2 * dim] {
                *value *= 1e30;
            }
        }

        let similarities = cosine_similarity(
            &Tensor::from_slice(&a, (rows, dim), &Device::Cpu).unwrap(),
            &Tensor::from_slice(&b, (columns, dim), &Device::Cpu).unwrap(),
        )
        .unwrap();

        let norm = |x: &[f32]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        let expected: Vec<f64> = a
            .chunks(dim)
            .flat_map(|x| {
                b.chunks(dim).map(move |y| {
                    let dot: f64 = x.iter().zip(y).map(|(&p, &q)| f64::from(p) * f64::from(q)).sum();
                    let norms = norm(x) * norm(y);
                    if norms == 0.0 {
                        0.0
                    } else {
                        (dot / norms).clamp(-1.0, 1.0)
                    }
                })
            })
            .collect();
        assert_close(
            &as_f64(&similarities),
            &expected,
            1e-5,
            &format!("{rows}x{columns}x{dim}"),
        );
    }
}

/// The gradient of the fused operation against candle's autograd through `x / |x|`, a product
/// and a weighted sum, in f64.
#[test]
fn cosine_gradient_matches_autograd() {
    let values =
        |count: usize, seed: u64| -> Vec<f64> { pseudo_random(count, seed).into_iter().map(f64::from).collect() };
    let (rows, columns, dim) = (7usize, 9usize, 5usize);
    let a = candle_core::Var::from_vec(values(rows * dim, 60), (rows, dim), &Device::Cpu).unwrap();
    let b = candle_core::Var::from_vec(values(columns * dim, 61), (columns, dim), &Device::Cpu).unwrap();
    let weights = Tensor::from_vec(values(rows * columns, 62), (rows, columns), &Device::Cpu).unwrap();

    let fused = cosine_similarity(a.as_tensor(), b.as_tensor()).unwrap();
    let fused_grads = (fused * &weights).unwrap().sum_all().unwrap().backward().unwrap();

    let unit = |x: &Tensor| {
        x.broadcast_div(&x.sqr().unwrap().sum_keepdim(1).unwrap().sqrt().unwrap())
            .unwrap()
    };
    let reference = unit(a.as_tensor()).matmul(&unit(b.as_tensor()).t().unwrap()).unwrap();
    let reference_grads = (reference * &weights).unwrap().sum_all().unwrap().backward().unwrap();

    for (name, var) in [("a", &a), ("b", &b)] {
        let flat = |grads: &candle_core::backprop::GradStore| {
            grads
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        };
        assert_close(&flat(&fused_grads), &flat(&reference_grads), 1e-9, name);
    }
}

/// f64 rows whose squares underflow or overflow keep their direction.
#[test]
fn cosine_f64_tiny_and_huge_rows() {
    let a = Tensor::new(&[[1e-200f64, 2e-200], [1e200, 0.0]], &Device::Cpu).unwrap();
    let b = Tensor::new(&[[1f64, 2.], [0., 1.]], &Device::Cpu).unwrap();

    let values = cosine_similarity(&a, &b).unwrap().to_vec2::<f64>().unwrap();

    let expected = [[1.0, 2.0 / 5f64.sqrt()], [1.0 / 5f64.sqrt(), 0.0]];
    for (row, expected_row) in values.iter().zip(&expected) {
        for (&value, &expected_value) in row.iter().zip(expected_row) {
            assert!((value - expected_value).abs() < 1e-12, "{values:?}");
        }
    }
}

/// A zero row has similarity 0 to everything, and its gradient is `Σ_j b_j / |b_j|` for the sum
/// of its similarities, as if its norm were 1.
#[test]
fn cosine_zero_row_gradient() {
    let a = candle_core::Var::new(&[[0f32, 0.], [1., 0.]], &Device::Cpu).unwrap();
    let b = Tensor::new(&[[0f32, 1.], [1., 1.]], &Device::Cpu).unwrap();

    let similarities = cosine_similarity(a.as_tensor(), &b).unwrap();
    let gradient = similarities.sum_all().unwrap().backward().unwrap();
    let gradient = gradient.get(a.as_tensor()).unwrap().to_vec2::<f32>().unwrap();

    let values = similarities.to_vec2::<f32>().unwrap();
    assert_eq!(values[0], [0.0, 0.0]);
    let half_sqrt2 = std::f32::consts::FRAC_1_SQRT_2;
    assert!((gradient[0][0] - half_sqrt2).abs() < 1e-6, "{gradient:?}");
    assert!((gradient[0][1] - (1.0 + half_sqrt2)).abs() < 1e-6, "{gradient:?}");
    // For [1, 0]: the part of b̂ sums orthogonal to a: [0, 1 + 1/√2].
    assert!(gradient[1][0].abs() < 1e-6, "{gradient:?}");
    assert!((gradient[1][1] - (1.0 + half_sqrt2)).abs() < 1e-6, "{gradient:?}");
}

/// Returns `Σ (x - y)²` in f64 for every pair of rows of `a` and `b`, row-major.
fn direct_squared_distances(a: &[f32], b: &[f32], dim: usize) -> Vec<f64> {
    a.chunks(dim)
        .flat_map(|x| {
            b.chunks(dim).map(move |y| {
                x.iter()
                    .zip(y)
                    .map(|(&p, &q)| (f64::from(p) - f64::from(q)).powi(2))
                    .sum::<f64>()
            })
        })
        .collect()
}

/// Returns the values of an f32 tensor, flattened, as f64.
fn as_f64(tensor: &Tensor) -> Vec<f64> {
    let values = tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values.into_iter().map(f64::from).collect()
}

/// Returns values in [-1, 1) from a fixed linear congruential sequence, so the test needs no
/// random number crate and gives the same inputs everywhere.
fn pseudo_random(count: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
