//! Reading training configuration files: defaults, path resolution, round trips and errors that
//! name the key and its line.

use std::path::Path;

use fsl::Error;
use fsl::omniglot::RunConfig;
use fsl_layers::OutputActivation;
use fsl_models::optim::{LrSchedule, OptimizerConfig};
use fsl_models::{EncoderConfig, HeadConfig, KernelConfig, RelationLoss};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn config_message(error: Error) -> String {
    match error {
        Error::Config { message, .. } => message,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn full_file_reads_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "run.toml",
        r#"
[data]
path = "tables/photos.parquet"
split = "train"

[model]
seed = 7
encoder = { kind = "conv4", in_channels = 1, hidden_channels = 16, image_size = 32 }

[episodes]
n_way = 5
k_shot = 2
q_query = 3

[training]
episodes = 40
learning_rate = 0.002
lr_decay_every = 0
validate_every = 10
augment = false

[augmentation]
type = "horizontal_flip"
"#,
    );

    let config = RunConfig::read(&path).unwrap();

    assert_eq!(config.data.path, dir.path().join("tables/photos.parquet"));
    assert_eq!(config.data.split.as_deref(), Some("train"));
    assert_eq!(config.model.seed, 7);
    assert_eq!(config.image_size().unwrap(), 32);
    let EncoderConfig::Conv4(conv4) = &config.model.encoder else {
        panic!("expected Conv-4, got {:?}", config.model.encoder);
    };
    assert_eq!(conv4.hidden_channels, 16);

    let settings = config.train_settings();
    assert_eq!((settings.n_way, settings.k_shot, settings.q_query), (5, 2, 3));
    assert_eq!(settings.episodes, 40);
    assert_eq!(settings.learning_rate, 0.002);
    assert_eq!(settings.lr_decay_every, 0);
    assert_eq!(settings.validate_every, 10);
    assert!(!settings.augment);
    assert!(config.augmentation.is_some());
}

#[test]
fn only_data_path_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "run.toml", "[data]\npath = \"photos\"\n");

    let config = RunConfig::read(&path).unwrap();
    let settings = config.train_settings();

    let defaults = fsl::omniglot::TrainSettings::default();
    assert_eq!(settings, defaults);
    assert_eq!(config.image_size().unwrap(), 28);
    assert!(config.augmentation.is_none());
    assert!(config.data.split.is_none());
}

#[test]
fn saved_copy_reads_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "run.toml",
        "[data]\npath = \"photos\"\n[augmentation]\ntype = \"sometimes\"\np = 0.5\ninner = { type = \"vertical_flip\" }\n",
    );
    let config = RunConfig::read(&path).unwrap();

    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let copy = write(&run, "config.toml", &config.to_toml().unwrap());
    let read_back = RunConfig::read(&copy).unwrap();

    // The data path was made absolute, so the copy in another folder finds the same data.
    assert!(read_back.data.path.is_absolute());
    assert_eq!(read_back, config);
}

#[test]
fn json_file_reads_like_toml() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "run.json",
        r#"{"data": {"path": "photos"}, "episodes": {"n_way": 3, "k_shot": 1, "q_query": 2, "skip_small_classes": true}}"#,
    );

    let config = RunConfig::read(&path).unwrap();

    assert_eq!(config.episodes.n_way, 3);
    assert!(config.train_settings().skip_small_classes);
    assert_eq!(config.data.path, dir.path().join("photos"));
}

#[test]
fn missing_data_path_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "run.toml", "[data]\nsplit = \"train\"\n");

    let message = config_message(RunConfig::read(&path).unwrap_err());

    assert!(message.contains("missing field `path`"), "{message}");
    assert!(message.starts_with("data: line 1"), "{message}");
    assert!(!message.contains('\n'), "{message:?}");
}

#[test]
fn unknown_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "run.toml",
        "[data]\npath = \"x\"\n\n[training]\nepisodez = 3\n",
    );

    let message = config_message(RunConfig::read(&path).unwrap_err());

    assert!(message.contains("unknown field `episodez`"), "{message}");
    assert!(message.starts_with("training.episodez: line 5, column 1"), "{message}");
}

#[test]
fn unknown_encoder_kind_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "run.toml",
        "[data]\npath = \"x\"\n[model]\nencoder = { kind = \"vgg16\" }\n",
    );

    let message = config_message(RunConfig::read(&path).unwrap_err());

    assert!(message.contains("unknown variant `vgg16`"), "{message}");
    assert!(message.starts_with("model.encoder.kind: line 4"), "{message}");
}

#[test]
fn wrong_value_type_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "run.toml",
        "[data]\npath = \"x\"\n[episodes]\nn_way = \"five\"\n",
    );

    let message = config_message(RunConfig::read(&path).unwrap_err());

    assert!(
        message.starts_with("episodes.n_way: line 4, column 9 (n_way = \"five\")"),
        "{message}"
    );
    assert!(message.contains("invalid type"), "{message}");
}

