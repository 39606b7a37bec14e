//! Evaluation: the accuracy summary, scoring on precomputed embeddings and the one-shot runs,
//! each checked against values worked out by hand.

use candle_core::{DType, Device, IndexOp, Tensor};
use fsl_layers::params::ParamStore;
use fsl_models::{
    ConfusionMatrix, Conv4Config, EncoderConfig, Error, EvaluationReport, FewShotNetwork, Head, HeadConfig,
    IndexEpisode, ModelConfig, OneShotRunImages, embed_all, evaluate_embedded, evaluate_embedded_predictions,
    evaluate_one_shot_runs,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const TOLERANCE: f64 = 1e-7;

/// Side of the one-shot images: 32 pixels leave 2x2 positions after four poolings.
const IMAGE_SIZE: usize = 32;

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < TOLERANCE,
        "got {actual}, expected {expected}"
    );
}

fn untrained_network() -> FewShotNetwork {
    let config = ModelConfig {
        encoder: EncoderConfig::Conv4(Conv4Config {
            in_channels: 1,
            hidden_channels: 8,
            image_size: IMAGE_SIZE,
            ..Default::default()
        }),
        seed: 21,
        head: HeadConfig::Prototypical,
    };
    FewShotNetwork::new(config).unwrap()
}

/// Seeded noise images, image `i` with pixels in `[i, i + 1)`, so every image has its own
/// embedding and the embeddings lie far apart.
/// A prototypical head: it has no parameters, so any embedding size and store will do.
fn prototypical_head() -> Head {
    Head::new(
        &HeadConfig::Prototypical,
        2,
        &ParamStore::new(0, DType::F32, &Device::Cpu).builder(),
    )
    .unwrap()
}

fn distinct_images(count: usize) -> Tensor {
    let mut rng = StdRng::seed_from_u64(5);
    let pixels = IMAGE_SIZE * IMAGE_SIZE;
    let values: Vec<f32> = (0..count * pixels)
        .map(|position| (position / pixels) as f32 + rng.random::<f32>())
        .collect();
    Tensor::from_vec(values, (count, 1, IMAGE_SIZE, IMAGE_SIZE), &Device::Cpu).unwrap()
}

/// Builds a run whose queries are the support images in `order` and whose answers are `answers`.
fn run(name: &str, support: &Tensor, order: &[usize], answers: Vec<usize>) -> OneShotRunImages {
    let rows: Vec<u32> = order.iter().map(|&i| i as u32).collect();
    let queries = support
        .index_select(&Tensor::new(rows.as_slice(), &Device::Cpu).unwrap(), 0)
        .unwrap();
    OneShotRunImages {
        name: name.into(),
        support: support.clone(),
        queries,
        answers,
    }
}

#[test]
fn report_matches_hand_computed_values() {
    let report = EvaluationReport::from_accuracies(&[0.5, 1.0, 0.75, 0.75]).unwrap();

    assert_eq!(report.episodes, 4);
    assert_close(report.mean_accuracy, 0.75);
    // Population std sqrt(0.125 / 4) = 0.1767767; half-width 1.96 * 0.1767767 / sqrt(4).
    assert_close(report.confidence_95, 0.173_241_161_390_704_14);
}

#[test]
fn report_of_equal_accuracies_has_zero_interval() {
    let report = EvaluationReport::from_accuracies(&[0.6; 10]).unwrap();

    assert_eq!(report.episodes, 10);
    assert_close(report.mean_accuracy, 0.6);
    assert_close(report.confidence_95, 0.0);
}

#[test]
fn report_displays_percentages() {
    let report = EvaluationReport::from_accuracies(&[0.5, 1.0, 0.75, 0.75]).unwrap();

    assert_eq!(report.to_string(), "75.00% ± 17.32% (4 episodes)");
}

#[test]
fn report_of_one_episode_is_singular() {
    let report = EvaluationReport::from_accuracies(&[0.5]).unwrap();

    assert!(report.to_string().ends_with("(1 episode)"), "{report}");
}

#[test]
fn report_rejects_empty_list() {
    let error = EvaluationReport::from_accuracies(&[]).unwrap_err();

    assert!(
        matches!(error, Error::InvalidConfig { name: "episodes", .. }),
        "{error:?}"
    );
}

