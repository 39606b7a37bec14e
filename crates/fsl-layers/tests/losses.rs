//! Gram-matrix losses against values computed by `reference/generate_losses.py`, saturated and
//! degenerate inputs with known values, finite-difference gradients, and rejected inputs.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::{assert_close, floats, losses_reference, matrix, sizes, values_f64};
use fsl_layers::loss::{
    Reduction, binary_crossentropy, binary_crossentropy_with_logits, class_consistency_loss,
    clipped_binary_crossentropy, contrastive_loss, elementwise_binary_crossentropy, mean_score_classification_loss,
    pair_contrastive_loss, semi_hard_triplet_loss,
};
use fsl_layers::{Error, one_hot, squared_l2};
use serde_json::Value;

const DTYPES: [DType; 2] = [DType::F32, DType::F64];
const BATCHES: [&str; 2] = ["batch", "singletons"];

fn scalar(loss: &Tensor) -> f64 {
    assert_eq!(loss.rank(), 0, "a loss is a scalar");
    loss.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

fn labels(case: &Value) -> Vec<u32> {
    sizes(&case["labels"]).iter().map(|&label| label as u32).collect()
}

fn label_matrix(case: &Value, dtype: DType) -> Tensor {
    let n_classes = case["n_classes"].as_u64().unwrap() as usize;
    one_hot(&labels(case), n_classes, dtype, &Device::Cpu).unwrap()
}

fn square(values: &[f64], dtype: DType) -> Tensor {
    let batch = (values.len() as f64).sqrt() as usize;
    matrix(values, batch, batch, dtype)
}

fn expected_losses(case: &Value, dtype: DType) -> &Value {
    match dtype {
        DType::F32 => &case["losses_f32"],
        _ => &case["losses_f64"],
    }
}

fn assert_loss(actual: &Tensor, expected: &Value, what: &str) {
    let value = scalar(actual);
    assert!(value.is_finite(), "{what}: {value} is not finite");
    assert_close(&[value], &[expected.as_f64().unwrap()], 1e-5, what);
}

#[test]
fn binary_crossentropy_reductions_match_numpy() {
    let reference = losses_reference();
    let percentiles = floats(&reference["percentiles"]);

    for name in BATCHES {
        let case = &reference[name];
        for dtype in DTYPES {
            let y_true = label_matrix(case, dtype);
            let y_pred = square(&floats(&case["similarity"]), dtype);
            let expected = &expected_losses(case, dtype)["bce"];
            let what = format!("{name} {dtype:?}");

            let mean = binary_crossentropy(&y_true, &y_pred, Reduction::Mean).unwrap();
            assert_loss(&mean, &expected["mean"], &format!("{what} mean"));
            let max = binary_crossentropy(&y_true, &y_pred, Reduction::Max).unwrap();
            assert_loss(&max, &expected["max"], &format!("{what} max"));
            let std = binary_crossentropy(&y_true, &y_pred, Reduction::Std).unwrap();
            assert_loss(&std, &expected["std"], &format!("{what} std"));

            for (&q, expected) in percentiles.iter().zip(expected["percentiles"].as_array().unwrap()) {
                let loss = binary_crossentropy(&y_true, &y_pred, Reduction::Percentile(q)).unwrap();
                assert_loss(&loss, expected, &format!("{what} percentile {q}"));
            }
        }
    }
}

#[test]
fn clipped_binary_crossentropy_matches_numpy() {
    let reference = losses_reference();

    for name in BATCHES {
        let case = &reference[name];
        for dtype in DTYPES {
            let y_true = label_matrix(case, dtype);
            let y_pred = square(&floats(&case["similarity"]), dtype);

            for bounds in expected_losses(case, dtype)["clipped_bce"].as_array().unwrap() {
                let lower = bounds["lower"].as_f64().unwrap();
                let upper = bounds["upper"].as_f64().unwrap();

                let loss = clipped_binary_crossentropy(&y_true, &y_pred, lower, upper).unwrap();

                assert_loss(
                    &loss,
                    &bounds["loss"],
                    &format!("{name} {dtype:?} clipped ({lower}, {upper})"),
                );
            }
        }
    }
}

#[test]
fn clipped_binary_crossentropy_without_kept_elements_is_zero() {
    let y_true = one_hot(&[0, 0, 1], 2, DType::F32, &Device::Cpu).unwrap();
    let y_pred = Var::new(&[[0.5f32, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], &Device::Cpu).unwrap();

    // Every element costs ln 2, an error of 0.5, outside [0.9, 0.99].
    let loss = clipped_binary_crossentropy(&y_true, y_pred.as_tensor(), 0.9, 0.99).unwrap();
    let gradient = loss.backward().unwrap();

    assert_eq!(scalar(&loss), 0.0);
    let gradient = gradient.get(y_pred.as_tensor()).expect("y_pred receives a gradient");
    assert!(values_f64(gradient).iter().all(|&g| g == 0.0), "{gradient}");
}

#[test]
fn mean_score_and_class_consistency_match_numpy() {
    let reference = losses_reference();

    for name in BATCHES {
        let case = &reference[name];
        for dtype in DTYPES {
            let y_true = label_matrix(case, dtype);
            let y_pred = square(&floats(&case["similarity"]), dtype);
            let expected = expected_losses(case, dtype);

            let mean_score = mean_score_classification_loss(&y_true, &y_pred).unwrap();
            assert_loss(
                &mean_score,
                &expected["mean_score_loss"],
                &format!("{name} {dtype:?} mean score"),
            );
            let consistency = class_consistency_loss(&y_true, &y_pred).unwrap();
            let what = format!("{name} {dtype:?} class consistency");
            assert_loss(&consistency, &expected["class_consistency_loss"], &what);
        }
    }
}

#[test]
fn triplet_and_contrastive_match_numpy() {
    let reference = losses_reference();

    for name in BATCHES {
        let case = &reference[name];
        for dtype in DTYPES {
            let y_true = label_matrix(case, dtype);
            let distances = square(&floats(&case["squared_distances"]), dtype);
            let expected = expected_losses(case, dtype);
            let what = format!("{name} {dtype:?}");

            let triplet = semi_hard_triplet_loss(&y_true, &distances, 1.0).unwrap();
            assert_loss(
                &triplet,
                &expected["triplet_margin_1"],
                &format!("{what} triplet margin 1"),
            );
            let triplet = semi_hard_triplet_loss(&y_true, &distances, 0.2).unwrap();
            assert_loss(
                &triplet,
                &expected["triplet_margin_0_2"],
                &format!("{what} triplet margin 0.2"),
            );
            let contrastive = contrastive_loss(&y_true, &distances, 1.5).unwrap();
            assert_loss(
                &contrastive,
                &expected["contrastive_margin_1_5"],
                &format!("{what} contrastive"),
            );
        }
    }
}

/// Predictions of exactly 0 and 1 (the adjacency, its complement, all zeros) and identical
/// embeddings (all distances 0) give the clipped values of the reference, never NaN or infinity.
#[test]
fn saturated_predictions_match_numpy() {
    let reference = losses_reference();
    let saturated = &reference["saturated"];
    let percentiles = floats(&reference["percentiles"]);

    for (name, case) in saturated["cases"].as_object().unwrap() {
        for dtype in DTYPES {
            let y_true = label_matrix(saturated, dtype);
            let y_pred = square(&floats(&case["y_pred"]), dtype);
            let zero_distances = y_pred.zeros_like().unwrap();
            let expected = expected_losses(case, dtype);
            let what = format!("{name} {dtype:?}");

            let mean = binary_crossentropy(&y_true, &y_pred, Reduction::Mean).unwrap();
            assert_loss(&mean, &expected["bce"]["mean"], &format!("{what} mean"));
            let std = binary_crossentropy(&y_true, &y_pred, Reduction::Std).unwrap();
            assert_loss(&std, &expected["bce"]["std"], &format!("{what} std"));
            for (&q, value) in percentiles
                .iter()
                .zip(expected["bce"]["percentiles"].as_array().unwrap())
            {
                let loss = binary_crossentropy(&y_true, &y_pred, Reduction::Percentile(q)).unwrap();
                assert_loss(&loss, value, &format!("{what} percentile {q}"));
            }
            for bounds in expected["clipped_bce"].as_array().unwrap() {
                let (lower, upper) = (bounds["lower"].as_f64().unwrap(), bounds["upper"].as_f64().unwrap());
                let loss = clipped_binary_crossentropy(&y_true, &y_pred, lower, upper).unwrap();
                assert_loss(&loss, &bounds["loss"], &format!("{what} clipped ({lower}, {upper})"));
            }

            let mean_score = mean_score_classification_loss(&y_true, &y_pred).unwrap();
            assert_loss(&mean_score, &expected["mean_score_loss"], &format!("{what} mean score"));
            let consistency = class_consistency_loss(&y_true, &y_pred).unwrap();
            assert_loss(
                &consistency,
                &expected["class_consistency_loss"],
                &format!("{what} consistency"),
            );

            let triplet = semi_hard_triplet_loss(&y_true, &zero_distances, 1.0).unwrap();
            assert_loss(&triplet, &expected["triplet_margin_1"], &format!("{what} triplet"));
            let contrastive = contrastive_loss(&y_true, &zero_distances, 1.5).unwrap();
            assert_loss(
                &contrastive,
                &expected["contrastive_margin_1_5"],
                &format!("{what} contrastive"),
            );
        }
    }
}

#[test]
fn elementwise_losses_match_numpy() {
    let case = &losses_reference()["elementwise"];
    let device = Device::Cpu;

    for dtype in DTYPES {
        let probabilities = Tensor::new(floats(&case["probabilities"]), &device).unwrap();
        let targets = Tensor::new(floats(&case["targets"]), &device).unwrap();
        let probabilities = probabilities.to_dtype(dtype).unwrap();
        let losses = elementwise_binary_crossentropy(&probabilities, &targets).unwrap();
        assert_close(&values_f64(&losses), &floats(&case["bce_map"]), 1e-5, "bce map");

        let shape = sizes(&case["logits_shape"]);
        let logits = matrix(&floats(&case["logits"]), shape[0], shape[1], dtype);
        let logit_targets = matrix(&floats(&case["logit_targets"]), shape[0], shape[1], dtype);
        let loss = binary_crossentropy_with_logits(&logits, &logit_targets).unwrap();
        assert_loss(&loss, &case["bce_with_logits"], &format!("{dtype:?} with logits"));

        let squared = Tensor::new(floats(&case["pair_squared_distances"]), &device).unwrap();
        let similar = Tensor::new(floats(&case["pair_similar"]), &device).unwrap();
        let loss = pair_contrastive_loss(&squared.to_dtype(dtype).unwrap(), &similar, 1.0).unwrap();
        assert_loss(
            &loss,
            &case["pair_contrastive_margin_1"],
            &format!("{dtype:?} pair contrastive"),
        );
    }
}

/// In f32, `1e-7` is 1.0000000117e-7 and `1 - 1e-7` rounds to 0.99999988, so the two saturated
/// mistakes cost different amounts. Correct saturated predictions cost almost 0, not NaN.
#[test]
fn binary_crossentropy_of_saturated_probabilities() {
    let probabilities = Tensor::new(&[0f32, 1., 0., 1.], &Device::Cpu).unwrap();
    let targets = Tensor::new(&[1f32, 0., 0., 1.], &Device::Cpu).unwrap();

    let losses = values_f64(&elementwise_binary_crossentropy(&probabilities, &targets).unwrap());

    let expected = [16.118095, 15.942385, 0.0, 0.0];
    for (index, (&loss, &expected)) in losses.iter().zip(&expected).enumerate() {
        assert!(loss.is_finite(), "pair {index}: {loss}");
        assert!(
            (loss - expected).abs() <= 1e-4,
            "pair {index}: {loss}, expected {expected}"
        );
    }
}

/// The same saturated pairs as entries of a Gram matrix: item 0 and item 1 share a class but are
/// predicted 0, items 0 and 2 do not but are predicted 1.
#[test]
fn gram_binary_crossentropy_of_saturated_pairs() {
    let y_true = one_hot(&[0, 0, 1], 2, DType::F32, &Device::Cpu).unwrap();
    let y_pred = Tensor::new(&[[1f32, 0., 1.], [0., 1., 0.], [1., 0., 1.]], &Device::Cpu).unwrap();

    let max = scalar(&binary_crossentropy(&y_true, &y_pred, Reduction::Max).unwrap());
    let min = scalar(&binary_crossentropy(&y_true, &y_pred, Reduction::Percentile(0.0)).unwrap());
    let mean = scalar(&binary_crossentropy(&y_true, &y_pred, Reduction::Mean).unwrap());

    assert!((max - 16.118095).abs() <= 1e-4, "max {max}");
    assert!(min.abs() <= 1e-4, "min {min}");
    let expected_mean = (2.0 * 16.118095 + 2.0 * 15.942385) / 9.0;
    assert!(
        (mean - expected_mean).abs() <= 1e-4,
        "mean {mean}, expected {expected_mean}"
    );
}

#[test]
fn binary_crossentropy_with_extreme_logits() {
    let cases = [
        (100f32, 0f32, 100.0),
        (-100., 1., 100.0),
        (-100., 0., 0.0),
        (0., 1., std::f64::consts::LN_2),
        (3., 1., 0.048587),
        (20., 0., 20.000000002),
    ];

    for (logit, target, expected) in cases {
        let logits = Var::new(&[logit], &Device::Cpu).unwrap();
        let targets = Tensor::new(&[target], &Device::Cpu).unwrap();

        let loss = binary_crossentropy_with_logits(logits.as_tensor(), &targets).unwrap();
        let gradient = loss.backward().unwrap();

        let value = scalar(&loss);
        assert!(value.is_finite(), "({logit}, {target}): {value}");
        assert!(
            (value - expected).abs() <= 1e-4,
            "({logit}, {target}): {value}, expected {expected}"
        );
        let gradient = values_f64(gradient.get(logits.as_tensor()).unwrap())[0];
        assert!(gradient.is_finite(), "({logit}, {target}): gradient {gradient}");
    }
}

/// Every item has its own class, so there is no anchor-positive pair.
#[test]
fn triplet_loss_without_positive_pairs_is_zero() {
    let embeddings = Tensor::new(&[[0f32, 0.], [1., 0.], [0., 1.], [1., 1.]], &Device::Cpu).unwrap();
    let distances = Var::from_tensor(&squared_l2(&embeddings, &embeddings).unwrap()).unwrap();
    let y_true = one_hot(&[0, 1, 2, 3], 4, DType::F32, &Device::Cpu).unwrap();

    let loss = semi_hard_triplet_loss(&y_true, distances.as_tensor(), 1.0).unwrap();
    let gradient = loss.backward().unwrap();

    assert_eq!(scalar(&loss), 0.0);
    let gradient = gradient
        .get(distances.as_tensor())
        .expect("distances receive a gradient");
    assert!(values_f64(gradient).iter().all(|&g| g == 0.0), "{gradient}");
}

/// Every item has the same class, so no anchor has a negative. Falling back to a distance of 0
/// for the missing negative would give 14/6 here.
#[test]
fn triplet_loss_without_negatives_is_zero() {
    let embeddings = Tensor::new(&[[0f32, 0.], [1., 0.], [0., 1.]], &Device::Cpu).unwrap();
    let distances = squared_l2(&embeddings, &embeddings).unwrap();
    let (codes, _) = fsl_layers::encode_labels(&[5, 5, 5]);
    let y_true = one_hot(&codes, 1, DType::F32, &Device::Cpu).unwrap();

    let loss = semi_hard_triplet_loss(&y_true, &distances, 1.0).unwrap();

    assert_eq!(scalar(&loss), 0.0);
}

/// Squared distances ab .25, ac 1.44, ad 4, bc .49, bd 2.25, cd .64: the four pairs cost 0, .76,
/// .20 and 0, and the mean over all four pairs, zero terms included, is 0.24.
#[test]
fn triplet_loss_mines_semi_hard_negatives() {
    let embeddings = Tensor::new(&[[0f32], [0.5], [1.2], [2.0]], &Device::Cpu).unwrap();
    let distances = squared_l2(&embeddings, &embeddings).unwrap();
    let y_true = one_hot(&[0, 0, 1, 1], 2, DType::F32, &Device::Cpu).unwrap();

    let loss = scalar(&semi_hard_triplet_loss(&y_true, &distances, 1.0).unwrap());

    assert!(loss.is_finite());
    assert!((loss - 0.24).abs() <= 1e-5, "loss {loss}");
}

/// A dissimilar pair of identical points: the distance is floored at sqrt(1e-12) = 1e-6, so the
/// loss is (1 - 1e-6)² and the gradient is 0 rather than 0/0.
#[test]
fn contrastive_gradient_finite_for_identical_points() {
    let x = Var::new(&[[0.3f32, 0.4]], &Device::Cpu).unwrap();
    let y = Var::new(&[[0.3f32, 0.4]], &Device::Cpu).unwrap();
    let squared = (x.as_tensor() - y.as_tensor()).unwrap().sqr().unwrap().sum(1).unwrap();
    let dissimilar = Tensor::new(&[0f32], &Device::Cpu).unwrap();

    let loss = pair_contrastive_loss(&squared, &dissimilar, 1.0).unwrap();
    let gradients = loss.backward().unwrap();

    let value = scalar(&loss);
    assert!((value - (1.0 - 1e-6f64).powi(2)).abs() <= 1e-6, "loss {value}");
    for (name, var) in [("x", &x), ("y", &y)] {
        let gradient = values_f64(gradients.get(var.as_tensor()).expect("a gradient"));
        assert!(gradient.iter().all(|g| g.is_finite()), "{name}: {gradient:?}");
        assert!(gradient.iter().all(|&g| g == 0.0), "{name}: {gradient:?}");
    }
}

/// The same pair inside a Gram matrix built by the squared-L2 kernel, whose rounding may leave a
/// squared distance slightly above 0 for identical points.
#[test]
fn gram_contrastive_gradient_finite_for_identical_points() {
    let embeddings = Var::new(&[[0.3f32, 0.4], [0.3, 0.4]], &Device::Cpu).unwrap();
    let y_true = one_hot(&[0, 1], 2, DType::F32, &Device::Cpu).unwrap();
    let squared = squared_l2(embeddings.as_tensor(), embeddings.as_tensor()).unwrap();

    let loss = contrastive_loss(&y_true, &squared, 1.0).unwrap();
    let gradients = loss.backward().unwrap();

    let value = scalar(&loss);
    assert!((value - 1.0).abs() <= 1e-3, "loss {value}");
    let gradient = values_f64(gradients.get(embeddings.as_tensor()).expect("a gradient"));
    assert!(gradient.iter().all(|g| g.is_finite()), "{gradient:?}");
}

/// Evaluates `loss` at `values` and checks its autograd gradient against central differences,
/// all in f64.
fn assert_gradient_matches(what: &str, values: &[f64], rows: usize, columns: usize, loss: impl Fn(&Tensor) -> Tensor) {
    let input = Var::from_tensor(&matrix(values, rows, columns, DType::F64)).unwrap();
    let gradients = loss(input.as_tensor()).backward().unwrap();
    let gradient = values_f64(gradients.get(input.as_tensor()).expect("the input receives a gradient"));

    let step = 1e-6;
    let numeric: Vec<f64> = (0..values.len())
        .map(|index| {
            let mut plus = values.to_vec();
            let mut minus = values.to_vec();
            plus[index] += step;
            minus[index] -= step;
            let plus = scalar(&loss(&matrix(&plus, rows, columns, DType::F64)));
            let minus = scalar(&loss(&matrix(&minus, rows, columns, DType::F64)));
            (plus - minus) / (2.0 * step)
        })
        .collect();

    assert!(gradient.iter().any(|&g| g != 0.0), "{what}: the gradient is all zero");
    assert_close(&gradient, &numeric, 1e-6, what);
}

/// Adds a small asymmetric offset so that no two elements tie: a symmetric Gram matrix has every
/// off-diagonal value twice, and the maximum or a percentile of tied values has a kink there.
fn break_ties(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .enumerate()
        .map(|(index, &value)| value + 1e-3 * ((index * 7 % 11) as f64 / 11.0 + 0.05))
        .collect()
}

#[test]
fn gram_loss_gradients_match_finite_differences() {
    let reference = losses_reference();

    for name in BATCHES {
        let case = &reference[name];
        let y_true = label_matrix(case, DType::F64);
        let batch = labels(case).len();
        let similarity = break_ties(&floats(&case["similarity"]));
        let distances = break_ties(&floats(&case["squared_distances"]));

        let reductions = [
            Reduction::Mean,
            Reduction::Max,
            Reduction::Std,
            Reduction::Percentile(90.0),
        ];
        for reduction in reductions {
            assert_gradient_matches(
                &format!("{name} bce {reduction:?}"),
                &similarity,
                batch,
                batch,
                |y_pred| binary_crossentropy(&y_true, y_pred, reduction).unwrap(),
            );
        }
        assert_gradient_matches(&format!("{name} clipped bce"), &similarity, batch, batch, |y_pred| {
            clipped_binary_crossentropy(&y_true, y_pred, 0.1, 0.9).unwrap()
        });
        assert_gradient_matches(&format!("{name} mean score"), &similarity, batch, batch, |y_pred| {
            mean_score_classification_loss(&y_true, y_pred).unwrap()
        });
        assert_gradient_matches(
            &format!("{name} class consistency"),
            &similarity,
            batch,
            batch,
            |y_pred| class_consistency_loss(&y_true, y_pred).unwrap(),
        );
        assert_gradient_matches(&format!("{name} triplet"), &distances, batch, batch, |y_pred| {
            semi_hard_triplet_loss(&y_true, y_pred, 1.0).unwrap()
        });
        assert_gradient_matches(&format!("{name} contrastive"), &distances, batch, batch, |y_pred| {
            contrastive_loss(&y_true, y_pred, 1.5).unwrap()
        });
    }
}

#[test]
fn elementwise_loss_gradients_match_finite_differences() {
    let case = &losses_reference()["elementwise"];

    let probabilities = floats(&case["probabilities"]);
    let targets = matrix(&floats(&case["targets"]), 1, probabilities.len(), DType::F64);
    assert_gradient_matches("bce map", &probabilities, 1, probabilities.len(), |p| {
        elementwise_binary_crossentropy(p, &targets).unwrap().sum_all().unwrap()
    });

    let shape = sizes(&case["logits_shape"]);
    let logit_targets = matrix(&floats(&case["logit_targets"]), shape[0], shape[1], DType::F64);
    assert_gradient_matches("with logits", &floats(&case["logits"]), shape[0], shape[1], |z| {
        binary_crossentropy_with_logits(z, &logit_targets).unwrap()
    });

    let squared = floats(&case["pair_squared_distances"]);
    let similar = matrix(&floats(&case["pair_similar"]), 1, squared.len(), DType::F64);
    assert_gradient_matches("pair contrastive", &squared, 1, squared.len(), |d| {
        pair_contrastive_loss(d, &similar, 1.0).unwrap()
    });
}

#[test]
fn gram_losses_reject_mismatched_shapes() {
    let y_true = Tensor::zeros((4, 3), DType::F32, &Device::Cpu).unwrap();
    let y_pred = Tensor::zeros((4, 5), DType::F32, &Device::Cpu).unwrap();

    let results = [
        binary_crossentropy(&y_true, &y_pred, Reduction::Mean),
        clipped_binary_crossentropy(&y_true, &y_pred, 0.1, 0.9),
        mean_score_classification_loss(&y_true, &y_pred),
        class_consistency_loss(&y_true, &y_pred),
        semi_hard_triplet_loss(&y_true, &y_pred, 1.0),
        contrastive_loss(&y_true, &y_pred, 1.0),
    ];

    for (index, result) in results.into_iter().enumerate() {
        let error = result.unwrap_err();
        assert!(matches!(error, Error::ShapeMismatch { .. }), "loss {index}: {error:?}");
        assert!(error.to_string().contains("[4, 3]"), "loss {index}: {error}");
        assert!(error.to_string().contains("[4, 5]"), "loss {index}: {error}");
    }
}

#[test]
fn elementwise_losses_reject_mismatched_shapes() {
    let predictions = Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap();
    let targets = Tensor::zeros((3, 2), DType::F32, &Device::Cpu).unwrap();

    let results = [
        elementwise_binary_crossentropy(&predictions, &targets),
        binary_crossentropy_with_logits(&predictions, &targets),
        pair_contrastive_loss(&predictions, &targets, 1.0),
    ];

    for (index, result) in results.into_iter().enumerate() {
        let error = result.unwrap_err();
        assert!(matches!(error, Error::ShapeMismatch { .. }), "loss {index}: {error:?}");
        assert!(error.to_string().contains("[2, 3]"), "loss {index}: {error}");
        assert!(error.to_string().contains("[3, 2]"), "loss {index}: {error}");
    }
}

#[test]
fn percentile_outside_range_is_rejected() {
    let y_true = one_hot(&[0, 1], 2, DType::F32, &Device::Cpu).unwrap();
    let y_pred = Tensor::new(&[[0.9f32, 0.1], [0.1, 0.9]], &Device::Cpu).unwrap();

    for q in [-1.0, 100.5, f64::NAN, f64::INFINITY] {
        let error = binary_crossentropy(&y_true, &y_pred, Reduction::Percentile(q)).unwrap_err();

        assert!(
            matches!(error, Error::InvalidArgument { name: "percentile", .. }),
            "{q}: {error:?}"
        );
    }
}

#[test]
fn invalid_margins_are_rejected() {
    let y_true = one_hot(&[0, 1], 2, DType::F32, &Device::Cpu).unwrap();
    let y_pred = Tensor::new(&[[0f32, 1.], [1., 0.]], &Device::Cpu).unwrap();
    let pairs = Tensor::new(&[1f32], &Device::Cpu).unwrap();

    for margin in [-0.5, f64::NAN, f64::INFINITY] {
        let results = [
            semi_hard_triplet_loss(&y_true, &y_pred, margin),
            contrastive_loss(&y_true, &y_pred, margin),
            pair_contrastive_loss(&pairs, &pairs, margin),
        ];

        for (index, result) in results.into_iter().enumerate() {
            let error = result.unwrap_err();
            assert!(
                matches!(error, Error::InvalidArgument { name: "margin", .. }),
                "loss {index}, margin {margin}: {error:?}"
            );
            assert!(error.to_string().contains(&margin.to_string()), "{error}");
        }
    }
}

#[test]
fn invalid_clip_bounds_are_rejected() {
    let y_true = one_hot(&[0, 1], 2, DType::F32, &Device::Cpu).unwrap();
    let y_pred = Tensor::new(&[[0.9f32, 0.1], [0.1, 0.9]], &Device::Cpu).unwrap();

    let cases = [
        (-0.1, 0.9, "lower"),
        (1.0, 1.0, "lower"),
        (0.5, 0.4, "upper"),
        (0.1, 1.5, "upper"),
    ];
    for (lower, upper, parameter) in cases {
        let error = clipped_binary_crossentropy(&y_true, &y_pred, lower, upper).unwrap_err();

        assert!(
            matches!(error, Error::InvalidArgument { name, .. } if name == parameter),
            "({lower}, {upper}): {error:?}"
        );
    }
}

#[test]
fn empty_batch_and_integer_predictions_are_rejected() {
    let device = Device::Cpu;
    let empty_labels = Tensor::zeros((0, 3), DType::F32, &device).unwrap();
    let empty_gram = Tensor::zeros((0, 0), DType::F32, &device).unwrap();
    let y_true = one_hot(&[0, 1], 2, DType::F32, &device).unwrap();
    let integer_gram = Tensor::zeros((2, 2), DType::U32, &device).unwrap();

    let error = binary_crossentropy(&empty_labels, &empty_gram, Reduction::Mean).unwrap_err();
    assert!(
        matches!(error, Error::InvalidArgument { name: "batch size", .. }),
        "{error:?}"
    );

    let error = semi_hard_triplet_loss(&y_true, &integer_gram, 1.0).unwrap_err();
    assert!(matches!(error, Error::UnsupportedDType { .. }), "{error:?}");
}

/// Mining ranks distances on the host, where NaN would silently lose every comparison and the
/// loss would read 0: a NaN distance is an error naming its row.
#[test]
fn triplet_loss_rejects_nan_distances() {
    let y_true = fsl_layers::one_hot(&[0, 0, 1], 2, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    let distances = candle_core::Tensor::new(
        &[[0f32, 1., 2.], [1., 0., f32::NAN], [2., f32::NAN, 0.]],
        &candle_core::Device::Cpu,
    )
    .unwrap();

    let error = fsl_layers::semi_hard_triplet_loss(&y_true, &distances, 1.0).unwrap_err();

    assert!(
        matches!(error, fsl_layers::Error::NonFinite { row: 1, .. }),
        "{error:?}"
    );
}