#[test]
fn other_extension_and_missing_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = write(dir.path(), "run.yaml", "data: {path: x}\n");

    let error = RunConfig::read(&yaml).unwrap_err();
    assert!(
        matches!(error, Error::InvalidSetting { name: "config", .. }),
        "{error:?}"
    );

    let error = RunConfig::read(&dir.path().join("absent.toml")).unwrap_err();
    assert!(matches!(error, Error::Read { .. }), "{error:?}");
    assert!(error.is_input_error());
}

#[test]
fn unknown_keys_in_model_and_augmentation_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[model]\nsead = 1\n", "unknown field `sead`"),
        (
            "[model]\nencoder = { kind = \"conv4\", in_channels = 1, hidden_channels = 8, image_size = 28, hiden = 3 }\n",
            "unknown field `hiden`",
        ),
        (
            "[augmentation]\ntype = \"gamma\"\ngamma = [0.5, 2.0]\ngama = 1\n",
            "unknown field `gama`",
        ),
        (
            "[augmentation]\ntype = \"sometimes\"\np = 0.5\ninner = { type = \"gaussian_noise\", std_dev = 2.0, q = 3 }\n",
            "unknown field `q`",
        ),
    ];

    for (section, expected) in cases {
        let path = write(dir.path(), "run.toml", &format!("[data]\npath = \"x\"\n{section}"));

        let message = config_message(RunConfig::read(&path).unwrap_err());

        assert!(message.contains(expected), "{section}: {message}");
    }
}

#[test]
fn optimiser_schedule_and_clipping_read_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "run.toml",
        "[data]\npath = \"x\"\n[training]\noptimizer = { kind = \"sgd\", momentum = 0.9, nesterov = true }\n\
         schedule = { kind = \"cosine\", min_learning_rate = 1e-5 }\nmax_grad_norm = 2.5\n\
         early_stopping_patience = 3\n",
    );

    let config = RunConfig::read(&path).unwrap();
    let settings = config.train_settings();

    assert_eq!(
        settings.optimizer,
        OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.0,
        }
    );
    assert_eq!(
        settings.schedule,
        LrSchedule::Cosine {
            min_learning_rate: 1e-5
        }
    );
    assert_eq!(settings.max_grad_norm, Some(2.5));
    assert!(!settings.skip_small_classes);
    assert_eq!(config.training.early_stopping_patience, Some(3));

    let copy = write(dir.path(), "copy.toml", &config.to_toml().unwrap());
    assert_eq!(RunConfig::read(&copy).unwrap(), config);
}

#[test]
fn unknown_optimiser_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "run.toml",
        "[data]\npath = \"x\"\n[training]\noptimizer = { kind = \"rmsprop\" }\n",
    );

    let message = config_message(RunConfig::read(&path).unwrap_err());

    assert!(message.contains("unknown variant `rmsprop`"), "{message}");
}

/// Returns the TOML code blocks of a document that hold a whole configuration.
fn configuration_blocks(document: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(document);
    let text = std::fs::read_to_string(&path).unwrap();
    text.split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.contains("[data]"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn documented_configurations_parse() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;

    for document in ["configuration.md", "your-own-dataset.md"] {
        for block in configuration_blocks(document) {
            let path = write(dir.path(), "run.toml", &block);
            let config = RunConfig::read(&path).unwrap_or_else(|error| panic!("{document}: {error}\n{block}"));
            config.image_size().unwrap();
            checked += 1;
        }
    }

    assert_eq!(
        checked, 3,
        "two examples in configuration.md, one in your-own-dataset.md"
    );
}

#[test]
fn every_head_reads_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let heads = [
        ("{ kind = \"prototypical\" }", HeadConfig::Prototypical),
        ("{ kind = \"matching\" }", HeadConfig::Matching { scale: 1.0 }),
        (
            "{ kind = \"relation\", hidden = 16, loss = \"mean_squared_error\" }",
            HeadConfig::Relation {
                hidden: 16,
                loss: RelationLoss::MeanSquaredError,
            },
        ),
        (
            "{ kind = \"siamese\", kernel = { kind = \"learnt_norms\", activation = \"identity\" } }",
            HeadConfig::Siamese {
                kernel: KernelConfig::LearntNorms {
                    activation: OutputActivation::Identity,
                },
            },
        ),
    ];
    for (toml, expected) in heads {
        let path = write(
            dir.path(),
            "run.toml",
            &format!("[data]\npath = \"photos\"\n[model]\nhead = {toml}\n"),
        );
        let config = RunConfig::read(&path).unwrap();
        assert_eq!(config.model.head, expected, "{toml}");

        let copy = write(dir.path(), "copy.toml", &config.to_toml().unwrap());
        assert_eq!(RunConfig::read(&copy).unwrap(), config, "{toml}");
    }

    let path = write(
        dir.path(),
        "run.toml",
        "[data]\npath = \"photos\"\n[model]\nhead = { kind = \"siamese\", kernel = { kind = \"gaussian\" } }\n",
    );
    let message = config_message(RunConfig::read(&path).unwrap_err());
    assert!(message.contains("gaussian"), "{message}");
}
