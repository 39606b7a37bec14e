//! `fsl omniglot`: the main job.

use std::path::PathBuf;

use clap::Args;
use fsl::omniglot::{OmniglotJob, Protocol, TrainSettings, run as run_job};

use super::DataArgs;

#[derive(Debug, Args)]
pub struct OmniglotArgs {
    #[command(flatten)]
    data: DataArgs,

    /// Folder for the model (in DIR/model), history.csv, training_curve.png and results.md.
    #[arg(long, default_value = "runs/omniglot")]
    output_dir: PathBuf,

    #[command(flatten)]
    train: TrainOptions,

    /// Episodes of each evaluation protocol.
    #[arg(long, default_value_t = 1000)]
    eval_episodes: usize,

    /// Also score an official one-shot runs archive (folder or zip of run01..run20).
    #[arg(long)]
    one_shot_runs: Option<PathBuf>,
}

/// Training options shared by `fsl omniglot` and `fsl train`.
#[derive(Debug, Clone, Args)]
pub struct TrainOptions {
    /// Training episodes (one optimiser step each).
    #[arg(long, default_value_t = TrainSettings::default().episodes)]
    pub episodes: usize,

    /// Classes per training episode.
    #[arg(long, default_value_t = TrainSettings::default().n_way)]
    pub n_way: usize,

    /// Support images per class in training episodes.
    #[arg(long, default_value_t = TrainSettings::default().k_shot)]
    pub k_shot: usize,

    /// Query images per class in training episodes.
    #[arg(long, default_value_t = TrainSettings::default().q_query)]
    pub q_query: usize,

    /// Adam's learning rate.
    #[arg(long, allow_negative_numbers = true, default_value_t = TrainSettings::default().learning_rate)]
    pub learning_rate: f64,

    /// Halve the learning rate every this many episodes (0: never).
    #[arg(long, default_value_t = TrainSettings::default().lr_decay_every)]
    pub lr_decay_every: usize,

    /// Validate every this many episodes (0: never) on a tenth of the training characters,
    /// which are then held out of training.
    #[arg(long, default_value_t = TrainSettings::default().validate_every)]
    pub validate_every: usize,

    /// Train on undistorted images. By default each training image gets the random affine
    /// distortion of Koch et al. (2015): rotation, shear, scale and translation, each with
    /// probability 0.5.
    #[arg(long)]
    pub no_augment: bool,

    /// Leave out of training episodes the classes with fewer images than k-shot + q-query,
    /// instead of failing.
    #[arg(long)]
    pub skip_small_classes: bool,

    /// Seed of weights, episodes and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Side of the images fed to the encoder, in pixels.
    #[arg(long, default_value_t = 28)]
    pub image_size: u32,
}

impl TrainOptions {
    pub fn settings(&self) -> TrainSettings {
        TrainSettings {
            episodes: self.episodes,
            n_way: self.n_way,
            k_shot: self.k_shot,
            q_query: self.q_query,
            learning_rate: self.learning_rate,
            lr_decay_every: self.lr_decay_every,
            validate_every: self.validate_every,
            augment: !self.no_augment,
            skip_small_classes: self.skip_small_classes,
            ..TrainSettings::default()
        }
    }
}

pub fn run(arguments: OmniglotArgs) -> fsl::Result<()> {
    let job = OmniglotJob {
        source: arguments.data.source(),
        output_dir: arguments.output_dir,
        seed: arguments.train.seed,
        image_size: arguments.train.image_size,
        train: arguments.train.settings(),
        eval_episodes: arguments.eval_episodes,
        protocols: Protocol::standard(),
        one_shot_runs: arguments.one_shot_runs,
    };
    let started = std::time::Instant::now();
    let report = run_job(&job)?;

    println!(
        "Trained on {} ({} episodes); evaluated on unseen alphabets {}.\n",
        report.train_alphabets.join(", "),
        job.train.episodes,
        report.eval_alphabets.join(", ")
    );
    println!("{}", report.table());
    if let Some(one_shot) = &report.one_shot {
        for (run, error) in &one_shot.runs {
            println!("{run}: {:.1}% error", 100.0 * error);
        }
    }
    println!(
        "Model, history.csv, training_curve.png and results.md are in {} ({:.0} s in all).",
        job.output_dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
