//! Learnt kernels against numpy references, central finite differences and their own invariants.

mod common;

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, Var};
use common::{assert_close, floats, sizes};
use fsl_layers::Error;
use fsl_layers::kernel::{
    DenseSigmoid, Kernel, LearntKernel, LearntNorms, MixedNorms, OutputActivation, RelationModule, pairwise_in_chunks,
};
use fsl_layers::params::{ParamBuilder, ParamStore};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

/// The reference cases written by `reference/generate_learnt_kernels.py`.
const CASES: [&str; 6] = [
    "dense_sigmoid",
    "mixed_norms",
    "mixed_norms_spatial",
    "learnt_norms_sigmoid",
    "learnt_norms_identity",
    "relation",
];

fn fixture() -> Value {
    let text = include_str!("reference/learnt_kernels.json");
    serde_json::from_str(text).expect("reference/learnt_kernels.json is valid JSON")
}

/// Reads a `{"shape": [...], "values": [...]}` object into a tensor of `dtype`.
fn tensor(value: &Value, dtype: DType) -> Tensor {
    let shape = sizes(&value["shape"]);
    Tensor::from_vec(floats(&value["values"]), shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

fn values(tensor: &Tensor) -> Vec<f64> {
    tensor
        .flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

fn random_tensor(rng: &mut StdRng, shape: &[usize], dtype: DType) -> Tensor {
    let count = shape.iter().product();
    let data: Vec<f64> = (0..count).map(|_| rng.random_range(-1.5..1.5)).collect();
    Tensor::from_vec(data, shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// Builds the kernel of a reference case from the weights stored with it.
fn reference_kernel(name: &str, case: &Value, dtype: DType) -> Box<dyn LearntKernel> {
    let weight = |key: &str| tensor(&case["weights"][key], dtype);
    match name {
        "dense_sigmoid" => Box::new(DenseSigmoid::from_tensors(weight("weight"), weight("bias")).unwrap()),
        "mixed_norms" | "mixed_norms_spatial" => Box::new(
            MixedNorms::from_tensors(
                weight("norm_conv.weight"),
                weight("norm_conv.bias"),
                weight("channel_conv.weight"),
                weight("channel_conv.bias"),
                weight("output.weight"),
                weight("output.bias"),
            )
            .unwrap(),
        ),
        "learnt_norms_sigmoid" | "learnt_norms_identity" => {
            let activation = if name.ends_with("sigmoid") {
                OutputActivation::Sigmoid
            } else {
                OutputActivation::Identity
            };
            Box::new(
                LearntNorms::from_tensors(
                    weight("pair_conv.weight"),
                    weight("pair_conv.bias"),
                    weight("channel_conv.weight"),
                    weight("channel_conv.bias"),
                    weight("output.weight"),
                    weight("output.bias"),
                    activation,
                )
                .unwrap(),
            )
        }
        "relation" => Box::new(
            RelationModule::from_tensors(
                weight("hidden.weight"),
                weight("hidden.bias"),
                weight("output.weight"),
                weight("output.bias"),
            )
            .unwrap(),
        ),
        _ => panic!("no reference kernel named {name}"),
    }
}

/// The kernels that `seeded_kernel` builds.
const SEEDED: [&str; 5] = [
    "dense_sigmoid",
    "mixed_norms",
    "learnt_norms_sigmoid",
    "learnt_norms_identity",
    "relation",
];

/// Builds a learnt kernel with its parameters created under `params`, for embeddings of size `dim`.
fn seeded_kernel(name: &str, dim: usize, params: &ParamBuilder) -> Box<dyn LearntKernel> {
    match name {
        "dense_sigmoid" => Box::new(DenseSigmoid::new(dim, params).unwrap()),
        "mixed_norms" => Box::new(MixedNorms::new(dim, params).unwrap()),
        "learnt_norms_sigmoid" => Box::new(LearntNorms::new(dim, OutputActivation::Sigmoid, params).unwrap()),
        "learnt_norms_identity" => Box::new(LearntNorms::new(dim, OutputActivation::Identity, params).unwrap()),
        "relation" => Box::new(RelationModule::new(dim, 6, params).unwrap()),
        _ => panic!("no learnt kernel named {name}"),
    }
}

/// Builds every learnt kernel, each with its parameters under a prefix of its own name.
fn seeded_kernels(dim: usize, params: &ParamBuilder) -> Vec<(&'static str, Box<dyn LearntKernel>)> {
    SEEDED
        .into_iter()
        .map(|name| (name, seeded_kernel(name, dim, &params.push(name))))
        .collect()
}

fn check_reference(name: &str, dtype: DType, tolerance: f64) {
    let fixture = fixture();
    let case = &fixture[name];
    let kernel = reference_kernel(name, case, dtype);
    let (x, y) = (tensor(&case["x"], dtype), tensor(&case["y"], dtype));
    let (a, b) = (tensor(&case["a"], dtype), tensor(&case["b"], dtype));
    let describe = |output: &str| format!("{name} {output} in {dtype:?}");

    let logits = kernel.logits(&x, &y).unwrap();
    assert_eq!(logits.dims(), [x.dims()[0]], "{}", describe("logits shape"));
    assert_close(
        &values(&logits),
        &floats(&case["logits"]),
        tolerance,
        &describe("logits"),
    );

    let pairs = kernel.pairs(&x, &y).unwrap();
    assert_close(&values(&pairs), &floats(&case["pairs"]), tolerance, &describe("pairs"));

    let pairwise = kernel.pairwise(&a, &b).unwrap();
    assert_eq!(
        pairwise.dims(),
        [a.dims()[0], b.dims()[0]],
        "{}",
        describe("pairwise shape")
    );
    assert_close(
        &values(&pairwise),
        &floats(&case["pairwise"]),
        tolerance,
        &describe("pairwise"),
    );

    let pairwise_logits = kernel.pairwise_logits(&a, &b).unwrap();
    assert_close(
        &values(&pairwise_logits),
        &floats(&case["pairwise_logits"]),
        tolerance,
        &describe("pairwise logits"),
    );
}

#[test]
fn learnt_kernels_match_numpy_in_f32() {
    for name in CASES {
        check_reference(name, DType::F32, 1e-5);
    }
}

#[test]
fn learnt_kernels_match_numpy_in_f64() {
    for name in CASES {
        check_reference(name, DType::F64, 1e-12);
    }
}

/// Repeats every row of `a` against every row of `b`, row-major, as the pairs of `pairwise`.
fn expand_pairs(a: &Tensor, b: &Tensor) -> (Tensor, Tensor) {
    let (rows, columns) = (a.dims()[0] as u32, b.dims()[0] as u32);
    let left: Vec<u32> = (0..rows)
        .flat_map(|i| std::iter::repeat_n(i, columns as usize))
        .collect();
    let right: Vec<u32> = (0..rows).flat_map(|_| 0..columns).collect();
    let left = Tensor::new(left, a.device()).unwrap();
    let right = Tensor::new(right, b.device()).unwrap();
    (a.index_select(&left, 0).unwrap(), b.index_select(&right, 0).unwrap())
}

#[test]
fn pairwise_equals_pairs_in_any_chunks() {
    let fixture = fixture();
    for name in CASES {
        let case = &fixture[name];
        let kernel = reference_kernel(name, case, DType::F32);
        let (a, b) = (tensor(&case["a"], DType::F32), tensor(&case["b"], DType::F32));
        let (x, y) = expand_pairs(&a, &b);
        let expected = values(&kernel.pairs(&x, &y).unwrap());

        let whole = kernel.pairwise(&a, &b).unwrap();
        assert_close(&values(&whole), &expected, 1e-6, &format!("{name} pairwise"));

        // The chunked evaluation takes matrices, so feature maps are pooled by hand here.
        let (a, b) = if a.rank() == 4 {
            (a.mean((2, 3)).unwrap(), b.mean((2, 3)).unwrap())
        } else {
            (a, b)
        };
        let total = a.dims()[0] * b.dims()[0];
        for max_pairs in [1, 2, 5, total - 1, total, 1000] {
            let chunked = pairwise_in_chunks(kernel.as_ref(), &a, &b, max_pairs).unwrap();
            assert_eq!(chunked.dims(), whole.dims(), "{name} with chunks of {max_pairs}");
            assert_close(
                &values(&chunked),
                &expected,
                1e-6,
                &format!("{name} with chunks of {max_pairs} pairs"),
            );
        }
    }
}

/// Compares the gradients of `sum(weights ⊙ evaluate(kernel, x, y))` with respect to `x`, `y`
/// and every parameter in `store` with central finite differences, in f64.
fn check_gradients(
    name: &str,
    store: &ParamStore,
    inputs: [&[usize]; 2],
    seed: u64,
    evaluate: &dyn Fn(&Tensor, &Tensor) -> fsl_layers::Result<Tensor>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Var::from_tensor(&random_tensor(&mut rng, inputs[0], DType::F64)).unwrap();
    let y = Var::from_tensor(&random_tensor(&mut rng, inputs[1], DType::F64)).unwrap();
    let output_shape = evaluate(x.as_tensor(), y.as_tensor()).unwrap().dims().to_vec();
    let weights = random_tensor(&mut rng, &output_shape, DType::F64);
    let loss = || -> f64 {
        let output = evaluate(x.as_tensor(), y.as_tensor()).unwrap();
        (output * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };

    let output = evaluate(x.as_tensor(), y.as_tensor()).unwrap();
    let gradients = (output * &weights).unwrap().sum_all().unwrap().backward().unwrap();

    let names: Vec<String> = store.tensors().into_keys().collect();
    let parameters = store.trainable();
    assert_eq!(names.len(), parameters.len(), "{name}: every parameter is trainable");
    let mut variables = vec![("x".to_string(), x.clone()), ("y".to_string(), y.clone())];
    variables.extend(names.into_iter().zip(parameters));

    let step = 1e-6;
    for (variable_name, variable) in &variables {
        let analytic = values(
            gradients
                .get(variable.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no gradient for {variable_name}")),
        );
        let original = values(variable.as_tensor());
        let shape = variable.dims().to_vec();
        let set = |data: &[f64]| {
            let value = Tensor::from_vec(data.to_vec(), shape.as_slice(), &Device::Cpu).unwrap();
            variable.set(&value).unwrap();
        };

        let mut numeric = Vec::with_capacity(original.len());
        for index in 0..original.len() {
            let mut shifted = original.clone();
            shifted[index] = original[index] + step;
            set(&shifted);
            let plus = loss();
            shifted[index] = original[index] - step;
            set(&shifted);
            let minus = loss();
            numeric.push((plus - minus) / (2.0 * step));
        }
        set(&original);

        assert_close(
            &analytic,
            &numeric,
            1e-6,
            &format!("{name}: gradient of {variable_name}"),
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let dim = 4;
    for (index, name) in SEEDED.into_iter().enumerate() {
        // A store per kernel, so that every parameter in it belongs to the kernel under test.
        let store = ParamStore::new(11, DType::F64, &Device::Cpu);
        let kernel = seeded_kernel(name, dim, &store.builder().push("head"));
        let seed = 100 + index as u64;

        check_gradients(
            &format!("{name} pairs"),
            &store,
            [&[5, dim], &[5, dim]],
            seed,
            &|x, y| kernel.pairs(x, y),
        );
        check_gradients(
            &format!("{name} logits"),
            &store,
            [&[5, dim], &[5, dim]],
            seed,
            &|x, y| kernel.logits(x, y),
        );
        check_gradients(
            &format!("{name} pairwise"),
            &store,
            [&[3, dim], &[2, dim]],
            seed,
            &|a, b| kernel.pairwise(a, b),
        );
        check_gradients(
            &format!("{name} pairwise in chunks"),
            &store,
            [&[3, dim], &[2, dim]],
            seed,
            &|a, b| pairwise_in_chunks(kernel.as_ref(), a, b, 4),
        );
    }
}

#[test]
fn mixed_norms_gradients_through_pooling() {
    let store = ParamStore::new(5, DType::F64, &Device::Cpu);
    let kernel = MixedNorms::new(3, &store.builder().push("head")).unwrap();

    check_gradients(
        "mixed_norms feature maps",
        &store,
        [&[2, 3, 2, 2], &[2, 3, 2, 2]],
        21,
        &|x, y| kernel.pairs(x, y),
    );
    check_gradients(
        "mixed_norms pairwise feature maps",
        &store,
        [&[3, 3, 2, 2], &[2, 3, 1, 3]],
        22,
        &|a, b| kernel.pairwise(a, b),
    );
}

/// Asserts that `output` and the gradients of its sum for `inputs` and every parameter are finite.
fn assert_finite_with_gradients(what: &str, output: &Tensor, inputs: &[&Var], store: &ParamStore) {
    let output_values = values(output);
    assert!(
        output_values.iter().all(|v| v.is_finite()),
        "{what}: output {output_values:?}"
    );

    let gradients = output.sum_all().unwrap().backward().unwrap();
    for (index, input) in inputs.iter().enumerate() {
        let gradient = values(gradients.get(input.as_tensor()).unwrap());
        assert!(
            gradient.iter().all(|v| v.is_finite()),
            "{what}: gradient of input {index} {gradient:?}"
        );
    }
    for (name, parameter) in store.tensors() {
        let Some(gradient) = gradients.get(&parameter) else {
            continue;
        };
        let gradient = values(gradient);
        assert!(
            gradient.iter().all(|v| v.is_finite()),
            "{what}: gradient of {name} {gradient:?}"
        );
    }
}

#[test]
fn identical_and_zero_embeddings_stay_finite() {
    let dim = 5;
    let mut rng = StdRng::seed_from_u64(3);
    let embeddings = random_tensor(&mut rng, &[4, dim], DType::F32);
    let zeros = Tensor::zeros((4, dim), DType::F32, &Device::Cpu).unwrap();

    for (label, data) in [("identical", &embeddings), ("zero", &zeros)] {
        let store = ParamStore::new(9, DType::F32, &Device::Cpu);
        for (name, kernel) in seeded_kernels(dim, &store.builder()) {
            let x = Var::from_tensor(data).unwrap();
            let y = Var::from_tensor(data).unwrap();
            let what = format!("{name} on {label} embeddings");

            let pairs = kernel.pairs(x.as_tensor(), y.as_tensor()).unwrap();
            assert_finite_with_gradients(&format!("{what}, pairs"), &pairs, &[&x, &y], &store);

            let logits = kernel.logits(x.as_tensor(), y.as_tensor()).unwrap();
            assert_finite_with_gradients(&format!("{what}, logits"), &logits, &[&x, &y], &store);

            let gram = kernel.pairwise(x.as_tensor(), x.as_tensor()).unwrap();
            assert_finite_with_gradients(&format!("{what}, Gram matrix"), &gram, &[&x], &store);
        }
    }
}

#[test]
fn learnt_kernels_are_similarities() {
    let store = ParamStore::new(1, DType::F32, &Device::Cpu);
    for (name, kernel) in seeded_kernels(3, &store.builder()) {
        assert!(!kernel.is_distance(), "{name}");
    }
}

#[test]
fn identity_activation_returns_logits() {
    let store = ParamStore::new(2, DType::F32, &Device::Cpu);
    let kernel = LearntNorms::new(3, OutputActivation::Identity, &store.builder()).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    let x = random_tensor(&mut rng, &[6, 3], DType::F32);
    let y = random_tensor(&mut rng, &[6, 3], DType::F32);

    assert_eq!(kernel.activation(), OutputActivation::Identity);
    assert_eq!(
        values(&kernel.pairs(&x, &y).unwrap()),
        values(&kernel.logits(&x, &y).unwrap())
    );
}

#[test]
fn default_activation_is_sigmoid() {
    assert_eq!(OutputActivation::default(), OutputActivation::Sigmoid);
}

/// Asserts a shape error whose message contains every string of `expected`.
fn assert_shape_mismatch<T: std::fmt::Debug>(result: fsl_layers::Result<T>, expected: &[&str], what: &str) {
    let error = result.expect_err(what);
    assert!(matches!(error, Error::ShapeMismatch { .. }), "{what}: {error:?}");
    let message = error.to_string();
    for part in expected {
        assert!(message.contains(part), "{what}: `{message}` does not name {part}");
    }
}

#[test]
fn mismatched_inputs_are_rejected() {
    let store = ParamStore::new(1, DType::F32, &Device::Cpu);
    let zeros = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();

    for (name, kernel) in seeded_kernels(4, &store.builder()) {
        assert_shape_mismatch(
            kernel.pairs(&zeros(&[3, 4]), &zeros(&[3, 5])),
            &["[3, 4]", "[3, 5]"],
            &format!("{name} pairs of different sizes"),
        );
        assert_shape_mismatch(
            kernel.pairs(&zeros(&[3, 4]), &zeros(&[2, 4])),
            &["[3, 4]", "[2, 4]"],
            &format!("{name} pairs of different counts"),
        );
        assert_shape_mismatch(
            kernel.pairs(&zeros(&[3, 5]), &zeros(&[3, 5])),
            &["[3, 5]", "size 4"],
            &format!("{name} pairs of the wrong embedding size"),
        );
        assert_shape_mismatch(
            kernel.logits(&zeros(&[3, 5]), &zeros(&[3, 5])),
            &["[3, 5]", "size 4"],
            &format!("{name} logits of the wrong embedding size"),
        );
        assert_shape_mismatch(
            kernel.pairwise(&zeros(&[3, 4]), &zeros(&[2, 5])),
            &["[3, 4]", "[2, 5]"],
            &format!("{name} pairwise of different sizes"),
        );
        assert_shape_mismatch(
            kernel.pairwise(&zeros(&[3, 6]), &zeros(&[2, 6])),
            &["[3, 6]", "[2, 6]", "size 4"],
            &format!("{name} pairwise of the wrong embedding size"),
        );
        assert_shape_mismatch(
            kernel.pairwise_logits(&zeros(&[3, 6]), &zeros(&[2, 6])),
            &["[3, 6]", "[2, 6]", "size 4"],
            &format!("{name} pairwise logits of the wrong embedding size"),
        );
    }
}

#[test]
fn mixed_norms_rejects_mismatched_feature_maps() {
    let store = ParamStore::new(1, DType::F32, &Device::Cpu);
    let kernel = MixedNorms::new(4, &store.builder()).unwrap();
    let zeros = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();

    assert_shape_mismatch(
        kernel.pairs(&zeros(&[2, 5, 3, 3]), &zeros(&[2, 5, 3, 3])),
        &["[2, 5, 3, 3]", "size 4", "[1, 4]"],
        "feature maps with the wrong number of channels",
    );
    assert_shape_mismatch(
        kernel.pairs(&zeros(&[2, 4, 3, 3]), &zeros(&[2, 4, 2, 2])),
        &["[2, 4, 3, 3]", "[2, 4, 2, 2]"],
        "pairs of feature maps of different sizes",
    );
    assert_shape_mismatch(
        kernel.pairs(&zeros(&[2, 4, 3]), &zeros(&[2, 4, 3])),
        &["[2, 4, 3]"],
        "three-dimensional inputs",
    );
    assert_shape_mismatch(
        kernel.pairwise(&zeros(&[2, 4, 3, 3]), &zeros(&[3, 5, 3, 3])),
        &["[2, 4, 3, 3]", "[3, 5, 3, 3]"],
        "pairwise feature maps with different channels",
    );
    assert_shape_mismatch(
        kernel.pairwise(&zeros(&[2, 4, 3]), &zeros(&[3, 4])),
        &["[2, 4, 3]", "[3, 4]"],
        "pairwise three-dimensional input",
    );
}

#[test]
fn mixed_norms_pools_feature_maps() {
    let store = ParamStore::new(8, DType::F32, &Device::Cpu);
    let kernel = MixedNorms::new(3, &store.builder()).unwrap();
    let mut rng = StdRng::seed_from_u64(8);
    let a = random_tensor(&mut rng, &[2, 3, 4, 4], DType::F32);
    let b = random_tensor(&mut rng, &[3, 3, 2, 5], DType::F32);
    let (pooled_a, pooled_b) = (a.mean((2, 3)).unwrap(), b.mean((2, 3)).unwrap());

    let maps = kernel.pairwise(&a, &b).unwrap();
    let pooled = kernel.pairwise(&pooled_a, &pooled_b).unwrap();
    assert_eq!(maps.dims(), [2, 3]);
    assert_close(&values(&maps), &values(&pooled), 1e-6, "pairwise of feature maps");

    let mixed = kernel.pairwise(&a, &pooled_b).unwrap();
    assert_close(
        &values(&mixed),
        &values(&pooled),
        1e-6,
        "feature maps against embeddings",
    );
}

#[test]
fn wrong_weight_shapes_are_rejected() {
    let zeros = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();

    assert_shape_mismatch(
        DenseSigmoid::from_tensors(zeros(&[1, 4]), zeros(&[2])),
        &["[1, 4]", "[2]"],
        "dense sigmoid bias of the wrong size",
    );
    assert_shape_mismatch(
        DenseSigmoid::from_tensors(zeros(&[2, 4]), zeros(&[2])),
        &["[2, 4]"],
        "dense sigmoid with two outputs",
    );
    assert_shape_mismatch(
        DenseSigmoid::from_tensors(zeros(&[4]), zeros(&[1])),
        &["[4]", "[1]"],
        "dense sigmoid weight without an output axis",
    );

    let mixed = |norm: &[usize], norm_bias: &[usize], channel: &[usize], output: &[usize]| {
        MixedNorms::from_tensors(
            zeros(norm),
            zeros(norm_bias),
            zeros(channel),
            zeros(&[1]),
            zeros(output),
            zeros(&[1]),
        )
    };
    assert_shape_mismatch(
        mixed(&[32, 3], &[32], &[1, 32], &[1, 4]),
        &["[32, 3]"],
        "mixed norms with three norms",
    );
    assert_shape_mismatch(
        mixed(&[32, 4], &[16], &[1, 32], &[1, 4]),
        &["[32, 4]", "[16]"],
        "mixed norms bias of the wrong size",
    );
    assert_shape_mismatch(
        mixed(&[32, 4], &[32], &[1, 16], &[1, 4]),
        &["[32, 4]", "[1, 16]"],
        "mixed norms channel convolution of the wrong width",
    );
    assert_shape_mismatch(
        mixed(&[32, 4], &[32], &[1, 32], &[2, 4]),
        &["[2, 4]"],
        "mixed norms with two outputs",
    );

    let learnt = |pair: &[usize], channel: &[usize], channel_bias: &[usize]| {
        LearntNorms::from_tensors(
            zeros(pair),
            zeros(&[pair[0]]),
            zeros(channel),
            zeros(channel_bias),
            zeros(&[1, 4]),
            zeros(&[1]),
            OutputActivation::Sigmoid,
        )
    };
    assert_shape_mismatch(
        learnt(&[32, 3], &[1, 32], &[1]),
        &["[32, 3]"],
        "learnt norms with three rows",
    );
    assert_shape_mismatch(
        learnt(&[32, 2], &[1, 8], &[1]),
        &["[32, 2]", "[1, 8]"],
        "learnt norms 1x1 convolution of the wrong width",
    );
    assert_shape_mismatch(
        learnt(&[32, 2], &[1, 32], &[3]),
        &["[1, 32]", "[3]"],
        "learnt norms channel bias of the wrong size",
    );

    let relation = |hidden: &[usize], output: &[usize]| {
        RelationModule::from_tensors(zeros(hidden), zeros(&[hidden[0]]), zeros(output), zeros(&[1]))
    };
    assert_shape_mismatch(
        relation(&[8, 7], &[1, 8]),
        &["[8, 7]"],
        "relation module with an odd input size",
    );
    assert_shape_mismatch(
        relation(&[8, 6], &[1, 5]),
        &["[8, 6]", "[1, 5]"],
        "relation output reading the wrong hidden size",
    );
    assert_shape_mismatch(
        relation(&[8, 6], &[2, 8]),
        &["[2, 8]"],
        "relation module with two outputs",
    );
}

#[test]
fn zero_sizes_are_rejected() {
    let store = ParamStore::new(1, DType::F32, &Device::Cpu);
    let params = store.builder();

    let errors = [
        DenseSigmoid::new(0, &params.push("a")).map(|_| ()),
        MixedNorms::new(0, &params.push("b")).map(|_| ()),
        LearntNorms::new(0, OutputActivation::Sigmoid, &params.push("c")).map(|_| ()),
        RelationModule::new(0, 4, &params.push("d")).map(|_| ()),
        RelationModule::new(4, 0, &params.push("e")).map(|_| ()),
    ];
    for (index, result) in errors.into_iter().enumerate() {
        let error = result.expect_err("a size of 0");
        assert!(
            matches!(error, Error::InvalidArgument { .. }),
            "case {index}: {error:?}"
        );
    }
}

#[test]
fn parameters_are_named_under_the_prefix() {
    let store = ParamStore::new(1, DType::F32, &Device::Cpu);
    MixedNorms::new(4, &store.builder().push("head")).unwrap();
    let names: Vec<String> = store.tensors().into_keys().collect();

    assert_eq!(
        names,
        [
            "head.channel_conv.bias",
            "head.channel_conv.weight",
            "head.norm_conv.bias",
            "head.norm_conv.weight",
            "head.output.bias",
            "head.output.weight",
        ]
    );
    let shapes: BTreeMap<String, Vec<usize>> = store
        .tensors()
        .into_iter()
        .map(|(name, tensor)| (name, tensor.dims().to_vec()))
        .collect();
    assert_eq!(shapes["head.norm_conv.weight"], [MixedNorms::FILTERS, 4]);
    assert_eq!(shapes["head.channel_conv.weight"], [1, MixedNorms::FILTERS]);
    assert_eq!(shapes["head.output.weight"], [1, 4]);
}

/// Evaluates every kernel on fixed inputs, for comparing parameter states.
fn outputs(kernels: &[(&'static str, Box<dyn LearntKernel>)], dim: usize) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(77);
    let a = random_tensor(&mut rng, &[3, dim], DType::F32);
    let b = random_tensor(&mut rng, &[4, dim], DType::F32);
    kernels
        .iter()
        .map(|(_, kernel)| values(&kernel.pairwise(&a, &b).unwrap()))
        .collect()
}

#[test]
fn same_seed_gives_same_weights() {
    let dim = 4;
    let build = |seed: u64| {
        let store = ParamStore::new(seed, DType::F32, &Device::Cpu);
        let kernels = seeded_kernels(dim, &store.builder().push("head"));
        let weights: BTreeMap<String, Vec<f64>> = store
            .tensors()
            .into_iter()
            .map(|(name, tensor)| (name, values(&tensor)))
            .collect();
        (weights, outputs(&kernels, dim))
    };

    let (first_weights, first_outputs) = build(42);
    let (second_weights, second_outputs) = build(42);
    let (other_weights, other_outputs) = build(43);

    assert_eq!(first_weights, second_weights);
    assert_eq!(first_outputs, second_outputs);
    assert_eq!(
        first_weights.keys().collect::<Vec<_>>(),
        other_weights.keys().collect::<Vec<_>>()
    );
    for (name, values) in &first_weights {
        assert_ne!(values, &other_weights[name], "{name} does not depend on the seed");
    }
    assert_ne!(first_outputs, other_outputs);
}

#[test]
fn checkpoint_round_trip_restores_outputs() {
    let dim = 4;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("learnt_kernels_round_trip.safetensors");

    let saved = ParamStore::new(1, DType::F32, &Device::Cpu);
    let saved_kernels = seeded_kernels(dim, &saved.builder().push("head"));
    let expected = outputs(&saved_kernels, dim);
    saved.save(&path).unwrap();

    let loaded = ParamStore::new(2, DType::F32, &Device::Cpu);
    let loaded_kernels = seeded_kernels(dim, &loaded.builder().push("head"));
    assert_ne!(
        outputs(&loaded_kernels, dim),
        expected,
        "another seed gives other outputs"
    );

    loaded.load(&path).unwrap();
    assert_eq!(outputs(&loaded_kernels, dim), expected);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn empty_inputs_give_empty_outputs() {
    let store = ParamStore::new(1, DType::F32, &Device::Cpu);
    let zeros = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();

    for (name, kernel) in seeded_kernels(3, &store.builder()) {
        let pairs = kernel.pairs(&zeros(&[0, 3]), &zeros(&[0, 3])).unwrap();
        assert_eq!(pairs.dims(), [0], "{name} pairs");

        let pairwise = kernel.pairwise(&zeros(&[0, 3]), &zeros(&[4, 3])).unwrap();
        assert_eq!(pairwise.dims(), [0, 4], "{name} pairwise without queries");

        let pairwise = kernel.pairwise(&zeros(&[2, 3]), &zeros(&[0, 3])).unwrap();
        assert_eq!(pairwise.dims(), [2, 0], "{name} pairwise without support");
    }
}
