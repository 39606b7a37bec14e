//! Every Gram-matrix loss differentiated through every learnt kernel, against central finite
//! differences in f64, and the siamese head (dense sigmoid, then binary cross-entropy on its
//! logits) on saturated logits.

use candle_core::{DType, Device, Tensor, Var};
use fsl_layers::params::ParamStore;
use fsl_layers::{
    DenseSigmoid, GramMatrix, Kernel, LearntKernel, LearntNorms, MixedNorms, OutputActivation, Reduction,
    RelationModule, binary_crossentropy, binary_crossentropy_with_logits, class_consistency_loss,
    clipped_binary_crossentropy, contrastive_loss, mean_score_classification_loss, one_hot, semi_hard_triplet_loss,
};

const DIM: usize = 3;
const LABELS: [u32; 5] = [0, 1, 0, 2, 1];

type Loss = fn(&Tensor, &Tensor) -> fsl_layers::Result<Tensor>;

/// Returns the losses of a Gram matrix of similarities in [0, 1]. The triplet and contrastive losses
/// take distances, given here as `1 - similarity`.
fn losses() -> Vec<(&'static str, Loss)> {
    vec![
        ("bce mean", |t, p| binary_crossentropy(t, p, Reduction::Mean)),
        ("bce max", |t, p| binary_crossentropy(t, p, Reduction::Max)),
        ("bce std", |t, p| binary_crossentropy(t, p, Reduction::Std)),
        ("bce percentile", |t, p| {
            binary_crossentropy(t, p, Reduction::Percentile(70.0))
        }),
        ("clipped bce", |t, p| clipped_binary_crossentropy(t, p, 0.05, 0.95)),
        ("mean score", mean_score_classification_loss),
        ("class consistency", class_consistency_loss),
        ("semi-hard triplet", |t, p| {
            semi_hard_triplet_loss(t, &p.affine(-1.0, 1.0)?, 0.2)
        }),
        ("contrastive", |t, p| contrastive_loss(t, &p.affine(-1.0, 1.0)?, 0.5)),
    ]
}

const KERNELS: [&str; 4] = ["dense sigmoid", "mixed norms", "learnt norms", "relation"];

/// Builds a learnt kernel in a store of its own, so that the store's trainable variables are
/// exactly the kernel's parameters.
fn learnt_kernel(name: &str) -> (Box<dyn Kernel>, ParamStore) {
    let store = ParamStore::new(7, DType::F64, &Device::Cpu);
    let params = store.builder();
    let kernel: Box<dyn Kernel> = match name {
        "dense sigmoid" => Box::new(DenseSigmoid::new(DIM, &params).unwrap()),
        "mixed norms" => Box::new(MixedNorms::new(DIM, &params).unwrap()),
        "learnt norms" => Box::new(LearntNorms::new(DIM, OutputActivation::Sigmoid, &params).unwrap()),
        _ => Box::new(RelationModule::new(DIM, 4, &params).unwrap()),
    };
    (kernel, store)
}

fn embeddings() -> Var {
    // Distinct values so that no two kernel values tie and the max, percentile and mining
    // choices stay put under the finite-difference steps.
    let values: Vec<f64> = (0..LABELS.len() * DIM)
        .map(|i| (i as f64 * 0.73).sin() * 1.3 + i as f64 * 0.011)
        .collect();
    Var::from_vec(values, (LABELS.len(), DIM), &Device::Cpu).unwrap()
}

fn values(tensor: &Tensor) -> Vec<f64> {
    tensor.flatten_all().unwrap().to_vec1::<f64>().unwrap()
}

#[test]
fn loss_gradients_through_learnt_kernels_match_finite_differences() {
    let y_true = one_hot(&LABELS, 3, DType::F64, &Device::Cpu).unwrap();

    for (loss_name, loss) in losses() {
        for kernel_name in KERNELS {
            let (kernel, store) = learnt_kernel(kernel_name);
            let gram = GramMatrix::new(kernel);
            let x = embeddings();
            let objective = || -> f64 {
                let output = gram.forward(x.as_tensor()).unwrap();
                loss(&y_true, &output).unwrap().to_scalar::<f64>().unwrap()
            };

            let output = gram.forward(x.as_tensor()).unwrap();
            let gradients = loss(&y_true, &output).unwrap().backward().unwrap();

            let mut vars: Vec<(String, Var)> = vec![("embeddings".into(), x.clone())];
            vars.extend(
                store
                    .trainable()
                    .into_iter()
                    .enumerate()
                    .map(|(i, var)| (format!("parameter {i}"), var)),
            );
            assert!(vars.len() > 1, "{kernel_name}: no parameters");

            for (name, var) in vars {
                let analytic = gradients
                    .get(&var)
                    .map(values)
                    .unwrap_or_else(|| vec![0.0; var.elem_count()]);
                let original = var.as_tensor().copy().unwrap();
                let flat = values(&original);
                for (index, &expected) in analytic.iter().enumerate() {
                    let shifted = |delta: f64| {
                        let mut moved = flat.clone();
                        moved[index] += delta;
                        var.set(&Tensor::from_vec(moved, original.shape(), &Device::Cpu).unwrap())
                            .unwrap();
                        let value = objective();
                        var.set(&original).unwrap();
                        value
                    };
                    let h = 1e-6;
                    let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
                    assert!(
                        (numeric - expected).abs() <= 1e-5 * numeric.abs().max(1.0),
                        "{loss_name} through {kernel_name}, d/d{name}[{index}]: autograd {expected}, finite differences {numeric}"
                    );
                }
            }
        }
    }
}

/// A siamese head on saturated logits: the dense sigmoid's logit `w·|x - x'| + b` is set to each
/// `z` through its bias, and the stable binary cross-entropy on logits stays finite and exact.
#[test]
fn siamese_head_loss_is_finite_on_saturated_logits() {
    let cases: [(f64, f64, f64); 6] = [
        (100.0, 0.0, 100.0),
        (-100.0, 1.0, 100.0),
        (-100.0, 0.0, 0.0),
        (0.0, 1.0, std::f64::consts::LN_2),
        (3.0, 1.0, 0.048587),
        (20.0, 0.0, 20.000000002),
    ];

    for (z, y, expected) in cases {
        let weight = Tensor::new(&[[1f32]], &Device::Cpu).unwrap();
        let bias = Tensor::new(&[z as f32], &Device::Cpu).unwrap();
        let head = DenseSigmoid::from_tensors(weight, bias).unwrap();
        let x = Tensor::new(&[[0.5f32]], &Device::Cpu).unwrap();

        let logits = head.logits(&x, &x).unwrap();
        let targets = Tensor::new(&[y as f32], &Device::Cpu).unwrap();
        let loss = binary_crossentropy_with_logits(&logits, &targets)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap() as f64;

        assert!(loss.is_finite(), "z = {z}, y = {y}: {loss}");
        assert!(
            (loss - expected).abs() <= 1e-4,
            "z = {z}, y = {y}: {loss}, expected {expected}"
        );

        let probability = head.pairs(&x, &x).unwrap().to_vec1::<f32>().unwrap()[0];
        assert!((0.0..=1.0).contains(&probability), "z = {z}: sigmoid {probability}");
    }
}
