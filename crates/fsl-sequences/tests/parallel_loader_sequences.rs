//! The parallel loader on every sequence besides episodes: identical batches for 1, 2 and 4
//! workers, resuming an epoch, separate query images with their own augmenter, and a missing
//! image file.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arrow::array::{ArrayRef, BinaryArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use candle_core::Tensor;
use fsl_augment::Affine;
use fsl_datasets::AnnotationTable;
use fsl_datasets::decode::gray_to_f32;
use fsl_sequences::{
    BalancedPairs, EpisodeSampler, EpisodeSequence, EpisodeSpec, Error, KShotBatches, KShotSpec, LabelTables,
    LoadableBatch, LoadedKShot, LoadedPairs, LoaderConfig, LoaderImages, ParallelLoader, Product, RandomPairs,
    SamplerOptions, Sequence, SingleImages, TargetEncoding, Targets, Triplets,
};
use image::{GrayImage, ImageFormat, Luma};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const CLASSES: usize = 12;
const PER_CLASS: usize = 5;
const ITEMS: usize = CLASSES * PER_CLASS;
const SIZE: u32 = 8;

fn labels(items: usize) -> Vec<String> {
    (0..items).map(|item| format!("class{}", item / PER_CLASS)).collect()
}

/// Random 12x10 noise images, so every item has its own pixels and a resize changes them.
fn images(items: usize, seed: u64) -> Vec<GrayImage> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..items)
        .map(|_| GrayImage::from_fn(12, 10, |_, _| Luma([rng.random_range(0..=255u8)])))
        .collect()
}

fn png_bytes(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Returns loader images encoded as PNG bytes, so workers decode every image.
fn encoded() -> LoaderImages {
    let images = images(ITEMS, 21);
    let bytes: Vec<Vec<u8>> = images.iter().map(png_bytes).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("image", DataType::Binary, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(labels(ITEMS))),
        Arc::new(BinaryArray::from(bytes.iter().map(Vec::as_slice).collect::<Vec<_>>())),
    ];
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    LoaderImages::Encoded(Arc::new(AnnotationTable::from_record_batch(batch).unwrap()))
}

fn augmented_config() -> LoaderConfig {
    LoaderConfig {
        image_size: SIZE,
        seed: 3,
        augmenter: Some(Arc::new(Affine::omniglot())),
        query_augmenter: None,
        ..Default::default()
    }
}

fn plain_config() -> LoaderConfig {
    LoaderConfig {
        image_size: SIZE,
        invert: false,
        ..Default::default()
    }
}

fn loader<S>(sequence: S, workers: usize) -> ParallelLoader<S>
where
    S: Sequence + Send + Sync + 'static,
    S::Batch: LoadableBatch,
{
    ParallelLoader::new(sequence, encoded(), augmented_config())
        .unwrap()
        .with_workers(workers)
        .unwrap()
        .with_prefetch(2)
        .unwrap()
}

fn collect_epoch<S>(loader: &ParallelLoader<S>, epoch: u64, start: usize) -> Vec<<S::Batch as LoadableBatch>::Loaded>
where
    S: Sequence + Send + Sync + 'static,
    S::Batch: LoadableBatch,
{
    loader
        .epoch_from(epoch, start)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Returns the bit patterns of a tensor's values, so equal means bit-identical.
fn bits(tensor: &Tensor) -> Vec<u32> {
    let values = tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values.into_iter().map(f32::to_bits).collect()
}

fn assert_same_pairs(a: &LoadedPairs, b: &LoadedPairs, context: &str) {
    assert_eq!(a.batch, b.batch, "{context}");
    assert_eq!(bits(&a.query), bits(&b.query), "{context}");
    assert_eq!(bits(&a.support), bits(&b.support), "{context}");
}

fn assert_same_kshot(a: &LoadedKShot<String>, b: &LoadedKShot<String>, context: &str) {
    assert_eq!(a.batch, b.batch, "{context}");
    assert_eq!(bits(&a.images), bits(&b.images), "{context}");
}

fn pairs() -> BalancedPairs<String> {
    BalancedPairs::new(LabelTables::shared(&labels(ITEMS)), 2, 12, 5).unwrap()
}

fn kshot() -> KShotBatches<String> {
    KShotBatches::new(&labels(ITEMS), KShotSpec::new(2, 4).unwrap(), 5).unwrap()
}

/// A sequence that counts its `batch` calls.
struct Counted<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
}

