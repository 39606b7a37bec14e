//! Random affine distortion: rotation, shear, scale and translation about the image centre.

use image::ImageBuffer;
use imageproc::geometric_transformations::{Border, Projection, warp};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::augmenter::forward_augmenter;
use crate::config::AugmenterConfig;
use crate::error::Result;
use crate::pixel::{AugmentPixel, Image, image_from_levels, levels, uniform_pixel};
use crate::range::{UniformRange, check_probability};
use crate::warp_levels::{InverseAffine, LevelInterpolation, warp_levels};

/// Interpolation method of a geometric transformation between input pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// The nearest input pixel.
    Nearest,
    /// Bilinear interpolation of the four nearest input pixels.
    #[default]
    Bilinear,
    /// Bicubic interpolation of the sixteen nearest input pixels.
    Bicubic,
}

impl Interpolation {
    /// Returns the interpolation of the fixed-point path for `u8` images, if it has one.
    fn for_levels(self) -> Option<LevelInterpolation> {
        match self {
            Self::Nearest => Some(LevelInterpolation::Nearest),
            Self::Bilinear => Some(LevelInterpolation::Bilinear),
            Self::Bicubic => None,
        }
    }

    pub(crate) fn to_imageproc(self) -> imageproc::geometric_transformations::Interpolation {
        use imageproc::geometric_transformations::Interpolation as Imageproc;

        match self {
            Self::Nearest => Imageproc::Nearest,
            Self::Bilinear => Imageproc::Bilinear,
            Self::Bicubic => Imageproc::Bicubic,
        }
    }
}

/// Parameters of an [`Affine`] augmenter, checked by [`AffineConfig::build`].
///
/// A point `p` of the input moves to `c + R·H·S·(p − c) + t`, where `c` is the image centre
/// (`((width − 1) / 2, (height − 1) / 2)` in pixel-centre coordinates), `R` the rotation, `H` the
/// shear `[[1, shear_x], [shear_y, 1]]`, `S` the scale `diag(scale_x, scale_y)` and `t` the
/// translation. Positive angles turn the image clockwise as displayed (y points down). Every
/// value is drawn uniformly from its range, each axis independently.
///
/// The four components (rotation, shear, scale, translation) are each applied with
/// `component_probability`, decided independently per image; a component left out takes its
/// neutral value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffineConfig {
    rotation_degrees: (f32, f32),
    shear_x: (f32, f32),
    shear_y: (f32, f32),
    scale_x: (f32, f32),
    scale_y: (f32, f32),
    translate_x: (f32, f32),
    translate_y: (f32, f32),
    fill: u8,
    interpolation: Interpolation,
    component_probability: f32,
}

impl Default for AffineConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl AffineConfig {
    /// Builds the identity: no rotation, shear or translation, scale 1, fill 0, every component applied.
    pub fn new() -> Self {
        Self {
            rotation_degrees: (0.0, 0.0),
            shear_x: (0.0, 0.0),
            shear_y: (0.0, 0.0),
            scale_x: (1.0, 1.0),
            scale_y: (1.0, 1.0),
            translate_x: (0.0, 0.0),
            translate_y: (0.0, 0.0),
            fill: 0,
            interpolation: Interpolation::Bilinear,
            component_probability: 1.0,
        }
    }

    /// Builds the distortion of Koch, Zemel and Salakhutdinov (2015), "Siamese Neural Networks for
    /// One-shot Image Recognition": rotation in [-10°, 10°], shear in [-0.3, 0.3], scale in
    /// [0.8, 1.2] and translation in [-2, 2] px, each of the four components applied with
    /// probability 0.5.
    ///
    /// The fill is 255 because Omniglot images are black strokes on a white background; use
    /// [`with_fill(0)`](Self::with_fill) for inverted images.
    pub fn omniglot() -> Self {
        Self::new()
            .with_rotation_degrees(-10.0, 10.0)
            .with_shear(-0.3, 0.3)
            .with_scale(0.8, 1.2)
            .with_translation(-2.0, 2.0)
            .with_fill(255)
            .with_component_probability(0.5)
    }

    /// Rotation range in degrees; positive turns clockwise.
    pub fn with_rotation_degrees(mut self, min: f32, max: f32) -> Self {
        self.rotation_degrees = (min, max);
        self
    }

    /// Shear range for both axes, each drawn independently; must lie inside (-1, 1).
    pub fn with_shear(self, min: f32, max: f32) -> Self {
        self.with_shear_x(min, max).with_shear_y(min, max)
    }

    /// Horizontal shear range: x moves by `shear_x · y`.
    pub fn with_shear_x(mut self, min: f32, max: f32) -> Self {
        self.shear_x = (min, max);
        self
    }

    /// Vertical shear range: y moves by `shear_y · x`.
    pub fn with_shear_y(mut self, min: f32, max: f32) -> Self {
        self.shear_y = (min, max);
        self
    }

    /// Scale range for both axes, each drawn independently; must be positive.
    pub fn with_scale(self, min: f32, max: f32) -> Self {
        self.with_scale_x(min, max).with_scale_y(min, max)
    }

