//! 2-D convolution with CPU forward and backward passes of its own.
//!
//! candle 0.11.1 computes convolution gradients through transposed convolutions, which dominate
//! a training step on the CPU. Here the forward pass and both gradients are small matrix
//! products per image (see `conv_kernel`), and no gradient is computed for an input that does
//! not need one, such as the images fed to the first layer.

use candle_core::Tensor;

use super::conv_kernel::ConvKernel;
use super::im2col::Patches;
use crate::params::ParamBuilder;
use crate::{Error, Result};

/// A 2-D convolution over `N x C x H x W` tensors with a square kernel and zero padding.
#[derive(Debug, Clone)]
pub struct Conv2d {
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) patches: Patches,
}

impl Conv2d {
    /// Wraps a `C_out x C_in x K x K` weight and an optional `C_out` bias.
    pub fn new(weight: Tensor, bias: Option<Tensor>, stride: usize, padding: usize) -> Result<Self> {
        let (out_channels, _, kernel_height, kernel_width) = weight.dims4()?;
        if kernel_height != kernel_width {
            return Err(Error::InvalidArgument {
                name: "kernel",
                value: format!("{kernel_height}x{kernel_width}"),
                reason: "only square kernels are supported",
            });
        }
        if stride == 0 {
            return Err(Error::InvalidArgument {
                name: "stride",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        if let Some(bias) = bias.as_ref().filter(|bias| bias.dims() != [out_channels]) {
            return Err(Error::ShapeMismatch {
                operation: "conv2d",
                details: format!("bias of shape {:?} for {out_channels} output channels", bias.dims()),
            });
        }
        Ok(Self {
            weight,
            bias,
            patches: Patches {
                kernel: kernel_height,
                stride,
                padding,
            },
        })
    }

    /// Creates a convolution with PyTorch's default initialisation: weight and bias uniform in
    /// `±1/√fan_in` (Kaiming uniform with `a = √5` for the weight).
    pub fn init(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        params: &ParamBuilder,
    ) -> Result<Self> {
        let bound = 1.0 / ((in_channels * kernel * kernel) as f64).sqrt();
        let weight = params.uniform("weight", (out_channels, in_channels, kernel, kernel), bound)?;
        let bias = params.uniform("bias", out_channels, bound)?;
        Self::new(weight, Some(bias), stride, padding)
    }

    /// Returns the weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Convolves `xs` with candle's own `conv2d` and its gradient, the stock path kept for
    /// comparison with [`forward`](Self::forward).
    pub fn forward_candle(&self, xs: &Tensor) -> Result<Tensor> {
        let ys = xs.conv2d(&self.weight, self.patches.padding, self.patches.stride, 1, 1)?;
        match &self.bias {
            Some(bias) => Ok(ys.broadcast_add(&bias.reshape((1, bias.dims1()?, 1, 1))?)?),
            None => Ok(ys),
        }
    }

    /// Convolves `xs`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.check_input(xs)?;
        let bias = self.bias_or_zeros(xs)?;
        Ok(xs.contiguous()?.apply_op3(
            &self.weight.contiguous()?,
            &bias.contiguous()?,
            ConvKernel(self.patches),
        )?)
    }

    /// Checks that `xs` has the weight's input channels and is at least the kernel's size.
    pub(crate) fn check_input(&self, xs: &Tensor) -> Result<()> {
        let (_, channels, height, width) = xs.dims4()?;
        let (_, in_channels, _, _) = self.weight.dims4()?;
        if channels != in_channels {
            return Err(Error::ShapeMismatch {
                operation: "conv2d",
                details: format!("input has {channels} channels, the weight expects {in_channels}"),
            });
        }
        if self.patches.output_size(height, width).is_none() {
            return Err(Error::ShapeMismatch {
                operation: "conv2d",
                details: format!(
                    "input of {height}x{width} is smaller than the kernel {}",
                    self.patches.kernel
                ),
            });
        }
        Ok(())
    }

    /// Returns the bias, or zeros of the dtype of `xs` for a convolution without one.
    pub(crate) fn bias_or_zeros(&self, xs: &Tensor) -> Result<Tensor> {
        match &self.bias {
            Some(bias) => Ok(bias.clone()),
            None => Ok(Tensor::zeros(self.weight.dims()[0], xs.dtype(), xs.device())?),
        }
    }
}