impl<S: Sequence> Sequence for Counted<S> {
    type Batch = S::Batch;

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn batch(&self, epoch: u64, index: usize) -> fsl_sequences::Result<Self::Batch> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.batch(epoch, index)
    }
}

#[test]
fn pairs_identical_for_any_worker_count() {
    let single = collect_epoch(&loader(pairs(), 1), 1, 0);
    assert_eq!(single.len(), pairs().len());

    for workers in [2, 4] {
        let parallel = collect_epoch(&loader(pairs(), workers), 1, 0);

        assert_eq!(parallel.len(), single.len(), "{workers} workers");
        for (index, (a, b)) in single.iter().zip(&parallel).enumerate() {
            assert_same_pairs(a, b, &format!("batch {index}, {workers} workers"));
        }
    }

    // The tensors hold the batch's items, one row each, and augmentation changed them.
    let first = &single[0];
    assert_eq!(first.query.dims(), [12, 1, SIZE as usize, SIZE as usize]);
    assert_eq!(first.support.dims(), [12, 1, SIZE as usize, SIZE as usize]);
    assert_eq!(first.batch, pairs().batch(1, 0).unwrap());
    let plain = ParallelLoader::new(pairs(), encoded(), plain_config()).unwrap();
    assert_ne!(bits(&plain.batch(1, 0).unwrap().query), bits(&first.query));
}

#[test]
fn kshot_identical_for_any_worker_count() {
    let single = collect_epoch(&loader(kshot(), 1), 2, 0);
    assert_eq!(single.len(), CLASSES / 2);

    for workers in [2, 4] {
        let parallel = collect_epoch(&loader(kshot(), workers), 2, 0);

        assert_eq!(parallel.len(), single.len(), "{workers} workers");
        for (index, (a, b)) in single.iter().zip(&parallel).enumerate() {
            assert_same_kshot(a, b, &format!("batch {index}, {workers} workers"));
        }
    }
    assert_eq!(single[0].images.dims(), [4, 1, SIZE as usize, SIZE as usize]);
    assert_eq!(single[0].batch.labels, [0, 0, 1, 1]);
}

#[test]
fn pairs_epoch_resumes_from_index() {
    let full = collect_epoch(&loader(pairs(), 2), 3, 0);

    // A new loader from the same seeds, as after a restart, resumes epoch 3 at batch 4.
    let restarted = loader(pairs(), 4);
    let resumed = collect_epoch(&restarted, 3, 4);

    assert_eq!(resumed.len(), full.len() - 4);
    for (offset, (a, b)) in full[4..].iter().zip(&resumed).enumerate() {
        assert_same_pairs(a, b, &format!("batch {}", 4 + offset));
    }
    assert_ne!(bits(&full[0].query), bits(&restarted.batch(4, 0).unwrap().query));
}

#[test]
fn resume_past_epoch_end_is_error() {
    let loader = loader(pairs(), 2);
    let len = loader.len();

    assert_eq!(collect_epoch(&loader, 0, len).len(), 0);
    let Err(error) = loader.epoch_from(0, len + 1) else {
        panic!("a start past the end must be an error");
    };
    assert!(
        matches!(error, fsl_sequences::Error::BatchOutOfRange { index, .. } if index == len + 1),
        "{error}"
    );
}

#[test]
fn kshot_epoch_resumes_from_index() {
    let full = collect_epoch(&loader(kshot(), 1), 0, 0);

    let resumed = collect_epoch(&loader(kshot(), 2), 0, 3);

    assert_eq!(resumed.len(), full.len() - 3);
    for (offset, (a, b)) in full[3..].iter().zip(&resumed).enumerate() {
        assert_same_kshot(a, b, &format!("batch {}", 3 + offset));
    }
}

