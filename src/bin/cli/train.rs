//! `fsl train`: train on an Omniglot archive or folder and save the model.

use std::path::PathBuf;

use clap::Args;
use fsl::omniglot::{CharacterSet, OmniglotJob, Protocol, model_config, train_network};
use fsl_models::PrototypicalNetwork;

use super::omniglot::TrainOptions;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Omniglot archive (.zip) or extracted folder to train on.
    #[arg(long)]
    data: PathBuf,

    /// Output folder: the model goes to DIR/model (model.safetensors, config.json), beside
    /// history.csv and training_curve.png.
    #[arg(long)]
    output_dir: PathBuf,

    #[command(flatten)]
    train: TrainOptions,
}

pub fn run(arguments: TrainArgs) -> fsl::Result<()> {
    let set = CharacterSet::load(&arguments.data)?;
    let job = OmniglotJob {
        source: fsl::omniglot::ArchiveSource {
            data_dir: None,
            cache_dir: arguments.output_dir.clone(),
            base_url: String::new(),
        },
        output_dir: arguments.output_dir.clone(),
        seed: arguments.train.seed,
        image_size: arguments.train.image_size,
        train: arguments.train.settings(),
        eval_episodes: 0,
        protocols: Protocol::standard(),
        one_shot_runs: None,
    };

    let network = PrototypicalNetwork::new(model_config(job.seed, job.image_size))?;
    let history = train_network(&network, &set, &job)?;

    let output = &arguments.output_dir;
    network.save(&output.join("model"))?;
    history.write_csv(&output.join("history.csv"))?;
    history.plot(&output.join("training_curve.png"))?;
    println!("Saved the model to {}.", output.join("model").display());
    Ok(())
}
