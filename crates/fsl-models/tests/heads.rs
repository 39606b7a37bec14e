//! Heads against hand-computed scores and losses, and networks built from JSON configurations.
//!
//! Every case uses the same embeddings: support `[1, 0]` (class 0), `[0, 1]` and `[1, 1]`
//! (class 1); queries `[1, 0]` (class 0) and `[0, 2]` (class 1). The expected values were worked
//! out from the formulas in each test's comment (a calculator for the exponentials).

use candle_core::{DType, Device, Tensor};
use fsl_layers::EpisodeBatch;
use fsl_layers::params::ParamStore;
use fsl_models::{
    EncoderConfig, Error, FewShotNetwork, Head, HeadConfig, KernelConfig, ModelConfig, RelationLoss,
    SingleConv2dConfig, TrainConfig, train,
};

const SUPPORT_LABELS: [u32; 3] = [0, 1, 1];
const QUERY_LABELS: [u32; 2] = [0, 1];

fn support() -> Tensor {
    Tensor::new(&[[1f32, 0.], [0., 1.], [1., 1.]], &Device::Cpu).unwrap()
}

fn query() -> Tensor {
    Tensor::new(&[[1f32, 0.], [0., 2.]], &Device::Cpu).unwrap()
}

/// Builds a head for 2-dimensional embeddings and sets its parameters to `values` (name, data).
fn head_with(config: &HeadConfig, values: &[(&str, Tensor)]) -> Head {
    let store = ParamStore::new(0, DType::F32, &Device::Cpu);
    let head = Head::new(config, 2, &store.builder()).unwrap();
    for (name, value) in values {
        let var = store
            .builder()
            .var(name)
            .unwrap_or_else(|| panic!("no parameter {name}"));
        var.set(value).unwrap();
    }
    head
}

fn scores_and_loss(head: &Head) -> (Vec<Vec<f32>>, f32) {
    let output = head
        .output(&query(), &support(), &SUPPORT_LABELS, &QUERY_LABELS, 2)
        .unwrap();
    (
        output.scores.to_vec2::<f32>().unwrap(),
        output.loss.to_scalar::<f32>().unwrap(),
    )
}

fn assert_close(actual: &[Vec<f32>], expected: &[[f64; 2]; 2], what: &str) {
    for (row, (actual, expected)) in actual.iter().zip(expected).enumerate() {
        for (column, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (f64::from(*a) - e).abs() < 1e-5,
                "{what}[{row}][{column}] = {a}, expected {e}"
            );
        }
    }
}

fn assert_loss(actual: f32, expected: f64, what: &str) {
    assert!(
        (f64::from(actual) - expected).abs() < 1e-5,
        "{what} loss {actual}, expected {expected}"
    );
}

#[test]
fn prototypical_head_scores_negative_squared_distances() {
    // Prototypes [1, 0] and [0.5, 1]. Query [1, 0]: distances 0 and 1.25; query [0, 2]: 5 and
    // 1.25. Loss: mean of ln(1 + e^-1.25) and ln(1 + e^-3.75).
    let (scores, loss) = scores_and_loss(&head_with(&HeadConfig::Prototypical, &[]));
    assert_close(&scores, &[[0.0, -1.25], [-5.0, -1.25]], "scores");
    assert_loss(loss, 0.137_587_273, "prototypical");
}

#[test]
fn matching_head_sums_cosine_attention_per_class() {
    // Cosine similarities: query [1, 0] gives 1, 0, 1/√2; query [0, 2] gives 0, 1, 1/√2. The
    // softmax over the three support items, summed per class, is the class probability.
    let (scores, loss) = scores_and_loss(&head_with(&HeadConfig::Matching { scale: 1.0 }, &[]));
    assert_close(
        &scores,
        &[[0.473_041_093, 0.526_958_907], [0.174_022_093, 0.825_977_907]],
        "probabilities",
    );
    assert_loss(loss, 0.469_880_135, "matching");

    // A scale of 10 sharpens the attention towards the most similar item.
    let (sharp, _) = scores_and_loss(&head_with(&HeadConfig::Matching { scale: 10.0 }, &[]));
    assert_close(
        &sharp,
        &[[0.949_217_359, 0.050_782_641], [0.000_043_094, 0.999_956_906]],
        "scale 10",
    );
}