#[test]
fn triplets_single_images_and_product_load() {
    let labels = labels(ITEMS);
    let size = SIZE as usize;

    let triplets = Triplets::new(LabelTables::shared(&labels), 7, 1).unwrap();
    let loaded = collect_epoch(&loader(triplets, 2), 0, 0);
    assert_eq!(loaded.len(), ITEMS.div_ceil(7));
    assert_eq!(loaded[0].anchor.dims(), [7, 1, size, size]);
    assert_eq!(loaded[0].positive.dims(), [7, 1, size, size]);
    assert_eq!(loaded.last().unwrap().negative.dims(), [ITEMS % 7, 1, size, size]);

    let singles = SingleImages::new(
        &labels,
        &labels[..]
            .chunks(PER_CLASS)
            .map(|class| class[0].clone())
            .collect::<Vec<_>>(),
        TargetEncoding::Codes,
        16,
    )
    .unwrap();
    let loaded = collect_epoch(&loader(singles, 2), 0, 0);
    assert_eq!(loaded.len(), ITEMS.div_ceil(16));
    assert_eq!(loaded[0].images.dims(), [16, 1, size, size]);
    assert_eq!(loaded[0].batch.items, (0..16).collect::<Vec<_>>());
    assert_eq!(
        loaded[0].batch.targets,
        Targets::Codes((0..16).map(|item| item / PER_CLASS as u32).collect())
    );

    let product = Product::labelled(LabelTables::shared(&labels[..10]), 25).unwrap();
    let loaded = collect_epoch(&loader(product, 2), 0, 0);
    assert_eq!(loaded.len(), 4);
    assert_eq!(loaded[3].query.dims(), [25, 1, size, size]);
    assert_eq!(loaded[3].batch.targets.as_ref().map(Vec::len), Some(25));
}

/// Queries from their own table read their own images: without augmentation each query row
/// is the resized query image, and each support row the resized support image.
#[test]
fn separate_query_images_feed_query_inputs() {
    let support_labels = labels(ITEMS);
    let query_labels = labels(20);
    let support_images = images(ITEMS, 21);
    let query_images = images(20, 99);
    let pairs = RandomPairs::new(LabelTables::separate(&query_labels, &support_labels), 8, 2).unwrap();

    let loader = ParallelLoader::new(
        pairs,
        LoaderImages::Decoded(Arc::new(support_images.clone())),
        plain_config(),
    )
    .unwrap()
    .with_query_images(LoaderImages::Decoded(Arc::new(query_images.clone())))
    .with_workers(2)
    .unwrap();

    let pixels = (SIZE * SIZE) as usize;
    for loaded in collect_epoch(&loader, 0, 0) {
        let query = loaded.query.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let support = loaded.support.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (row, &item) in loaded.batch.query.iter().enumerate() {
            let expected = gray_to_f32(&query_images[item], SIZE, SIZE, false);
            assert_eq!(query[row * pixels..(row + 1) * pixels], expected[..], "query row {row}");
        }
        for (row, &item) in loaded.batch.support.iter().enumerate() {
            let expected = gray_to_f32(&support_images[item], SIZE, SIZE, false);
            assert_eq!(
                support[row * pixels..(row + 1) * pixels],
                expected[..],
                "support row {row}"
            );
        }
    }
}

