//! The episode loader on real Omniglot images: tensor shapes and values, the label map,
//! determinism across loaders and thread counts, augmentation, and bad input.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, BinaryArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use candle_core::{Device, Tensor};
use fsl_augment::Affine;
use fsl_datasets::AnnotationTable;
use fsl_layers::EpisodeBatch;
use fsl_sequences::{EpisodeLoader, EpisodeSpec, Error, LoaderConfig, SamplerOptions, decode_images};
use image::{GrayImage, ImageFormat, Luma};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const ARCHIVE: &str = "images_background_small1.zip";
const SAMPLER_SEED: u64 = 13;

/// Class names (`alphabet/character`) and decoded images of a subset of Omniglot.
struct Subset {
    classes: Vec<String>,
    images: Arc<Vec<GrayImage>>,
}

/// Returns the folder with the real Omniglot archives: `FSL_DATA_DIR`, or the shared data folder
/// beside the repository. Panics with instructions when the archive is missing, so these tests
/// never pass without the data.
fn archive() -> PathBuf {
    let folder = match std::env::var_os("FSL_DATA_DIR") {
        Some(folder) => PathBuf::from(folder),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/omniglot"),
    };
    let archive = folder.join(ARCHIVE);
    assert!(
        archive.is_file(),
        "Omniglot archive {} not found: set FSL_DATA_DIR to the folder that contains {ARCHIVE}",
        archive.display()
    );
    archive
}

/// Loads the first 10 characters of each of the first 3 alphabets (600 images), once per test
/// binary. The whole archive would make every test slower without testing more.
fn subset() -> &'static Subset {
    static SUBSET: OnceLock<Subset> = OnceLock::new();
    SUBSET.get_or_init(|| {
        let table = fsl_datasets::omniglot::load(&archive()).unwrap();
        let alphabets = table.strings("alphabet").unwrap();
        let characters = table.strings("label").unwrap();

        // Rows are sorted by path, so alphabets and characters appear in sorted order.
        let mut kept_alphabets: Vec<&str> = Vec::new();
        let mut kept_characters: Vec<(&str, &str)> = Vec::new();
        for (alphabet, character) in alphabets.iter().zip(&characters) {
            if !kept_alphabets.contains(&alphabet.as_str()) && kept_alphabets.len() < 3 {
                kept_alphabets.push(alphabet);
            }
            let per_alphabet = kept_characters.iter().filter(|(a, _)| a == alphabet).count();
            let pair = (alphabet.as_str(), character.as_str());
            if kept_alphabets.contains(&alphabet.as_str()) && !kept_characters.contains(&pair) && per_alphabet < 10 {
                kept_characters.push(pair);
            }
        }
        let subset = table
            .filter(|row| kept_characters.contains(&(alphabets[row].as_str(), characters[row].as_str())))
            .unwrap()
            .with_joined_column("class", &["alphabet", "label"], "/")
            .unwrap();

        let classes = subset.strings("class").unwrap();
        let images = decode_images(&subset).unwrap();
        assert_eq!(classes.len(), 600, "expected 3 alphabets x 10 characters x 20 drawers");
        Subset {
            classes,
            images: Arc::new(images),
        }
    })
}

fn loader(spec: EpisodeSpec, config: LoaderConfig) -> EpisodeLoader {
    let subset = subset();
    EpisodeLoader::new(
        &subset.classes,
        spec,
        SamplerOptions::new(),
        SAMPLER_SEED,
        subset.images.clone(),
        config,
    )
    .unwrap()
}

fn augmented_config() -> LoaderConfig {
    LoaderConfig {
        seed: 3,
        augmenter: Some(Arc::new(Affine::omniglot())),
        query_augmenter: None,
        ..Default::default()
    }
}