#[test]
fn embedded_accuracy_matches_hand_count() {
    // One-dimensional embeddings: rows 0 and 1 are the class centres, row 4 (6.0) lies nearer
    // to 10.0 than to 0.0.
    let embeddings = Tensor::new(&[[0f32], [10.0], [1.0], [9.0], [6.0]], &Device::Cpu).unwrap();
    let episodes = [
        // Both queries nearest their own prototype: 1.0.
        IndexEpisode {
            support: vec![0, 1],
            support_labels: vec![0, 1],
            query: vec![2, 3],
            query_labels: vec![0, 1],
            n_way: 2,
        },
        // Row 4 is labelled 0 but is nearest prototype 1: 0.5.
        IndexEpisode {
            support: vec![0, 1],
            support_labels: vec![0, 1],
            query: vec![2, 4],
            query_labels: vec![0, 0],
            n_way: 2,
        },
        // Only the misplaced row: 0.0.
        IndexEpisode {
            support: vec![0, 1],
            support_labels: vec![0, 1],
            query: vec![4],
            query_labels: vec![0],
            n_way: 2,
        },
        // Two shots: prototypes 0.5 and 9.5, and row 4 is 3.5 from class 1: 1.0.
        IndexEpisode {
            support: vec![0, 2, 1, 3],
            support_labels: vec![0, 0, 1, 1],
            query: vec![4],
            query_labels: vec![1],
            n_way: 2,
        },
    ];

    let report = evaluate_embedded(
        &prototypical_head(),
        &embeddings,
        episodes.len(),
        |index| episodes[index as usize].clone(),
        "test",
    )
    .unwrap();

    assert_eq!(report.episodes, 4);
    assert_close(report.mean_accuracy, 0.625);
    // Population std of [1, 0.5, 0, 1] is sqrt(0.171875) = 0.4145781.
    assert_close(report.confidence_95, 0.406_286_536_818_536_5);

    // Every query's prediction, in episode order, with the negative squared distance to the
    // predicted prototype as its score.
    let (same_report, predictions) = evaluate_embedded_predictions(
        &prototypical_head(),
        &embeddings,
        episodes.len(),
        |index| episodes[index as usize].clone(),
        "test",
    )
    .unwrap();
    assert_eq!(same_report, report);
    let summary: Vec<(u64, usize, u32, u32, f64)> = predictions
        .iter()
        .map(|p| (p.episode, p.item, p.label, p.predicted, p.score))
        .collect();
    assert_eq!(
        summary,
        [
            (0, 2, 0, 0, -1.0),
            (0, 3, 1, 1, -1.0),
            (1, 2, 0, 0, -1.0),
            (1, 4, 0, 1, -16.0),
            (2, 4, 0, 1, -16.0),
            (3, 4, 1, 1, -12.25),
        ]
    );

    let mut matrix = ConfusionMatrix::default();
    for prediction in &predictions {
        matrix.add(prediction.label, prediction.predicted);
    }
    assert_eq!(matrix.total(), 6);
    assert_eq!(matrix.count(&0, &1), 2);
    let per_class: Vec<(u32, u64, u64)> = matrix
        .per_class()
        .iter()
        .map(|c| (c.class, c.queries, c.correct))
        .collect();
    assert_eq!(per_class, [(0, 4, 2), (1, 2, 2)]);
}

#[test]
fn embedded_rejects_row_out_of_range() {
    let embeddings = Tensor::new(&[[0f32], [10.0]], &Device::Cpu).unwrap();
    let episode = IndexEpisode {
        support: vec![0, 1],
        support_labels: vec![0, 1],
        query: vec![7],
        query_labels: vec![0],
        n_way: 2,
    };

    let result = evaluate_embedded(&prototypical_head(), &embeddings, 1, |_| episode.clone(), "test");

    assert!(result.is_err(), "row 7 of a 2-row matrix was accepted: {result:?}");
}

fn embedded_error(episode: IndexEpisode) -> String {
    let embeddings = Tensor::new(&[[0f32], [10.0], [1.0]], &Device::Cpu).unwrap();
    match evaluate_embedded(&prototypical_head(), &embeddings, 1, |_| episode.clone(), "test") {
        Err(error @ Error::InvalidConfig { name: "episode", .. }) => error.to_string(),
        other => panic!("expected an invalid episode error for {episode:?}, got {other:?}"),
    }
}

#[test]
fn embedded_rejects_class_without_support() {
    let episode = IndexEpisode {
        support: vec![0],
        support_labels: vec![0],
        query: vec![1],
        query_labels: vec![0],
        n_way: 2,
    };

    let message = embedded_error(episode);

    assert!(message.contains("class 1 has no support item"), "{message}");
}

#[test]
fn embedded_rejects_episode_without_queries() {
    let episode = IndexEpisode {
        support: vec![0, 1],
        support_labels: vec![0, 1],
        query: vec![],
        query_labels: vec![],
        n_way: 2,
    };

    let message = embedded_error(episode);

    assert!(message.contains("no query"), "{message}");
}

