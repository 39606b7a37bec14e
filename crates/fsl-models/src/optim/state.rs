//! Snapshots of an optimiser: its moment buffers by parameter name and its step count, to resume
//! training exactly, and the two files that hold a snapshot.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{Optimizer, OptimizerConfig};
use crate::{Error, Result};

/// The buffers of a folder written by [`OptimizerState::save`], named `<parameter>.<buffer>`.
pub const STATE_BUFFERS_FILE: &str = "optimizer.safetensors";

/// The configuration, step count and parameter list of a folder written by
/// [`OptimizerState::save`].
pub const STATE_DESCRIPTION_FILE: &str = "optimizer.json";

/// Everything an [`Optimizer`] carries from one step to the next.
///
/// Buffers use PyTorch's names: `momentum_buffer` for SGD with momentum, `exp_avg` and
/// `exp_avg_sq` for Adam and AdamW.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    /// The configuration of the optimiser that took the snapshot. [`Optimizer::restore`]
    /// checks only its kind and keeps its own hyper-parameters.
    pub config: OptimizerConfig,
    /// Steps taken, on which Adam's bias correction depends.
    pub steps: u64,
    /// Every parameter the optimiser updates, in its order.
    pub parameters: Vec<ParameterState>,
}

/// The optimiser state of one parameter.
#[derive(Debug, Clone)]
pub struct ParameterState {
    /// The parameter name, such as `encoder.block0.conv.weight`.
    pub name: String,
    /// The parameter shape.
    pub shape: Vec<usize>,
    /// Buffers by name, each of the parameter's shape; empty until a step updates the
    /// parameter.
    pub buffers: BTreeMap<String, Tensor>,
}

/// The JSON side of a saved state; the tensors go to the safetensors file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Description {
    config: OptimizerConfig,
    steps: u64,
    parameters: Vec<ParameterDescription>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParameterDescription {
    name: String,
    shape: Vec<usize>,
    buffers: Vec<String>,
}

/// Returns the names of the buffers that `config` keeps per parameter, in the order of
/// [`Optimizer`]'s internal state.
fn buffer_names(config: &OptimizerConfig) -> &'static [&'static str] {
    match config {
        OptimizerConfig::Sgd { momentum, .. } if *momentum == 0.0 => &[],
        OptimizerConfig::Sgd { .. } => &["momentum_buffer"],
        OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => &["exp_avg", "exp_avg_sq"],
    }
}

fn kind_name(config: &OptimizerConfig) -> &'static str {
    match config {
        OptimizerConfig::Sgd { .. } => "SGD",
        OptimizerConfig::Adam { .. } => "Adam",
        OptimizerConfig::AdamW { .. } => "AdamW",
    }
}

fn mismatch(parameter: Option<&str>, reason: String) -> Error {
    Error::OptimizerStateMismatch {
        parameter: parameter.map(str::to_owned),
        reason,
    }
}

impl Optimizer {
    /// Takes a snapshot of the buffers and step count, which [`restore`](Self::restore) puts
    /// back.
    ///
    /// Tensors are immutable and every step creates new buffers, so the snapshot does not
    /// change when the optimiser steps again.
    pub fn state(&self) -> OptimizerState {
        let buffer_names = buffer_names(&self.config);
        let parameters = self
            .names
            .iter()
            .zip(&self.vars)
            .zip(&self.state)
            .map(|((name, var), buffers)| ParameterState {
                name: name.clone(),
                shape: var.dims().to_vec(),
                buffers: buffer_names
                    .iter()
                    .zip(buffers)
                    .map(|(buffer, tensor)| ((*buffer).to_owned(), tensor.clone()))
                    .collect(),
            })
            .collect();
        OptimizerState {
            config: self.config.clone(),
            steps: self.steps(),
            parameters,
        }
    }

    /// Replaces the buffers and step count with those of `state`, so that the next step is the
    /// one an uninterrupted optimiser would take. The hyper-parameters stay those of this
    /// optimiser.
    ///
    /// Nothing changes when the state does not fit.
    ///
    /// # Errors
    ///
    /// [`Error::OptimizerStateMismatch`] when the state belongs to another optimiser kind, when
    /// a parameter is missing, unexpected or of another shape (naming it), or when a buffer is
    /// not one this optimiser keeps or has another shape. Tensor errors from candle.
    pub fn restore(&mut self, state: &OptimizerState) -> Result<()> {
        if std::mem::discriminant(&self.config) != std::mem::discriminant(&state.config) {
            return Err(mismatch(
                None,
                format!(
                    "the state belongs to {} and this optimizer is {}",
                    kind_name(&state.config),
                    kind_name(&self.config)
                ),
            ));
        }
        let steps = i32::try_from(state.steps)
            .map_err(|_| mismatch(None, format!("step count {} is too large", state.steps)))?;

        let by_name: HashMap<&str, &ParameterState> = state
            .parameters
            .iter()
            .map(|parameter| (parameter.name.as_str(), parameter))
            .collect();
        if let Some(extra) = state
            .parameters
            .iter()
            .find(|parameter| !self.names.contains(&parameter.name))
        {
            return Err(mismatch(
                Some(&extra.name),
                format!(
                    "the state has parameter `{}`, which this optimizer does not update; \
                     the state belongs to another model",
                    extra.name
                ),
            ));
        }

        let mut restored = Vec::with_capacity(self.vars.len());
        for (name, var) in self.names.iter().zip(&self.vars) {
            let parameter = by_name.get(name.as_str()).ok_or_else(|| {
                mismatch(
                    Some(name),
                    format!("parameter `{name}` is missing from the state; the state belongs to another model"),
                )
            })?;
            if parameter.shape != var.dims() {
                return Err(mismatch(
                    Some(name),
                    format!(
                        "parameter `{name}` has shape {:?} in the state and {:?} in this optimizer",
                        parameter.shape,
                        var.dims()
                    ),
                ));
            }
            restored.push(self.restore_buffers(name, var.as_tensor(), &parameter.buffers)?);
        }

        self.state = restored;
        self.steps = steps;
        Ok(())
    }

