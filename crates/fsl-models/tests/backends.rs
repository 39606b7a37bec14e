//! The stock-candle backend of Conv-4 against fsl's own operations: same weights, same values
//! and running statistics, and an old configuration without a backend field still loads.

use candle_core::{Device, Tensor};
use fsl_models::{Backend, Conv4Config, EncoderConfig, FewShotNetwork, HeadConfig, ModelConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Conv-4 on 16x16 images pools 16 to 8, 4, 2 and 1: every size is a multiple of the stride,
/// where candle's max pooling computes the right forward values (its gradient is wrong in
/// every window, so only forward passes are compared).
const IMAGE_SIZE: usize = 16;

fn network(backend: Backend) -> FewShotNetwork {
    FewShotNetwork::new(ModelConfig {
        encoder: EncoderConfig::Conv4(Conv4Config {
            in_channels: 1,
            hidden_channels: 8,
            image_size: IMAGE_SIZE,
            backend,
        }),
        seed: 5,
        head: HeadConfig::Prototypical,
    })
    .unwrap()
}

/// Continuous random pixels, so that no pooling window has tied maxima.
fn images(count: usize) -> Tensor {
    let mut rng = StdRng::seed_from_u64(9);
    let values: Vec<f32> = (0..count * IMAGE_SIZE * IMAGE_SIZE)
        .map(|_| rng.random::<f32>())
        .collect();
    Tensor::from_vec(values, (count, 1, IMAGE_SIZE, IMAGE_SIZE), &Device::Cpu).unwrap()
}

fn max_difference(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn candle_backend_embeds_like_fsl_backend() {
    let fsl = network(Backend::Fsl);
    let candle = network(Backend::Candle);
    let batch = images(6);

    for train in [true, false] {
        let difference = max_difference(
            &fsl.embed(&batch, train).unwrap(),
            &candle.embed(&batch, train).unwrap(),
        );
        assert!(difference < 1e-4, "train = {train}: {difference}");
    }

    let fsl_statistics = fsl.params().tensors();
    let candle_statistics = candle.params().tensors();
    for (name, value) in &fsl_statistics {
        let difference = max_difference(value, &candle_statistics[name]);
        assert!(difference < 1e-5, "{name} differs by {difference}");
    }
}

#[test]
fn configuration_without_backend_means_fsl() {
    let json = r#"{"in_channels": 1, "hidden_channels": 8, "image_size": 16}"#;

    let config: Conv4Config = serde_json::from_str(json).unwrap();

    assert_eq!(config.backend, Backend::Fsl);
    let written = serde_json::to_string(&Conv4Config {
        backend: Backend::Candle,
        ..config
    })
    .unwrap();
    assert!(written.contains(r#""backend":"candle""#), "{written}");
}