    /// Horizontal scale range.
    pub fn with_scale_x(mut self, min: f32, max: f32) -> Self {
        self.scale_x = (min, max);
        self
    }

    /// Vertical scale range.
    pub fn with_scale_y(mut self, min: f32, max: f32) -> Self {
        self.scale_y = (min, max);
        self
    }

    /// Translation range in pixels for both axes, each drawn independently.
    pub fn with_translation(self, min: f32, max: f32) -> Self {
        self.with_translation_x(min, max).with_translation_y(min, max)
    }

    /// Horizontal translation range in pixels; positive moves right.
    pub fn with_translation_x(mut self, min: f32, max: f32) -> Self {
        self.translate_x = (min, max);
        self
    }

    /// Vertical translation range in pixels; positive moves down.
    pub fn with_translation_y(mut self, min: f32, max: f32) -> Self {
        self.translate_y = (min, max);
        self
    }

    /// Value written to every channel of output pixels whose source lies outside the image.
    pub fn with_fill(mut self, fill: u8) -> Self {
        self.fill = fill;
        self
    }

    /// Interpolation between input pixels; bilinear by default.
    pub fn with_interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// Probability, in [0, 1], that each of the four components is applied to an image.
    pub fn with_component_probability(mut self, p: f32) -> Self {
        self.component_probability = p;
        self
    }

