//! Encoders against PyTorch: forward passes with the same weights, parameter counts and output
//! shapes of the published configurations, the switch between training and evaluation mode,
//! dropout, gradients and configuration errors.
//!
//! The fixtures in `tests/fixtures/encoders/` come from `tests/reference/generate_encoders.py`
//! (torch 2.15.0), which builds each encoder in PyTorch, draws its weights and batch-norm
//! statistics at random and records the outputs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use fsl_layers::EpisodeBatch;
use fsl_layers::params::ParamStore;
use fsl_models::{
    BasicCnn, BasicCnnConfig, Darknet7, Darknet7Config, Darknet53, Darknet53Config, Encoder, EncoderConfig, Error,
    FewShotNetwork, HeadConfig, KochNetConfig, ModelConfig, ResNet12, ResNet12Config, SingleConv2dConfig,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

/// Largest accepted absolute difference from PyTorch. The reference runs in float64 on the same
/// float32 weights and inputs, and every output is at most about 1.2 in magnitude.
const TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/encoders")
}

fn read_json(name: &str) -> Value {
    let path = fixtures().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Returns the small configuration of an encoder fixture.
fn small_config(name: &str) -> EncoderConfig {
    serde_json::from_value(read_json("configs.json")["encoders"][name].clone()).unwrap()
}

/// Builds an encoder and its parameter store on the CPU in float32.
fn build(config: &EncoderConfig) -> (ParamStore, Box<dyn Encoder>) {
    let store = ParamStore::new(11, DType::F32, &Device::Cpu);
    let encoder = config.build(&store.builder()).unwrap();
    (store, encoder)
}

fn load_io(name: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixtures().join(format!("{name}.io.safetensors")), &Device::Cpu).unwrap()
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

fn assert_close(actual: &Tensor, expected: &Tensor, label: &str) {
    assert_eq!(actual.dims(), expected.dims(), "{label}: shape");
    let (actual, expected) = (to_vec(actual), to_vec(expected));
    let (index, difference) = actual
        .iter()
        .zip(&expected)
        .map(|(a, e)| (a - e).abs())
        .enumerate()
        .fold((0, 0.0f32), |worst, (index, difference)| {
            if difference > worst.1 || difference.is_nan() {
                (index, difference)
            } else {
                worst
            }
        });
    assert!(
        difference <= TOLERANCE,
        "{label}: |difference| {difference} at index {index} (got {}, PyTorch {})",
        actual[index],
        expected[index]
    );
}

/// Loads the PyTorch weights of fixture `name` and compares the evaluation-mode output, and for
/// encoders with batch norm the training-mode output and the running statistics it leaves.
fn check_against_pytorch(name: &str) {
    let (store, encoder) = build(&small_config(name));
    store
        .load(&fixtures().join(format!("{name}.weights.safetensors")))
        .unwrap();
    let io = load_io(name);
    let images = &io["input"];

    let evaluated = encoder.embed(images, false).unwrap();
    assert_close(&evaluated, &io["eval_output"], &format!("{name} evaluation output"));
    assert_eq!(
        evaluated.dim(1).unwrap(),
        encoder.embedding_size(),
        "{name}: embedding_size()"
    );

    // Without batch norm, training mode differs only by dropout, which only BasicCNN has and
    // `basic_cnn_without_dropout_trains_as_it_evaluates` covers.
    let Some(expected) = io.get("train_output") else {
        if name != "basic_cnn" {
            let trained = encoder.embed(images, true).unwrap();
            assert_close(&trained, &io["eval_output"], &format!("{name} training output"));
        }
        return;
    };
    let trained = encoder.embed(images, true).unwrap();
    assert_close(&trained, expected, &format!("{name} training output"));

    let tensors = store.tensors();
    let mut statistics = 0;
    for (key, expected) in io.iter().filter(|(key, _)| key.starts_with("running_after.")) {
        let buffer = key.trim_start_matches("running_after.");
        assert_close(
            &tensors[buffer],
            expected,
            &format!("{name} {buffer} after one training pass"),
        );
        statistics += 1;
    }
    assert!(statistics > 0, "{name}: the fixture has no running statistics");
}

#[test]
fn conv4_matches_pytorch() {
    check_against_pytorch("conv4");
}

#[test]
fn koch_net_matches_pytorch() {
    check_against_pytorch("koch_net");
}

#[test]
fn basic_cnn_matches_pytorch() {
    check_against_pytorch("basic_cnn");
}

#[test]
fn single_conv2d_matches_pytorch() {
    check_against_pytorch("single_conv2d");
}

#[test]
fn darknet7_matches_pytorch() {
    check_against_pytorch("darknet7");
}

#[test]
fn darknet53_matches_pytorch() {
    check_against_pytorch("darknet53");
}

#[test]
fn resnet12_matches_pytorch() {
    check_against_pytorch("resnet12");
}

#[test]
fn evaluation_mode_leaves_running_statistics() {
    for name in ["conv4", "darknet7", "darknet53", "resnet12"] {
        let (store, encoder) = build(&small_config(name));
        store
            .load(&fixtures().join(format!("{name}.weights.safetensors")))
            .unwrap();
        let images = &load_io(name)["input"];
        let before = store.tensors();

        let first = encoder.embed(images, false).unwrap();
        let second = encoder.embed(images, false).unwrap();

        assert_eq!(to_vec(&first), to_vec(&second), "{name}: evaluation is not repeatable");
        for (buffer, value) in store.tensors() {
            assert_eq!(
                to_vec(&value),
                to_vec(&before[&buffer]),
                "{name}: evaluation changed {buffer}"
            );
        }
    }
}

/// Parameter counts and embedding sizes of the published configurations, against those of the
/// PyTorch modules in `parameter_counts.json`. Encoders are built one
/// after the other, because KochNet and Darknet-53 each hold about 40 million weights.
#[test]
fn published_parameter_counts_match_pytorch() {
    let counts = read_json("parameter_counts.json");
    let expected_trainable = [
        ("conv4", 111_936),
        ("koch_net", 38_947_648),
        ("basic_cnn", 3_221_344),
        ("single_conv2d", 100),
        ("darknet7", 6_294_416),
        ("darknet53", 40_584_928),
        ("resnet12", 12_424_320),
    ];

    for (name, stated) in expected_trainable {
        let entry = &counts["encoders"][name];
        let config: EncoderConfig = serde_json::from_value(entry["config"].clone()).unwrap();
        let (store, encoder) = build(&config);

        let trainable: usize = store.trainable().iter().map(|var| var.elem_count()).sum();
        let total: usize = store.tensors().values().map(Tensor::elem_count).sum();
        assert_eq!(
            trainable as u64,
            entry["trainable"].as_u64().unwrap(),
            "{name}: trainable parameters"
        );
        assert_eq!(trainable, stated, "{name}: trainable parameters stated in the docs");
        assert_eq!(
            (total - trainable) as u64,
            entry["buffers"].as_u64().unwrap(),
            "{name}: batch-norm running statistics"
        );
        assert_eq!(
            encoder.embedding_size() as u64,
            entry["embedding_shape"][1].as_u64().unwrap(),
            "{name}: embedding size"
        );
    }
}

fn dims(value: &Value) -> Vec<usize> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|dim| dim.as_u64().unwrap() as usize)
        .collect()
}

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap()
}

