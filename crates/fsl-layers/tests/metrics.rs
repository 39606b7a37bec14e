//! Gram-matrix metrics against values computed by `reference/generate_losses.py`, classes absent
//! from the batch, and rejected inputs.

mod common;

use candle_core::{DType, Device, Tensor};
use common::{assert_close, floats, losses_reference, matrix, sizes};
use fsl_layers::metrics::{
    margin_accuracy, mean_score_classification_accuracy, min_eigenvalue, same_image_score,
    top_score_classification_accuracy,
};
use fsl_layers::{Error, one_hot};
use serde_json::Value;

const DTYPES: [DType; 2] = [DType::F32, DType::F64];
const BATCHES: [&str; 2] = ["batch", "singletons"];

fn label_matrix(case: &Value, dtype: DType) -> Tensor {
    let labels: Vec<u32> = sizes(&case["labels"]).iter().map(|&label| label as u32).collect();
    let n_classes = case["n_classes"].as_u64().unwrap() as usize;
    one_hot(&labels, n_classes, dtype, &Device::Cpu).unwrap()
}

fn square(values: &[f64], dtype: DType) -> Tensor {
    let batch = (values.len() as f64).sqrt() as usize;
    matrix(values, batch, batch, dtype)
}

fn assert_metric(actual: f64, expected: &Value, what: &str) {
    assert!(actual.is_finite(), "{what}: {actual}");
    assert_close(&[actual], &[expected.as_f64().unwrap()], 1e-5, what);
}

#[test]
fn classification_accuracies_match_numpy() {
    let reference = losses_reference();

    for name in BATCHES {
        let case = &reference[name];
        let expected = &case["metrics"];
        for dtype in DTYPES {
            let y_true = label_matrix(case, dtype);
            let similarity = square(&floats(&case["similarity"]), dtype);
            let distances = square(&floats(&case["squared_distances"]), dtype);
            let what = format!("{name} {dtype:?}");

            let top_similarity = top_score_classification_accuracy(&y_true, &similarity, false).unwrap();
            assert_metric(
                top_similarity,
                &expected["top_score_similarity"],
                &format!("{what} top similarity"),
            );
            let top_distance = top_score_classification_accuracy(&y_true, &distances, true).unwrap();
            assert_metric(
                top_distance,
                &expected["top_score_distance"],
                &format!("{what} top distance"),
            );

            let mean_similarity = mean_score_classification_accuracy(&y_true, &similarity, false).unwrap();
            let what_similarity = format!("{what} mean-score similarity");
            assert_metric(mean_similarity, &expected["mean_score_similarity"], &what_similarity);
            let mean_distance = mean_score_classification_accuracy(&y_true, &distances, true).unwrap();
            let what_distance = format!("{what} mean-score distance");
            assert_metric(mean_distance, &expected["mean_score_distance"], &what_distance);
        }
    }
}

#[test]
fn gram_statistics_match_numpy() {
    let reference = losses_reference();

    for name in BATCHES {
        let case = &reference[name];
        let expected = &case["metrics"];
        for dtype in DTYPES {
            let y_true = label_matrix(case, dtype);
            let similarity = square(&floats(&case["similarity"]), dtype);
            let what = format!("{name} {dtype:?}");

            let same_image = same_image_score(&similarity).unwrap();
            assert_metric(same_image, &expected["same_image_score"], &format!("{what} same image"));
            let within_0_3 = margin_accuracy(&y_true, &similarity, 0.3).unwrap();
            assert_metric(
                within_0_3,
                &expected["margin_accuracy_0_3"],
                &format!("{what} margin 0.3"),
            );
            let within_0_5 = margin_accuracy(&y_true, &similarity, 0.5).unwrap();
            assert_metric(
                within_0_5,
                &expected["margin_accuracy_0_5"],
                &format!("{what} margin 0.5"),
            );
        }
    }
}