fn values(tensor: &Tensor) -> Vec<f32> {
    tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn assert_same_episode(a: &EpisodeBatch, b: &EpisodeBatch) {
    assert_eq!(a.support_labels, b.support_labels);
    assert_eq!(a.query_labels, b.query_labels);
    assert_eq!(a.n_way, b.n_way);
    assert_eq!(values(&a.support), values(&b.support));
    assert_eq!(values(&a.query), values(&b.query));
}

fn png_bytes(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

#[test]
fn decoded_omniglot_images_are_105_pixels() {
    let images = &subset().images;

    assert!(images.iter().all(|image| image.dimensions() == (105, 105)));
}

#[test]
fn episode_has_expected_shapes() {
    let (n_way, k_shot, q_query) = (5, 2, 3);
    let loader = loader(
        EpisodeSpec::new(n_way, k_shot, q_query).unwrap(),
        LoaderConfig::default(),
    );

    let episode = loader.episode(0).unwrap();

    assert_eq!(episode.n_way, n_way);
    assert_eq!(episode.support.dims(), [n_way * k_shot, 1, 28, 28]);
    assert_eq!(episode.query.dims(), [n_way * q_query, 1, 28, 28]);
    assert_eq!(episode.support_labels.len(), n_way * k_shot);
    assert_eq!(episode.query_labels.len(), n_way * q_query);
}

#[test]
fn episode_pixels_are_inverted_ink() {
    let loader = loader(EpisodeSpec::new(5, 2, 3).unwrap(), LoaderConfig::default());

    for index in 0..3 {
        let episode = loader.episode(index).unwrap();
        let pixels = [values(&episode.support), values(&episode.query)].concat();

        let mean = pixels.iter().sum::<f32>() / pixels.len() as f32;
        let max = pixels.iter().copied().fold(f32::MIN, f32::max);
        assert!(
            pixels.iter().all(|v| (0.0..=1.0).contains(v)),
            "a pixel is outside [0, 1]"
        );
        assert!(
            mean < 0.3,
            "mean pixel {mean}: the background should be near 0 after inversion"
        );
        assert!(
            max > 0.9,
            "max pixel {max}: ink strokes should be near 1 after inversion"
        );
    }
}

#[test]
fn episode_labels_share_one_class_map() {
    let (n_way, k_shot, q_query) = (5, 2, 3);
    let loader = loader(
        EpisodeSpec::new(n_way, k_shot, q_query).unwrap(),
        LoaderConfig::default(),
    );
    let classes = &subset().classes;

    for index in 0..20 {
        let batch = loader.episode(index).unwrap();
        let items = loader.sampler().episode(SAMPLER_SEED, index);

        for label in 0..n_way as u32 {
            assert_eq!(
                batch.support_labels.iter().filter(|&&l| l == label).count(),
                k_shot,
                "episode {index}"
            );
            assert_eq!(
                batch.query_labels.iter().filter(|&&l| l == label).count(),
                q_query,
                "episode {index}"
            );
        }
        assert_eq!(batch.support_labels, items.support_labels);
        assert_eq!(batch.query_labels, items.query_labels);
        for (&item, &label) in items
            .support
            .iter()
            .zip(&items.support_labels)
            .chain(items.query.iter().zip(&items.query_labels))
        {
            assert_eq!(
                classes[item], items.class_ids[label as usize],
                "episode {index}, item {item}"
            );
        }

        // Without augmentation the episode contains exactly the resized images of its items.
        assert_eq!(values(&batch.support), values(&loader.images(&items.support).unwrap()));
        assert_eq!(values(&batch.query), values(&loader.images(&items.query).unwrap()));
    }
}

#[test]
fn episode_labels_feed_prototypical_loss() {
    let loader = loader(EpisodeSpec::new(5, 1, 4).unwrap(), LoaderConfig::default());
    let episode = loader.episode(2).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let distances: Vec<f32> = (0..episode.query_labels.len() * episode.n_way)
        .map(|_| rng.random_range(0.0..10.0))
        .collect();
    let distances = Tensor::from_vec(distances, (episode.query_labels.len(), episode.n_way), &Device::Cpu).unwrap();

    let loss = fsl_layers::prototypical_loss(&distances, &episode.query_labels).unwrap();

    let loss = loss.to_scalar::<f32>().unwrap();
    assert!(loss.is_finite(), "loss {loss}");
    assert!(loss > 0.0, "loss {loss}");
}

#[test]
fn support_only_episode_has_empty_query() {
    let loader = loader(EpisodeSpec::new(3, 2, 0).unwrap(), augmented_config());

    let episode = loader.episode(1).unwrap();

    assert_eq!(episode.support.dims(), [6, 1, 28, 28]);
    assert_eq!(episode.query.dims(), [0, 1, 28, 28]);
    assert!(episode.query_labels.is_empty());
}

#[test]
fn same_seed_and_index_give_same_episode() {
    let spec = EpisodeSpec::new(5, 1, 2).unwrap();
    let first = loader(spec, LoaderConfig::default());
    let second = loader(spec, LoaderConfig::default());

    for index in 0..5 {
        assert_same_episode(&first.episode(index).unwrap(), &second.episode(index).unwrap());
    }
    assert_ne!(
        values(&first.episode(0).unwrap().support),
        values(&first.episode(1).unwrap().support)
    );
}

#[test]
fn augmented_episode_ignores_thread_count() {
    let loader = loader(EpisodeSpec::new(5, 1, 2).unwrap(), augmented_config());
    let in_pool = |threads: usize, index: u64| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| loader.episode(index).unwrap())
    };

    for index in [0, 7] {
        assert_same_episode(&in_pool(1, index), &in_pool(2, index));
    }

    // A second loader with the same seeds gives the same augmentation too.
    let again = self::loader(EpisodeSpec::new(5, 1, 2).unwrap(), augmented_config());
    assert_same_episode(&in_pool(2, 7), &again.episode(7).unwrap());
}

