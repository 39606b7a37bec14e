//! Every few-shot family trains on real Omniglot and beats its untrained self on alphabets it
//! never saw: matching networks, relation networks and siamese networks with a learnt kernel.
//! (Prototypical networks have their own test in omniglot_training.rs.)

mod common;

use fsl::omniglot::{
    ArchiveSource, CharacterSet, OmniglotJob, Protocol, TrainSettings, evaluate_protocols, model_config, train_network,
};
use fsl_datasets::omniglot::OmniglotArchive;
use fsl_models::{FewShotNetwork, HeadConfig, KernelConfig, ModelConfig, RelationLoss};

/// Margin, in accuracy points on 5-way 1-shot, by which training must beat the untrained network.
const MARGIN: f64 = 0.10;

fn job(output_dir: std::path::PathBuf) -> OmniglotJob {
    OmniglotJob {
        source: ArchiveSource {
            data_dir: Some(common::data_dir()),
            cache_dir: output_dir.join("cache"),
            // The archives are in the data folder; a closed local port makes any download
            // attempt fail fast.
            base_url: "http://127.0.0.1:9".into(),
        },
        output_dir,
        seed: 5,
        image_size: 28,
        train: TrainSettings {
            episodes: 120,
            n_way: 20,
            k_shot: 1,
            q_query: 5,
            validate_every: 0,
            augment: false,
            ..TrainSettings::default()
        },
        eval_episodes: 20,
        protocols: Protocol::standard(),
        one_shot_runs: None,
    }
}

#[test]
fn families_beat_untrained_networks() {
    let output = tempfile::tempdir().unwrap();
    let job = job(output.path().to_path_buf());
    let train_set = CharacterSet::load(&job.source.locate(OmniglotArchive::BackgroundSmall1).unwrap()).unwrap();
    let train_alphabets = train_set.alphabet_names();
    let eval_set = CharacterSet::load(&job.source.locate(OmniglotArchive::BackgroundSmall2).unwrap())
        .unwrap()
        .filter_alphabets(|alphabet| !train_alphabets.iter().any(|a| a == alphabet))
        .unwrap();
    let protocol = [Protocol {
        n_way: 5,
        k_shot: 1,
        q_query: 15,
        within_alphabet: false,
    }];

    let families = [
        HeadConfig::Matching { scale: 10.0 },
        HeadConfig::Relation {
            hidden: 32,
            loss: RelationLoss::CrossEntropy,
        },
        HeadConfig::Siamese {
            kernel: KernelConfig::DenseSigmoid,
        },
    ];
    let mut failures = Vec::new();
    for head in families {
        let config = ModelConfig {
            head: head.clone(),
            ..model_config(job.seed, 28)
        };
        let untrained = FewShotNetwork::new(config.clone()).unwrap();
        let before = evaluate_protocols(&untrained, &eval_set, &protocol, 200, 11, 28).unwrap()[0].1;

        let network = FewShotNetwork::new(config).unwrap();
        train_network(&network, &train_set, &job).unwrap();
        let after = evaluate_protocols(&network, &eval_set, &protocol, 200, 11, 28).unwrap()[0].1;

        println!("{head:?}: 5-way 1-shot on unseen alphabets, untrained {before}, trained {after}");
        if after.mean_accuracy - before.mean_accuracy < MARGIN {
            failures.push(format!("{head:?}: untrained {before}, trained {after}"));
        }
    }
    assert!(failures.is_empty(), "no gain of {MARGIN}: {failures:#?}");
}