/// The kernels are a random symmetric similarity (not positive semi-definite), a linear kernel of
/// rank below the batch size (smallest eigenvalue 0 up to rounding) and a Gaussian kernel (PSD).
#[test]
fn min_eigenvalue_matches_numpy() {
    let reference = losses_reference();

    for name in BATCHES {
        let case = &reference[name];
        let expected = floats(&case["metrics"]["min_eigenvalues"]);
        for dtype in DTYPES {
            let actual: Vec<f64> = case["kernels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|kernel| min_eigenvalue(&square(&floats(kernel), dtype)).unwrap())
                .collect();

            assert_close(&actual, &expected, 1e-9, &format!("{name} {dtype:?} min eigenvalues"));
            assert!(
                actual[0] < 0.0,
                "{name}: the random similarity is not PSD: {}",
                actual[0]
            );
            assert!(actual[2] > 0.0, "{name}: the Gaussian kernel is PSD: {}", actual[2]);
        }
    }
}

/// Only the symmetric part counts: an antisymmetric part has no effect on the eigenvalues.
#[test]
fn min_eigenvalue_of_asymmetric_matrix() {
    let kernel = Tensor::new(&[[2f64, 3.], [-1., 2.]], &Device::Cpu).unwrap();

    // The symmetric part is [[2, 1], [1, 2]], with eigenvalues 1 and 3.
    let value = min_eigenvalue(&kernel).unwrap();

    assert!((value - 1.0).abs() <= 1e-12, "{value}");
}

/// Class 1 is absent and every score is negative: an absent class scored as 0 would win every
/// item, so the mean-score accuracy would be 0 instead of 1.
#[test]
fn mean_score_accuracy_ignores_absent_classes() {
    let y_true = one_hot(&[0, 0, 2, 2], 3, DType::F32, &Device::Cpu).unwrap();
    let y_pred = Tensor::new(
        &[
            [-0.1f32, -0.2, -0.9, -0.8],
            [-0.2, -0.1, -0.7, -0.9],
            [-0.9, -0.7, -0.1, -0.3],
            [-0.8, -0.9, -0.3, -0.1],
        ],
        &Device::Cpu,
    )
    .unwrap();

    let accuracy = mean_score_classification_accuracy(&y_true, &y_pred, false).unwrap();

    assert_eq!(accuracy, 1.0);
}

#[test]
fn gram_metrics_reject_mismatched_shapes() {
    let y_true = Tensor::zeros((4, 3), DType::F32, &Device::Cpu).unwrap();
    let y_pred = Tensor::zeros((4, 5), DType::F32, &Device::Cpu).unwrap();

    let results = [
        top_score_classification_accuracy(&y_true, &y_pred, false),
        mean_score_classification_accuracy(&y_true, &y_pred, false),
        margin_accuracy(&y_true, &y_pred, 0.5),
    ];

    for (index, result) in results.into_iter().enumerate() {
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::ShapeMismatch { .. }),
            "metric {index}: {error:?}"
        );
        assert!(error.to_string().contains("[4, 3]"), "metric {index}: {error}");
        assert!(error.to_string().contains("[4, 5]"), "metric {index}: {error}");
    }

    for result in [same_image_score(&y_pred), min_eigenvalue(&y_pred)] {
        let error = result.unwrap_err();
        assert!(matches!(error, Error::ShapeMismatch { .. }), "{error:?}");
        assert!(error.to_string().contains("[4, 5]"), "{error}");
    }
}

#[test]
fn invalid_metric_inputs_are_rejected() {
    let y_true = one_hot(&[0, 1], 2, DType::F32, &Device::Cpu).unwrap();
    let y_pred = Tensor::new(&[[0.9f32, 0.1], [0.1, 0.9]], &Device::Cpu).unwrap();

    for margin in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        let error = margin_accuracy(&y_true, &y_pred, margin).unwrap_err();
        assert!(
            matches!(error, Error::InvalidArgument { name: "margin", .. }),
            "margin {margin}: {error:?}"
        );
    }

    let single_label = one_hot(&[0], 1, DType::F32, &Device::Cpu).unwrap();
    let single_score = Tensor::new(&[[1f32]], &Device::Cpu).unwrap();
    let error = top_score_classification_accuracy(&single_label, &single_score, false).unwrap_err();
    assert!(
        matches!(error, Error::InvalidArgument { name: "batch size", .. }),
        "{error:?}"
    );

    let with_nan = Tensor::new(&[[1f32, f32::NAN], [0.5, 1.0]], &Device::Cpu).unwrap();
    let error = min_eigenvalue(&with_nan).unwrap_err();
    assert!(
        matches!(error, Error::InvalidArgument { name: "y_pred", .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("row 0, column 1"), "{error}");
}

/// NaN scores compare false with everything, so an argmax would pick an arbitrary class: the
/// metrics name the row instead of returning a made-up accuracy.
#[test]
fn metrics_reject_nan_scores() {
    let y_true = fsl_layers::one_hot(&[0, 0, 1], 2, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    let gram = candle_core::Tensor::new(
        &[[1f32, 0.9, 0.1], [0.9, 1., f32::NAN], [0.1, f32::NAN, 1.]],
        &candle_core::Device::Cpu,
    )
    .unwrap();

    for ascending in [false, true] {
        let error = fsl_layers::top_score_classification_accuracy(&y_true, &gram, ascending).unwrap_err();
        assert!(
            matches!(error, fsl_layers::Error::NonFinite { row: 1, .. }),
            "{error:?}"
        );
        let error = fsl_layers::mean_score_classification_accuracy(&y_true, &gram, ascending).unwrap_err();
        assert!(matches!(error, fsl_layers::Error::NonFinite { .. }), "{error:?}");
        let error = fsl_layers::accuracy(&gram, &[0, 0, 1], ascending).unwrap_err();
        assert!(
            matches!(error, fsl_layers::Error::NonFinite { row: 1, .. }),
            "{error:?}"
        );
    }
}
