//! Siamese network on Omniglot, after keras-fsl's getting-started notebook: a KochNet encoder
//! with a DenseSigmoid head (Koch, Zemel and Salakhutdinov, 2015, "Siamese Neural Networks for
//! One-shot Image Recognition"). It trains on random balanced pairs of characters with binary
//! cross-entropy, and one-shot episodes on alphabets it never saw score it, a class scoring the
//! mean kernel value over its support images.
//!
//! ```sh
//! cargo run --release --example siamese_getting_started
//! # the reduced setting CI runs:
//! FSL_EXAMPLE_QUICK=1 cargo run --example siamese_getting_started
//! ```
//!
//! Data: `images_background_small1.zip` (5 alphabets, 136 characters) for training and the
//! alphabets of `images_background_small2.zip` absent from it (Japanese katakana, Sanskrit and
//! Tagalog, 106 characters) for evaluation, read from `--data-dir DIR`, else `FSL_DATA_DIR`, else
//! `../shared/data/omniglot`. A character is `alphabet/character`, because character folder
//! names repeat across alphabets.
//!
//! Changes from the paper: images are 65x65 (the smallest KochNet accepts) instead of 105x105,
//! the convolutions have 32, 64, 64 and 128 filters instead of 64, 128, 128 and 256, and the
//! embedding has 1024 units instead of 4096. The published network has 38.9M parameters (37.8M
//! in the dense layer) and about 14 times the multiply-adds per image (0.91G against 63M). The
//! same 3000 steps would therefore take about two and a half hours on 2 cores, an estimate from
//! the multiply-adds, not measured. This one has 0.43M parameters. Training uses Adam instead of
//! SGD with per-layer learning rates and momentum, and no affine distortion.
//!
//! Full setting: 3000 steps of 16 pairs, that is 17.6 epochs of the 2720 training images, Adam
//! at 5e-4, and 500 evaluation episodes per protocol with 15 queries per class. Measured on
//! 2026-12-05 on a 2-core machine (load average 1 to 5 from other jobs):
//!
//! ```text
//! evaluation alphabets                          untrained                trained
//! 5-way 1-shot                             24.63% ± 0.70%         65.62% ± 1.16%
//! 20-way 1-shot (within alphabet)           5.84% ± 0.16%         28.06% ± 0.48%
//! 3000 steps of 16 pairs, final training loss 0.2537, wall time 656 s
//! ```
//!
//! An earlier run with Adam at 1e-4 reached 58.10% and 22.75%. The 20-way episodes come from
//! Japanese katakana and Sanskrit, because Tagalog has only 17 characters. The quick setting
//! shrinks the network to 8, 16, 16 and 32 filters and 128 units, trains 20 steps and scores 20
//! episodes on 20 katakana characters.

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use candle_core::Tensor;
use clap::Parser;
use fsl::layers::binary_crossentropy_with_logits;
use fsl::models::optim::{Optimizer, OptimizerConfig};
use fsl::models::{FewShotNetwork, ModelConfig};
use fsl::sequences::{LabelTables, LoaderImages, ParallelLoader, RandomBalancedPairs};

#[path = "common/omniglot_recipe.rs"]
mod omniglot_recipe;
#[path = "common/recipe.rs"]
mod recipe;

use omniglot_recipe::{LossWindow, OmniglotSplit};

// The same allocator as the `fsl` binary: it keeps freed pages for the next training step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Seed of the initial weights, the pair sequence and the loader.
const SEED: u64 = 42;

/// Pairs per batch, half of them matching.
const PAIRS_PER_BATCH: usize = 16;

/// Adam's learning rate.
const LEARNING_RATE: f64 = 5e-4;

/// Trains a KochNet siamese network on Omniglot pairs and evaluates it on unseen alphabets.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: recipe::CommonArgs,
}

/// The sizes that differ between the full and the quick setting.
struct Setting {
    image_size: u32,
    channels: [usize; 4],
    embedding_size: usize,
    steps: usize,
    eval_episodes: usize,
}