/// Two-table episodes with a query augmenter only: support rows stay as loaded, query rows
/// come from the query images and are distorted.
#[test]
fn two_table_episodes_augment_queries_only() {
    let support_labels = labels(ITEMS);
    let query_labels = labels(ITEMS);
    let support_images = images(ITEMS, 21);
    let query_images = images(ITEMS, 99);
    let spec = EpisodeSpec::new(3, 1, 2).unwrap();
    let tables = LabelTables::separate(&query_labels, &support_labels);
    let sampler = EpisodeSampler::from_tables(tables, spec, SamplerOptions::new()).unwrap();
    let config = LoaderConfig {
        query_augmenter: Some(Arc::new(Affine::omniglot())),
        ..plain_config()
    };

    let loader = ParallelLoader::new(
        EpisodeSequence::new(sampler, 6, 8).unwrap(),
        LoaderImages::Decoded(Arc::new(support_images.clone())),
        config,
    )
    .unwrap()
    .with_query_images(LoaderImages::Decoded(Arc::new(query_images.clone())));

    let pixels = (SIZE * SIZE) as usize;
    let mut queries_differ = false;
    for index in 0..6 {
        let episode = loader.sequence().batch(0, index).unwrap();
        let loaded = loader.batch(0, index).unwrap();

        let support = loaded.support.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (row, &item) in episode.support.iter().enumerate() {
            let expected = gray_to_f32(&support_images[item], SIZE, SIZE, false);
            assert_eq!(
                support[row * pixels..(row + 1) * pixels],
                expected[..],
                "episode {index}"
            );
        }

        let query = loaded.query.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (row, &item) in episode.query.iter().enumerate() {
            let plain = gray_to_f32(&query_images[item], SIZE, SIZE, false);
            queries_differ |= query[row * pixels..(row + 1) * pixels] != plain[..];
        }
    }
    assert!(queries_differ, "the query augmenter never changed a query image");
}

/// Writes the images as PNG files and returns a table whose `path` column contains their
/// absolute paths.
fn image_files(folder: &Path, images: &[GrayImage]) -> (AnnotationTable, Vec<PathBuf>) {
    std::fs::create_dir_all(folder).unwrap();
    let paths: Vec<PathBuf> = (0..images.len())
        .map(|item| folder.join(format!("{item}.png")))
        .collect();
    for (image, path) in images.iter().zip(&paths) {
        image.save(path).unwrap();
    }

    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
    ]));
    let path_strings: Vec<String> = paths.iter().map(|path| path.display().to_string()).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(labels(images.len()))),
        Arc::new(StringArray::from(path_strings)),
    ];
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    (AnnotationTable::from_record_batch(batch).unwrap(), paths)
}

/// A deleted image file fails the first batch that contains it with an error naming the file.
/// Dropping the iterator then stops every worker long before the end of the epoch.
#[test]
fn missing_image_file_is_error_naming_file() {
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("parallel_loader_missing_file");
    let _ = std::fs::remove_dir_all(&folder);
    let (table, paths) = image_files(&folder, &images(ITEMS, 21));
    let missing = 17;
    std::fs::remove_file(&paths[missing]).unwrap();

    // 100 pairs per query in batches of 10 make an epoch of 600 batches.
    let pairs = BalancedPairs::new(LabelTables::shared(&labels(ITEMS)), 100, 10, 5).unwrap();
    let first_bad = (0..pairs.len())
        .find(|&index| {
            let batch = pairs.batch(0, index).unwrap();
            batch.query.contains(&missing) || batch.support.contains(&missing)
        })
        .expect("some batch reads the missing file");
    let calls = Arc::new(AtomicUsize::new(0));
    let sequence = Counted {
        inner: pairs,
        calls: Arc::clone(&calls),
    };
    let (workers, prefetch) = (2, 1);
    let loader = ParallelLoader::new(sequence, LoaderImages::Encoded(Arc::new(table)), plain_config())
        .unwrap()
        .with_workers(workers)
        .unwrap()
        .with_prefetch(prefetch)
        .unwrap();

    let mut batches = loader.epoch(0).unwrap();
    for index in 0..first_bad {
        assert!(batches.next().unwrap().is_ok(), "batch {index} has every file");
    }
    match batches.next().unwrap() {
        Err(error @ Error::Dataset(_)) => {
            let message = error.to_string();
            assert!(message.contains(&paths[missing].display().to_string()), "{message}");
        }
        other => panic!("batch {first_bad}: expected a read error, got {other:?}"),
    }
    drop(batches);

    // Each worker may have filled its queue, built one batch that found it full, and started
    // one more before it saw the stop flag. Dropping joined them, so nothing runs afterwards.
    let after_drop = calls.load(Ordering::SeqCst);
    assert!(
        after_drop <= first_bad + 1 + workers * (prefetch + 2),
        "{after_drop} batches built for {} consumed",
        first_bad + 1
    );
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), after_drop);
}
