//! Seeded image augmentation for few-shot learning, built on imageproc.
//!
//! An [`Augmenter`] maps an image and a random number generator to a new image, so the same
//! seed always gives the same output. Operations: [`Affine`] (rotation, shear, scale and
//! translation about the centre, with [`Affine::omniglot`] as the classical Omniglot
//! distortion), [`HorizontalFlip`], [`VerticalFlip`], [`Invert`], [`GaussianNoise`] and
//! [`BrightnessContrast`]. Combinators: [`Identity`], [`Sequence`], [`Sometimes`] and
//! [`OneOf`]. Every augmenter handles [`image::GrayImage`] and [`image::RgbImage`].
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
mod combinators;
mod error;
mod intensity;
mod pixel_ops;
mod range;

pub use affine::{Affine, AffineConfig};
pub use augmenter::Augmenter;
pub use batch::{augment_batch, augment_batch_rgb, item_seed, splitmix64};
pub use combinators::{Identity, OneOf, Sequence, Sometimes};
pub use error::{Error, Result};
pub use intensity::{BrightnessContrast, GaussianNoise};
pub use pixel_ops::{HorizontalFlip, Invert, VerticalFlip};
pub use range::UniformRange;
