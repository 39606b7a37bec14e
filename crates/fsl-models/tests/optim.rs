//! Optimisers, schedules and gradient clipping against PyTorch 2.15 trajectories
//! (tests/reference/generate_optim.py writes tests/fixtures/optim/reference.json).

use candle_core::{DType, Device, Tensor, Var};
use fsl_models::optim::{LrSchedule, Optimizer, OptimizerConfig, clip_grad_norm};
use serde_json::Value;

const TOLERANCE: f64 = 1e-12;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/optim/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn vector(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// Minimises sum(a * p^2 + b * p) from the fixture's start and returns p after every step.
fn trajectory(config: OptimizerConfig, learning_rate: f64, max_norm: Option<f64>) -> Vec<Vec<f64>> {
    let reference = reference();
    let device = Device::Cpu;
    let param = Var::from_vec(vector(&reference["start"]), 5, &device).unwrap();
    let a = Tensor::from_vec(vector(&reference["a"]), 5, &device).unwrap();
    let b = Tensor::from_vec(vector(&reference["b"]), 5, &device).unwrap();
    let mut optimizer = Optimizer::new(config, vec![param.clone()]).unwrap();

    let mut steps = Vec::new();
    for _ in 0..6 {
        let p = param.as_tensor();
        let loss = ((&a * p.sqr().unwrap()).unwrap() + (&b * p).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let mut grads = loss.backward().unwrap();
        if let Some(max_norm) = max_norm {
            clip_grad_norm(&mut grads, std::slice::from_ref(&param), max_norm).unwrap();
        }
        optimizer.step(&grads, learning_rate).unwrap();
        steps.push(param.as_tensor().to_vec1::<f64>().unwrap());
    }
    steps
}

fn assert_matches(case: &str, actual: &[Vec<f64>]) {
    let reference = reference();
    let expected = reference["cases"][case].as_array().unwrap();
    assert_eq!(actual.len(), expected.len(), "{case}");
    for (step, (actual, expected)) in actual.iter().zip(expected).enumerate() {
        for (index, (a, e)) in actual.iter().zip(vector(expected)).enumerate() {
            assert!(
                (a - e).abs() < TOLERANCE,
                "{case} step {step} parameter {index}: {a} vs {e}"
            );
        }
    }
}

fn sgd(momentum: f64, nesterov: bool, weight_decay: f64) -> OptimizerConfig {
    OptimizerConfig::Sgd {
        momentum,
        nesterov,
        weight_decay,
    }
}

#[test]
fn sgd_matches_pytorch() {
    assert_matches("sgd", &trajectory(sgd(0.0, false, 0.0), 0.1, None));
}

#[test]
fn sgd_with_momentum_and_decay_matches_pytorch() {
    assert_matches("sgd_momentum", &trajectory(sgd(0.9, false, 0.01), 0.1, None));
}

#[test]
fn sgd_nesterov_matches_pytorch() {
    assert_matches("sgd_nesterov", &trajectory(sgd(0.9, true, 0.0), 0.05, None));
}

#[test]
fn adam_matches_pytorch() {
    let config = OptimizerConfig::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    assert_matches("adam", &trajectory(config, 0.1, None));
}

#[test]
fn adamw_matches_pytorch() {
    let config = OptimizerConfig::AdamW {
        beta1: 0.8,
        beta2: 0.99,
        eps: 1e-6,
        weight_decay: 0.05,
    };
    assert_matches("adamw", &trajectory(config, 0.1, None));
}

#[test]
fn clipped_sgd_matches_pytorch() {
    assert_matches("sgd_clipped", &trajectory(sgd(0.0, false, 0.0), 0.1, Some(1.0)));
}

#[test]
fn cosine_schedule_matches_pytorch() {
    let expected = vector(&reference()["cosine_lr"]);
    let schedule = LrSchedule::Cosine {
        min_learning_rate: 0.001,
    };

    for (episode, expected) in expected.iter().enumerate() {
        let actual = schedule.learning_rate(0.1, episode, 10);
        assert!(
            (actual - expected).abs() < TOLERANCE,
            "episode {episode}: {actual} vs {expected}"
        );
    }
}

#[test]
fn step_schedule_decays_every_interval() {
    let schedule = LrSchedule::Step { every: 3, factor: 0.5 };

    let rates: Vec<f64> = (0..7).map(|episode| schedule.learning_rate(0.8, episode, 7)).collect();

    assert_eq!(rates, [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2]);
}

#[test]
fn adamw_defaults_follow_pytorch() {
    let config: OptimizerConfig = serde_json::from_str(r#"{"kind": "adam_w"}"#).unwrap();

    assert_eq!(
        config,
        OptimizerConfig::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    );
}

#[test]
fn invalid_settings_name_the_value() {
    let cases = [
        (sgd(1.0, false, 0.0), "momentum"),
        (sgd(0.0, true, 0.0), "momentum"),
        (sgd(0.5, false, -1.0), "weight_decay"),
        (
            OptimizerConfig::Adam {
                beta1: 0.9,
                beta2: 1.5,
                eps: 1e-8,
                weight_decay: 0.0,
            },
            "beta2",
        ),
        (
            OptimizerConfig::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 0.0,
                weight_decay: 0.0,
            },
            "eps",
        ),
    ];

    for (config, name) in cases {
        let error = config.validate().unwrap_err();
        assert!(
            matches!(&error, fsl_models::Error::InvalidConfig { name: found, .. } if *found == name),
            "{config:?}: {error}"
        );
    }
}

#[test]
fn clipping_rejects_non_positive_norm() {
    let param = Var::zeros(3, DType::F64, &Device::Cpu).unwrap();
    let mut grads = param.as_tensor().sum_all().unwrap().backward().unwrap();

    let error = clip_grad_norm(&mut grads, &[param], 0.0).unwrap_err();

    assert!(error.to_string().contains("max_grad_norm"), "{error}");
}

/// A gradient computed by candle's operations carries the autograd graph of its step. The
/// optimiser's buffers must hold values only, or each step's buffers would keep every earlier
/// step's graph, with its activations, alive (memory grew by about 300 MB per Conv-4 episode on
/// candle's stock layers).
#[test]
fn optimiser_buffers_hold_no_graph() {
    let device = Device::Cpu;
    let param = Var::from_vec(vec![0.5f64, -1.0, 2.0], 3, &device).unwrap();
    let configs = [
        OptimizerConfig::adam(),
        OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.01,
        },
    ];

    for config in configs {
        let mut optimizer = Optimizer::new(config.clone(), vec![param.clone()]).unwrap();
        for _ in 0..2 {
            // d/dp sum(p^3) = 3 p^2, computed from the variable, so the gradient tracks an op.
            let grads = param
                .as_tensor()
                .powf(3.0)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            assert!(
                grads.get(param.as_tensor()).unwrap().track_op(),
                "{config:?}: the gradient tracks its graph"
            );
            optimizer.step(&grads, 0.1).unwrap();
        }

        for parameter in optimizer.state().parameters {
            assert!(!parameter.buffers.is_empty(), "{config:?}: buffers after two steps");
            for (name, buffer) in parameter.buffers {
                assert!(!buffer.track_op(), "{config:?}: buffer {name} holds an autograd graph");
            }
        }
    }
}
