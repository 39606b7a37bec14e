//! One image from encoded bytes to `C x H x W` values in [0, 1].

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, Luma, Pixel};

use super::crop::CropBox;
use crate::error::{Error, Result};

/// The colour channels of decoded values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Channels {
    /// One luma channel. Colour images are converted with the Rec. 709 weights
    /// 0.2126 R + 0.7152 G + 0.0722 B, the weights of the `image` crate, computed in `f32`.
    #[default]
    Gray,
    /// Red, green and blue channels. Grayscale images repeat their value in all three.
    Rgb,
}

impl Channels {
    /// Returns the number of channels, 1 or 3.
    pub fn count(self) -> usize {
        match self {
            Channels::Gray => 1,
            Channels::Rgb => 3,
        }
    }
}

/// The output size, channels, resize filter and polarity of decoded images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Output width in pixels.
    pub width: u32,
    /// Output height in pixels.
    pub height: u32,
    /// Grayscale or RGB output.
    pub channels: Channels,
    /// The filter used when the (cropped) image size differs from the output size.
    pub filter: FilterType,
    /// Output `1 - value`, the Omniglot convention where ink is 1 and background 0.
    pub invert: bool,
}

impl DecodeOptions {
    /// Creates options for `width` x `height` grayscale output with the antialiasing triangle
    /// (bilinear) filter and no inversion.
    pub fn new(width: u32, height: u32) -> Self {
        DecodeOptions {
            width,
            height,
            channels: Channels::Gray,
            filter: FilterType::Triangle,
            invert: false,
        }
    }

    /// Sets the output channels.
    pub fn with_channels(mut self, channels: Channels) -> Self {
        self.channels = channels;
        self
    }

    /// Sets the resize filter.
    pub fn with_filter(mut self, filter: FilterType) -> Self {
        self.filter = filter;
        self
    }

    /// Sets whether values are inverted.
    pub fn with_invert(mut self, invert: bool) -> Self {
        self.invert = invert;
        self
    }

    /// Returns the number of values of one decoded image, `channels * height * width`.
    pub fn values_per_image(&self) -> usize {
        self.channels.count() * self.height as usize * self.width as usize
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.width == 0 || self.height == 0 {
            return Err(Error::InvalidArgument(format!(
                "output size {}x{} has a zero side; use a width and height of at least 1",
                self.width, self.height
            )));
        }
        Ok(())
    }
}

/// Decodes PNG or JPEG bytes to `channels x height x width` values in [0, 1], row-major within
/// each channel.
///
/// The steps are: decode, crop to `crop` when given, convert to `f32` luma or RGB, resize with
/// `options.filter` when the size differs, then invert when requested. Conversion to `f32`
/// divides by the maximum of the stored depth. So 16-bit PNGs keep their precision (32768 is
/// 32768 / 65535) and 1-bit PNGs give 0 and 1. Palette PNGs are expanded to their colours
/// first. Filters that overshoot (Catmull-Rom, Lanczos3) are clamped to [0, 1]
/// by the `image` crate. An alpha channel is dropped.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a zero output side, [`Error::Decode`] naming `source_name`
/// for unknown or corrupt data, and [`Error::InvalidCrop`] naming `source_name` when the box
/// is empty or extends past the image.
pub fn decode_image(
    bytes: &[u8],
    source_name: &str,
    crop: Option<CropBox>,
    options: &DecodeOptions,
) -> Result<Vec<f32>> {
    options.validate()?;
    let mut image = image::load_from_memory(bytes).map_err(|source| Error::Decode {
        source_name: source_name.to_owned(),
        source,
    })?;

    if let Some(crop) = crop {
        crop.check(image.width(), image.height(), source_name)?;
        image = image.crop_imm(crop.x, crop.y, crop.width, crop.height);
    }

    let mut values = match options.channels {
        Channels::Gray => resized_values(luma32f(&image), options),
        Channels::Rgb => planar(&resized_values(image.to_rgb32f(), options), 3),
    };

    if options.invert {
        for value in &mut values {
            *value = 1.0 - *value;
        }
    }
    Ok(values)
}

/// Converts to `f32` luma. The `image` crate converts colour to luma through an integer
/// intermediate, which is off by up to 1e-4 from the Rec. 709 sum, so colour images are
/// weighted here in `f32`.
fn luma32f(image: &DynamicImage) -> ImageBuffer<Luma<f32>, Vec<f32>> {
    if !image.color().has_color() {
        return image.to_luma32f();
    }

    let rgb = image.to_rgb32f();
    ImageBuffer::from_fn(rgb.width(), rgb.height(), |x, y| {
        let [red, green, blue] = rgb.get_pixel(x, y).0;
        // Rounding can push white just past 1.
        Luma([(0.2126 * red + 0.7152 * green + 0.0722 * blue).min(1.0)])
    })
}

/// Returns the interleaved values of `image`, resized to the output size when it differs.
fn resized_values<P>(image: ImageBuffer<P, Vec<f32>>, options: &DecodeOptions) -> Vec<f32>
where
    P: Pixel<Subpixel = f32> + 'static,
{
    if image.dimensions() == (options.width, options.height) {
        return image.into_raw();
    }

    imageops::resize(&image, options.width, options.height, options.filter).into_raw()
}

/// Reorders interleaved `H x W x C` values to planar `C x H x W`, the layout of convolution
/// inputs in candle and PyTorch.
fn planar(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let pixels = interleaved.len() / channels;
    let mut values = vec![0.0; interleaved.len()];
    for (pixel, chunk) in interleaved.chunks_exact(channels).enumerate() {
        for (channel, &value) in chunk.iter().enumerate() {
            values[channel * pixels + pixel] = value;
        }
    }
    values
}
