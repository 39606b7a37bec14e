//! Determinism: the model seed fixes the initial weights, and training on the same episodes from
//! the same seed gives bit-identical weights.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use fsl_layers::EpisodeBatch;
use fsl_models::{Conv4Config, EncoderConfig, FewShotNetwork, HeadConfig, ModelConfig, TrainConfig, train};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const IMAGE_SIZE: usize = 16;

fn network(seed: u64) -> FewShotNetwork {
    let config = ModelConfig {
        encoder: EncoderConfig::Conv4(Conv4Config {
            in_channels: 1,
            hidden_channels: 8,
            image_size: IMAGE_SIZE,
            ..Default::default()
        }),
        seed,
        head: HeadConfig::Prototypical,
    };
    FewShotNetwork::new(config).unwrap()
}

/// Copies every parameter and buffer out as bit patterns.
fn snapshot(network: &FewShotNetwork) -> BTreeMap<String, Vec<u32>> {
    network
        .params()
        .tensors()
        .into_iter()
        .map(|(name, tensor)| {
            let bits = tensor
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            (name, bits)
        })
        .collect()
}

/// Builds a 3-way episode of seeded noise whose classes differ in brightness.
fn noise_episode(seed: u64, support_labels: Vec<u32>, query_labels: Vec<u32>) -> candle_core::Result<EpisodeBatch> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut images = |labels: &[u32]| -> candle_core::Result<Tensor> {
        let pixels = IMAGE_SIZE * IMAGE_SIZE;
        let values: Vec<f32> = labels
            .iter()
            .flat_map(|&label| {
                (0..pixels)
                    .map(|_| label as f32 / 3.0 + rng.random::<f32>() / 3.0)
                    .collect::<Vec<_>>()
            })
            .collect();
        Tensor::from_vec(values, (labels.len(), 1, IMAGE_SIZE, IMAGE_SIZE), &Device::Cpu)
    };
    Ok(EpisodeBatch {
        support: images(&support_labels)?,
        support_labels,
        query: images(&query_labels)?,
        query_labels,
        n_way: 3,
    })
}

/// Builds a 3-way 1-shot episode with six queries.
fn episode(index: u64) -> candle_core::Result<EpisodeBatch> {
    noise_episode(index, vec![0, 1, 2], vec![0, 1, 2, 2, 1, 0])
}

#[test]
fn same_seed_same_parameters() {
    let first = snapshot(&network(11));
    let second = snapshot(&network(11));

    assert!(!first.is_empty());
    assert_eq!(first, second);
}

#[test]
fn different_seed_different_parameters() {
    let first = snapshot(&network(11));
    let second = snapshot(&network(12));

    for name in first.keys().filter(|name| name.ends_with("conv.weight")) {
        assert_ne!(first[name], second[name], "{name} does not depend on the seed");
    }
}

#[test]
fn parameters_differ_between_layers() {
    let parameters = snapshot(&network(11));

    // Each parameter has its own stream; two blocks with equal shapes must not start equal.
    assert_ne!(
        parameters["encoder.block1.conv.weight"],
        parameters["encoder.block2.conv.weight"]
    );
}

#[test]
fn training_is_reproducible() {
    let config = TrainConfig {
        episodes: 4,
        learning_rate: 1e-2,
        ..Default::default()
    };
    let run = || {
        let network = network(5);
        let mut source = episode;
        let history = train(&network, &config, &mut source, None).unwrap();
        (snapshot(&network), history)
    };

    let (first_weights, first_history) = run();
    let (second_weights, second_history) = run();

    assert_ne!(
        first_weights,
        snapshot(&network(5)),
        "training did not change the weights"
    );
    assert_eq!(first_weights, second_weights);
    assert_eq!(first_history, second_history);
}

/// Builds a 3-way 5-shot 10-query episode, large enough for the kernels to split work across
/// threads.
fn large_episode(index: u64) -> candle_core::Result<EpisodeBatch> {
    noise_episode(
        1000 + index,
        (0..15).map(|i| i / 5).collect(),
        (0..30).map(|i| i / 10).collect(),
    )
}

/// The same seed gives bit-identical weights whatever the number of threads.
#[test]
fn training_independent_of_thread_count() {
    let config = TrainConfig {
        episodes: 3,
        learning_rate: 1e-2,
        ..Default::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let network = network(9);
            let mut source = large_episode;
            train(&network, &config, &mut source, None).unwrap();
            snapshot(&network)
        })
    };

    let single = run(1);
    for threads in [2, 3] {
        assert_eq!(run(threads), single, "{threads} threads");
    }
}