/// Runs every published encoder on its documented input size and compares the embedding shape
/// with PyTorch's.
#[test]
fn published_encoders_give_documented_shapes() {
    let counts = read_json("parameter_counts.json");
    for name in [
        "conv4",
        "koch_net",
        "basic_cnn",
        "single_conv2d",
        "darknet7",
        "darknet53",
        "resnet12",
    ] {
        let entry = &counts["encoders"][name];
        let (_, encoder) = build(&serde_json::from_value(entry["config"].clone()).unwrap());

        let embeddings = encoder.embed(&zeros(&dims(&entry["input_shape"])), false).unwrap();

        assert_eq!(
            embeddings.dims(),
            dims(&entry["embedding_shape"]),
            "{name}: embedding shape"
        );
    }
}

/// The last feature maps of the published Darknet-7, Darknet-53 and ResNet-12 before their
/// global average pooling, against PyTorch's.
#[test]
fn published_feature_maps_have_documented_shapes() {
    let counts = read_json("parameter_counts.json");
    let store = ParamStore::new(1, DType::F32, &Device::Cpu);
    let images = |name: &str| zeros(&dims(&counts["encoders"][name]["input_shape"]));
    let expected = |name: &str| dims(&counts["encoders"][name]["feature_shape"]);

    let darknet7 = Darknet7::new(Darknet7Config::default(), &store.builder().push("darknet7")).unwrap();
    let features = darknet7.features(&images("darknet7"), false).unwrap();
    assert_eq!(features.dims(), expected("darknet7"), "darknet7 on 224x224");

    let darknet53 = Darknet53::new(Darknet53Config::default(), &store.builder().push("darknet53")).unwrap();
    let features = darknet53.features(&images("darknet53"), false).unwrap();
    assert_eq!(features.dims(), expected("darknet53"), "darknet53 on 224x224");

    let resnet12 = ResNet12::new(ResNet12Config::default(), &store.builder().push("resnet12")).unwrap();
    let features = resnet12.features(&images("resnet12"), false).unwrap();
    assert_eq!(features.dims(), expected("resnet12"), "resnet12 on 84x84");

    assert_eq!(Darknet7Config::default().feature_side(224), expected("darknet7")[2]);
    assert_eq!(Darknet53Config::default().feature_side(224), expected("darknet53")[2]);
    assert_eq!(ResNet12Config::default().feature_side(84), expected("resnet12")[2]);
}