    /// Returns the internal buffer list of one parameter from its named buffers.
    fn restore_buffers(&self, name: &str, param: &Tensor, buffers: &BTreeMap<String, Tensor>) -> Result<Vec<Tensor>> {
        let expected = buffer_names(&self.config);
        if let Some(unknown) = buffers.keys().find(|buffer| !expected.contains(&buffer.as_str())) {
            return Err(mismatch(
                Some(name),
                format!(
                    "parameter `{name}` has buffer `{unknown}`, which {} with this configuration does not keep",
                    kind_name(&self.config)
                ),
            ));
        }
        if buffers.is_empty() {
            return Ok(Vec::new());
        }

        let mut restored = Vec::with_capacity(expected.len());
        for buffer in expected {
            let tensor = buffers
                .get(*buffer)
                .ok_or_else(|| mismatch(Some(name), format!("parameter `{name}` has no buffer `{buffer}`")))?;
            if tensor.dims() != param.dims() {
                return Err(mismatch(
                    Some(name),
                    format!(
                        "buffer `{buffer}` of parameter `{name}` has shape {:?}, the parameter {:?}",
                        tensor.dims(),
                        param.dims()
                    ),
                ));
            }
            restored.push(tensor.to_dtype(param.dtype())?.to_device(param.device())?);
        }
        Ok(restored)
    }
}

impl OptimizerState {
    /// Writes [`STATE_BUFFERS_FILE`] and [`STATE_DESCRIPTION_FILE`] into `dir`, creating it if needed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the file that could not be written.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::io("create", dir, source))?;

        let mut tensors = HashMap::new();
        let mut parameters = Vec::with_capacity(self.parameters.len());
        for parameter in &self.parameters {
            for (buffer, tensor) in &parameter.buffers {
                tensors.insert(format!("{}.{buffer}", parameter.name), tensor.clone());
            }
            parameters.push(ParameterDescription {
                name: parameter.name.clone(),
                shape: parameter.shape.clone(),
                buffers: parameter.buffers.keys().cloned().collect(),
            });
        }
        let description = Description {
            config: self.config.clone(),
            steps: self.steps,
            parameters,
        };

        let buffers_path = dir.join(STATE_BUFFERS_FILE);
        fsl_layers::params::save_safetensors(&tensors, &buffers_path).map_err(|reason| Error::Io {
            action: "write",
            path: buffers_path.clone(),
            source: std::io::Error::other(reason),
        })?;
        let description_path = dir.join(STATE_DESCRIPTION_FILE);
        let json = serde_json::to_string_pretty(&description).map_err(|source| Error::Io {
            action: "write",
            path: description_path.clone(),
            source: source.into(),
        })?;
        std::fs::write(&description_path, json).map_err(|source| Error::io("write", &description_path, source))
    }

    /// Reads a state written by [`save`](Self::save), placing its tensors on `device`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCheckpoint`] naming the file that is missing, unreadable or
    /// inconsistent with the other one.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let description_path = dir.join(STATE_DESCRIPTION_FILE);
        let invalid = |path: &Path, reason: String, source: Option<Error>| Error::InvalidCheckpoint {
            path: path.to_path_buf(),
            reason,
            source: source.map(Box::new),
        };

        let json = std::fs::read_to_string(&description_path).map_err(|source| {
            invalid(
                &description_path,
                format!("cannot read the optimizer description: {source}"),
                Some(Error::io("read", &description_path, source)),
            )
        })?;
        let description: Description = serde_json::from_str(&json).map_err(|source| {
            invalid(
                &description_path,
                format!("the optimizer description is not valid: {source}"),
                Some(Error::Config {
                    path: description_path.clone(),
                    source,
                }),
            )
        })?;

        let buffers_path = dir.join(STATE_BUFFERS_FILE);
        let mut tensors = candle_core::safetensors::load(&buffers_path, device).map_err(|source| {
            invalid(
                &buffers_path,
                format!("cannot read the optimizer buffers: {source}"),
                Some(Error::Candle(source)),
            )
        })?;

        let mut parameters = Vec::with_capacity(description.parameters.len());
        for parameter in description.parameters {
            let mut buffers = BTreeMap::new();
            for buffer in parameter.buffers {
                let key = format!("{}.{buffer}", parameter.name);
                let tensor = tensors
                    .remove(&key)
                    .ok_or_else(|| invalid(&buffers_path, format!("tensor `{key}` is missing"), None))?;
                if tensor.dims() != parameter.shape {
                    return Err(invalid(
                        &buffers_path,
                        format!(
                            "tensor `{key}` has shape {:?}, its parameter {:?}",
                            tensor.dims(),
                            parameter.shape
                        ),
                        None,
                    ));
                }
                buffers.insert(buffer, tensor);
            }
            parameters.push(ParameterState {
                name: parameter.name,
                shape: parameter.shape,
                buffers,
            });
        }
        if let Some(extra) = tensors.keys().min() {
            return Err(invalid(
                &buffers_path,
                format!("tensor `{extra}` belongs to no parameter of {STATE_DESCRIPTION_FILE}"),
                None,
            ));
        }

        Ok(Self {
            config: description.config,
            steps: description.steps,
            parameters,
        })
    }
}
