//! Named, seeded parameters: one construction path for fresh models and for checkpoints.
//!
//! Every parameter gets a dotted name from the prefixes of the modules that own it
//! (`block0.conv.weight`). Its initial values come from a random generator seeded by the model
//! seed and that name, so initial weights do not depend on the order in which modules are built.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor, Var};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::{Error, Result};

/// Whether the optimiser updates a parameter or the module maintains it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Updated by gradient descent.
    Trainable,
    /// Maintained by the module, such as batch-norm running statistics.
    Buffer,
}

#[derive(Debug, Default)]
struct Entries {
    values: BTreeMap<String, (Var, ParamKind)>,
}

/// The parameters of one model, shared by the modules that created them.
#[derive(Debug, Clone)]
pub struct ParamStore {
    entries: Arc<Mutex<Entries>>,
    seed: u64,
    device: Device,
    dtype: DType,
}

impl ParamStore {
    /// Creates an empty store whose parameters are initialised from `seed`.
    pub fn new(seed: u64, dtype: DType, device: &Device) -> Self {
        Self {
            entries: Arc::default(),
            seed,
            device: device.clone(),
            dtype,
        }
    }

    /// Returns a builder that creates parameters under `prefix`.
    pub fn builder(&self) -> ParamBuilder {
        ParamBuilder {
            store: self.clone(),
            prefix: String::new(),
        }
    }

    /// Returns the device of every parameter.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Returns the parameters the optimiser should update, sorted by name.
    pub fn trainable(&self) -> Vec<Var> {
        self.lock()
            .values
            .values()
            .filter(|(_, kind)| *kind == ParamKind::Trainable)
            .map(|(var, _)| var.clone())
            .collect()
    }

    /// Returns every parameter and buffer by name.
    pub fn tensors(&self) -> BTreeMap<String, Tensor> {
        self.lock()
            .values
            .iter()
            .map(|(name, (var, _))| (name.clone(), var.as_tensor().clone()))
            .collect()
    }

    /// Writes every parameter and buffer to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tensors: HashMap<String, Tensor> = self.tensors().into_iter().collect();
        save_safetensors(&tensors, path).map_err(|reason| Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Replaces the value of every parameter with the one stored in a safetensors file.
    ///
    /// The file must hold exactly the store's names with the same shapes, so a checkpoint of a
    /// different architecture is rejected rather than partially loaded.
    pub fn load(&self, path: &Path) -> Result<()> {
        let loaded = candle_core::safetensors::load(path, &self.device).map_err(|error| Error::Checkpoint {
            path: path.to_path_buf(),
            reason: format!("failed to read safetensors: {error}"),
        })?;

        let entries = self.lock();
        let checkpoint_error = |reason: String| Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(extra) = loaded.keys().find(|name| !entries.values.contains_key(*name)) {
            return Err(checkpoint_error(format!(
                "unexpected tensor `{extra}`; the checkpoint belongs to another model"
            )));
        }
        for (name, (var, _)) in &entries.values {
            let value = loaded
                .get(name)
                .ok_or_else(|| checkpoint_error(format!("missing tensor `{name}`")))?;
            if value.shape() != var.shape() {
                return Err(checkpoint_error(format!(
                    "tensor `{name}` has shape {:?}, the model expects {:?}",
                    value.dims(),
                    var.dims()
                )));
            }
            var.set(&value.to_dtype(self.dtype)?)?;
        }
        Ok(())
    }

    /// Copies the current value of every buffer, such as batch-norm running statistics, so that
    /// [`restore_buffers`](Self::restore_buffers) can undo the updates of a training forward pass
    /// that fails partway through the network.
    pub fn snapshot_buffers(&self) -> Result<BufferSnapshot> {
        let entries = self.lock();
        let mut values = Vec::new();
        for (var, kind) in entries.values.values() {
            if *kind == ParamKind::Buffer {
                // `copy` gives new storage: `Var::set` later writes into the old one in place.
                values.push((var.clone(), var.as_tensor().copy()?));
            }
        }
        Ok(BufferSnapshot { values })
    }

    /// Writes the values of `snapshot` back into the buffers it was taken from.
    pub fn restore_buffers(&self, snapshot: &BufferSnapshot) -> Result<()> {
        for (var, value) in &snapshot.values {
            var.set(value)?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A poisoned lock means another thread panicked while inserting; the map itself is
        // still consistent because every insertion is a single call.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Copies of the buffers of a [`ParamStore`], from [`ParamStore::snapshot_buffers`].
#[derive(Debug, Clone)]
pub struct BufferSnapshot {
    values: Vec<(Var, Tensor)>,
}

/// Creates parameters named under a prefix in a [`ParamStore`].
#[derive(Debug, Clone)]
pub struct ParamBuilder {
    store: ParamStore,
    prefix: String,
}

impl ParamBuilder {
    /// Returns a builder for the sub-module `name`.
    pub fn push(&self, name: &str) -> Self {
        let prefix = if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        };
        Self {
            store: self.store.clone(),
            prefix,
        }
    }

    /// Returns the device parameters are created on.
    pub fn device(&self) -> &Device {
        &self.store.device
    }

    /// Creates a trainable parameter drawn uniformly from `[-bound, bound]`.
    pub fn uniform(&self, name: &str, shape: impl Into<Shape>, bound: f64) -> Result<Tensor> {
        let shape = shape.into();
        let full_name = self.full_name(name);
        let mut rng = StdRng::seed_from_u64(self.store.seed ^ fnv1a(&full_name));
        let values: Vec<f64> = (0..shape.elem_count())
            .map(|_| rng.random_range(-bound..=bound))
            .collect();
        self.insert(
            full_name,
            Tensor::from_vec(values, shape, &self.store.device)?,
            ParamKind::Trainable,
        )
    }

    /// Creates a parameter filled with `value`.
    pub fn constant(&self, name: &str, shape: impl Into<Shape>, value: f64, kind: ParamKind) -> Result<Tensor> {
        let tensor = Tensor::full(value, shape.into(), &self.store.device)?;
        self.insert(self.full_name(name), tensor, kind)
    }

    /// Returns the variable behind a parameter created earlier, for modules that update buffers.
    pub fn var(&self, name: &str) -> Option<Var> {
        let full_name = self.full_name(name);
        self.store.lock().values.get(&full_name).map(|(var, _)| var.clone())
    }

    fn insert(&self, full_name: String, values: Tensor, kind: ParamKind) -> Result<Tensor> {
        let var = Var::from_tensor(&values.to_dtype(self.store.dtype)?)?;
        let tensor = var.as_tensor().clone();
        let previous = self.store.lock().values.insert(full_name.clone(), (var, kind));
        if previous.is_some() {
            return Err(Error::InvalidArgument {
                name: "parameter name",
                value: full_name,
                reason: "two parameters of one model share this name",
            });
        }
        Ok(tensor)
    }

    fn full_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }
}

/// Hashes a parameter name with 64-bit FNV-1a: stable across platforms and Rust versions,
/// unlike the standard library's hasher.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes `tensors` to a safetensors file readable by every user, like the JSON files written
/// beside it.
///
/// safetensors writes through a temporary file, which is created with mode 0600 on Unix, so the
/// file gets mode 0644 afterwards.
///
/// # Errors
///
/// A message naming the failed step.
pub fn save_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> std::result::Result<(), String> {
    candle_core::safetensors::save(tensors, path).map_err(|error| format!("failed to write safetensors: {error}"))?;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|error| format!("failed to make the file readable: {error}"))?;
    }
    Ok(())
}
