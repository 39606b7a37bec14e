//! End to end on real Omniglot: training improves few-shot accuracy on alphabets never seen.

mod common;

use fsl::omniglot::{
    ArchiveSource, CharacterSet, OmniglotJob, Protocol, TrainSettings, evaluate_protocols, model_config, run,
    train_network,
};
use fsl_datasets::omniglot::OmniglotArchive;
use fsl_models::FewShotNetwork;

fn job(output_dir: std::path::PathBuf, train: TrainSettings) -> OmniglotJob {
    OmniglotJob {
        source: ArchiveSource {
            data_dir: Some(common::data_dir()),
            cache_dir: output_dir.join("cache"),
            // The archives are in the data folder, so nothing is downloaded; a closed local port
            // makes any attempt fail fast instead of reaching the network.
            base_url: "http://127.0.0.1:9".into(),
        },
        output_dir,
        seed: 7,
        image_size: 28,
        train,
        eval_episodes: 20,
        protocols: Protocol::standard(),
        one_shot_runs: None,
    }
}

/// Trains on background_small1 and evaluates 5-way 1-shot on the small2 alphabets small1 lacks.
#[test]
fn training_beats_untrained_encoder_on_unseen_alphabets() {
    let output = tempfile::tempdir().unwrap();
    let settings = TrainSettings {
        episodes: 150,
        n_way: 20,
        k_shot: 1,
        q_query: 5,
        validate_every: 0,
        // Without distortion the encoder converges in fewer episodes, which keeps the test short.
        augment: false,
        ..TrainSettings::default()
    };
    let job = job(output.path().to_path_buf(), settings);

    let train_set = CharacterSet::load(&job.source.locate(OmniglotArchive::BackgroundSmall1).unwrap()).unwrap();
    let train_alphabets = train_set.alphabet_names();
    let eval_set = CharacterSet::load(&job.source.locate(OmniglotArchive::BackgroundSmall2).unwrap())
        .unwrap()
        .filter_alphabets(|alphabet| !train_alphabets.iter().any(|a| a == alphabet))
        .unwrap();
    assert_eq!(
        eval_set.alphabet_names(),
        ["Japanese_(katakana)", "Sanskrit", "Tagalog"]
    );

    let protocol = [Protocol {
        n_way: 5,
        k_shot: 1,
        q_query: 15,
        within_alphabet: false,
    }];
    let untrained = FewShotNetwork::new(model_config(job.seed, 28)).unwrap();
    let before = evaluate_protocols(&untrained, &eval_set, &protocol, 300, 11, 28).unwrap()[0].1;

    let network = FewShotNetwork::new(model_config(job.seed, 28)).unwrap();
    train_network(&network, &train_set, &job).unwrap();
    let after = evaluate_protocols(&network, &eval_set, &protocol, 300, 11, 28).unwrap()[0].1;

    println!("5-way 1-shot on unseen alphabets: untrained {before}, trained {after}");
    assert!(after.mean_accuracy >= 0.70, "trained accuracy {after}");
    assert!(
        after.mean_accuracy - before.mean_accuracy >= 0.15,
        "untrained {before}, trained {after}"
    );
}

/// The whole job on a tiny budget writes every artefact and a table with the three protocols.
#[test]
fn job_writes_model_history_curve_and_results() {
    let output = tempfile::tempdir().unwrap();
    let settings = TrainSettings {
        episodes: 4,
        n_way: 5,
        k_shot: 1,
        q_query: 2,
        validate_every: 2,
        ..TrainSettings::default()
    };

    let report = run(&job(output.path().to_path_buf(), settings)).unwrap();

    for file in [
        "model/model.safetensors",
        "model/config.json",
        "history.csv",
        "training_curve.png",
        "results.md",
    ] {
        assert!(output.path().join(file).is_file(), "{file} missing");
    }
    let names: Vec<String> = report.results.iter().map(|(protocol, _)| protocol.name()).collect();
    assert_eq!(
        names,
        ["20-way 1-shot (within alphabet)", "5-way 1-shot", "5-way 5-shot"]
    );
    for (protocol, result) in &report.results {
        assert_eq!(result.episodes, 20, "{}", protocol.name());
        assert!(
            (0.0..=1.0).contains(&result.mean_accuracy),
            "{}: {result}",
            protocol.name()
        );
    }
    assert_eq!(report.history.records.len(), 2);
    assert!(report.table().contains("| 5-way 5-shot | 20 |"), "{}", report.table());

    let reloaded = FewShotNetwork::load(&report.model_dir).unwrap();
    assert_eq!(reloaded.config(), &model_config(7, 28));
}

/// A data folder without the archives and no reachable download server: the error names the
/// archive and the address, and nothing is left in the cache.
#[test]
fn job_without_archives_reports_download_failure() {
    let output = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let mut job = job(output.path().to_path_buf(), TrainSettings::default());
    job.source.data_dir = Some(empty.path().to_path_buf());

    let error = run(&job).unwrap_err().to_string();

    assert!(error.contains("images_background_small1.zip"), "{error}");
    assert!(error.contains("127.0.0.1:9"), "{error}");
    let cache = output.path().join("cache");
    let leftovers: Vec<_> = std::fs::read_dir(&cache)
        .map(|entries| entries.flatten().collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "cache holds {leftovers:?}");
}

/// More shots and queries than Omniglot's 20 drawers: a clear error naming the counts.
#[test]
fn job_rejects_more_images_than_drawers() {
    let output = tempfile::tempdir().unwrap();
    let settings = TrainSettings {
        episodes: 1,
        n_way: 5,
        k_shot: 10,
        q_query: 11,
        validate_every: 0,
        ..TrainSettings::default()
    };

    let error = run(&job(output.path().to_path_buf(), settings))
        .unwrap_err()
        .to_string();

    assert!(error.contains("has 20 items"), "{error}");
    assert!(error.contains("needs 21"), "{error}");
}

/// Settings that could only fail after training are rejected before any data is read.
#[test]
fn job_rejects_bad_settings_before_training() {
    let output = tempfile::tempdir().unwrap();
    let no_queries = TrainSettings {
        q_query: 0,
        ..TrainSettings::default()
    };
    let error = run(&job(output.path().to_path_buf(), no_queries))
        .unwrap_err()
        .to_string();
    assert!(error.contains("q_query"), "{error}");

    let mut no_evaluation = job(output.path().to_path_buf(), TrainSettings::default());
    no_evaluation.eval_episodes = 0;
    let error = run(&no_evaluation).unwrap_err().to_string();
    assert!(error.contains("eval_episodes"), "{error}");

    let file = output.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let error = run(&job(file.join("out"), TrainSettings::default()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("a-file"), "{error}");
}