#[test]
fn embedded_rejects_query_label_out_of_range() {
    let episode = IndexEpisode {
        support: vec![0, 1],
        support_labels: vec![0, 1],
        query: vec![2],
        query_labels: vec![2],
        n_way: 2,
    };

    let message = embedded_error(episode);

    assert!(message.contains("label 2 is out of range for n_way = 2"), "{message}");
}

#[test]
fn embedded_rejects_label_count_mismatch() {
    let episode = IndexEpisode {
        support: vec![0, 1],
        support_labels: vec![0],
        query: vec![2],
        query_labels: vec![0],
        n_way: 1,
    };

    let message = embedded_error(episode);

    assert!(message.contains("2 support items with 1 labels"), "{message}");
}

#[test]
fn embed_all_matches_one_batch() {
    let network = untrained_network();
    let images = distinct_images(7);

    let batched = embed_all(&network, 7, 3, |start, len| Ok(images.narrow(0, start, len)?)).unwrap();
    let whole = network.embed(&images, false).unwrap();

    assert_eq!(batched.dims(), whole.dims());
    let difference = (batched - whole)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(difference < 1e-6, "batched embeddings differ by {difference}");
}

#[test]
fn embed_all_rejects_zero_batch_size() {
    let network = untrained_network();
    let images = distinct_images(2);

    let error = embed_all(&network, 2, 0, |start, len| Ok(images.narrow(0, start, len)?)).unwrap_err();

    assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
    assert!(error.to_string().contains("batch_size"), "{error}");
}

#[test]
fn one_shot_identical_queries_score_zero_error() {
    let network = untrained_network();
    let support = distinct_images(5);

    // Precondition: the support embeddings are pairwise distinct, so each query's nearest support
    // image is itself and nothing else.
    let embeddings = network.embed(&support, false).unwrap();
    for a in 0..5 {
        for b in a + 1..5 {
            let distance = (embeddings.i(a).unwrap() - embeddings.i(b).unwrap())
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let distance = distance.to_scalar::<f32>().unwrap();
            assert!(
                distance > 1e-3,
                "support images {a} and {b} embed almost equally ({distance})"
            );
        }
    }

    let order = [3, 0, 4, 1, 2, 2];
    let report = evaluate_one_shot_runs(&network, &[run("run01", &support, &order, order.to_vec())]).unwrap();

    assert_eq!(report.runs, vec![("run01".to_string(), 0.0)]);
    assert_eq!(report.mean_error, 0.0);
}

#[test]
fn one_shot_rotated_answers_score_full_error() {
    let network = untrained_network();
    let support = distinct_images(5);
    let order = [3, 0, 4, 1, 2];
    let rotated: Vec<usize> = order.iter().map(|&i| (i + 1) % 5).collect();

    let runs = [
        run("run01", &support, &order, order.to_vec()),
        run("run02", &support, &order, rotated),
    ];
    let report = evaluate_one_shot_runs(&network, &runs).unwrap();

    assert_eq!(
        report.runs,
        vec![("run01".to_string(), 0.0), ("run02".to_string(), 1.0)]
    );
    assert_close(report.mean_error, 0.5);
}

#[test]
fn one_shot_rejects_answer_count_mismatch() {
    let network = untrained_network();
    let support = distinct_images(3);
    let broken = run("run07", &support, &[0, 1, 2], vec![0, 1]);

    let error = evaluate_one_shot_runs(&network, &[broken]).unwrap_err();

    assert!(
        matches!(error, Error::InvalidConfig { name: "answers", .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("run07"), "{message}");
    assert!(message.contains("3 queries"), "{message}");
}

#[test]
fn one_shot_rejects_answer_out_of_range() {
    let network = untrained_network();
    let support = distinct_images(3);
    let broken = run("run04", &support, &[0, 1, 2], vec![0, 1, 5]);

    let error = evaluate_one_shot_runs(&network, &[broken]).unwrap_err();

    assert!(
        matches!(error, Error::InvalidConfig { name: "answers", .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("answers = 5"), "{message}");
    assert!(message.contains("run04 has 3 support images"), "{message}");
}

#[test]
fn one_shot_rejects_run_without_queries() {
    let network = untrained_network();
    let support = distinct_images(3);
    let empty = run("run09", &support, &[], vec![]);

    let error = evaluate_one_shot_runs(&network, &[empty]).unwrap_err();

    assert!(matches!(error, Error::InvalidConfig { name: "run", .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("run09"), "{message}");
    assert!(message.contains("0 queries"), "{message}");
}

#[test]
fn one_shot_rejects_empty_run_list() {
    let network = untrained_network();

    let error = evaluate_one_shot_runs(&network, &[]).unwrap_err();

    assert!(matches!(error, Error::InvalidConfig { name: "runs", .. }), "{error:?}");
}
