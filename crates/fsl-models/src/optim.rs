//! Optimisers (SGD with momentum, Adam, AdamW), learning-rate schedules and gradient clipping,
//! with PyTorch's update rules so that a recipe gives the same steps in both. An
//! [`OptimizerState`] snapshot of the moment buffers and step count lets training resume exactly.
//!
//! candle-nn offers plain SGD and an AdamW whose weight decay defaults to 0.01; here every
//! setting is explicit and the defaults are PyTorch's.

mod state;

pub use state::{OptimizerState, ParameterState, STATE_BUFFERS_FILE, STATE_DESCRIPTION_FILE};

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, TensorId, Var};
use fsl_layers::params::ParamStore;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An optimiser and its hyper-parameters; the learning rate comes from the schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Stochastic gradient descent as `torch.optim.SGD` (no dampening).
    Sgd {
        /// Momentum factor in [0, 1); 0 is plain SGD.
        #[serde(default)]
        momentum: f64,
        /// Nesterov momentum; needs `momentum > 0`.
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adam as `torch.optim.Adam`: weight decay is an L2 penalty added to the gradient.
    Adam {
        /// Decay of the first-moment average.
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Decay of the second-moment average.
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// Term added to the denominator for numerical stability.
        #[serde(default = "default_eps")]
        eps: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// AdamW as `torch.optim.AdamW`: weight decay shrinks the parameters directly, decoupled
    /// from the gradient.
    AdamW {
        /// Decay of the first-moment average.
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Decay of the second-moment average.
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// Term added to the denominator for numerical stability.
        #[serde(default = "default_eps")]
        eps: f64,
        /// Decoupled weight decay; PyTorch's default is 0.01.
        #[serde(default = "default_adamw_decay")]
        weight_decay: f64,
    },
}

fn default_beta1() -> f64 {
    0.9
}

fn default_beta2() -> f64 {
    0.999
}

fn default_eps() -> f64 {
    1e-8
}

fn default_adamw_decay() -> f64 {
    0.01
}

impl OptimizerConfig {
    /// Adam with PyTorch's defaults and no weight decay.
    pub fn adam() -> Self {
        Self::Adam {
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay: 0.0,
        }
    }

    /// Checks every hyper-parameter.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the first value outside its range.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &'static str, value: f64, valid: bool, reason: &str| {
            if valid {
                Ok(())
            } else {
                Err(Error::InvalidConfig {
                    name,
                    value: value.to_string(),
                    reason: reason.to_owned(),
                })
            }
        };
        let decay = |value: f64| {
            check(
                "weight_decay",
                value,
                value.is_finite() && value >= 0.0,
                "must be 0 or more",
            )
        };

        match *self {
            Self::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                check(
                    "momentum",
                    momentum,
                    (0.0..1.0).contains(&momentum),
                    "must be in [0, 1)",
                )?;
                check(
                    "momentum",
                    momentum,
                    !nesterov || momentum > 0.0,
                    "Nesterov momentum needs a momentum above 0",
                )?;
                decay(weight_decay)
            }
            Self::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            }
            | Self::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                check("beta1", beta1, (0.0..1.0).contains(&beta1), "must be in [0, 1)")?;
                check("beta2", beta2, (0.0..1.0).contains(&beta2), "must be in [0, 1)")?;
                check("eps", eps, eps.is_finite() && eps > 0.0, "must be a positive number")?;
                decay(weight_decay)
            }
        }
    }
}

/// The state of an optimiser over a fixed list of named parameters.
pub struct Optimizer {
    config: OptimizerConfig,
    names: Vec<String>,
    vars: Vec<Var>,
    // Momentum buffer (SGD) or first and second moments (Adam), created at the first step.
    state: Vec<Vec<Tensor>>,
    steps: i32,
}

