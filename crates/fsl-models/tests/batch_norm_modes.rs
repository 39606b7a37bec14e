//! Batch normalisation inside the encoders and the network. Training mode updates the running
//! statistics, and evaluation mode uses them and changes no state. A training step on a single
//! image is rejected without poisoning the statistics, and evaluation embeds single queries in
//! evaluation mode.
//!
//! The operation itself is tested in `fsl-layers/tests/batch_norm.rs`; these tests go through
//! `FewShotNetwork`, Conv-4, Darknet-7 and Darknet-53.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, Var};
use fsl_layers::EpisodeBatch;
use fsl_models::evaluate::OneShotRunImages;
use fsl_models::{
    Conv4Config, Darknet7Config, Darknet53Config, EncoderConfig, FewShotNetwork, HeadConfig, ModelConfig, TrainConfig,
    evaluate, evaluate_one_shot_runs, train,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Batch-norm epsilon of every encoder, as in PyTorch.
const EPS: f64 = 1e-5;

fn network(encoder: EncoderConfig) -> FewShotNetwork {
    FewShotNetwork::new(ModelConfig {
        encoder,
        head: HeadConfig::Prototypical,
        seed: 3,
    })
    .unwrap()
}

fn conv4_network() -> FewShotNetwork {
    network(EncoderConfig::Conv4(Conv4Config {
        in_channels: 1,
        hidden_channels: 4,
        image_size: 28,
        ..Default::default()
    }))
}

/// Uniform pixels in `[offset, offset + 1)`.
fn images(count: usize, side: usize, offset: f32, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..count * side * side).map(|_| offset + rng.random::<f32>()).collect();
    Tensor::from_vec(values, (count, 1, side, side), &Device::Cpu).unwrap()
}

/// `N x 1 x 1 x 1` images with one pixel each.
fn pixels(values: &[f32]) -> Tensor {
    Tensor::new(values, &Device::Cpu)
        .unwrap()
        .reshape((values.len(), 1, 1, 1))
        .unwrap()
}

