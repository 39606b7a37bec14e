//! Networks saved by [`FewShotNetwork::save`] load into PyTorch modules with
//! `load_state_dict(strict=True)` and compute the same embeddings and pair scores there.
//!
//! `tests/reference/load_in_pytorch.py` builds the PyTorch module of each saved `config.json`
//! from the encoders of `tests/reference/generate_encoders.py`. Its `--write-names` flag wrote
//! `tests/fixtures/pytorch/parameter_names.json` (torch 2.15.0): the test cases and the name and
//! shape of every PyTorch state entry, which the first test compares with saved networks without
//! Python. The other tests run the script, and print a skip message and return when `python3`
//! cannot import torch and safetensors (set `FSL_PYTHON` to use another interpreter).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::{DType, Device, Tensor};
use fsl_models::{FewShotNetwork, ModelConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Deserialize;

/// One network of the fixture: its configuration, the shape of its test input, and the PyTorch
/// state-dict entries (without `num_batches_tracked`) by name.
#[derive(Debug, Deserialize)]
struct Case {
    config: ModelConfig,
    input_shape: Vec<usize>,
    parameters: BTreeMap<String, Vec<usize>>,
}

#[derive(Debug, Deserialize)]
struct Fixture {
    cases: BTreeMap<String, Case>,
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> Fixture {
    let path = manifest_dir().join("tests/fixtures/pytorch/parameter_names.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("invalid fixture {}: {error}", path.display()))
}

fn uniform(shape: &[usize], bound: f32, rng: &mut StdRng) -> Tensor {
    let count = shape.iter().product();
    let values: Vec<f32> = (0..count).map(|_| rng.random_range(-bound..bound)).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// Builds the network of `case`, moves every weight away from its initial value and the
/// batch-norm running statistics away from 0 and 1, so that a parameter loaded under the wrong
/// name changes the PyTorch output.
fn trained_network(case: &Case, seed: u64) -> FewShotNetwork {
    let network = FewShotNetwork::new(case.config.clone()).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);

    for var in network.params().trainable() {
        let dims = var.dims().to_vec();
        let scale = (uniform(&dims, 0.3, &mut rng) + 1.0).unwrap();
        let shift = uniform(&dims, 0.05, &mut rng);
        var.set(&((var.as_tensor() * scale).unwrap() + shift).unwrap()).unwrap();
    }

    // Training-mode passes update the running statistics (and draw dropout masks, which leave
    // no state behind).
    for _ in 0..2 {
        let images = (uniform(&case.input_shape, 1.0, &mut rng) + 0.3).unwrap();
        network.embed(&images, true).unwrap();
    }
    network
}

/// Saves the network of `case` into `dir/name` and writes `dir/name.io.safetensors` with the
/// input images, the evaluation-mode embeddings and, for a learnt siamese kernel, the kernel's
/// value on every pair of embeddings. Returns the model folder and the io file.
fn save_case(name: &str, case: &Case, dir: &Path, seed: u64) -> (PathBuf, PathBuf) {
    let network = trained_network(case, seed);
    let model_dir = dir.join(name);
    network.save(&model_dir).unwrap();

    let mut rng = StdRng::seed_from_u64(seed + 1000);
    let input = uniform(&case.input_shape, 1.0, &mut rng);
    let embeddings = network.embed(&input, false).unwrap();
    let mut io = HashMap::from([
        ("input".to_string(), input),
        ("embeddings".to_string(), embeddings.clone()),
    ]);
    if let Some(kernel) = network.head().learnt_kernel() {
        io.insert("pair_scores".into(), kernel.pairwise(&embeddings, &embeddings).unwrap());
    }

    let io_path = dir.join(format!("{name}.io.safetensors"));
    candle_core::safetensors::save(&io, &io_path).unwrap();
    (model_dir, io_path)
}

fn python() -> String {
    std::env::var("FSL_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Returns whether the Python interpreter can import torch and safetensors, printing why not.
fn pytorch_available() -> bool {
    let python = python();
    match Command::new(&python).args(["-c", "import torch, safetensors"]).output() {
        Ok(output) if output.status.success() => true,
        Ok(output) => {
            eprintln!(
                "skipping the PyTorch comparison: `{python}` cannot import torch and safetensors: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            false
        }
        Err(error) => {
            eprintln!("skipping the PyTorch comparison: failed to run `{python}`: {error}");
            false
        }
    }
}

/// Runs `load_in_pytorch.py` on pairs of model folder and io file.
fn run_script(pairs: &[(PathBuf, PathBuf)]) -> Output {
    let script = manifest_dir().join("tests/reference/load_in_pytorch.py");
    let mut command = Command::new(python());
    command.arg(&script);
    for (model_dir, io_path) in pairs {
        command.arg("--model").arg(model_dir).arg("--io").arg(io_path);
    }
    command
        .output()
        .unwrap_or_else(|error| panic!("failed to run {}: {error}", script.display()))
}

fn describe(output: &Output) -> String {
    format!(
        "exit status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn fixture_covers_every_encoder_and_a_learnt_head() {
    let fixture = fixture();
    let kinds: Vec<String> = fixture
        .cases
        .values()
        .map(|case| {
            serde_json::to_value(&case.config.encoder).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    for kind in [
        "conv4",
        "koch_net",
        "basic_cnn",
        "single_conv2d",
        "darknet7",
        "darknet53",
        "resnet12",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no case for encoder {kind}");
    }
    assert!(
        fixture
            .cases
            .values()
            .any(|case| case.parameters.contains_key("head.weight") && case.parameters.contains_key("head.bias")),
        "no case with a learnt siamese head"
    );
}

#[test]
fn saved_names_and_shapes_match_pytorch() {
    let dir = tempfile::tempdir().unwrap();

    for (name, case) in fixture().cases {
        let network = FewShotNetwork::new(case.config.clone()).unwrap();
        let model_dir = dir.path().join(&name);
        network.save(&model_dir).unwrap();
        let path = model_dir.join("model.safetensors");

        let saved = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
        let saved: BTreeMap<String, Vec<usize>> = saved
            .iter()
            .map(|(key, tensor)| {
                assert_eq!(tensor.dtype(), DType::F32, "{name}: {key} is not float32");
                (key.clone(), tensor.dims().to_vec())
            })
            .collect();

        let missing: Vec<&String> = case.parameters.keys().filter(|key| !saved.contains_key(*key)).collect();
        let unexpected: Vec<&String> = saved.keys().filter(|key| !case.parameters.contains_key(*key)).collect();
        assert!(
            missing.is_empty(),
            "{name}: PyTorch entries missing from the saved file: {missing:?}"
        );
        assert!(
            unexpected.is_empty(),
            "{name}: saved entries PyTorch lacks: {unexpected:?}"
        );
        for (key, shape) in &case.parameters {
            assert_eq!(&saved[key], shape, "{name}: shape of {key}");
        }
    }
}

#[test]
fn saved_networks_load_in_pytorch() {
    if !pytorch_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pairs: Vec<(PathBuf, PathBuf)> = fixture()
        .cases
        .iter()
        .enumerate()
        .map(|(index, (name, case))| save_case(name, case, dir.path(), index as u64))
        .collect();

    let output = run_script(&pairs);

    assert!(output.status.success(), "{}", describe(&output));
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("ok: ").count(), pairs.len(), "{}", describe(&output));
    assert!(
        stdout.contains("pair scores"),
        "no pair scores checked\n{}",
        describe(&output)
    );
}

#[test]
fn pytorch_check_rejects_wrong_names_and_outputs() {
    if !pytorch_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture();
    let case = &fixture.cases["conv4"];

    // Embeddings 1% off must fail the comparison.
    let (model_dir, io_path) = save_case("wrong_output", case, dir.path(), 1);
    let mut io = candle_core::safetensors::load(&io_path, &Device::Cpu).unwrap();
    let shifted = (&io["embeddings"] * 1.01).unwrap();
    io.insert("embeddings".into(), shifted);
    candle_core::safetensors::save(&io, &io_path).unwrap();
    let wrong_output = (model_dir, io_path);

    // A renamed running mean must fail the name check.
    let (model_dir, io_path) = save_case("wrong_name", case, dir.path(), 2);
    let weights_path = model_dir.join("model.safetensors");
    let mut weights = candle_core::safetensors::load(&weights_path, &Device::Cpu).unwrap();
    let mean = weights.remove("encoder.block2.bn.running_mean").unwrap();
    weights.insert("encoder.block2.bn.mean".into(), mean);
    candle_core::safetensors::save(&weights, &weights_path).unwrap();
    let wrong_name = (model_dir, io_path);

    let output = run_script(&[wrong_output, wrong_name]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(stderr.contains("embeddings: relative error"), "{}", describe(&output));
    assert!(
        stderr.contains("encoder.block2.bn.running_mean"),
        "{}",
        describe(&output)
    );
    assert!(stderr.contains("encoder.block2.bn.mean"), "{}", describe(&output));
}