/// `feature_side` against the feature maps of the small fixtures, whose pooled outputs match
/// PyTorch on sides that do not halve evenly: Darknet rounds up at every halving, ResNet-12
/// rounds down.
#[test]
fn feature_side_matches_odd_image_sides() {
    for (name, side) in [("darknet7", 70), ("darknet53", 37), ("resnet12", 35)] {
        let config = small_config(name);
        let store = ParamStore::new(2, DType::F32, &Device::Cpu);
        let builder = store.builder();
        let images = &load_io(name)["input"];
        assert_eq!(images.dim(2).unwrap(), side, "{name}: fixture image rows");

        let (features, predicted) = match config {
            EncoderConfig::Darknet7(config) => (
                Darknet7::new(config.clone(), &builder)
                    .unwrap()
                    .features(images, false)
                    .unwrap(),
                config.feature_side(side),
            ),
            EncoderConfig::Darknet53(config) => (
                Darknet53::new(config.clone(), &builder)
                    .unwrap()
                    .features(images, false)
                    .unwrap(),
                config.feature_side(side),
            ),
            EncoderConfig::ResNet12(config) => (
                ResNet12::new(config.clone(), &builder)
                    .unwrap()
                    .features(images, false)
                    .unwrap(),
                config.feature_side(side),
            ),
            other => panic!("{name}: unexpected encoder {other:?}"),
        };

        assert_eq!(features.dims()[2], predicted, "{name}: feature rows for {side} pixels");
    }
}

#[test]
fn global_pooling_encoders_take_any_image_size() {
    let cases: [(EncoderConfig, usize, usize); 3] = [
        (EncoderConfig::SingleConv2d(SingleConv2dConfig::default()), 3, 5),
        (
            EncoderConfig::Darknet7(Darknet7Config {
                in_channels: 2,
                base_channels: 1,
            }),
            1,
            33,
        ),
        (
            EncoderConfig::ResNet12(ResNet12Config {
                in_channels: 1,
                channels: [2, 2, 3, 3],
            }),
            16,
            47,
        ),
    ];

    for (config, height, width) in cases {
        let (_, encoder) = build(&config);
        let channels = match &config {
            EncoderConfig::Darknet7(darknet) => darknet.in_channels,
            _ => 1,
        };

        let embeddings = encoder.embed(&zeros(&[2, channels, height, width]), true).unwrap();

        assert_eq!(
            embeddings.dims(),
            [2, encoder.embedding_size()],
            "{config:?} on {height}x{width}"
        );
    }
}

