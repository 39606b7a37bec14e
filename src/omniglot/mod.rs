//! The Omniglot main job and the pieces the command line builds on.

mod data;
mod job;
mod open;
mod run_config;
mod serving;
mod training;

pub use data::{ArchiveSource, CLASS, CharacterSet};
pub use job::{
    OmniglotJob, OmniglotReport, PredictionRow, Protocol, TrainSettings, evaluate_protocol_predictions,
    evaluate_protocols, model_config, run, score_one_shot_runs, train_network,
};
pub use open::{SourceFormat, open_table};
pub use run_config::{DataSection, EpisodeSection, RunConfig, TrainingSection, encoder_image_size};
pub use serving::{FewShotClassifier, load_run};
pub use training::{TrainingData, train_with_augmenter};