    /// Checks every range and the probability.
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`](crate::Error::NotFinite) or
    /// [`Error::ReversedRange`](crate::Error::ReversedRange) for any range,
    /// [`Error::OutOfRange`](crate::Error::OutOfRange) for a shear outside (-1, 1), a scale
    /// that is not positive, or a probability outside [0, 1].
    pub fn build(self) -> Result<Affine> {
        let range = |field, (min, max): (f32, f32)| UniformRange::new(field, min, max);
        let shear = |field, bounds| range(field, bounds)?.check_inside(field, -1.0, 1.0, "(-1, 1)");
        let scale = |field, bounds| range(field, bounds)?.check_inside(field, 0.0, f64::INFINITY, "(0, inf)");

        Ok(Affine {
            rotation_degrees: range("rotation_degrees", self.rotation_degrees)?,
            shear_x: shear("shear_x", self.shear_x)?,
            shear_y: shear("shear_y", self.shear_y)?,
            scale_x: scale("scale_x", self.scale_x)?,
            scale_y: scale("scale_y", self.scale_y)?,
            translate_x: range("translate_x", self.translate_x)?,
            translate_y: range("translate_y", self.translate_y)?,
            fill: self.fill,
            interpolation: self.interpolation,
            component_probability: check_probability("component_probability", self.component_probability)?,
        })
    }
}

/// Random affine distortion; built from an [`AffineConfig`].
///
/// When a draw leaves out all four components, or draws only neutral values, the image is
/// returned unchanged. `u8` images with nearest or bilinear interpolation are warped by a
/// single-threaded fixed-point path that rounds once: bilinear values are within 0.63 levels
/// of exact interpolation of the input. Bicubic `u8` images and all `f32` images go through
/// imageproc 0.27's `warp`, which spreads rows over the rayon pool. For `u8` it truncates each
/// of its two interpolation passes, so bicubic output can be up to 2 levels darker than exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    rotation_degrees: UniformRange,
    shear_x: UniformRange,
    shear_y: UniformRange,
    scale_x: UniformRange,
    scale_y: UniformRange,
    translate_x: UniformRange,
    translate_y: UniformRange,
    fill: u8,
    interpolation: Interpolation,
    component_probability: f64,
}

/// One drawn transformation.
#[derive(Debug, Clone, Copy, PartialEq)]
struct AffineDraw {
    rotation_radians: f64,
    shear: (f64, f64),
    scale: (f64, f64),
    translation: (f64, f64),
}

impl Affine {
    /// Builds the Omniglot distortion of [`AffineConfig::omniglot`] without re-checking it.
    pub fn omniglot() -> Self {
        Self {
            rotation_degrees: UniformRange::from_known(-10.0, 10.0),
            shear_x: UniformRange::from_known(-0.3, 0.3),
            shear_y: UniformRange::from_known(-0.3, 0.3),
            scale_x: UniformRange::from_known(0.8, 1.2),
            scale_y: UniformRange::from_known(0.8, 1.2),
            translate_x: UniformRange::from_known(-2.0, 2.0),
            translate_y: UniformRange::from_known(-2.0, 2.0),
            fill: 255,
            interpolation: Interpolation::Bilinear,
            component_probability: 0.5,
        }
    }

    /// Returns the configuration this augmenter was built from.
    pub fn affine_config(&self) -> AffineConfig {
        AffineConfig {
            rotation_degrees: self.rotation_degrees.to_f32_pair(),
            shear_x: self.shear_x.to_f32_pair(),
            shear_y: self.shear_y.to_f32_pair(),
            scale_x: self.scale_x.to_f32_pair(),
            scale_y: self.scale_y.to_f32_pair(),
            translate_x: self.translate_x.to_f32_pair(),
            translate_y: self.translate_y.to_f32_pair(),
            fill: self.fill,
            interpolation: self.interpolation,
            component_probability: self.component_probability as f32,
        }
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::Affine(self.affine_config())
    }

    /// Draws the components in a fixed order: for each component, first whether it applies,
    /// then its values, which are drawn even when it does not apply so later draws stay put.
    fn draw(&self, rng: &mut dyn Rng) -> AffineDraw {
        let p = self.component_probability;

        let rotate = rng.random_bool(p);
        let degrees = self.rotation_degrees.sample(rng);

        let shear = rng.random_bool(p);
        let shear_values = (self.shear_x.sample(rng), self.shear_y.sample(rng));

        let scale = rng.random_bool(p);
        let scale_values = (self.scale_x.sample(rng), self.scale_y.sample(rng));

        let translate = rng.random_bool(p);
        let translation = (self.translate_x.sample(rng), self.translate_y.sample(rng));

        AffineDraw {
            rotation_radians: if rotate { degrees.to_radians() } else { 0.0 },
            shear: if shear { shear_values } else { (0.0, 0.0) },
            scale: if scale { scale_values } else { (1.0, 1.0) },
            translation: if translate { translation } else { (0.0, 0.0) },
        }
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let draw = self.draw(rng);
        if draw.is_identity() {
            return image.clone();
        }

        let (width, height) = image.dimensions();
        let fill: P = uniform_pixel(self.fill);
        let Some(projection) = draw.projection(width, height) else {
            // NOTE: only a scale so small that the matrix determinant falls under imageproc's
            // f32 invertibility threshold gets here; the image shrinks to nothing but fill.
            return ImageBuffer::from_pixel(width, height, fill);
        };

        if let (Some(values), Some(interpolation)) = (levels(image), self.interpolation.for_levels()) {
            let channels = usize::from(P::CHANNEL_COUNT);
            let warped = warp_levels(
                values,
                (width, height),
                channels,
                &draw.inverse(width, height),
                interpolation,
                self.fill,
            );
            return image_from_levels(width, height, warped);
        }

        warp(
            image,
            projection,
            self.interpolation.to_imageproc(),
            Border::Constant(fill),
        )
    }
}

impl AffineDraw {
    /// Builds the forward map from input to output pixel coordinates.
    ///
    /// The matrix is composed in f64 and rounded once to f32, so exact cases such as a 90°
    /// turn or an integer shift land on pixel centres and bilinear interpolation copies pixels
    /// unchanged.
    fn projection(&self, width: u32, height: u32) -> Option<Projection> {
        let [a00, a01, b0, a10, a11, b1] = self.forward(width, height);

        Projection::from_matrix([
            a00 as f32, a01 as f32, b0 as f32, a10 as f32, a11 as f32, b1 as f32, 0.0, 0.0, 1.0,
        ])
    }

    /// Returns `true` when every component has its neutral value, so the map is the identity.
    fn is_identity(&self) -> bool {
        self.rotation_radians == 0.0
            && self.shear == (0.0, 0.0)
            && self.scale == (1.0, 1.0)
            && self.translation == (0.0, 0.0)
    }

    /// Forward map `[a00, a01, b0, a10, a11, b1]` from input to output pixel coordinates.
    fn forward(&self, width: u32, height: u32) -> [f64; 6] {
        let (sin, cos) = self.rotation_radians.sin_cos();
        let (shear_x, shear_y) = self.shear;
        let (scale_x, scale_y) = self.scale;

        // R·H·S with R = [[cos, -sin], [sin, cos]], H = [[1, shear_x], [shear_y, 1]].
        let a00 = (cos - sin * shear_y) * scale_x;
        let a01 = (cos * shear_x - sin) * scale_y;
        let a10 = (sin + cos * shear_y) * scale_x;
        let a11 = (sin * shear_x + cos) * scale_y;

        let centre_x = (f64::from(width) - 1.0) / 2.0;
        let centre_y = (f64::from(height) - 1.0) / 2.0;
        let b0 = centre_x + self.translation.0 - (a00 * centre_x + a01 * centre_y);
        let b1 = centre_y + self.translation.1 - (a10 * centre_x + a11 * centre_y);

        [a00, a01, b0, a10, a11, b1]
    }

    /// Inverse of [`forward`](Self::forward) in f64, from output to input coordinates. The
    /// caller has checked invertibility through [`projection`](Self::projection).
    fn inverse(&self, width: u32, height: u32) -> InverseAffine {
        let [a00, a01, b0, a10, a11, b1] = self.forward(width, height);
        let determinant = a00 * a11 - a01 * a10;

        let (i00, i01) = (a11 / determinant, -a01 / determinant);
        let (i10, i11) = (-a10 / determinant, a00 / determinant);
        InverseAffine {
            a00: i00,
            a01: i01,
            b0: -(i00 * b0 + i01 * b1),
            a10: i10,
            a11: i11,
            b1: -(i10 * b0 + i11 * b1),
        }
    }
}

forward_augmenter!(Affine);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omniglot_constant_matches_checked_config() {
        let checked = AffineConfig::omniglot().build().unwrap();

        assert_eq!(Affine::omniglot(), checked);
    }
}