fn random_images(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let count = shape.iter().product();
    let values: Vec<f32> = (0..count).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// BasicCNN's dropout with `p = 0.5` after the dense layer: in training mode every unit is either
/// zeroed or doubled relative to evaluation mode, about half are zeroed, and the masks repeat
/// with the seed.
#[test]
fn basic_cnn_dropout_follows_mode_and_seed() {
    let config = |dropout_seed| BasicCnnConfig {
        image_size: 8,
        conv_channels: 3,
        embedding_size: 400,
        conv_dropout: 0.0,
        dense_dropout: 0.5,
        dropout_seed,
        ..BasicCnnConfig::default()
    };
    let store = ParamStore::new(5, DType::F32, &Device::Cpu);
    let encoder = BasicCnn::new(config(1), &store.builder()).unwrap();
    let images = random_images(&[3, 1, 8, 8], 2);

    let evaluated = to_vec(&encoder.embed(&images, false).unwrap());
    let trained = to_vec(&encoder.embed(&images, true).unwrap());

    let active: Vec<(f32, f32)> = evaluated
        .iter()
        .zip(&trained)
        .filter(|(evaluated, _)| **evaluated > 0.0)
        .map(|(evaluated, trained)| (*evaluated, *trained))
        .collect();
    assert!(active.len() > 200, "only {} active units", active.len());
    for (evaluated, trained) in &active {
        let zeroed = *trained == 0.0;
        let doubled = (trained - 2.0 * evaluated).abs() <= 1e-5 * evaluated.abs().max(1.0);
        assert!(zeroed || doubled, "unit {evaluated} became {trained}");
    }
    let zeroed = active.iter().filter(|(_, trained)| *trained == 0.0).count() as f64 / active.len() as f64;
    assert!((0.4..0.6).contains(&zeroed), "zeroed fraction {zeroed}");

    let again = BasicCnn::new(config(1), &ParamStore::new(5, DType::F32, &Device::Cpu).builder()).unwrap();
    assert_eq!(to_vec(&again.embed(&images, true).unwrap()), trained, "same seed");
    let other = BasicCnn::new(config(2), &ParamStore::new(5, DType::F32, &Device::Cpu).builder()).unwrap();
    assert_ne!(to_vec(&other.embed(&images, true).unwrap()), trained, "another seed");
}

/// Without dropout, BasicCNN's training mode equals PyTorch's evaluation output.
#[test]
fn basic_cnn_without_dropout_trains_as_it_evaluates() {
    let EncoderConfig::BasicCnn(mut config) = small_config("basic_cnn") else {
        panic!("the basic_cnn fixture contains another encoder");
    };
    config.conv_dropout = 0.0;
    config.dense_dropout = 0.0;
    let (store, encoder) = build(&EncoderConfig::BasicCnn(config));
    store.load(&fixtures().join("basic_cnn.weights.safetensors")).unwrap();
    let io = load_io("basic_cnn");

    let trained = encoder.embed(&io["input"], true).unwrap();

    assert_close(
        &trained,
        &io["eval_output"],
        "basic_cnn training output without dropout",
    );
}

/// Compares the gradients of the sum of squared training-mode outputs with PyTorch's, for every
/// encoder without dropout. Both sides of each comparison are divided by the largest magnitude
/// of PyTorch's gradient (up to about 30 in the fixtures), so `TOLERANCE` applies relative to it.
#[test]
fn gradients_match_pytorch() {
    for name in [
        "conv4",
        "koch_net",
        "single_conv2d",
        "darknet7",
        "darknet53",
        "resnet12",
    ] {
        let (store, encoder) = build(&small_config(name));
        store
            .load(&fixtures().join(format!("{name}.weights.safetensors")))
            .unwrap();
        let io = load_io(name);

        let loss = encoder
            .embed(&io["input"], true)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let gradients = loss.backward().unwrap();

        let mut compared = 0;
        for (parameter, tensor) in store.tensors() {
            let Some(expected) = io.get(&format!("gradient.{parameter}")) else {
                continue;
            };
            let actual = gradients
                .get(&tensor)
                .unwrap_or_else(|| panic!("{name}: {parameter} has no gradient"));
            let scale = to_vec(expected)
                .iter()
                .fold(1.0f32, |scale, value| scale.max(value.abs()));
            assert_close(
                &(actual / f64::from(scale)).unwrap(),
                &(expected / f64::from(scale)).unwrap(),
                &format!("{name} gradient of {parameter} over {scale}"),
            );
            compared += 1;
        }
        assert_eq!(compared, store.trainable().len(), "{name}: gradients compared");
    }
}

/// Back-propagates through every encoder in training mode: every trainable parameter gets a
/// non-zero gradient, and no running statistic is handed to the optimiser.
#[test]
fn gradients_reach_every_trainable_parameter() {
    for name in [
        "conv4",
        "koch_net",
        "basic_cnn",
        "single_conv2d",
        "darknet7",
        "darknet53",
        "resnet12",
    ] {
        let (store, encoder) = build(&small_config(name));
        let io = load_io(name);

        let loss = encoder
            .embed(&io["input"], true)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let gradients = loss.backward().unwrap();

        let trainable = store.trainable();
        let running_statistics = io.keys().filter(|key| key.starts_with("running_after.")).count();
        assert_eq!(
            store.tensors().len() - trainable.len(),
            running_statistics,
            "{name}: tensors kept from the optimiser"
        );
        for var in &trainable {
            let gradient = gradients
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name}: a parameter of shape {:?} has no gradient", var.dims()));
            let largest = to_vec(gradient)
                .iter()
                .fold(0.0f32, |largest, value| largest.max(value.abs()));
            assert!(
                largest > 0.0,
                "{name}: a parameter of shape {:?} has a zero gradient",
                var.dims()
            );
        }
    }
}