fn to_vec(tensor: &Tensor) -> Vec<f32> {
    tensor
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Copies every parameter and buffer of the network, by name.
fn snapshot(network: &FewShotNetwork) -> BTreeMap<String, Vec<f32>> {
    network
        .params()
        .tensors()
        .iter()
        .map(|(name, tensor)| (name.clone(), to_vec(tensor)))
        .collect()
}

fn is_running_statistic(name: &str) -> bool {
    name.ends_with("running_mean") || name.ends_with("running_var")
}

fn var(network: &FewShotNetwork, name: &str) -> Var {
    network
        .params()
        .builder()
        .var(name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

fn set(network: &FewShotNetwork, name: &str, values: &[f32]) {
    let var = var(network, name);
    let value = Tensor::new(values, &Device::Cpu).unwrap().reshape(var.shape()).unwrap();
    var.set(&value).unwrap();
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn assert_all_close(actual: &[f32], expected: &[f32], tolerance: f32, label: &str) {
    assert_eq!(actual.len(), expected.len(), "{label}: length");
    for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tolerance, "{label}[{index}]: got {a}, expected {e}");
    }
}

/// Darknet-7 with one filter in its first block, on 1x1 one-channel images.
fn darknet7_network() -> FewShotNetwork {
    network(EncoderConfig::Darknet7(Darknet7Config {
        in_channels: 1,
        base_channels: 1,
    }))
}

/// Makes every Darknet-7 convolution copy channel 0 to channel 0 and write 0 elsewhere: on 1x1
/// images with zero padding only the centre tap of a 3x3 kernel reads a pixel. The "same"
/// poolings keep a 1x1 map as it is, so the embedding is channel 0 of the last block's output.
fn make_darknet7_pass_channel_zero(network: &FewShotNetwork) {
    let mut in_channels = 1;
    for block in 0..7 {
        let out_channels = 1 << block;
        let mut weight = vec![0f32; out_channels * in_channels * 9];
        weight[4] = 1.0;
        set(network, &format!("encoder.block{block}.conv.weight"), &weight);
        in_channels = out_channels;
    }
}

/// Sets the running statistics of Darknet-7 blocks `blocks` to mean 0 and variance `1 - eps`,
/// so that those batch norms are the identity in evaluation mode.
fn make_darknet7_norms_identity(network: &FewShotNetwork, blocks: std::ops::Range<usize>) {
    for block in blocks {
        let channels = 1 << block;
        set(
            network,
            &format!("encoder.block{block}.bn.running_mean"),
            &vec![0.0; channels],
        );
        set(
            network,
            &format!("encoder.block{block}.bn.running_var"),
            &vec![(1.0 - EPS) as f32; channels],
        );
    }
}

#[test]
fn conv4_training_updates_running_statistics() {
    let network = conv4_network();
    let query = images(3, 28, 0.0, 1);
    let initial = snapshot(&network);
    let before = to_vec(&network.embed(&query, false).unwrap());

    for step in 0..3 {
        network.embed(&images(8, 28, 2.0, 10 + step), true).unwrap();
    }

    let trained = snapshot(&network);
    for (name, values) in &trained {
        if name.ends_with("running_mean") {
            assert!(values.iter().any(|v| v.abs() > 1e-3), "{name} stayed at 0: {values:?}");
        } else if name.ends_with("running_var") {
            assert!(
                values.iter().any(|v| (v - 1.0).abs() > 1e-3),
                "{name} stayed at 1: {values:?}"
            );
        } else {
            assert_eq!(values, &initial[name], "training-mode forward changed parameter {name}");
        }
        assert!(values.iter().all(|v| v.is_finite()), "{name} is not finite: {values:?}");
    }

    let after = to_vec(&network.embed(&query, false).unwrap());
    let scale = before.iter().fold(0f32, |m, v| m.max(v.abs()));
    let change = max_difference(&before, &after);
    assert!(
        change > 1e-2 * scale,
        "the evaluation embedding moved by only {change} (scale {scale}) after training-mode batches"
    );
}

#[test]
fn conv4_eval_mode_changes_no_state() {
    let network = conv4_network();
    network.embed(&images(8, 28, 2.0, 4), true).unwrap();
    let query = images(3, 28, 0.0, 5);
    let trained = snapshot(&network);

    let first = to_vec(&network.embed(&query, false).unwrap());
    let second = to_vec(&network.embed(&query, false).unwrap());

    assert_eq!(
        snapshot(&network),
        trained,
        "evaluation mode changed a parameter or buffer"
    );
    assert_eq!(first, second, "evaluation mode is not deterministic");

    // With running statistics an embedding depends on its own image only, not on the batch.
    let single = to_vec(&network.embed(&query.narrow(0, 1, 1).unwrap(), false).unwrap());
    let row = &first[single.len()..2 * single.len()];
    assert!(
        max_difference(&single, row) < 1e-5,
        "single {single:?}, row of the batch {row:?}"
    );
}

/// One channel, eps 1e-5, momentum 0.1, batch `[2, 4, 6, 8]`: the batch has mean 5, biased
/// variance 5 and unbiased variance 20/3, so the running statistics become 0.9 · 0 + 0.1 · 5 = 0.5
/// and 0.9 · 1 + 0.1 · 20/3 = 1.566667, and evaluation gives (x - 0.5) / √(1.566667 + 1e-5). An
/// encoder that never updated its statistics would return about x instead.
#[test]
fn darknet7_batch_norm_matches_hand_computed_case() {
    let network = darknet7_network();
    make_darknet7_pass_channel_zero(&network);
    let batch = pixels(&[2.0, 4.0, 6.0, 8.0]);

    network.embed(&batch, true).unwrap();

    let trained = snapshot(&network);
    assert_all_close(
        &trained["encoder.block0.bn.running_mean"],
        &[0.5],
        1e-6,
        "block0 running mean",
    );
    assert_all_close(
        &trained["encoder.block0.bn.running_var"],
        &[1.566_667],
        1e-6,
        "block0 running var",
    );

    // Block 1 normalises the leaky ReLU of block 0's training output [-1.341639, -0.447213, 0.447213,
    // 1.341639], that is [-0.134164, -0.044721, 0.447213, 1.341639]: mean 0.402492 and unbiased
    // variance 0.457332 (numpy), so its running statistics confirm block 0's training output.
    assert_all_close(
        &trained["encoder.block1.bn.running_mean"][..1],
        &[0.040_249_2],
        1e-6,
        "block1 running mean",
    );
    assert_all_close(
        &trained["encoder.block1.bn.running_var"][..1],
        &[0.945_733_2],
        1e-6,
        "block1 running var",
    );

    make_darknet7_norms_identity(&network, 1..7);
    let before_eval = snapshot(&network);
    let embedding = network.embed(&batch, false).unwrap();

    assert_eq!(embedding.dims(), [4, 64]);
    let channel_zero = to_vec(&embedding.narrow(1, 0, 1).unwrap());
    assert_all_close(
        &channel_zero,
        &[1.198_399, 2.796_265, 4.394_131, 5.991_997],
        1e-5,
        "evaluation output",
    );
    let other_channels = to_vec(&embedding.narrow(1, 1, 63).unwrap());
    assert!(
        other_channels.iter().all(|v| *v == 0.0),
        "channels 1.. are {other_channels:?}"
    );
    assert_eq!(
        snapshot(&network),
        before_eval,
        "evaluation mode changed the running statistics"
    );
}

/// Builds a 1-way 1-shot episode without queries: every batch norm of Darknet-7 on its single
/// 1x1 image would normalise one value per channel.
fn single_image_episode() -> EpisodeBatch {
    EpisodeBatch {
        support: pixels(&[5.0]),
        support_labels: vec![0],
        query: Tensor::zeros((0, 1, 1, 1), DType::F32, &Device::Cpu).unwrap(),
        query_labels: vec![],
        n_way: 1,
    }
}

#[test]
fn single_image_training_episode_is_rejected() {
    let network = darknet7_network();
    let initial = snapshot(&network);

    let error = match network.episode(&single_image_episode(), true) {
        Ok(output) => panic!("a training episode on one image returned loss {}", output.loss),
        Err(error) => error.to_string(),
    };

    // The episode has no query, which is rejected before the encoder runs.
    assert!(error.contains("query"), "{error}");
    assert_eq!(snapshot(&network), initial, "the rejected episode changed the network");

    // The image alone in training mode: batch normalisation rejects a batch of one value.
    let error = network
        .embed(&single_image_episode().support, true)
        .unwrap_err()
        .to_string();
    assert!(error.contains("batch size"), "{error}");
    assert!(error.contains("evaluation mode"), "{error}");
}

#[test]
fn training_on_single_image_episodes_fails_cleanly() {
    let network = darknet7_network();
    let initial = snapshot(&network);
    let mut source = |_: u64| -> candle_core::Result<EpisodeBatch> { Ok(single_image_episode()) };
    let config = TrainConfig {
        episodes: 2,
        ..Default::default()
    };

    let error = train(&network, &config, &mut source, None).unwrap_err().to_string();

    assert!(error.contains("query"), "{error}");
    assert_eq!(snapshot(&network), initial, "the failed training changed the network");
}

/// Darknet-53 on 16x16 images halves the side in each of its five stages, so the last stage
/// normalises a 1x1 map: with one image, one value per channel.
#[test]
fn darknet53_single_image_training_leaves_statistics_finite() {
    let network = network(EncoderConfig::Darknet53(Darknet53Config {
        in_channels: 1,
        base_channels: 1,
        residual_blocks: [1, 1, 1, 1, 1],
    }));
    let initial = snapshot(&network);
    let last_stage = snapshot(&network)
        .into_iter()
        .filter(|(name, _)| name.starts_with("encoder.stage4.") && is_running_statistic(name))
        .collect::<BTreeMap<_, _>>();
    assert!(!last_stage.is_empty(), "no running statistics under encoder.stage4");

    let error = network.embed(&images(1, 16, 0.0, 8), true).unwrap_err().to_string();

    assert!(error.contains("evaluation mode"), "{error}");

    // The stem and stages 0 to 3 updated their running statistics before the last stage
    // rejected the batch: the network puts them back.
    let after = snapshot(&network);
    for (name, values) in &after {
        assert!(values.iter().all(|v| v.is_finite()), "{name} is not finite: {values:?}");
    }
    for (name, values) in &last_stage {
        assert_eq!(
            &after[name], values,
            "{name} changed although its batch norm rejected the batch"
        );
    }
    assert_eq!(after, initial, "the rejected batch changed running statistics");
}

/// Conv-4 on 28x28 images normalises at least a 3x3 map in every block, so one image gives nine
/// values per channel: training on it is allowed and must keep the statistics finite.
#[test]
fn conv4_single_image_training_keeps_statistics_finite() {
    let network = conv4_network();

    let embedding = network.embed(&images(1, 28, 0.0, 6), true).unwrap();

    assert!(
        to_vec(&embedding).iter().all(|v| v.is_finite()),
        "embedding is not finite"
    );
    for (name, values) in snapshot(&network) {
        if is_running_statistic(&name) {
            assert!(values.iter().all(|v| v.is_finite()), "{name} is not finite: {values:?}");
        }
    }
    let (mean, var) = (
        snapshot(&network)["encoder.block3.bn.running_mean"].clone(),
        snapshot(&network)["encoder.block3.bn.running_var"].clone(),
    );
    assert!(
        mean.iter().any(|v| *v != 0.0),
        "block3 running mean was not updated: {mean:?}"
    );
    assert!(
        var.iter().any(|v| *v != 1.0),
        "block3 running var was not updated: {var:?}"
    );
}

/// Darknet-7 on 1x1 images that embeds a pixel x as about x: every convolution passes channel 0
/// on and every batch norm is the identity in evaluation mode. A single image in training mode
/// is an error for it, and batch statistics would map any single image to the same embedding.
fn darknet7_identity_network() -> FewShotNetwork {
    let network = darknet7_network();
    make_darknet7_pass_channel_zero(&network);
    make_darknet7_norms_identity(&network, 0..7);
    network
}

#[test]
fn single_query_eval_embedding_depends_on_image() {
    let network = darknet7_identity_network();

    let low = to_vec(&network.embed(&pixels(&[1.5]), false).unwrap());
    let high = to_vec(&network.embed(&pixels(&[4.5]), false).unwrap());

    assert_all_close(&low[..1], &[1.5], 1e-5, "embedding of 1.5");
    assert_all_close(&high[..1], &[4.5], 1e-5, "embedding of 4.5");
    assert!(
        network.embed(&pixels(&[1.5]), true).is_err(),
        "training mode accepted one 1x1 image"
    );
}

#[test]
fn one_shot_runs_use_eval_mode() {
    let network = darknet7_identity_network();
    let initial = snapshot(&network);
    let runs = [
        OneShotRunImages {
            name: "high".into(),
            support: pixels(&[1.0, 5.0]),
            queries: pixels(&[4.5]),
            answers: vec![1],
        },
        OneShotRunImages {
            name: "low".into(),
            support: pixels(&[1.0, 5.0]),
            queries: pixels(&[1.5]),
            answers: vec![0],
        },
    ];

    let report = evaluate_one_shot_runs(&network, &runs).unwrap();

    assert_eq!(report.mean_error, 0.0, "{report:?}");
    assert_eq!(snapshot(&network), initial, "evaluation changed the network");
}

#[test]
fn evaluate_uses_eval_mode_and_keeps_statistics() {
    let network = darknet7_identity_network();
    let initial = snapshot(&network);
    let mut source = |index: u64| -> candle_core::Result<EpisodeBatch> {
        let (query, label) = if index.is_multiple_of(2) { (4.5, 1) } else { (1.5, 0) };
        Ok(EpisodeBatch {
            support: pixels(&[1.0, 5.0]),
            support_labels: vec![0, 1],
            query: pixels(&[query]),
            query_labels: vec![label],
            n_way: 2,
        })
    };

    let report = evaluate(&network, &mut source, 4, "test").unwrap();

    assert_eq!(report.mean_accuracy, 1.0, "{report:?}");
    assert_eq!(snapshot(&network), initial, "evaluation changed the running statistics");
}