impl Setting {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                image_size: 65,
                channels: [8, 16, 16, 32],
                embedding_size: 128,
                steps: 20,
                eval_episodes: 20,
            }
        } else {
            Self {
                image_size: 65,
                channels: [32, 64, 64, 128],
                embedding_size: 1024,
                steps: 3000,
                eval_episodes: 500,
            }
        }
    }
}

fn main() -> ExitCode {
    recipe::init_tracing();
    recipe::exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let setting = Setting::new(args.common.quick);
    let split = omniglot_recipe::load_split(&args.common)?;

    let config: ModelConfig = serde_json::from_value(serde_json::json!({
        "encoder": {
            "kind": "koch_net",
            "image_size": setting.image_size,
            "channels": setting.channels,
            "embedding_size": setting.embedding_size,
        },
        "head": { "kind": "siamese", "kernel": { "kind": "dense_sigmoid" } },
        "seed": SEED,
    }))?;
    let network = FewShotNetwork::new(config)?;

    let protocols = [
        omniglot_recipe::protocol(5, 1, false),
        omniglot_recipe::protocol(20, 1, true),
    ];
    let untrained = omniglot_recipe::evaluate(&network, &split, &protocols, setting.eval_episodes, setting.image_size)?;

    let final_loss = train(&network, &split, &setting)?;

    let trained = omniglot_recipe::evaluate(&network, &split, &protocols, setting.eval_episodes, setting.image_size)?;
    omniglot_recipe::print_comparison(&untrained, &trained);
    println!(
        "{} steps of {PAIRS_PER_BATCH} pairs, final training loss {final_loss:.4}, wall time {:.0} s",
        setting.steps,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Trains on random balanced pairs and returns the mean loss of the last logged window.
fn train(network: &FewShotNetwork, split: &OmniglotSplit, setting: &Setting) -> Result<f64, Box<dyn Error>> {
    let kernel = network
        .head()
        .learnt_kernel()
        .ok_or("the model configuration must give the siamese head a learnt kernel")?;

    // Every image is a query once per epoch, with one partner: alternately of its own character
    // (never itself) and of another character.
    let pairs = RandomBalancedPairs::new(LabelTables::shared(&split.train.classes), PAIRS_PER_BATCH, SEED)?;
    let images = LoaderImages::Decoded(Arc::clone(&split.train.images));
    let loader = ParallelLoader::new(pairs, images, omniglot_recipe::loader_config(setting.image_size, SEED))?;
    tracing::info!(batches_per_epoch = loader.len(), steps = setting.steps, "training");

    let mut optimizer = Optimizer::new(OptimizerConfig::adam(), network.params().trainable())?;
    let mut window = LossWindow::new(100);
    let mut step = 0;
    let mut epoch = 0;
    loop {
        for batch in loader.epoch(epoch)? {
            let batch = batch?;
            step += 1;

            // Both sides of the pairs go through the encoder as one batch.
            let pairs = batch.batch.len();
            let embeddings = network.embed(&Tensor::cat(&[&batch.query, &batch.support], 0)?, true)?;
            let query = embeddings.narrow(0, 0, pairs)?;
            let support = embeddings.narrow(0, pairs, pairs)?;
            let logits = kernel.logits(&query, &support)?;

            let targets: Vec<f32> = batch
                .batch
                .targets
                .iter()
                .map(|&same| f32::from(u8::from(same)))
                .collect();
            let targets = Tensor::from_vec(targets, pairs, logits.device())?;
            let loss = binary_crossentropy_with_logits(&logits, &targets)?;
            window.push(step, setting.steps, omniglot_recipe::finite_loss(&loss, step)?);

            optimizer.step(&loss.backward()?, LEARNING_RATE)?;
            if step == setting.steps {
                return Ok(window.last_mean());
            }
        }
        epoch += 1;
    }
}