#[test]
fn relation_head_scores_query_prototype_pairs() {
    // One hidden unit relu(query₀ - prototype₀ + 0.5), output σ(2h - 1). Prototypes [1, 0] and
    // [0.5, 1]: query [1, 0] gives h = 0.5 and 1, query [0, 2] gives h = 0 and 0.
    let device = Device::Cpu;
    let weights = [
        ("hidden.weight", Tensor::new(&[[1f32, 0., -1., 0.]], &device).unwrap()),
        ("hidden.bias", Tensor::new(&[0.5f32], &device).unwrap()),
        ("output.weight", Tensor::new(&[[2f32]], &device).unwrap()),
        ("output.bias", Tensor::new(&[-1f32], &device).unwrap()),
    ];
    let head = head_with(
        &HeadConfig::Relation {
            hidden: 1,
            loss: RelationLoss::MeanSquaredError,
        },
        &weights,
    );
    let (scores, loss) = scores_and_loss(&head);
    assert_close(
        &scores,
        &[[0.5, 0.731_058_579], [0.268_941_421, 0.268_941_421]],
        "relations",
    );
    // Mean of (0.5 - 1)², 0.7311², 0.2689² and (0.2689 - 1)².
    assert_loss(loss, 0.347_805_695, "relation, squared error");

    // The same module trained by cross-entropy over the relation logits [0, 1] and [-1, -1]:
    // mean of ln(1 + e) and ln 2.
    let cross_entropy = head_with(
        &HeadConfig::Relation {
            hidden: 1,
            loss: RelationLoss::CrossEntropy,
        },
        &weights,
    );
    let (same_scores, loss) = scores_and_loss(&cross_entropy);
    assert_eq!(same_scores, scores);
    assert_loss(loss, 1.003_204_4, "relation, cross-entropy");
}

#[test]
fn dense_sigmoid_head_scores_and_loss() {
    // Logit 1 - |x - x'|₁ (weight [-1, -1], bias 1). Query [1, 0]: logits 1, -1, 0; query
    // [0, 2]: -2, 0, -1. Class scores are the mean sigmoid over each class's items; the loss is
    // the binary cross-entropy of the six pair logits against "same class".
    let device = Device::Cpu;
    let head = head_with(
        &HeadConfig::Siamese {
            kernel: KernelConfig::DenseSigmoid,
        },
        &[
            ("weight", Tensor::new(&[[-1f32, -1.]], &device).unwrap()),
            ("bias", Tensor::new(&[1f32], &device).unwrap()),
        ],
    );
    let (scores, loss) = scores_and_loss(&head);
    assert_close(
        &scores,
        &[[0.731_058_579, 0.384_470_711], [0.119_202_922, 0.384_470_711]],
        "class means",
    );
    assert_loss(loss, 0.575_501_239, "pair cross-entropy");
    assert!(head.learnt_kernel().is_some());
    assert!(head.kernel().is_some());
}

#[test]
fn siamese_fixed_distance_head_negates_mean_distances() {
    // L1 distances: query [1, 0] to the items 0, 2, 1; query [0, 2]: 3, 1, 2. Class scores are the
    // negated means: [0, -1.5] and [-3, -1.5]; both queries have loss ln(1 + e^-1.5).
    let head = head_with(
        &HeadConfig::Siamese {
            kernel: KernelConfig::L1,
        },
        &[],
    );
    let (scores, loss) = scores_and_loss(&head);
    assert_close(&scores, &[[0.0, -1.5], [-3.0, -1.5]], "scores");
    assert_loss(loss, 0.201_413_278, "fixed kernel");
    assert!(head.learnt_kernel().is_none());
}

#[test]
fn heads_reject_query_labels_out_of_range() {
    for config in [
        HeadConfig::Prototypical,
        HeadConfig::Matching { scale: 1.0 },
        HeadConfig::Relation {
            hidden: 2,
            loss: RelationLoss::CrossEntropy,
        },
        HeadConfig::Siamese {
            kernel: KernelConfig::DenseSigmoid,
        },
    ] {
        let head = head_with(&config, &[]);
        let result = head.output(&query(), &support(), &SUPPORT_LABELS, &[0, 2], 2);
        assert!(result.is_err(), "{config:?} accepted query label 2 with n_way 2");
    }
}

