//! Batch augmentation: per-item seeds make results independent of the thread count.

use fsl_augment::{Affine, Augmenter, GaussianNoise, Sequence, augment_batch, item_seed};
use image::{GrayImage, Luma};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn images() -> Vec<GrayImage> {
    (0..12u32)
        .map(|offset| GrayImage::from_fn(10, 10, |x, y| Luma([((x * 23 + y * 11 + offset * 5) % 256) as u8])))
        .collect()
}

fn augmenter() -> Sequence {
    Sequence::new(vec![
        Box::new(Affine::omniglot()),
        Box::new(GaussianNoise::new(8.0).unwrap()),
    ])
}

fn run_on_threads(threads: usize, base_seed: u64, epoch: u64) -> Vec<GrayImage> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let augmenter = augmenter();
    let images = images();

    pool.install(|| augment_batch(&augmenter, &images, base_seed, epoch))
}

#[test]
fn batch_same_on_one_and_two_threads() {
    let one = run_on_threads(1, 7, 3);
    let two = run_on_threads(2, 7, 3);

    assert_eq!(one.len(), 12);
    assert_eq!(one, two);
}

#[test]
fn batch_item_uses_item_seed() {
    let batch = run_on_threads(2, 7, 3);
    let augmenter = augmenter();

    for (index, image) in images().iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(item_seed(7, 3, index as u64));
        assert_eq!(batch[index], augmenter.augment(image, &mut rng), "item {index}");
    }
}

#[test]
fn batch_changes_with_epoch() {
    let epoch_zero = run_on_threads(2, 7, 0);
    let epoch_one = run_on_threads(2, 7, 1);

    assert_ne!(epoch_zero, epoch_one);
}