impl Optimizer {
    /// Creates the optimiser of `vars`, naming them by position (`"0"`, `"1"`, ...) in its
    /// [`state`](Self::state). Use [`for_params`](Self::for_params) to name them as the model
    /// does.
    ///
    /// # Errors
    ///
    /// The errors of [`OptimizerConfig::validate`].
    pub fn new(config: OptimizerConfig, vars: Vec<Var>) -> Result<Self> {
        let named = vars
            .into_iter()
            .enumerate()
            .map(|(index, var)| (index.to_string(), var))
            .collect();
        Self::with_names(config, named)
    }

    /// Creates the optimiser of the trainable parameters of `params`, under their names in the
    /// store, so that its state can only be restored into a model with the same parameters.
    ///
    /// # Errors
    ///
    /// The errors of [`OptimizerConfig::validate`].
    pub fn for_params(config: OptimizerConfig, params: &ParamStore) -> Result<Self> {
        // `tensors` shares each tensor with its variable, so the tensor id finds the name of
        // every trainable variable.
        let names: HashMap<TensorId, String> = params
            .tensors()
            .into_iter()
            .map(|(name, tensor)| (tensor.id(), name))
            .collect();
        let named = params
            .trainable()
            .into_iter()
            .map(|var| {
                let name = names.get(&var.as_tensor().id()).cloned().unwrap_or_default();
                (name, var)
            })
            .collect();
        Self::with_names(config, named)
    }

    /// Creates the optimiser of `named` parameters, in that order.
    ///
    /// # Errors
    ///
    /// The errors of [`OptimizerConfig::validate`], and [`Error::InvalidConfig`] when two
    /// parameters share a name.
    pub fn with_names(config: OptimizerConfig, named: Vec<(String, Var)>) -> Result<Self> {
        config.validate()?;
        let mut seen = std::collections::HashSet::new();
        if let Some((name, _)) = named.iter().find(|(name, _)| !seen.insert(name.as_str())) {
            return Err(Error::InvalidConfig {
                name: "parameter name",
                value: name.clone(),
                reason: "two parameters of one optimiser share this name".to_owned(),
            });
        }

        let (names, vars): (Vec<String>, Vec<Var>) = named.into_iter().unzip();
        let state = vec![Vec::new(); vars.len()];
        Ok(Self {
            config,
            names,
            vars,
            state,
            steps: 0,
        })
    }

    /// Returns the configuration the optimiser was created with.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Returns the number of steps taken, counting steps restored from a state.
    pub fn steps(&self) -> u64 {
        // The count starts at 0 and only grows, so it is never negative.
        u64::try_from(self.steps).unwrap_or_default()
    }

    /// Updates every parameter that has a gradient in `grads` with `learning_rate`.
    ///
    /// # Errors
    ///
    /// A tensor error from candle.
    pub fn step(&mut self, grads: &GradStore, learning_rate: f64) -> Result<()> {
        self.steps += 1;
        for (var, state) in self.vars.iter().zip(&mut self.state) {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            // A gradient computed by candle's own operations keeps their autograd graph, the
            // step's activations included. Detached, the moment buffers hold values only;
            // otherwise each step's buffers would keep the graphs of every earlier step alive.
            let grad = &grad.detach();
            let param = &var.as_tensor().detach();
            let updated = match self.config {
                OptimizerConfig::Sgd {
                    momentum,
                    nesterov,
                    weight_decay,
                } => {
                    let grad = with_decay(grad, param, weight_decay)?;
                    let direction = if momentum == 0.0 {
                        grad
                    } else {
                        let buffer = match state.first() {
                            Some(buffer) => ((buffer * momentum)? + &grad)?,
                            None => grad.clone(),
                        };
                        *state = vec![buffer.clone()];
                        if nesterov {
                            (grad + (buffer * momentum)?)?
                        } else {
                            buffer
                        }
                    };
                    (param - (direction * learning_rate)?)?
                }
                OptimizerConfig::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                } => {
                    let grad = with_decay(grad, param, weight_decay)?;
                    adam_update(param, &grad, state, self.steps, learning_rate, beta1, beta2, eps)?
                }
                OptimizerConfig::AdamW {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                } => {
                    let decayed = (param * (1.0 - learning_rate * weight_decay))?;
                    adam_update(&decayed, grad, state, self.steps, learning_rate, beta1, beta2, eps)?
                }
            };
            var.set(&updated)?;
        }
        Ok(())
    }
}

