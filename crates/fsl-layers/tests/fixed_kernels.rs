//! The fixed kernels against numpy, on every pair and through the chunked evaluation, with
//! zero and tiny vectors and gradients checked by finite differences.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::{assert_close, floats, reference, sizes};
use fsl_layers::kernel::{Kernel, pairwise_in_chunks};
use fsl_layers::{CosineDistance, CosineSimilarity, Dot, Error, L1, Linf, SquaredL2};

fn matrix(values: &serde_json::Value, shape: &serde_json::Value) -> Tensor {
    let shape = sizes(shape);
    let values: Vec<f32> = floats(values).iter().map(|&v| v as f32).collect();
    Tensor::from_vec(values, (shape[0], shape[1]), &Device::Cpu).unwrap()
}

fn flat(tensor: &Tensor) -> Vec<f64> {
    tensor
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

fn kernels() -> Vec<(&'static str, Box<dyn Kernel>)> {
    vec![
        ("l1", Box::new(L1)),
        ("squared_l2", Box::new(SquaredL2)),
        ("linf", Box::new(Linf)),
        ("cosine_similarity", Box::new(CosineSimilarity)),
        ("cosine_distance", Box::new(CosineDistance)),
        ("dot", Box::new(Dot)),
    ]
}

#[test]
fn fixed_kernels_match_numpy() {
    let case = &reference()["fixed_kernels"];
    let a = matrix(&case["a"], &case["a_shape"]);
    let b = matrix(&case["b"], &case["b_shape"]);

    for (name, kernel) in kernels() {
        let values = kernel.pairwise(&a, &b).unwrap();

        assert_eq!(values.dims(), [6, 4], "{name}");
        assert_close(&flat(&values), &floats(&case[name]), 1e-5, name);
    }
}

/// The matrix-product forms must agree with the kernels' own pair-by-pair definitions, also
/// when the pairs are evaluated a few at a time.
#[test]
fn chunked_pairs_agree_with_pairwise() {
    let case = &reference()["fixed_kernels"];
    let a = matrix(&case["a"], &case["a_shape"]);
    let b = matrix(&case["b"], &case["b_shape"]);

    for (name, kernel) in kernels() {
        let whole = flat(&kernel.pairwise(&a, &b).unwrap());
        for max_pairs in [1, 3, 5, 1000] {
            let chunked = flat(&pairwise_in_chunks(kernel.as_ref(), &a, &b, max_pairs).unwrap());
            assert_close(&chunked, &whole, 1e-5, &format!("{name} in chunks of {max_pairs}"));
        }
    }
}

#[test]
fn distance_flags_follow_the_kernels() {
    let flags: Vec<(&str, bool)> = kernels()
        .iter()
        .map(|(name, kernel)| (*name, kernel.is_distance()))
        .collect();

    assert_eq!(
        flags,
        [
            ("l1", true),
            ("squared_l2", true),
            ("linf", true),
            ("cosine_similarity", false),
            ("cosine_distance", true),
            ("dot", false)
        ]
    );
}

/// Zero, parallel, orthogonal, opposite and tiny vectors: the similarity is finite, within
/// [-1, 1], and a vector of 1e-30 (whose square underflows in f32) keeps its direction.
#[test]
fn cosine_similarity_handles_zero_and_tiny_vectors() {
    let pairs: [([f32; 3], [f32; 3], f32); 5] = [
        ([0., 0., 0.], [1., 2., 2.], 0.0),
        ([3., 4., 0.], [6., 8., 0.], 1.0),
        ([1., 0., 0.], [0., 1., 0.], 0.0),
        ([1., 2., 2.], [-2., -4., -4.], -1.0),
        ([1e-30, 0., 0.], [1., 0., 0.], 1.0),
    ];

    for (x, y, expected) in pairs {
        let x = Tensor::new(&[x], &Device::Cpu).unwrap();
        let y = Tensor::new(&[y], &Device::Cpu).unwrap();
        for value in [
            CosineSimilarity.pairwise(&x, &y).unwrap().to_vec2::<f32>().unwrap()[0][0],
            CosineSimilarity.pairs(&x, &y).unwrap().to_vec1::<f32>().unwrap()[0],
        ] {
            assert!(value.is_finite(), "{x} {y}: {value}");
            assert!(value.abs() <= 1.0, "{x} {y}: {value}");
            assert!((value - expected).abs() < 1e-6, "{x} {y}: {value}, expected {expected}");
        }
    }
}

#[test]
fn cosine_gradient_is_finite_at_zero_vector() {
    let x = Var::new(&[[0f32, 0., 0.]], &Device::Cpu).unwrap();
    let y = Var::new(&[[1f32, 2., 2.]], &Device::Cpu).unwrap();

    let distance = CosineDistance.pairwise(x.as_tensor(), y.as_tensor()).unwrap();
    let gradients = distance.sum_all().unwrap().backward().unwrap();

    assert_eq!(distance.to_vec2::<f32>().unwrap(), [[1.0]]);
    for var in [&x, &y] {
        let gradient = gradients
            .get(var)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(gradient.iter().all(|g| g.is_finite()), "{gradient:?}");
    }
}

/// Central differences in f64 against candle's gradients for every fixed kernel, away from the
/// kinks of |x| and max.
#[test]
fn fixed_kernel_gradients_match_finite_differences() {
    let a_values = [0.3, -1.2, 0.8, 2.0, 0.1, -0.7, 1.5, 0.4, -0.9];
    let b_values = [1.1, 0.5, -0.4, -0.6, 1.7, 0.9];

    for (name, kernel) in kernels() {
        let a = Var::from_vec(a_values.to_vec(), (3, 3), &Device::Cpu).unwrap();
        let b = Var::from_vec(b_values.to_vec(), (2, 3), &Device::Cpu).unwrap();
        let weights = Tensor::new(&[[0.5f64, -1.0], [2.0, 0.25], [-0.75, 1.5]], &Device::Cpu).unwrap();
        let objective = |a: &Tensor, b: &Tensor| -> Tensor {
            (kernel.pairwise(a, b).unwrap() * &weights).unwrap().sum_all().unwrap()
        };

        let gradients = objective(a.as_tensor(), b.as_tensor()).backward().unwrap();
        for (var, values, label) in [(&a, &a_values[..], "a"), (&b, &b_values[..], "b")] {
            let analytic = flat(gradients.get(var).unwrap());
            let numeric: Vec<f64> = (0..values.len())
                .map(|index| {
                    let shifted = |delta: f64| {
                        let mut moved = values.to_vec();
                        moved[index] += delta;
                        let moved = Tensor::from_vec(moved, var.shape(), &Device::Cpu).unwrap();
                        let value = if label == "a" {
                            objective(&moved, b.as_tensor())
                        } else {
                            objective(a.as_tensor(), &moved)
                        };
                        value.to_scalar::<f64>().unwrap()
                    };
                    let h = 1e-6;
                    (shifted(h) - shifted(-h)) / (2.0 * h)
                })
                .collect();
            assert_close(&analytic, &numeric, 1e-5, &format!("{name} gradient of {label}"));
        }
    }
}

#[test]
fn kernels_reject_mismatched_embedding_sizes() {
    let a = Tensor::zeros((3, 4), DType::F32, &Device::Cpu).unwrap();
    let b = Tensor::zeros((2, 5), DType::F32, &Device::Cpu).unwrap();

    for (name, kernel) in kernels() {
        let error = kernel.pairwise(&a, &b).unwrap_err();
        assert!(matches!(error, Error::ShapeMismatch { .. }), "{name}: {error:?}");
        assert!(error.to_string().contains("[3, 4]"), "{name}: {error}");
        assert!(error.to_string().contains("[2, 5]"), "{name}: {error}");

        let error = kernel.pairs(&a, &a.narrow(0, 0, 2).unwrap()).unwrap_err();
        assert!(error.to_string().contains("[2, 4]"), "{name}: {error}");
    }
}

#[test]
fn empty_sets_give_empty_matrices() {
    let a = Tensor::zeros((0, 4), DType::F32, &Device::Cpu).unwrap();
    let b = Tensor::ones((3, 4), DType::F32, &Device::Cpu).unwrap();

    let values = pairwise_in_chunks(&L1, &a, &b, 16).unwrap();

    assert_eq!(values.dims(), [0, 3]);
}

#[test]
fn zero_chunk_size_is_rejected() {
    let a = Tensor::ones((2, 4), DType::F32, &Device::Cpu).unwrap();

    let error = pairwise_in_chunks(&L1, &a, &a, 0).unwrap_err();

    assert!(error.to_string().contains("max_pairs"), "{error}");
}

/// One NaN embedding gives NaN distances in its own row and column only. Every other pair keeps
/// its value, also through the shared centre of the squared-l2 identity.
#[test]
fn nan_row_stays_in_its_own_pairs() {
    let points = Tensor::new(&[[f32::NAN, 0.], [0., 1.], [3., 0.]], &Device::Cpu).unwrap();

    for (name, kernel) in kernels() {
        let values = kernel.pairwise(&points, &points).unwrap().to_vec2::<f32>().unwrap();
        for (i, row) in values.iter().enumerate() {
            for (j, value) in row.iter().enumerate() {
                let touches_nan = i == 0 || j == 0;
                assert_eq!(value.is_nan(), touches_nan, "{name}[{i}][{j}] = {value}");
            }
        }
    }
    let squared = SquaredL2.pairwise(&points, &points).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(squared[1][2], 10.0);
}

#[test]
fn kernels_reject_integer_and_mixed_dtypes() {
    let integers = Tensor::new(&[[0u32, 1], [2, 3]], &Device::Cpu).unwrap();
    let floats = Tensor::new(&[[0f32, 1.], [2., 3.]], &Device::Cpu).unwrap();
    let doubles = Tensor::new(&[[0f64, 1.], [2., 3.]], &Device::Cpu).unwrap();

    for (name, kernel) in kernels() {
        let error = kernel.pairwise(&integers, &integers).unwrap_err();
        assert!(matches!(error, Error::UnsupportedDType { .. }), "{name}: {error:?}");
        let error = kernel.pairs(&integers, &integers).unwrap_err();
        assert!(matches!(error, Error::UnsupportedDType { .. }), "{name}: {error:?}");

        let error = kernel.pairwise(&floats, &doubles).unwrap_err();
        assert!(matches!(error, Error::DTypeMismatch { .. }), "{name}: {error:?}");
        assert!(error.to_string().contains("F32 and F64"), "{name}: {error}");
        assert!(error.to_string().contains("to_dtype"), "{name}: {error}");
    }
}

/// Rows of no values are rejected by every kernel with an error that names the embedding size,
/// for `pairwise` and `pairs`, in f32 and f64, between two sets and for a set against itself.
#[test]
fn kernels_reject_rows_of_no_values() {
    for dtype in [DType::F32, DType::F64] {
        let a = Tensor::zeros((3, 0), dtype, &Device::Cpu).unwrap();
        let b = Tensor::zeros((2, 0), dtype, &Device::Cpu).unwrap();

        for (name, kernel) in kernels() {
            let context = format!("{name} {dtype:?}");
            for error in [
                kernel.pairwise(&a, &b).unwrap_err(),
                kernel.pairwise(&a, &a).unwrap_err(),
                kernel.pairs(&a, &a).unwrap_err(),
            ] {
                assert!(matches!(error, Error::InvalidArgument { .. }), "{context}: {error:?}");
                assert!(error.to_string().contains("embedding size = 0"), "{context}: {error}");
                assert!(error.to_string().contains("[3, 0]"), "{context}: {error}");
            }
        }
    }
}
