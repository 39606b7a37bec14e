//! The serving classifier: a saved model labels queries against a support set that can be
//! replaced without reloading the encoder.

use std::io::Cursor;

use fsl::omniglot::{FewShotClassifier, model_config};
use fsl_models::{FewShotNetwork, HeadConfig, KernelConfig, ModelConfig};
use image::{GrayImage, ImageFormat, Luma};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Encodes a 28x28 grayscale PNG of random pixels drawn from `seed`.
fn png(seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let image = GrayImage::from_fn(28, 28, |_, _| Luma([rng.random_range(0..=255u8)]));
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

fn saved_classifier(dir: &std::path::Path) -> FewShotClassifier {
    let network = FewShotNetwork::new(model_config(3, 28)).unwrap();
    network.save(&dir.join("model")).unwrap();
    FewShotClassifier::load(dir, true).unwrap()
}

/// Saves an untrained network with `head` and loads it for serving.
fn classifier_with_head(dir: &std::path::Path, head: HeadConfig) -> FewShotClassifier {
    let config = ModelConfig {
        head,
        ..model_config(3, 28)
    };
    FewShotNetwork::new(config).unwrap().save(&dir.join("model")).unwrap();
    FewShotClassifier::load(dir, true).unwrap()
}

fn named(seeds: &[u64]) -> Vec<(String, Vec<u8>)> {
    seeds
        .iter()
        .map(|seed| (format!("image{seed}.png"), png(*seed)))
        .collect()
}

#[test]
fn query_equal_to_support_image_gets_its_label() {
    let dir = tempfile::tempdir().unwrap();
    let mut classifier = saved_classifier(dir.path());
    let labels: Vec<String> = ["cat", "dog", "owl"].map(String::from).to_vec();
    classifier.set_support_bytes(&named(&[1, 2, 3]), &labels).unwrap();

    let predictions = classifier.predict_bytes(&named(&[2, 3, 1])).unwrap();

    let predicted: Vec<&str> = predictions.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(predicted, ["dog", "owl", "cat"]);
    // One shot per label: the prototype is the image's own embedding, at distance 0.
    for prediction in &predictions {
        assert!(prediction.score.abs() < 1e-3, "{}", prediction.score);
        assert_eq!(prediction.scores.len(), 3);
    }
}

#[test]
fn support_set_is_replaced_without_reloading() {
    let dir = tempfile::tempdir().unwrap();
    let mut classifier = saved_classifier(dir.path());
    let first: Vec<String> = ["a", "b"].map(String::from).to_vec();
    classifier.set_support_bytes(&named(&[10, 11]), &first).unwrap();
    assert_eq!(classifier.labels(), ["a", "b"]);

    let second: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
    classifier.set_support_bytes(&named(&[20, 21, 22]), &second).unwrap();
    let predictions = classifier.predict_bytes(&named(&[22])).unwrap();

    assert_eq!(classifier.labels(), ["x", "y", "z"]);
    assert_eq!(predictions[0].label, "z");
}

#[test]
fn prediction_without_support_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let classifier = saved_classifier(dir.path());

    let error = classifier.predict_bytes(&named(&[1])).unwrap_err();

    assert!(error.to_string().contains("support"), "{error}");
    assert!(error.is_input_error());
}

#[test]
fn mismatched_support_and_corrupt_image_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut classifier = saved_classifier(dir.path());

    let error = classifier
        .set_support_bytes(&named(&[1, 2]), &["only one".to_owned()])
        .unwrap_err();
    assert!(error.to_string().contains("2 images and 1 labels"), "{error}");

    let corrupt = vec![("broken.png".to_owned(), b"not a png".to_vec())];
    let error = classifier.set_support_bytes(&corrupt, &["a".to_owned()]).unwrap_err();
    assert!(error.to_string().contains("broken.png"), "{error}");
}

#[test]
fn classifier_scores_with_model_head() {
    let labels: Vec<String> = ["cat", "dog", "owl"].map(String::from).to_vec();
    let cases = [
        // Cosine attention: a query identical to a support image gives it the largest weight.
        (HeadConfig::Matching { scale: 10.0 }, "matching probability", false),
        // The mean L1 distance to a label's images is 0 for the image itself.
        (
            HeadConfig::Siamese {
                kernel: KernelConfig::L1,
            },
            "mean kernel distance",
            true,
        ),
    ];
    for (head, score_name, lower_is_closer) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut classifier = classifier_with_head(dir.path(), head.clone());
        assert_eq!(classifier.score_name(), score_name);
        assert_eq!(classifier.lower_is_closer(), lower_is_closer);
        classifier.set_support_bytes(&named(&[1, 2, 3]), &labels).unwrap();

        let predictions = classifier.predict_bytes(&named(&[2, 3, 1])).unwrap();
        let predicted: Vec<&str> = predictions.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(predicted, ["dog", "owl", "cat"], "{head:?}");
        for prediction in &predictions {
            let best = if lower_is_closer {
                prediction.scores.iter().copied().fold(f64::INFINITY, f64::min)
            } else {
                prediction.scores.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            };
            assert_eq!(prediction.score, best, "{head:?}: {prediction:?}");
        }
    }
}
