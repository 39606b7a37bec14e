//! Trains a prototypical network on Omniglot with the library API instead of the `fsl` command:
//! load an archive, sample episodes, train, evaluate.
//!
//! ```sh
//! cargo run --release --example train_omniglot -- ../shared/data/omniglot/images_background_small1.zip
//! # the reduced setting CI runs: 5 training and 20 evaluation episodes
//! FSL_EXAMPLE_QUICK=1 cargo run --example train_omniglot -- ../shared/data/omniglot/images_background_small1.zip
//! ```

use std::sync::Arc;

use fsl::datasets::omniglot;
use fsl::prelude::*;
use fsl::sequences::decode_images;

// The same allocator as the `fsl` binary: it keeps freed pages for the next training step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // SAFETY: first statement of `main`, so no other thread exists yet.
    #[allow(unsafe_code)]
    unsafe {
        fsl::threads::candle_ops_on_calling_thread()
    };
    fsl::allocator::keep_freed_pages();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: train_omniglot <images_background_small1.zip>")?;
    // The values that leave it off are those of clap's `FalseyValueParser`, as in the other examples.
    let quick = std::env::var("FSL_EXAMPLE_QUICK")
        .is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "f" | "false" | "n" | "no" | "off"));
    let (episodes, eval_episodes) = if quick { (5, 20) } else { (200, 200) };

    // Characters of different alphabets share folder names, so the class is alphabet/character.
    let table = omniglot::load(path.as_ref())?.with_joined_column("class", &["alphabet", "label"], "/")?;
    let classes = table.strings("class")?;
    let images = Arc::new(decode_images(&table)?);

    // Hold out the last 20 characters (in sorted order) for evaluation.
    let mut names = classes.clone();
    names.sort();
    names.dedup();
    let held_out: Vec<String> = names[names.len() - 20..].to_vec();
    let train_classes: Vec<String> = names[..names.len() - 20].to_vec();

    let spec = EpisodeSpec::new(20, 1, 5)?;
    let options = SamplerOptions::new().with_allowed_classes(train_classes);
    let loader = EpisodeLoader::new(&classes, spec, options, 1, Arc::clone(&images), LoaderConfig::default())?;

    let network = FewShotNetwork::new(ModelConfig::default())?;
    let config = TrainConfig {
        episodes,
        ..TrainConfig::default()
    };
    let mut source = |index: u64| loader.episode(index);
    let history = train(&network, &config, &mut source, None)?;
    println!(
        "training loss {:.3}",
        history.records.last().map_or(f64::NAN, |r| r.train_loss)
    );

    let test_spec = EpisodeSpec::new(5, 1, 15)?;
    let test_options = SamplerOptions::new().with_allowed_classes(held_out);
    let test_loader = EpisodeLoader::new(&classes, test_spec, test_options, 2, images, LoaderConfig::default())?;
    let mut test_source = |index: u64| test_loader.episode(index);
    let report = evaluate(&network, &mut test_source, eval_episodes, "5-way 1-shot")?;
    println!("5-way 1-shot on 20 held-out characters: {report}");
    Ok(())
}
