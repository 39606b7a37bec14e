//! Seeded image augmentation for few-shot learning, built on imageproc.
//!
//! An [`Augmenter`] maps an image and a random number generator to a new image, so the same
//! seed always gives the same output. Every augmenter handles grayscale and RGB images with
//! `u8` levels ([`image::GrayImage`], [`image::RgbImage`]) or `f32` values in [0, 1]
//! ([`GrayImageF32`], [`RgbImageF32`]).
//!
//! - Geometry: [`Affine`] (rotation, shear, scale and translation about the centre),
//!   [`HorizontalFlip`], [`VerticalFlip`], [`Rotate90`], [`Crop`], [`Pad`], [`Resize`],
//!   [`CenterCrop`], [`RandomResizedCrop`] and [`ElasticDistortion`].
//! - Pixel values: [`Invert`], [`GaussianNoise`], [`BrightnessContrast`], [`Gamma`],
//!   [`GaussianBlur`], [`ColorJitter`] (brightness, contrast, saturation and hue) and
//!   [`Grayscale`], plus the conversions [`to_grayscale`] and [`to_rgb`] and the hue rotation
//!   [`adjust_hue`].
//! - Combinators: [`Identity`], [`Sequence`], [`Sometimes`], [`OneOf`] and [`SomeOf`].
//! - Presets: [`presets::koch_omniglot`] (the classical Omniglot distortion) and
//!   [`presets::natural_image`] (random resized crop, flip and colour jitter).
//!
//! [`AugmenterConfig`] describes a pipeline with serde, so it can be saved beside a model and
//! rebuilt; [`Augmenter::config`] returns the description of a built augmenter. Parameters are
//! checked once, at construction, and errors name the parameter.
//!
//! [`augment_batch`] augments many images in parallel with per-item seeds from
//! [`item_seed`], so results do not depend on the number of threads.
//!
//! ```
//! use fsl_augment::{Affine, AffineConfig, Augmenter, Sequence, Sometimes, Invert, augment_batch};
//! use image::{GrayImage, Luma};
//! use rand::SeedableRng;
//! use rand::rngs::StdRng;
//!
//! // A white 9x9 image with one black stroke pixel, as in Omniglot.
//! let mut image = GrayImage::from_pixel(9, 9, Luma([255]));
//! image.put_pixel(4, 4, Luma([0]));
//!
//! // Shift right by exactly 2 px, then invert half of the time.
//! let shift = AffineConfig::new()
//!     .with_translation_x(2.0, 2.0)
//!     .with_fill(255)
//!     .build()?;
//! let augmenter = Sequence::new(vec![Box::new(shift), Box::new(Sometimes::new(0.5, Invert)?)]);
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let output = augmenter.augment(&image, &mut rng);
//! let stroke = if output.get_pixel(0, 0)[0] == 255 { 0 } else { 255 };
//! assert_eq!(output.get_pixel(6, 4)[0], stroke);
//!
//! // Batches are reproducible from (seed, epoch).
//! let omniglot = Affine::omniglot();
//! let batch = vec![image.clone(), image];
//! assert_eq!(augment_batch(&omniglot, &batch, 1, 0), augment_batch(&omniglot, &batch, 1, 0));
//! # Ok::<(), fsl_augment::Error>(())
//! ```

mod affine;
mod augmenter;
mod batch;
mod blur;
mod color;
mod combinators;
mod config;
mod error;
mod geometry;
mod hue;
mod intensity;
mod jitter_levels;
mod pixel;
mod pixel_ops;
pub mod presets;
mod range;
mod resize_levels;
mod resized_crop;
mod warp_levels;

pub use affine::{Affine, AffineConfig, Interpolation};
pub use augmenter::Augmenter;
pub use batch::{augment_batch, augment_batch_f32, augment_batch_rgb, augment_batch_rgb_f32, item_seed, splitmix64};
pub use blur::{ElasticDistortion, GaussianBlur};
pub use color::{ColorJitter, Grayscale, to_grayscale, to_grayscale_f32, to_rgb, to_rgb_f32};
pub use combinators::{Identity, OneOf, Sequence, SomeOf, Sometimes};
pub use config::AugmenterConfig;
pub use error::{Error, Result};
pub use geometry::{CenterCrop, Crop, Extent, Pad, Resize, ResizeFilter};
pub use hue::{adjust_hue, adjust_hue_f32};
pub use intensity::{BrightnessContrast, Gamma, GaussianNoise};
pub use pixel::{GrayImageF32, RgbImageF32};
pub use pixel_ops::{HorizontalFlip, Invert, Rotate90, VerticalFlip};
pub use range::UniformRange;
pub use resized_crop::RandomResizedCrop;