#[test]
fn invalid_head_settings_are_rejected() {
    let store = ParamStore::new(0, DType::F32, &Device::Cpu);
    for scale in [0.0, -1.0, f64::NAN] {
        match Head::new(&HeadConfig::Matching { scale }, 2, &store.builder()) {
            Err(Error::InvalidConfig { name, .. }) => assert_eq!(name, "head.scale"),
            other => panic!("scale {scale} gave {:?}", other.err()),
        }
    }
    assert!(
        Head::new(
            &HeadConfig::Relation {
                hidden: 0,
                loss: RelationLoss::CrossEntropy,
            },
            2,
            &store.builder()
        )
        .is_err()
    );

    let unknown = r#"{"head": {"kind": "siamese", "kernel": {"kind": "gaussian"}}}"#;
    let message = serde_json::from_str::<ModelConfig>(unknown).unwrap_err().to_string();
    assert!(message.contains("gaussian"), "{message}");
}

fn tiny_config(head: HeadConfig) -> ModelConfig {
    ModelConfig {
        encoder: EncoderConfig::SingleConv2d(SingleConv2dConfig {
            in_channels: 1,
            filters: 4,
        }),
        head,
        seed: 11,
    }
}

/// Two classes of 6x6 images: class 0 bright on the left half, class 1 on the right half.
fn episode(index: u64) -> EpisodeBatch {
    let device = Device::Cpu;
    let image = |class: u32, shift: f32| -> Tensor {
        let values: Vec<f32> = (0..36)
            .map(|i| {
                let left = i % 6 < 3;
                let on = if class == 0 { left } else { !left };
                if on { 1.0 + shift } else { shift }
            })
            .collect();
        Tensor::from_vec(values, (1, 1, 6, 6), &device).unwrap()
    };
    let shift = (index % 5) as f32 * 0.1;
    let stack = |labels: &[u32]| -> Tensor {
        let images: Vec<Tensor> = labels
            .iter()
            .enumerate()
            .map(|(i, &class)| image(class, shift + i as f32 * 0.05))
            .collect();
        Tensor::cat(&images, 0).unwrap()
    };
    EpisodeBatch {
        support: stack(&[0, 1]),
        support_labels: vec![0, 1],
        query: stack(&[0, 1, 0, 1]),
        query_labels: vec![0, 1, 0, 1],
        n_way: 2,
    }
}

#[test]
fn every_head_trains_and_reloads() {
    let heads = [
        HeadConfig::Prototypical,
        HeadConfig::Matching { scale: 5.0 },
        // With 4 hidden units the relation module settles on 0.5 for every pair here.
        HeadConfig::Relation {
            hidden: 16,
            loss: RelationLoss::CrossEntropy,
        },
        HeadConfig::Siamese {
            kernel: KernelConfig::DenseSigmoid,
        },
        HeadConfig::Siamese {
            kernel: KernelConfig::MixedNorms,
        },
        HeadConfig::Siamese {
            kernel: KernelConfig::CosineSimilarity,
        },
    ];
    for head in heads {
        let network = FewShotNetwork::new(tiny_config(head.clone())).unwrap();
        let before = network
            .episode(&episode(0), false)
            .unwrap()
            .loss
            .to_scalar::<f32>()
            .unwrap();

        let mut source = |index: u64| -> candle_core::Result<EpisodeBatch> { Ok(episode(index)) };
        let config = TrainConfig {
            episodes: 100,
            learning_rate: 1e-2,
            ..Default::default()
        };
        train(&network, &config, &mut source, None).unwrap();
        let after = network.episode(&episode(0), false).unwrap();
        let loss = after.loss.to_scalar::<f32>().unwrap();
        assert!(loss < before, "{head:?}: loss {before} before training, {loss} after");
        assert_eq!(after.accuracy, 1.0, "{head:?} after training");

        let dir = tempfile::tempdir().unwrap();
        network.save(dir.path()).unwrap();
        let loaded = FewShotNetwork::load(dir.path()).unwrap();
        assert_eq!(loaded.config(), network.config(), "{head:?}");
        let scores = |n: &FewShotNetwork| n.class_scores(&episode(3), false).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(scores(&loaded), scores(&network), "{head:?} after loading");
    }
}

#[test]
fn learnt_head_parameters_are_saved_under_head() {
    let network = FewShotNetwork::new(tiny_config(HeadConfig::Relation {
        hidden: 3,
        loss: RelationLoss::CrossEntropy,
    }))
    .unwrap();
    let names: Vec<String> = network.params().tensors().into_keys().collect();
    assert_eq!(
        names,
        [
            "encoder.conv.bias",
            "encoder.conv.weight",
            "head.hidden.bias",
            "head.hidden.weight",
            "head.output.bias",
            "head.output.weight"
        ]
    );
}
