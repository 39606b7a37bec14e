//! The Omniglot main job and the pieces the command line builds on.

mod data;
mod job;

pub use data::{ArchiveSource, CLASS, CharacterSet};
pub use job::{
    OmniglotJob, OmniglotReport, Protocol, TrainSettings, evaluate_protocols, model_config, run, score_one_shot_runs,
    train_network,
};
