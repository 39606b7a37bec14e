//! Layers shared by several encoders: bias-free convolution with batch norm, leaky ReLU, dense
//! layers, "same" max pooling, global average pooling, seeded dropout and input-shape checks.

use candle_core::{DType, Tensor};
use fsl_layers::ops::{BatchNorm2d, Conv2d, MaxPool2d};
use fsl_layers::params::ParamBuilder;
use rand::RngExt;
use rand::rngs::StdRng;

use crate::{Error, Result};

/// Negative slope of the leaky ReLU in Darknet and ResNet-12.
pub(crate) const LEAKY_SLOPE: f64 = 0.1;

/// Applies `max(x, 0) + 0.1 · min(x, 0)`.
pub(crate) fn leaky_relu(xs: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::leaky_relu(xs, LEAKY_SLOPE)?)
}

/// Averages every channel over its spatial positions: `N x C x H x W` to `N x C`.
pub(crate) fn global_average_pool(xs: &Tensor) -> Result<Tensor> {
    Ok(xs.flatten_from(2)?.mean(2)?)
}

/// Creates a convolution without bias, with PyTorch's default weight initialisation
/// (uniform in `±1/√fan_in`), for layers followed by batch norm.
pub(crate) fn conv_without_bias(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    params: &ParamBuilder,
) -> Result<Conv2d> {
    let bound = 1.0 / ((in_channels * kernel * kernel) as f64).sqrt();
    let weight = params.uniform("weight", (out_channels, in_channels, kernel, kernel), bound)?;
    Ok(Conv2d::new(weight, None, stride, padding)?)
}

/// A bias-free convolution with zero padding `kernel / 2` followed by batch norm, named
/// `conv.weight` and `bn.*` under its prefix.
#[derive(Debug, Clone)]
pub(crate) struct ConvNorm {
    conv: Conv2d,
    norm: BatchNorm2d,
}

impl ConvNorm {
    pub(crate) fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        params: &ParamBuilder,
    ) -> Result<Self> {
        Ok(Self {
            conv: conv_without_bias(
                in_channels,
                out_channels,
                kernel,
                stride,
                kernel / 2,
                &params.push("conv"),
            )?,
            norm: BatchNorm2d::new(out_channels, &params.push("bn"))?,
        })
    }

    /// Convolves and normalises, without activation.
    pub(crate) fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let xs = self.conv.forward(xs)?;
        Ok(self.norm.forward(&xs, train)?)
    }

    /// Convolves, normalises and applies the leaky ReLU: the Darknet convolution block.
    pub(crate) fn forward_leaky(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        leaky_relu(&self.forward(xs, train)?)
    }
}

/// A fully connected layer `y = x Wᵀ + b` with PyTorch's `nn.Linear` layout (`W` is
/// `out x in`) and default initialisation (uniform in `±1/√in`).
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    pub(crate) fn new(in_features: usize, out_features: usize, params: &ParamBuilder) -> Result<Self> {
        let bound = 1.0 / (in_features as f64).sqrt();
        Ok(Self {
            weight: params.uniform("weight", (out_features, in_features), bound)?,
            bias: params.uniform("bias", out_features, bound)?,
        })
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(xs.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?)
    }
}

/// A 2x2 max pooling with `stride` whose output has `ceil(side / stride)` rows and columns, as
/// TensorFlow's `padding="same"` and Darknet's pooling layer give.
///
/// The missing bottom row and right column are filled with copies of their neighbours. Inside a
/// 2x2 window that equals padding with negative infinity, so a padded value never wins.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SameMaxPool {
    pool: MaxPool2d,
    stride: usize,
}

impl SameMaxPool {
    pub(crate) fn new(stride: usize) -> Result<Self> {
        Ok(Self {
            pool: MaxPool2d::with_geometry((2, 2), (stride, stride), (0, 0))?,
            stride,
        })
    }

    /// Returns the output side for an input side.
    pub(crate) fn output_side(&self, side: usize) -> usize {
        side.div_ceil(self.stride)
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (_, _, height, width) = xs.dims4()?;
        let padding = |side: usize| ((self.output_side(side) - 1) * self.stride + 2).saturating_sub(side);

        let xs = xs
            .pad_with_same(2, 0, padding(height))?
            .pad_with_same(3, 0, padding(width))?;
        Ok(self.pool.forward(&xs)?)
    }
}

/// Checks a dropout rate, which must lie in `[0, 1)`.
pub(crate) fn validate_dropout(name: &'static str, rate: f64) -> Result<()> {
    if !(0.0..1.0).contains(&rate) {
        return Err(Error::InvalidConfig {
            name,
            value: rate.to_string(),
            reason: "a dropout rate must be at least 0 and below 1".into(),
        });
    }
    Ok(())
}

/// Zeroes each value with probability `rate` and scales the kept ones by `1 / (1 - rate)`
/// (inverted dropout, as in PyTorch), drawing the mask from `rng` so that runs repeat.
pub(crate) fn dropout(xs: &Tensor, rate: f64, rng: &mut StdRng) -> Result<Tensor> {
    if rate == 0.0 {
        return Ok(xs.clone());
    }

    let scale = 1.0 / (1.0 - rate);
    let mask: Vec<f64> = (0..xs.elem_count())
        .map(|_| if rng.random::<f64>() < rate { 0.0 } else { scale })
        .collect();
    let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
    Ok((xs * mask)?)
}

/// Checks that `images` is a 4-D batch with `channels` channels and returns its height and
/// width.
pub(crate) fn image_size(images: &Tensor, channels: usize, encoder: &str) -> Result<(usize, usize)> {
    let (_, image_channels, height, width) = images.dims4()?;
    if image_channels != channels {
        return Err(Error::InvalidConfig {
            name: "image channels",
            value: image_channels.to_string(),
            reason: format!("the {encoder} encoder was built for {channels}-channel images"),
        });
    }
    if images.dtype() != DType::F32 && images.dtype() != DType::F64 {
        return Err(Error::InvalidConfig {
            name: "image dtype",
            value: format!("{:?}", images.dtype()),
            reason: "encoders take f32 or f64 images".into(),
        });
    }
    Ok((height, width))
}

/// Checks that `images` has `channels` channels and is exactly `side x side` pixels.
pub(crate) fn expect_square_images(images: &Tensor, channels: usize, side: usize, encoder: &str) -> Result<()> {
    let (height, width) = image_size(images, channels, encoder)?;
    if (height, width) != (side, side) {
        return Err(Error::InvalidConfig {
            name: "image size",
            value: format!("{height}x{width}"),
            reason: format!("the {encoder} encoder was built for {side}x{side} images; resize them or set image_size"),
        });
    }
    Ok(())
}

/// Checks that `images` has `channels` channels and is at least `min_side` pixels high and wide.
pub(crate) fn expect_min_images(images: &Tensor, channels: usize, min_side: usize, encoder: &str) -> Result<()> {
    let (height, width) = image_size(images, channels, encoder)?;
    if height < min_side || width < min_side {
        return Err(Error::InvalidConfig {
            name: "image size",
            value: format!("{height}x{width}"),
            reason: format!("the {encoder} encoder needs images of at least {min_side}x{min_side} pixels"),
        });
    }
    Ok(())
}

/// Rejects a zero `value` of the configuration field `name`, which counts `quantity`.
pub(crate) fn require_positive(name: &'static str, value: usize, quantity: &str) -> Result<()> {
    if value == 0 {
        return Err(Error::InvalidConfig {
            name,
            value: "0".into(),
            reason: format!("{quantity} must be at least 1"),
        });
    }
    Ok(())
}