#[test]
fn encoder_configs_round_trip_through_json() {
    let configs = [
        (EncoderConfig::KochNet(KochNetConfig::default()), "koch_net"),
        (EncoderConfig::BasicCnn(BasicCnnConfig::default()), "basic_cnn"),
        (
            EncoderConfig::SingleConv2d(SingleConv2dConfig::default()),
            "single_conv2d",
        ),
        (EncoderConfig::Darknet7(Darknet7Config::default()), "darknet7"),
        (EncoderConfig::Darknet53(Darknet53Config::default()), "darknet53"),
        (EncoderConfig::ResNet12(ResNet12Config::default()), "resnet12"),
    ];

    for (config, kind) in configs {
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["kind"], kind);
        let parsed: EncoderConfig = serde_json::from_value(json).unwrap();
        assert_eq!(parsed, config);
    }
}

/// A prototypical network trains on an episode with ResNet-12 as its encoder, and a saved copy
/// loads back with identical embeddings.
#[test]
fn prototypical_network_uses_resnet12() {
    let config = ModelConfig {
        encoder: EncoderConfig::ResNet12(ResNet12Config {
            in_channels: 1,
            channels: [2, 3, 3, 4],
        }),
        seed: 4,
        head: HeadConfig::Prototypical,
    };
    let network = FewShotNetwork::new(config).unwrap();
    let images = random_images(&[4, 1, 16, 16], 9);

    let episode = EpisodeBatch {
        support: images.narrow(0, 0, 2).unwrap(),
        support_labels: vec![0, 1],
        query: images.narrow(0, 2, 2).unwrap(),
        query_labels: vec![1, 0],
        n_way: 2,
    };
    let output = network.episode(&episode, true).unwrap();
    let loss = output.loss.to_scalar::<f32>().unwrap();
    assert!(loss.is_finite(), "episode loss {loss}");

    let before = to_vec(&network.embed(&images, false).unwrap());
    let dir = tempfile::tempdir().unwrap();
    network.save(dir.path()).unwrap();
    let loaded = FewShotNetwork::load(dir.path()).unwrap();

    assert_eq!(before.len(), 16, "four 4-dimensional embeddings");
    assert_eq!(to_vec(&loaded.embed(&images, false).unwrap()), before);
}

fn invalid_config(result: fsl_models::Result<Box<dyn Encoder>>) -> (&'static str, String) {
    match result {
        Err(Error::InvalidConfig { name, value, .. }) => (name, value),
        Err(other) => panic!("expected InvalidConfig, got {other}"),
        Ok(_) => panic!("expected InvalidConfig, the encoder was built"),
    }
}

