//! Channel value types the augmenters accept: `u8` levels in [0, 255] and `f32` values in [0, 1].

use image::{ImageBuffer, Luma, Pixel, Primitive, Rgb};
use imageproc::definitions::Clamp;

/// A grayscale image with one `f32` value per pixel, 0 black and 1 white.
pub type GrayImageF32 = ImageBuffer<Luma<f32>, Vec<f32>>;

/// An RGB image with `f32` channel values, 0 black and 1 full intensity.
pub type RgbImageF32 = ImageBuffer<Rgb<f32>, Vec<f32>>;

/// A channel value type: `u8` with white at 255, or `f32` with white at 1.
///
/// Parameters given in 8-bit levels (fill values, brightness offsets, noise spread) are divided
/// by 255 for `f32` images, so one configuration acts alike on both.
pub(crate) trait Sample: Primitive + Into<f32> + Clamp<f32> + Send + Sync + 'static {
    /// The value of white.
    const WHITE: f64;

    /// Converts to `f64` in the type's own units.
    fn to_f64(self) -> f64;

    /// Converts from `f64` in the type's own units, clamping to [0, white]; `u8` rounds to the
    /// nearest level.
    fn from_f64(value: f64) -> Self;

    /// Converts an 8-bit level.
    fn from_level(level: u8) -> Self {
        Self::from_f64(f64::from(level) / 255.0 * Self::WHITE)
    }

    /// Returns the values as 8-bit levels when the type is `u8`, so that integer fast paths
    /// can take over; `None` for `f32`.
    fn as_levels(values: &[Self]) -> Option<&[u8]>;

    /// Mutable form of [`as_levels`](Sample::as_levels).
    fn as_levels_mut(values: &mut [Self]) -> Option<&mut [u8]>;

    /// Takes 8-bit levels back as values of this type; `None` unless the type is `u8`.
    fn from_levels(levels: Vec<u8>) -> Option<Vec<Self>>;
}

impl Sample for u8 {
    const WHITE: f64 = 255.0;

    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn from_f64(value: f64) -> Self {
        value.round().clamp(0.0, 255.0) as u8
    }

    fn from_level(level: u8) -> Self {
        level
    }

    fn as_levels(values: &[Self]) -> Option<&[u8]> {
        Some(values)
    }

    fn as_levels_mut(values: &mut [Self]) -> Option<&mut [u8]> {
        Some(values)
    }

    fn from_levels(levels: Vec<u8>) -> Option<Vec<Self>> {
        Some(levels)
    }
}

impl Sample for f32 {
    const WHITE: f64 = 1.0;

    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn from_f64(value: f64) -> Self {
        value.clamp(0.0, 1.0) as f32
    }

    fn as_levels(_values: &[Self]) -> Option<&[u8]> {
        None
    }

    fn as_levels_mut(_values: &mut [Self]) -> Option<&mut [u8]> {
        None
    }

    fn from_levels(_levels: Vec<u8>) -> Option<Vec<Self>> {
        None
    }
}

/// A pixel type every augmenter handles: gray or RGB, `u8` or `f32`.
pub(crate) trait AugmentPixel: Pixel<Subpixel: Sample> + Send + Sync + 'static {}

impl<P> AugmentPixel for P
where
    P: Pixel + Send + Sync + 'static,
    P::Subpixel: Sample,
{
}

/// An image buffer of an [`AugmentPixel`] type.
pub(crate) type Image<P> = ImageBuffer<P, Vec<<P as Pixel>::Subpixel>>;

/// Builds a pixel with every channel set to the 8-bit level `level`.
pub(crate) fn uniform_pixel<P: AugmentPixel>(level: u8) -> P {
    let value = P::Subpixel::from_level(level);
    let channels = [value; 4];

    *P::from_slice(&channels[..usize::from(P::CHANNEL_COUNT)])
}

/// Copies an image into `f32` values in the same units (0 to 255 for `u8`), for filters whose
/// intermediate values must not be rounded.
pub(crate) fn to_f32_units<P: AugmentPixel>(image: &Image<P>) -> Vec<f32> {
    image.as_raw().iter().map(|&value| value.into()).collect()
}

/// Builds an image of `P` from `f32` values in the type's own units, rounding and clamping.
pub(crate) fn from_f32_units<P: AugmentPixel>(width: u32, height: u32, values: &[f32]) -> Image<P> {
    let raw: Vec<P::Subpixel> = values
        .iter()
        .map(|&value| P::Subpixel::from_f64(f64::from(value)))
        .collect();

    ImageBuffer::from_raw(width, height, raw).expect("one value per channel of every pixel")
}

/// Returns the raw channel values of a `u8` image, or `None` for an `f32` image.
pub(crate) fn levels<P: AugmentPixel>(image: &Image<P>) -> Option<&[u8]> {
    P::Subpixel::as_levels(image.as_raw())
}

/// Returns the raw channel values of a `u8` image for writing, or `None` for an `f32` image.
pub(crate) fn levels_mut<P: AugmentPixel>(image: &mut Image<P>) -> Option<&mut [u8]> {
    P::Subpixel::as_levels_mut(image)
}

/// Builds an image of `P` from 8-bit levels computed by a fast path that [`levels`] enabled.
///
/// # Panics
///
/// When `P` is not a `u8` pixel type or `values` does not contain one value per channel of every
/// pixel. Both are bugs of the caller, because it only gets here after [`levels`] returned `Some`.
pub(crate) fn image_from_levels<P: AugmentPixel>(width: u32, height: u32, values: Vec<u8>) -> Image<P> {
    let raw = P::Subpixel::from_levels(values).expect("a fast path for 8-bit levels runs only on u8 images");

    ImageBuffer::from_raw(width, height, raw).expect("one value per channel of every pixel")
}
