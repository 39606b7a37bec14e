//! Seeding: same seed same image, different seeds differ, and batches do not depend on the
//! thread count.

use fsl_augment::presets::{koch_omniglot, natural_image};
use fsl_augment::{
    Augmenter, ColorJitter, Crop, ElasticDistortion, Extent, Gamma, GaussianBlur, GrayImageF32, HorizontalFlip, Invert,
    Pad, RgbImageF32, SomeOf, VerticalFlip, augment_batch, augment_batch_f32, augment_batch_rgb, augment_batch_rgb_f32,
};
use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn textured_gray() -> GrayImage {
    GrayImage::from_fn(20, 16, |x, y| Luma([((x * 13 + y * 29 + x * y) % 256) as u8]))
}

fn textured_rgb() -> RgbImage {
    RgbImage::from_fn(20, 16, |x, y| {
        Rgb([(x * 12) as u8, (y * 15) as u8, ((x * y) % 256) as u8])
    })
}

/// Augmenters that draw random numbers, each able to change the textured image.
fn random_augmenters() -> Vec<Box<dyn Augmenter>> {
    vec![
        Box::new(koch_omniglot()),
        Box::new(Gamma::new((0.5, 2.0)).unwrap()),
        Box::new(GaussianBlur::new((0.5, 2.0)).unwrap()),
        Box::new(ElasticDistortion::new((2.0, 4.0), 2.0).unwrap()),
        Box::new(Crop::new(Extent::Pixels { min: 0, max: 4 }).unwrap()),
        Box::new(Pad::new(Extent::Fraction { min: 0.0, max: 0.3 }, 0).unwrap()),
        Box::new(ColorJitter::new(0.4, 0.4, 0.4).unwrap()),
        Box::new(natural_image(12).unwrap()),
    ]
}

#[test]
fn same_seed_same_image() {
    let image = textured_rgb();

    for augmenter in random_augmenters() {
        let first = augmenter.augment_rgb(&image, &mut StdRng::seed_from_u64(11));
        let second = augmenter.augment_rgb(&image, &mut StdRng::seed_from_u64(11));
        assert_eq!(first, second, "{augmenter:?}");
    }
}

#[test]
fn different_seeds_differ() {
    let image = textured_rgb();

    for augmenter in random_augmenters() {
        let outputs: Vec<RgbImage> = (0..6)
            .map(|seed| augmenter.augment_rgb(&image, &mut StdRng::seed_from_u64(seed)))
            .collect();

        let distinct = outputs.iter().filter(|output| *output != &outputs[0]).count();
        assert!(distinct > 0, "{augmenter:?} gave one image for six seeds");
    }
}

#[test]
fn gray_and_rgb_share_geometry() {
    let gray = textured_gray();
    let rgb = RgbImage::from_fn(20, 16, |x, y| Rgb([gray.get_pixel(x, y)[0]; 3]));
    let augmenter = ElasticDistortion::new((3.0, 3.0), 2.0).unwrap();

    let gray_output = augmenter.augment(&gray, &mut StdRng::seed_from_u64(4));
    let rgb_output = augmenter.augment_rgb(&rgb, &mut StdRng::seed_from_u64(4));

    for (x, y, pixel) in rgb_output.enumerate_pixels() {
        assert_eq!(pixel.0, [gray_output.get_pixel(x, y)[0]; 3], "pixel ({x}, {y})");
    }
}

#[test]
fn some_of_applies_exact_count_in_order() {
    let some_of = SomeOf::new(
        2,
        2,
        vec![Box::new(HorizontalFlip), Box::new(Invert), Box::new(VerticalFlip)],
    )
    .unwrap();
    let image = GrayImage::from_raw(3, 2, vec![1, 2, 3, 4, 5, 6]).unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let pairs: [(&dyn Augmenter, &dyn Augmenter); 3] = [
        (&HorizontalFlip, &Invert),
        (&HorizontalFlip, &VerticalFlip),
        (&Invert, &VerticalFlip),
    ];
    let expected: Vec<GrayImage> = pairs
        .iter()
        .map(|(first, second)| second.augment(&first.augment(&image, &mut rng), &mut rng))
        .collect();

    let mut seen = [0usize; 3];
    for _ in 0..150 {
        let output = some_of.augment(&image, &mut rng);
        let index = expected.iter().position(|candidate| *candidate == output);
        seen[index.expect("output is one of the three ordered pairs")] += 1;
    }

    assert!(seen.iter().all(|&count| count > 20), "pair counts {seen:?}");
}

fn on_threads<T: Send>(threads: usize, job: impl FnOnce() -> T + Send) -> T {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(job)
}

#[test]
fn batch_gray_independent_of_threads() {
    let augmenter = koch_omniglot();
    let images: Vec<GrayImage> = (0..16).map(|_| textured_gray()).collect();

    let runs: Vec<Vec<GrayImage>> = [1, 2, 8]
        .into_iter()
        .map(|threads| on_threads(threads, || augment_batch(&augmenter, &images, 5, 2)))
        .collect();

    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
    assert_ne!(runs[0][0], runs[0][1], "items use different seeds");
}

#[test]
fn batch_rgb_independent_of_threads() {
    let augmenter = natural_image(10).unwrap();
    let images: Vec<RgbImage> = (0..16).map(|_| textured_rgb()).collect();

    let runs: Vec<Vec<RgbImage>> = [1, 2, 8]
        .into_iter()
        .map(|threads| on_threads(threads, || augment_batch_rgb(&augmenter, &images, 5, 2)))
        .collect();

    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}

#[test]
fn batch_f32_independent_of_threads() {
    let augmenter = ElasticDistortion::new((1.0, 3.0), 2.0).unwrap();
    let gray: Vec<GrayImageF32> = (0..8)
        .map(|_| GrayImageF32::from_fn(12, 12, |x, y| Luma([(x * y) as f32 / 121.0])))
        .collect();
    let rgb: Vec<RgbImageF32> = (0..8)
        .map(|_| RgbImageF32::from_fn(12, 12, |x, y| Rgb([x as f32 / 11.0, y as f32 / 11.0, 0.5])))
        .collect();

    let gray_runs: Vec<Vec<GrayImageF32>> = [1, 2, 8]
        .into_iter()
        .map(|threads| on_threads(threads, || augment_batch_f32(&augmenter, &gray, 9, 0)))
        .collect();
    let rgb_runs: Vec<Vec<RgbImageF32>> = [1, 2, 8]
        .into_iter()
        .map(|threads| on_threads(threads, || augment_batch_rgb_f32(&augmenter, &rgb, 9, 0)))
        .collect();

    // Compare bit patterns so the check is exact even for f32.
    let bits = |images: &Vec<GrayImageF32>| -> Vec<u32> {
        images.iter().flat_map(|i| i.iter().map(|v| v.to_bits())).collect()
    };
    assert_eq!(bits(&gray_runs[0]), bits(&gray_runs[1]));
    assert_eq!(bits(&gray_runs[0]), bits(&gray_runs[2]));
    assert_eq!(rgb_runs[0], rgb_runs[1]);
    assert_eq!(rgb_runs[0], rgb_runs[2]);
}
