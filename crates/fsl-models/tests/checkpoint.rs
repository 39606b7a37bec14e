//! Checkpoints: a saved network loads back with identical weights, buffers and outputs, and bad
//! checkpoint folders are rejected with errors that name the file or tensor.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use fsl_layers::EpisodeBatch;
use fsl_models::{Conv4Config, EncoderConfig, Error, FewShotNetwork, HeadConfig, ModelConfig, TrainConfig, train};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const IMAGE_SIZE: usize = 16;

fn config(hidden_channels: usize) -> ModelConfig {
    ModelConfig {
        encoder: EncoderConfig::Conv4(Conv4Config {
            in_channels: 1,
            hidden_channels,
            image_size: IMAGE_SIZE,
            ..Default::default()
        }),
        seed: 3,
        head: HeadConfig::Prototypical,
    }
}

/// Images with uniform pixels in `[low, low + 0.5)` from a seeded generator.
fn seeded_images(count: usize, low: f32, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..count * IMAGE_SIZE * IMAGE_SIZE)
        .map(|_| low + 0.5 * rng.random::<f32>())
        .collect();
    Tensor::from_vec(values, (count, 1, IMAGE_SIZE, IMAGE_SIZE), &Device::Cpu).unwrap()
}

/// Builds a 2-way episode where class 0 is dark and class 1 bright. The same index gives the same
/// episode.
fn episode(index: u64) -> candle_core::Result<EpisodeBatch> {
    let support = Tensor::cat(
        &[seeded_images(2, 0.0, 4 * index), seeded_images(2, 0.5, 4 * index + 1)],
        0,
    )?;
    let query = Tensor::cat(
        &[
            seeded_images(3, 0.0, 4 * index + 2),
            seeded_images(3, 0.5, 4 * index + 3),
        ],
        0,
    )?;
    Ok(EpisodeBatch {
        support,
        support_labels: vec![0, 0, 1, 1],
        query,
        query_labels: vec![0, 0, 0, 1, 1, 1],
        n_way: 2,
    })
}

/// Copies every parameter and buffer out of the network as bit patterns, so later training or
/// loading cannot change the snapshot.
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

fn embedding_bits(network: &FewShotNetwork, images: &Tensor) -> Vec<u32> {
    let embeddings = network.embed(images, false).unwrap();
    embeddings
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

fn trained_network(hidden_channels: usize) -> FewShotNetwork {
    let network = FewShotNetwork::new(config(hidden_channels)).unwrap();
    let mut source = episode;
    train(
        &network,
        &TrainConfig {
            episodes: 3,
            ..Default::default()
        },
        &mut source,
        None,
    )
    .unwrap();
    network
}

#[test]
fn saved_network_loads_identically() {
    let fresh = snapshot(&FewShotNetwork::new(config(8)).unwrap());
    let network = trained_network(8);
    let trained = snapshot(&network);

    // Training must have moved both weights and batch-norm running statistics, otherwise the
    // round trip below would only prove that initialisation is deterministic.
    assert_ne!(
        trained["encoder.block0.conv.weight"],
        fresh["encoder.block0.conv.weight"]
    );
    let running_means: Vec<&String> = trained.keys().filter(|name| name.contains("running_mean")).collect();
    assert_eq!(
        running_means.len(),
        4,
        "expected one running mean per block: {:?}",
        trained.keys()
    );
    for name in running_means {
        assert_ne!(trained[name], fresh[name], "{name} did not move during training");
    }

    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("checkpoint");
    network.save(&checkpoint).unwrap();
    assert!(checkpoint.join("model.safetensors").is_file());
    assert!(checkpoint.join("config.json").is_file());

    let loaded = FewShotNetwork::load(&checkpoint).unwrap();
    assert_eq!(loaded.config(), network.config());
    assert_eq!(snapshot(&loaded), trained);

    let images = seeded_images(5, 0.2, 99);
    let expected = embedding_bits(&network, &images);
    assert_eq!(embedding_bits(&loaded, &images), expected);

    // Evaluation mode must not touch the running statistics.
    assert_eq!(snapshot(&loaded), trained);
}

#[test]
fn load_rejects_other_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide");
    let narrow = dir.path().join("narrow");
    FewShotNetwork::new(config(16)).unwrap().save(&wide).unwrap();
    FewShotNetwork::new(config(8)).unwrap().save(&narrow).unwrap();

    // Weights of a 16-filter network behind the configuration of an 8-filter one.
    std::fs::copy(narrow.join("config.json"), wide.join("config.json")).unwrap();

    let error = FewShotNetwork::load(&wide)
        .err()
        .expect("mismatched shapes must be rejected");
    let message = error.to_string();
    assert!(
        matches!(error, Error::Layers(fsl_layers::Error::Checkpoint { .. })),
        "{error:?}"
    );
    assert!(message.contains("tensor `encoder.block0."), "{message}");
    assert!(message.contains("has shape [16"), "{message}");
    assert!(message.contains("expects [8"), "{message}");
    assert!(message.contains("model.safetensors"), "{message}");
}

#[test]
fn load_missing_folder_is_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-checkpoint");

    let error = FewShotNetwork::load(&missing)
        .err()
        .expect("a missing folder must be rejected");
    match &error {
        Error::Io { path, .. } => assert!(path.starts_with(&missing), "{}", path.display()),
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(error.to_string().contains("no-such-checkpoint"), "{error}");
}

#[test]
fn load_corrupt_config_is_config_error() {
    let dir = tempfile::tempdir().unwrap();
    FewShotNetwork::new(config(8)).unwrap().save(dir.path()).unwrap();
    std::fs::write(dir.path().join("config.json"), "{ \"encoder\": ").unwrap();

    let error = FewShotNetwork::load(dir.path())
        .err()
        .expect("corrupt JSON must be rejected");
    match &error {
        Error::Config { path, .. } => assert_eq!(path, &dir.path().join("config.json")),
        other => panic!("expected Config, got {other:?}"),
    }
    assert!(error.to_string().contains("config.json"), "{error}");
}

#[test]
fn load_missing_weights_names_file() {
    let dir = tempfile::tempdir().unwrap();
    FewShotNetwork::new(config(8)).unwrap().save(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();

    let error = FewShotNetwork::load(dir.path())
        .err()
        .expect("missing weights must be rejected");
    assert!(
        matches!(error, Error::Layers(fsl_layers::Error::Checkpoint { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("model.safetensors"), "{error}");
}

/// safetensors writes through a temporary file of mode 0600; saved weights are readable by
/// every user, like the configuration beside them.
#[cfg(unix)]
#[test]
fn saved_weights_are_readable_by_everyone() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    FewShotNetwork::new(config(4)).unwrap().save(dir.path()).unwrap();

    let mode = std::fs::metadata(dir.path().join("model.safetensors"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "mode {mode:o}");
}
