//! Parallel augmentation of a batch with per-item seeds.

use image::{GrayImage, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::augmenter::Augmenter;
use crate::pixel::{GrayImageF32, RgbImageF32};

/// Derives the RNG seed of item `index` in epoch `epoch` of the stream `base_seed`.
///
/// Each argument is folded in with the splitmix64 finaliser, so neighbouring seeds, epochs and
/// indices give unrelated streams. fsl-sequences' loaders derive their own per-item seeds (from
/// the seed, epoch, batch index and position in the batch), so the same seed does not give the
/// images of [`augment_batch`] there.
pub fn item_seed(base_seed: u64, epoch: u64, index: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(base_seed) ^ epoch) ^ index)
}

/// Augments grayscale images in parallel on the current rayon pool.
///
/// Image `i` is augmented with a [`StdRng`] seeded by `item_seed(base_seed, epoch, i)`, so the
/// output does not depend on the number of threads.
pub fn augment_batch(augmenter: &dyn Augmenter, images: &[GrayImage], base_seed: u64, epoch: u64) -> Vec<GrayImage> {
    map_seeded(images, base_seed, epoch, |image, rng| augmenter.augment(image, rng))
}

/// Augments RGB images in parallel, with the seeds of [`augment_batch`].
pub fn augment_batch_rgb(augmenter: &dyn Augmenter, images: &[RgbImage], base_seed: u64, epoch: u64) -> Vec<RgbImage> {
    map_seeded(images, base_seed, epoch, |image, rng| augmenter.augment_rgb(image, rng))
}

/// Augments `f32` grayscale images in parallel, with the seeds of [`augment_batch`].
pub fn augment_batch_f32(
    augmenter: &dyn Augmenter,
    images: &[GrayImageF32],
    base_seed: u64,
    epoch: u64,
) -> Vec<GrayImageF32> {
    map_seeded(images, base_seed, epoch, |image, rng| augmenter.augment_f32(image, rng))
}

/// Augments `f32` RGB images in parallel, with the seeds of [`augment_batch`].
pub fn augment_batch_rgb_f32(
    augmenter: &dyn Augmenter,
    images: &[RgbImageF32],
    base_seed: u64,
    epoch: u64,
) -> Vec<RgbImageF32> {
    map_seeded(images, base_seed, epoch, |image, rng| {
        augmenter.augment_rgb_f32(image, rng)
    })
}

/// Applies `augment` to every image with its own seeded generator, in parallel.
fn map_seeded<T, F>(images: &[T], base_seed: u64, epoch: u64, augment: F) -> Vec<T>
where
    T: Sync + Send,
    F: Fn(&T, &mut StdRng) -> T + Sync,
{
    images
        .par_iter()
        .enumerate()
        .map(|(index, image)| {
            let mut rng = StdRng::seed_from_u64(item_seed(base_seed, epoch, index as u64));
            augment(image, &mut rng)
        })
        .collect()
}

/// Mixes a 64-bit value with the splitmix64 finaliser (Steele et al., 2014): a bijection whose
/// outputs for neighbouring inputs look unrelated, used to derive independent seeds.
pub fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference_output() {
        // First output of the reference splitmix64 generator started from state 0.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn item_seed_depends_on_each_argument() {
        let base = item_seed(1, 2, 3);

        assert_ne!(base, item_seed(0, 2, 3));
        assert_ne!(base, item_seed(1, 0, 3));
        assert_ne!(base, item_seed(1, 2, 0));
        assert_ne!(item_seed(0, 1, 0), item_seed(0, 0, 1));
    }
}