#[test]
fn augmentation_changes_pixels_only() {
    let spec = EpisodeSpec::new(5, 1, 2).unwrap();
    let plain = loader(spec, LoaderConfig::default());
    let augmented = loader(spec, augmented_config());

    let plain_episode = plain.episode(3).unwrap();
    let augmented_episode = augmented.episode(3).unwrap();

    // The sampler seed is shared, so both draw the same items in the same order.
    assert_eq!(plain_episode.support_labels, augmented_episode.support_labels);
    assert_eq!(plain_episode.query_labels, augmented_episode.query_labels);
    assert_eq!(plain_episode.support.dims(), augmented_episode.support.dims());
    assert_ne!(values(&plain_episode.support), values(&augmented_episode.support));
    assert_ne!(values(&plain_episode.query), values(&augmented_episode.query));
    let pixels = values(&augmented_episode.support);
    assert!(
        pixels.iter().all(|v| (0.0..=1.0).contains(v)),
        "an augmented pixel is outside [0, 1]"
    );

    // `images` never augments, whatever the loader's configuration.
    let items = [0, 21, 599];
    assert_eq!(
        values(&plain.images(&items).unwrap()),
        values(&augmented.images(&items).unwrap())
    );
}

#[test]
fn augmentation_differs_between_seeds() {
    let spec = EpisodeSpec::new(5, 1, 2).unwrap();
    let first = loader(spec, augmented_config());
    let second = loader(
        spec,
        LoaderConfig {
            seed: 4,
            ..augmented_config()
        },
    );

    assert_ne!(
        values(&first.episode(0).unwrap().support),
        values(&second.episode(0).unwrap().support)
    );
}

#[test]
fn too_many_shots_names_class_and_counts() {
    let subset = subset();
    // Omniglot has 20 drawers per character: 1 + 20 images per class cannot be drawn.
    let spec = EpisodeSpec::new(5, 1, 20).unwrap();

    let result = EpisodeLoader::new(
        &subset.classes,
        spec,
        SamplerOptions::new(),
        0,
        subset.images.clone(),
        LoaderConfig::default(),
    );

    let error = result.err().expect("21 images per class must be rejected");
    let message = error.to_string();
    match error {
        Error::ClassTooSmall { class, have, need } => {
            assert!(subset.classes.contains(&class), "{class} is not a class of the subset");
            assert_eq!(have, 20);
            assert_eq!(need, 21);
            assert!(message.contains(&class), "{message}");
        }
        other => panic!("expected ClassTooSmall, got {other:?}"),
    }
    assert!(message.contains("20 items"), "{message}");
    assert!(message.contains("needs 21"), "{message}");
}

#[test]
fn label_image_count_mismatch_rejected() {
    let subset = subset();
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let labels = &subset.classes[..599];

    let result = EpisodeLoader::new(
        labels,
        spec,
        SamplerOptions::new(),
        0,
        subset.images.clone(),
        LoaderConfig::default(),
    );

    let error = result.err().expect("599 labels for 600 images must be rejected");
    assert!(matches!(error, Error::InvalidLoader { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("599 labels but 600 images"), "{message}");
}

#[test]
fn zero_image_size_rejected() {
    let subset = subset();
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let config = LoaderConfig {
        image_size: 0,
        ..Default::default()
    };

    let result = EpisodeLoader::new(
        &subset.classes,
        spec,
        SamplerOptions::new(),
        0,
        subset.images.clone(),
        config,
    );

    let error = result.err().expect("image_size 0 must be rejected");
    assert!(matches!(error, Error::InvalidLoader { .. }), "{error:?}");
    assert!(error.to_string().contains("image_size"), "{error}");
}

#[test]
fn images_rejects_out_of_range_item() {
    let loader = loader(EpisodeSpec::new(2, 1, 1).unwrap(), LoaderConfig::default());

    let error = loader.images(&[0, usize::MAX]).unwrap_err();

    assert!(matches!(error, Error::InvalidLoader { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&usize::MAX.to_string()), "{message}");
    assert!(message.contains("600 items"), "{message}");
}

#[test]
fn decode_images_names_corrupt_row() {
    let valid = png_bytes(&GrayImage::from_pixel(4, 4, Luma([200])));
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("image", DataType::Binary, false),
        Field::new("path", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["a", "b", "c"])),
        Arc::new(BinaryArray::from(vec![
            valid.as_slice(),
            b"not a png".as_slice(),
            valid.as_slice(),
        ])),
        Arc::new(StringArray::from(vec!["a/0.png", "b/1.png", "c/2.png"])),
    ];
    let table = AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap()).unwrap();

    let error = decode_images(&table).unwrap_err();

    match &error {
        Error::Dataset(fsl_datasets::Error::Decode { source_name, .. }) => {
            assert!(source_name.contains("row 1"), "{source_name}");
            assert!(source_name.contains("b/1.png"), "{source_name}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn decode_images_keeps_row_order() {
    let images: Vec<GrayImage> = (0..6u8)
        .map(|shade| GrayImage::from_pixel(3, 2, Luma([40 * shade])))
        .collect();
    let bytes: Vec<Vec<u8>> = images.iter().map(png_bytes).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("image", DataType::Binary, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["x"; 6])),
        Arc::new(BinaryArray::from(bytes.iter().map(Vec::as_slice).collect::<Vec<_>>())),
    ];
    let table = AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap()).unwrap();

    let decoded = decode_images(&table).unwrap();

    assert_eq!(decoded, images);
}
