//! Batch normalisation over the channels of `N x C x H x W` tensors.

use candle_core::{Tensor, Var};

use super::max_pool::MaxPool2d;
use super::normalize::Normalize;
use super::normalize_pool::NormalizePool;
use crate::params::{ParamBuilder, ParamKind};
use crate::{Error, Result};

/// Batch normalisation with learnt scale and shift and running statistics for evaluation.
///
/// In training mode it normalises with the batch statistics and moves the running mean and the
/// unbiased running variance towards them by `momentum`. In evaluation mode it normalises with
/// the running statistics and changes nothing.
#[derive(Debug, Clone)]
pub struct BatchNorm2d {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    running_mean: Var,
    running_var: Var,
    pub(crate) eps: f64,
    momentum: f64,
}

impl BatchNorm2d {
    /// Creates the parameters of a batch norm over `channels` channels (eps 1e-5, momentum 0.1).
    pub fn new(channels: usize, params: &ParamBuilder) -> Result<Self> {
        let weight = params.constant("weight", channels, 1.0, ParamKind::Trainable)?;
        let bias = params.constant("bias", channels, 0.0, ParamKind::Trainable)?;
        params.constant("running_mean", channels, 0.0, ParamKind::Buffer)?;
        params.constant("running_var", channels, 1.0, ParamKind::Buffer)?;

        let buffer = |name: &str| {
            params.var(name).ok_or(Error::InvalidArgument {
                name: "batch norm buffer",
                value: name.to_string(),
                reason: "was not registered",
            })
        };
        Ok(Self {
            weight,
            bias,
            running_mean: buffer("running_mean")?,
            running_var: buffer("running_var")?,
            eps: 1e-5,
            momentum: 0.1,
        })
    }

    /// Normalises `xs`; `train` selects batch statistics and updates the running ones.
    ///
    /// Training on a single value per channel is an error: its variance is undefined, and
    /// PyTorch-style updates would store NaN in the running variance.
    pub fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let (batch, height, width) = self.check_input(xs, train)?;
        if train {
            let (normalized, statistics) = Normalize::new(self.eps).apply(xs, &self.weight, &self.bias)?;
            self.update_running_statistics(&statistics.mean, &statistics.variance, batch * height * width)?;
            Ok(normalized)
        } else {
            self.forward_eval(xs)
        }
    }

    /// Normalises `xs` and max-pools the result with `pool`: the values and gradients of
    /// `pool.forward(&self.forward(xs, train)?)`.
    ///
    /// In training mode one fused operation does both, so the full-size normalised tensor and
    /// its gradient are never materialised: a Conv-4 block then keeps a quarter of the
    /// activations in the autograd graph.
    pub fn forward_pooled(&self, xs: &Tensor, train: bool, pool: &MaxPool2d) -> Result<Tensor> {
        let (batch, height, width) = self.check_input(xs, train)?;
        pool.output_size(height, width)?;
        if !train {
            return pool.forward(&self.forward_eval(xs)?);
        }

        let (pooled, statistics) = NormalizePool::new(self.eps, *pool).apply(xs, &self.weight, &self.bias)?;
        self.update_running_statistics(&statistics.mean, &statistics.variance, batch * height * width)?;
        Ok(pooled)
    }

    /// Checks the channel count, and in training mode that each channel has two values or more;
    /// returns the batch size, height and width.
    pub(crate) fn check_input(&self, xs: &Tensor, train: bool) -> Result<(usize, usize, usize)> {
        let (batch, channels, height, width) = xs.dims4()?;
        self.check_dims((batch, channels, height, width), train)?;
        Ok((batch, height, width))
    }

    /// Checks an input of `(batch, channels, height, width)` as [`check_input`](Self::check_input)
    /// does, for callers that know the shape before the tensor exists.
    pub(crate) fn check_dims(
        &self,
        (batch, channels, height, width): (usize, usize, usize, usize),
        train: bool,
    ) -> Result<()> {
        if channels != self.weight.dims1()? {
            return Err(Error::ShapeMismatch {
                operation: "batch_norm",
                details: format!("input has {channels} channels, the layer {}", self.weight.dims1()?),
            });
        }
        if train && batch * height * width < 2 {
            return Err(Error::InvalidArgument {
                name: "batch size",
                value: format!("{batch} (with {height}x{width} positions)"),
                reason: "training batch norm needs at least two values per channel; evaluate single images in evaluation mode",
            });
        }
        Ok(())
    }

    /// Normalises with the running statistics: `y = γ (x - μ) / σ + β = x · scale + (β - μ ·
    /// scale)`, one pass over the data.
    pub(crate) fn forward_eval(&self, xs: &Tensor) -> Result<Tensor> {
        let channels = self.weight.dims1()?;
        let shape = (1, channels, 1, 1);
        let scale = (&self.weight / (self.running_var.as_tensor() + self.eps)?.sqrt()?)?;
        let shift = (&self.bias - (self.running_mean.as_tensor() * &scale)?)?;
        Ok(xs
            .broadcast_mul(&scale.reshape(shape)?)?
            .broadcast_add(&shift.reshape(shape)?)?)
    }

    /// Normalises `xs` with candle's generic tensor operations and their autograd, the stock path
    /// kept for comparison with [`forward`](Self::forward). Values and running statistics are
    /// the same, and so are the errors.
    pub fn forward_candle(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let (batch, channels, height, width) = xs.dims4()?;
        if !train || batch * height * width < 2 || channels != self.weight.dims1()? {
            return self.forward(xs, train);
        }

        let shape = (1, channels, 1, 1);
        let mean = xs.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3)?;
        let centred = xs.broadcast_sub(&mean)?;
        let variance = centred.sqr()?.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3)?;
        let normalized = centred.broadcast_div(&(&variance + self.eps)?.sqrt()?)?;
        let ys = normalized
            .broadcast_mul(&self.weight.reshape(shape)?)?
            .broadcast_add(&self.bias.reshape(shape)?)?;

        let to_host = |t: &Tensor| -> Result<Vec<f64>> {
            Ok(t.flatten_all()?.to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?)
        };
        self.update_running_statistics(&to_host(&mean)?, &to_host(&variance)?, batch * height * width)?;
        Ok(ys)
    }

    /// Moves the running mean and the unbiased running variance towards the batch statistics.
    pub(crate) fn update_running_statistics(&self, mean: &[f64], variance: &[f64], count: usize) -> Result<()> {
        let correction = count as f64 / (count as f64 - 1.0);
        let keep = 1.0 - self.momentum;
        let device = self.running_mean.device();
        let dtype = self.running_mean.dtype();

        let batch_mean = candle_core::Tensor::new(mean, device)?.to_dtype(dtype)?;
        let batch_var = (candle_core::Tensor::new(variance, device)?.to_dtype(dtype)? * correction)?;
        self.running_mean
            .set(&((self.running_mean.as_tensor() * keep)? + (batch_mean * self.momentum)?)?)?;
        self.running_var
            .set(&((self.running_var.as_tensor() * keep)? + (batch_var * self.momentum)?)?)?;
        Ok(())
    }

    /// Returns the running mean and variance.
    pub fn running_statistics(&self) -> (Tensor, Tensor) {
        (
            self.running_mean.as_tensor().clone(),
            self.running_var.as_tensor().clone(),
        )
    }
}