fn with_decay(grad: &Tensor, param: &Tensor, weight_decay: f64) -> Result<Tensor> {
    if weight_decay == 0.0 {
        return Ok(grad.clone());
    }
    Ok((grad + (param * weight_decay)?)?)
}

/// Computes one Adam step of `param` with bias-corrected moments, as PyTorch does.
#[allow(clippy::too_many_arguments)]
fn adam_update(
    param: &Tensor,
    grad: &Tensor,
    state: &mut Vec<Tensor>,
    step: i32,
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
) -> Result<Tensor> {
    let (first, second) = match state.as_slice() {
        [first, second] => (first.clone(), second.clone()),
        _ => (grad.zeros_like()?, grad.zeros_like()?),
    };
    let first = ((first * beta1)? + (grad * (1.0 - beta1))?)?;
    let second = ((second * beta2)? + (grad.sqr()? * (1.0 - beta2))?)?;
    *state = vec![first.clone(), second.clone()];

    let step_size = learning_rate / (1.0 - beta1.powi(step));
    let denominator = ((second.sqrt()? / (1.0 - beta2.powi(step)).sqrt())? + eps)?;
    Ok((param - ((first / denominator)? * step_size)?)?)
}

/// Scales the gradients of `vars` so that their joint L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_` does (with its 1e-6 guard), and returns the norm before
/// clipping.
///
/// # Errors
///
/// [`Error::InvalidConfig`] for a `max_norm` that is not positive, and tensor errors.
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(Error::InvalidConfig {
            name: "max_grad_norm",
            value: max_norm.to_string(),
            reason: "must be a positive number".to_owned(),
        });
    }

    let mut squares = 0.0;
    for var in vars {
        if let Some(grad) = grads.get(var.as_tensor()) {
            squares += grad
                .to_dtype(candle_core::DType::F64)?
                .sqr()?
                .sum_all()?
                .to_scalar::<f64>()?;
        }
    }
    let norm = squares.sqrt();

    let coefficient = max_norm / (norm + 1e-6);
    if coefficient < 1.0 {
        for var in vars {
            if let Some(grad) = grads.remove(var.as_tensor()) {
                grads.insert(var.as_tensor(), (grad * coefficient)?);
            }
        }
    }
    Ok(norm)
}

/// A learning-rate schedule over the episodes of a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The base learning rate throughout.
    #[default]
    Constant,
    /// Multiplied by `factor` every `every` episodes, as `torch.optim.lr_scheduler.StepLR`.
    Step {
        /// Episodes between two decays.
        every: usize,
        /// Factor of each decay.
        factor: f64,
    },
    /// Cosine annealing from the base rate to `min_learning_rate` over the whole run, as
    /// `torch.optim.lr_scheduler.CosineAnnealingLR` with `T_max` equal to the episodes.
    Cosine {
        /// The rate reached at the end.
        min_learning_rate: f64,
    },
}

impl LrSchedule {
    /// Returns the learning rate of episode `episode` (from 0) of a run of `episodes`.
    pub fn learning_rate(&self, base: f64, episode: usize, episodes: usize) -> f64 {
        match *self {
            Self::Constant => base,
            Self::Step { every, factor } => match every {
                0 => base,
                every => base * factor.powi((episode / every) as i32),
            },
            Self::Cosine { min_learning_rate } => {
                let progress = episode as f64 / episodes.max(1) as f64;
                min_learning_rate + (base - min_learning_rate) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
            }
        }
    }
}
