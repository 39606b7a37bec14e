//! Gram matrix, centroids matrix and support-set classifier against numpy, with classes absent
//! from the support set and bad input.

mod common;

use candle_core::{DType, Device, Tensor};
use common::{assert_close, floats, reference};
use fsl_layers::{
    Activation, CentroidsMatrix, CosineSimilarity, Error, GramMatrix, L1, SquaredL2, SupportSetClassifier, centroids,
    one_hot, prototypes, squared_l2,
};

fn rows(values: &serde_json::Value, columns: usize) -> Tensor {
    let values: Vec<f32> = floats(values).iter().map(|&v| v as f32).collect();
    let count = values.len() / columns;
    Tensor::from_vec(values, (count, columns), &Device::Cpu).unwrap()
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

fn case_labels(case: &serde_json::Value) -> Vec<u32> {
    floats(&case["labels"]).iter().map(|&v| v as u32).collect()
}

#[test]
fn gram_matrix_matches_numpy() {
    let case = &reference()["support_layers"];
    let support = rows(&case["support"], 3);

    let l2 = GramMatrix::new(SquaredL2).forward(&support).unwrap();
    let cosine = GramMatrix::new(CosineSimilarity).forward(&support).unwrap();

    assert_eq!(l2.dims(), [7, 7]);
    assert_close(&flat(&l2), &floats(&case["gram_squared_l2"]), 1e-5, "squared l2");
    assert_close(&flat(&cosine), &floats(&case["gram_cosine_similarity"]), 1e-5, "cosine");
}

#[test]
fn centroids_matrix_matches_numpy() {
    let case = &reference()["support_layers"];
    let support = rows(&case["support"], 3);
    let queries = rows(&case["queries"], 3);
    let labels = case_labels(case);

    let distances = CentroidsMatrix::new(SquaredL2)
        .forward(&queries, &support, &labels, 3)
        .unwrap();
    let protonet = CentroidsMatrix::new(SquaredL2)
        .with_activation(Activation::Softmax)
        .forward(&queries, &support, &labels, 3)
        .unwrap();
    let cosine = CentroidsMatrix::new(CosineSimilarity)
        .with_activation(Activation::Softmax)
        .forward(&queries, &support, &labels, 3)
        .unwrap();

    assert_eq!(distances.dims(), [4, 3]);
    assert_close(
        &flat(&distances),
        &floats(&case["centroids_squared_l2"]),
        1e-5,
        "distances",
    );
    assert_close(
        &flat(&protonet),
        &floats(&case["centroids_softmax_squared_l2"]),
        1e-5,
        "softmax of negative distances",
    );
    assert_close(
        &flat(&cosine),
        &floats(&case["centroids_softmax_cosine_similarity"]),
        1e-5,
        "softmax of similarities",
    );
}

#[test]
fn classifier_scores_are_class_means_of_kernel_values() {
    let case = &reference()["support_layers"];
    let support = rows(&case["support"], 3);
    let queries = rows(&case["queries"], 3);
    let labels = case_labels(case);
    let expected_classes: Vec<u32> = floats(&case["classifier_classes"]).iter().map(|&v| v as u32).collect();

    let mut l2 = SupportSetClassifier::new(SquaredL2);
    l2.set_support(&support, &labels).unwrap();
    let mut cosine = SupportSetClassifier::new(CosineSimilarity);
    cosine.set_support(&support, &labels).unwrap();
    let mut l1 = SupportSetClassifier::new(L1);
    l1.set_support(&support, &labels).unwrap();

    assert_eq!(l2.classes(), expected_classes);
    assert_close(
        &flat(&l2.scores(&queries).unwrap()),
        &floats(&case["classifier_squared_l2"]),
        1e-5,
        "l2",
    );
    assert_close(
        &flat(&cosine.scores(&queries).unwrap()),
        &floats(&case["classifier_cosine_similarity"]),
        1e-5,
        "cosine",
    );
    assert_close(
        &flat(&l1.scores(&queries).unwrap()),
        &floats(&case["classifier_l1"]),
        1e-5,
        "l1",
    );

    let expected_l2 = floats(&case["classifier_squared_l2"]);
    for (row, prediction) in l2.predict(&queries).unwrap().iter().enumerate() {
        let scores = &expected_l2[row * 3..row * 3 + 3];
        let best = (0..3).min_by(|&i, &j| scores[i].total_cmp(&scores[j])).unwrap();
        assert_eq!(prediction.label, expected_classes[best], "query {row}");
        assert!((prediction.score - scores[best]).abs() < 1e-4, "query {row}");
        assert_eq!(prediction.scores.len(), 3);
    }
}

#[test]
fn classifier_predicts_label_names_for_similarities() {
    let support = Tensor::new(&[[1f32, 0.], [0.9, 0.1], [0., 1.]], &Device::Cpu).unwrap();
    let mut classifier = SupportSetClassifier::new(CosineSimilarity);
    classifier.set_support(&support, &["east", "east", "north"]).unwrap();

    let queries = Tensor::new(&[[0.1f32, 2.0], [3.0, 0.2]], &Device::Cpu).unwrap();
    let predictions = classifier.predict(&queries).unwrap();

    let labels: Vec<&str> = predictions.iter().map(|p| p.label).collect();
    assert_eq!(labels, ["north", "east"]);
    assert!(predictions[1].score > predictions[1].scores[1]);
}

#[test]
fn classifier_support_can_be_extended_replaced_and_removed() {
    let mut classifier = SupportSetClassifier::new(SquaredL2);
    let cats = Tensor::new(&[[0f32, 0.], [0., 2.]], &Device::Cpu).unwrap();
    classifier
        .set_support(&cats, &["cat".to_string(), "cat".to_string()])
        .unwrap();

    let dog = Tensor::new(&[[10f32, 10.]], &Device::Cpu).unwrap();
    classifier.extend_support(&dog, &["dog".to_string()]).unwrap();
    assert_eq!(classifier.classes(), ["cat", "dog"]);
    assert_eq!(classifier.len(), 3);

    let query = Tensor::new(&[[0f32, 1.]], &Device::Cpu).unwrap();
    let before = classifier.predict(&query).unwrap();
    assert_eq!(before[0].label, "cat");
    assert!((before[0].score - 1.0).abs() < 1e-5);

    // New cat examples far away: the query now belongs to the dogs.
    let new_cats = Tensor::new(&[[-20f32, -20.]], &Device::Cpu).unwrap();
    classifier.replace_classes(&new_cats, &["cat".to_string()]).unwrap();
    assert_eq!(classifier.len(), 2);
    assert_eq!(classifier.classes(), ["dog", "cat"]);
    assert_eq!(classifier.predict(&query).unwrap()[0].label, "dog");

    let removed = classifier.remove_classes(&["dog".to_string()]).unwrap();
    assert_eq!(removed, 1);
    assert_eq!(classifier.classes(), ["cat"]);
    let (support, codes) = classifier.support().unwrap();
    assert_eq!(support.to_vec2::<f32>().unwrap(), [[-20.0, -20.0]]);
    assert_eq!(codes, [0]);

    classifier.remove_classes(&["cat".to_string()]).unwrap();
    assert!(classifier.is_empty());
    assert!(matches!(classifier.predict(&query).unwrap_err(), Error::EmptySupport));
}

#[test]
fn classifier_rejects_bad_support_and_queries() {
    let mut classifier: SupportSetClassifier<SquaredL2, u32> = SupportSetClassifier::new(SquaredL2);
    let query = Tensor::new(&[[0f32, 1.]], &Device::Cpu).unwrap();
    let error = classifier.predict(&query).unwrap_err();
    assert!(error.to_string().contains("set_support"), "{error}");

    let support = Tensor::new(&[[0f32, 1.], [1., 0.]], &Device::Cpu).unwrap();
    let error = classifier.set_support(&support, &[0]).unwrap_err();
    assert!(matches!(error, Error::ShapeMismatch { .. }), "{error:?}");
    assert!(error.to_string().contains("1 labels"), "{error}");

    let with_nan = Tensor::new(&[[0f32, 1.], [f32::NAN, 0.]], &Device::Cpu).unwrap();
    let error = classifier.set_support(&with_nan, &[0, 1]).unwrap_err();
    assert!(matches!(error, Error::NonFinite { row: 1, .. }), "{error:?}");
    assert!(classifier.is_empty(), "a rejected support set must not be stored");

    classifier.set_support(&support, &[0, 1]).unwrap();
    let wider = Tensor::new(&[[0f32, 1., 2.]], &Device::Cpu).unwrap();
    let error = classifier.extend_support(&wider, &[2]).unwrap_err();
    assert!(
        error.to_string().contains("[1, 3]") && error.to_string().contains("[2, 2]"),
        "{error}"
    );
    assert_eq!(
        classifier.len(),
        2,
        "a rejected extension must leave the support set as it was"
    );

    let nan_query = Tensor::new(&[[0f32, 1.], [f32::NAN, 1.]], &Device::Cpu).unwrap();
    let error = classifier.predict(&nan_query).unwrap_err();
    assert!(
        matches!(
            error,
            Error::NonFinite {
                name: "queries",
                row: 1
            }
        ),
        "{error:?}"
    );
}

/// Support items of classes 0 and 2 only, out of 3 global classes: class 1 has no prototype,
/// and a zero prototype in its place would win the query [0.5, 0.5].
#[test]
fn absent_class_never_gets_a_prototype() {
    let support = Tensor::new(&[[1f32, 1.], [3., 3.], [10., 0.], [12., 0.]], &Device::Cpu).unwrap();
    let labels = [0, 0, 2, 2];
    let query = Tensor::new(&[[0.5f32, 0.5]], &Device::Cpu).unwrap();

    let error = centroids(&support, &labels, 3).unwrap_err();
    assert!(
        matches!(error, Error::EmptyClass { class: 1, n_classes: 3 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("class 1"), "{error}");

    let error = CentroidsMatrix::new(SquaredL2)
        .forward(&query, &support, &labels, 3)
        .unwrap_err();
    assert!(matches!(error, Error::EmptyClass { class: 1, .. }), "{error:?}");

    let present = prototypes(&support, &labels).unwrap();
    assert_eq!(present.classes, [0, 2]);
    let values = present.embeddings.to_vec2::<f32>().unwrap();
    assert_eq!(values, [[2.0, 2.0], [11.0, 0.0]]);

    let distances = squared_l2(&query, &present.embeddings)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert!(distances[0].iter().all(|d| !d.is_nan()));
    assert_eq!(distances, [[4.5, 110.5]]);

    let mut classifier = SupportSetClassifier::new(SquaredL2);
    classifier.set_support(&support, &labels).unwrap();
    assert_eq!(classifier.classes(), [0, 2]);
    assert_eq!(classifier.predict(&query).unwrap()[0].label, 0);
}

/// A NaN support embedding makes its own class's prototype NaN and leaves the others finite, and
/// the gradient of the prototypes reaches every support item with weight 1 / class size.
#[test]
fn centroids_keep_nan_in_its_class() {
    let support = Tensor::new(&[[1f32, 1.], [3., 3.], [f32::NAN, 0.], [12., 0.]], &Device::Cpu).unwrap();

    let values = centroids(&support, &[0, 0, 1, 1], 2).unwrap().to_vec2::<f32>().unwrap();

    assert_eq!(values[0], [2.0, 2.0]);
    assert!(values[1][0].is_nan(), "{values:?}");
    assert_eq!(values[1][1], 0.0);

    let support = candle_core::Var::new(&[[1f32, 1.], [3., 3.], [5., 0.]], &Device::Cpu).unwrap();
    let prototypes = centroids(support.as_tensor(), &[0, 0, 1], 2).unwrap();
    let gradients = prototypes.sum_all().unwrap().backward().unwrap();
    let gradient = gradients.get(support.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(gradient, [[0.5, 0.5], [0.5, 0.5], [1.0, 1.0]]);
}

/// One-hot targets of labels drawn from 5 global classes, two of them absent from the batch.
#[test]
fn one_hot_absent_columns_stay_zero() {
    let matrix = one_hot(&[0, 2, 2, 4], 5, DType::F32, &Device::Cpu).unwrap();

    let values = matrix.to_vec2::<f32>().unwrap();
    assert_eq!(values.len(), 4);
    for row in &values {
        assert!(row.iter().all(|v| !v.is_nan()));
        assert_eq!(row.iter().sum::<f32>(), 1.0);
    }
    let column_sums = matrix.sum(0).unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(column_sums, [1.0, 0.0, 2.0, 0.0, 1.0]);
}

#[test]
fn centroids_matrix_rejects_mismatched_labels() {
    let support = Tensor::new(&[[1f32, 1.], [3., 3.]], &Device::Cpu).unwrap();
    let query = Tensor::new(&[[0.5f32, 0.5, 0.5]], &Device::Cpu).unwrap();

    let error = CentroidsMatrix::new(SquaredL2)
        .forward(&query, &support, &[0, 1, 1], 2)
        .unwrap_err();
    assert!(error.to_string().contains("3 labels"), "{error}");

    let error = CentroidsMatrix::new(SquaredL2)
        .forward(&query, &support, &[0, 1], 2)
        .unwrap_err();
    assert!(
        error.to_string().contains("[1, 3]") && error.to_string().contains("[2, 2]"),
        "{error}"
    );
}

/// Two tight, distant classes are consistent; swapping one item's label makes them inconsistent.
#[test]
fn classifier_consistency_loss_rises_with_mislabelled_items() {
    let support = Tensor::new(&[[0f32, 0.], [0.1, 0.], [5., 5.], [5., 5.1]], &Device::Cpu).unwrap();
    let mut classifier = SupportSetClassifier::new(SquaredL2);

    classifier.set_support(&support, &["a", "a", "b", "b"]).unwrap();
    let consistent = classifier.consistency_loss().unwrap().to_scalar::<f32>().unwrap();
    classifier.set_support(&support, &["a", "b", "a", "b"]).unwrap();
    let mixed = classifier.consistency_loss().unwrap().to_scalar::<f32>().unwrap();

    assert!(consistent.is_finite());
    assert!(mixed.is_finite());
    assert!(consistent < 0.01, "consistent support set: {consistent}");
    // Each mixed class has one item at each place, so every mean score between classes is
    // about 1/2 and every term of the cross-entropy about ln 2.
    assert!(
        (mixed - std::f32::consts::LN_2).abs() < 0.01,
        "mislabelled support set: {mixed}"
    );

    let empty: SupportSetClassifier<SquaredL2, &str> = SupportSetClassifier::new(SquaredL2);
    assert!(matches!(empty.consistency_loss().unwrap_err(), Error::EmptySupport));
}

/// A rejected change must leave the support set exactly as it was, even when the failure
/// comes after the labels were accepted.
#[test]
fn classifier_keeps_support_after_failed_change() {
    let mut classifier = SupportSetClassifier::new(SquaredL2);
    let support = Tensor::new(&[[0f32, 0.], [5., 5.]], &Device::Cpu).unwrap();
    classifier.set_support(&support, &["x", "y"]).unwrap();
    let wrong_dtype = Tensor::new(&[[2f64, 2.]], &Device::Cpu).unwrap();

    let error = classifier.extend_support(&wrong_dtype, &["w"]).unwrap_err();
    assert!(
        error.to_string().contains("F64") && error.to_string().contains("F32"),
        "{error}"
    );
    let error = classifier.replace_classes(&wrong_dtype, &["x"]).unwrap_err();
    assert!(error.to_string().contains("to_dtype"), "{error}");

    assert_eq!(classifier.classes(), ["x", "y"]);
    assert_eq!(classifier.len(), 2);
    let (stored, codes) = classifier.support().unwrap();
    assert_eq!(stored.to_vec2::<f32>().unwrap(), [[0.0, 0.0], [5.0, 5.0]]);
    assert_eq!(codes, [0, 1]);
}

#[test]
fn classifier_rejects_integer_embeddings() {
    let mut classifier = SupportSetClassifier::new(SquaredL2);
    let integers = Tensor::new(&[[0u32, 1], [2, 3]], &Device::Cpu).unwrap();

    let error = classifier.set_support(&integers, &["a", "b"]).unwrap_err();

    assert!(matches!(error, Error::UnsupportedDType { .. }), "{error:?}");
    assert!(classifier.is_empty());
}

#[test]
fn classifier_rejects_query_dtype_mismatch() {
    let mut classifier = SupportSetClassifier::new(SquaredL2);
    classifier
        .set_support(&Tensor::new(&[[0f32, 0.]], &Device::Cpu).unwrap(), &["a"])
        .unwrap();

    let error = classifier
        .predict(&Tensor::new(&[[0f64, 0.]], &Device::Cpu).unwrap())
        .unwrap_err();

    assert!(error.to_string().contains("to_dtype"), "{error}");
}

/// Cosine similarities 1 and 0 give softmax(1, 0) = (0.731, 0.269) plainly and
/// softmax(2, 0) = (0.881, 0.119) at temperature 0.5.
#[test]
fn centroids_softmax_temperature_sharpens_probabilities() {
    let support = Tensor::new(&[[1f32, 0.], [0., 1.]], &Device::Cpu).unwrap();
    let query = Tensor::new(&[[2f32, 0.]], &Device::Cpu).unwrap();
    let layer = CentroidsMatrix::new(CosineSimilarity).with_activation(Activation::Softmax);

    let plain = layer
        .forward(&query, &support, &[0, 1], 2)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let sharp = layer
        .with_temperature(0.5)
        .unwrap()
        .forward(&query, &support, &[0, 1], 2)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();

    let expected_plain = 1.0 / (1.0 + (-1f32).exp());
    let expected_sharp = 1.0 / (1.0 + (-2f32).exp());
    assert!((plain[0][0] - expected_plain).abs() < 1e-6, "{plain:?}");
    assert!((sharp[0][0] - expected_sharp).abs() < 1e-6, "{sharp:?}");

    for temperature in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let error = layer.with_temperature(temperature).unwrap_err();
        assert!(error.to_string().contains("temperature"), "{error}");
    }
}