#[test]
fn invalid_configs_are_rejected_with_their_value() {
    let store = ParamStore::new(0, DType::F32, &Device::Cpu);
    let overflowing = usize::MAX / 4;
    let overflowing_text = overflowing.to_string();
    let cases: BTreeMap<&str, (EncoderConfig, &str, &str)> = BTreeMap::from([
        (
            "koch_net too small",
            (
                EncoderConfig::KochNet(KochNetConfig {
                    image_size: 64,
                    ..KochNetConfig::default()
                }),
                "image_size",
                "64",
            ),
        ),
        (
            "basic_cnn dropout of 1",
            (
                EncoderConfig::BasicCnn(BasicCnnConfig {
                    dense_dropout: 1.0,
                    ..BasicCnnConfig::default()
                }),
                "dense_dropout",
                "1",
            ),
        ),
        (
            "basic_cnn negative dropout",
            (
                EncoderConfig::BasicCnn(BasicCnnConfig {
                    conv_dropout: -0.1,
                    ..BasicCnnConfig::default()
                }),
                "conv_dropout",
                "-0.1",
            ),
        ),
        (
            "basic_cnn 1x1 images",
            (
                EncoderConfig::BasicCnn(BasicCnnConfig {
                    image_size: 1,
                    ..BasicCnnConfig::default()
                }),
                "image_size",
                "1",
            ),
        ),
        (
            "single_conv2d without filters",
            (
                EncoderConfig::SingleConv2d(SingleConv2dConfig {
                    filters: 0,
                    ..SingleConv2dConfig::default()
                }),
                "filters",
                "0",
            ),
        ),
        (
            "darknet7 without channels",
            (
                EncoderConfig::Darknet7(Darknet7Config {
                    in_channels: 0,
                    ..Darknet7Config::default()
                }),
                "in_channels",
                "0",
            ),
        ),
        (
            "darknet53 overflowing width",
            (
                EncoderConfig::Darknet53(Darknet53Config {
                    base_channels: overflowing,
                    ..Darknet53Config::default()
                }),
                "base_channels",
                overflowing_text.as_str(),
            ),
        ),
        (
            "resnet12 empty block",
            (
                EncoderConfig::ResNet12(ResNet12Config {
                    channels: [64, 0, 320, 640],
                    ..ResNet12Config::default()
                }),
                "channels",
                "0",
            ),
        ),
    ]);

    for (case, (config, name, value)) in cases {
        let (rejected_name, rejected_value) = invalid_config(config.build(&store.builder().push(case)));
        assert_eq!(rejected_name, name, "{case}: field");
        assert_eq!(rejected_value, value, "{case}: value");
    }
}

#[test]
fn koch_net_states_its_smallest_image() {
    let error = invalid_config(
        EncoderConfig::KochNet(KochNetConfig {
            image_size: 64,
            ..KochNetConfig::default()
        })
        .build(&ParamStore::new(0, DType::F32, &Device::Cpu).builder()),
    );
    assert_eq!(error, ("image_size", "64".to_string()));
    assert_eq!(KochNetConfig::min_image_size(), 65);

    let smallest = KochNetConfig {
        in_channels: 1,
        image_size: 65,
        channels: [2, 2, 2, 2],
        embedding_size: 3,
    };
    assert_eq!(smallest.feature_side(), Some(1));
    let (_, encoder) = build(&EncoderConfig::KochNet(smallest));
    assert_eq!(encoder.embed(&zeros(&[1, 1, 65, 65]), false).unwrap().dims(), [1, 3]);
}

fn embed_error(encoder: &dyn Encoder, shape: &[usize]) -> (&'static str, String) {
    match encoder.embed(&zeros(shape), false) {
        Err(Error::InvalidConfig { name, value, .. }) => (name, value),
        Err(other) => panic!("expected InvalidConfig for {shape:?}, got {other}"),
        Ok(_) => panic!("expected InvalidConfig for {shape:?}, the images were embedded"),
    }
}

#[test]
fn unsuitable_images_are_rejected_with_their_shape() {
    let resnet = build(&EncoderConfig::ResNet12(ResNet12Config {
        in_channels: 1,
        channels: [2, 2, 2, 2],
    }))
    .1;
    assert_eq!(
        embed_error(resnet.as_ref(), &[1, 1, 15, 40]),
        ("image size", "15x40".to_string())
    );
    assert_eq!(
        embed_error(resnet.as_ref(), &[1, 3, 16, 16]),
        ("image channels", "3".to_string())
    );

    let koch = build(&small_config("koch_net")).1;
    assert_eq!(
        embed_error(koch.as_ref(), &[1, 1, 81, 80]),
        ("image size", "81x80".to_string())
    );

    let single = build(&EncoderConfig::SingleConv2d(SingleConv2dConfig::default())).1;
    assert_eq!(
        embed_error(single.as_ref(), &[1, 1, 2, 9]),
        ("image size", "2x9".to_string())
    );

    let basic = build(&small_config("basic_cnn")).1;
    assert_eq!(
        embed_error(basic.as_ref(), &[1, 2, 12, 12]),
        ("image size", "12x12".to_string())
    );
}
