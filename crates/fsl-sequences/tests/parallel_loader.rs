//! The parallel loader on a small synthetic PNG table: identical batches for any number of
//! workers, resuming an epoch, stopping on drop, and errors delivered in order.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{ArrayRef, BinaryArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use candle_core::Tensor;
use fsl_augment::Affine;
use fsl_datasets::AnnotationTable;
use fsl_layers::EpisodeBatch;
use fsl_sequences::{
    Episode, EpisodeSampler, EpisodeSequence, EpisodeSpec, Error, LoaderConfig, LoaderImages, ParallelLoader,
    SamplerOptions, Sequence,
};
use image::{GrayImage, ImageFormat, Luma};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const CLASSES: usize = 6;
const PER_CLASS: usize = 5;
const EPISODES: usize = 12;
const SEQUENCE_SEED: u64 = 5;

type Episodes = EpisodeSequence<EpisodeSampler<String>>;

fn labels(items: usize) -> Vec<String> {
    (0..items).map(|item| format!("class{}", item / PER_CLASS)).collect()
}

/// Random 12x10 noise images, so every item has its own pixels and a resize changes them.
fn images(items: usize) -> Vec<GrayImage> {
    let mut rng = StdRng::seed_from_u64(21);
    (0..items)
        .map(|_| GrayImage::from_fn(12, 10, |_, _| Luma([rng.random_range(0..=255u8)])))
        .collect()
}

fn png_bytes(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Builds an annotation table of PNG images. Row `corrupt`, if given, contains bytes that are
/// not a PNG.
fn table(images: &[GrayImage], corrupt: Option<usize>) -> AnnotationTable {
    let labels = labels(images.len());
    let mut bytes: Vec<Vec<u8>> = images.iter().map(png_bytes).collect();
    if let Some(row) = corrupt {
        bytes[row] = b"not a png".to_vec();
    }
    let paths: Vec<String> = (0..images.len())
        .map(|row| format!("{}/{row}.png", labels[row]))
        .collect();

    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("image", DataType::Binary, false),
        Field::new("path", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(labels)),
        Arc::new(BinaryArray::from(bytes.iter().map(Vec::as_slice).collect::<Vec<_>>())),
        Arc::new(StringArray::from(paths)),
    ];
    AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap()).unwrap()
}

fn sequence(items: usize, episodes: usize) -> Episodes {
    let spec = EpisodeSpec::new(3, 1, 2).unwrap();
    let sampler = EpisodeSampler::new(&labels(items), spec, SamplerOptions::new()).unwrap();
    EpisodeSequence::new(sampler, episodes, SEQUENCE_SEED).unwrap()
}

fn augmented_config() -> LoaderConfig {
    LoaderConfig {
        image_size: 8,
        seed: 3,
        augmenter: Some(Arc::new(Affine::omniglot())),
        query_augmenter: None,
        ..Default::default()
    }
}

fn encoded() -> LoaderImages {
    LoaderImages::Encoded(Arc::new(table(&images(CLASSES * PER_CLASS), None)))
}

fn loader<S>(sequence: S, images: LoaderImages, workers: usize) -> ParallelLoader<S>
where
    S: Sequence<Batch = Episode<String>> + Send + Sync + 'static,
{
    ParallelLoader::new(sequence, images, augmented_config())
        .unwrap()
        .with_workers(workers)
        .unwrap()
        .with_prefetch(2)
        .unwrap()
}

/// Returns the bit patterns of a tensor's values, so equal means bit-identical.
fn bits(tensor: &Tensor) -> Vec<u32> {
    let values = tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values.into_iter().map(f32::to_bits).collect()
}

fn assert_same_batch(a: &EpisodeBatch, b: &EpisodeBatch, context: &str) {
    assert_eq!(a.n_way, b.n_way, "{context}");
    assert_eq!(a.support_labels, b.support_labels, "{context}");
    assert_eq!(a.query_labels, b.query_labels, "{context}");
    assert_eq!(a.support.dims(), b.support.dims(), "{context}");
    assert_eq!(bits(&a.support), bits(&b.support), "{context}");
    assert_eq!(bits(&a.query), bits(&b.query), "{context}");
}

fn collect_epoch<S>(loader: &ParallelLoader<S>, epoch: u64, start: usize) -> Vec<EpisodeBatch>
where
    S: Sequence<Batch = Episode<String>> + Send + Sync + 'static,
{
    loader
        .epoch_from(epoch, start)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// An episode sequence that counts its `batch` calls and can panic at one index.
struct Instrumented {
    inner: Episodes,
    calls: Arc<AtomicUsize>,
    panic_at: Option<usize>,
}

impl Sequence for Instrumented {
    type Batch = Episode<String>;

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn batch(&self, epoch: u64, index: usize) -> fsl_sequences::Result<Self::Batch> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_ne!(Some(index), self.panic_at, "the test sequence panics at batch {index}");
        self.inner.batch(epoch, index)
    }
}

#[test]
fn batches_identical_for_any_worker_count() {
    let reference = loader(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), 1);
    let single = collect_epoch(&reference, 1, 0);
    assert_eq!(single.len(), EPISODES);

    for workers in [2, 3] {
        let parallel = collect_epoch(
            &loader(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), workers),
            1,
            0,
        );

        assert_eq!(parallel.len(), EPISODES, "{workers} workers");
        for (index, (a, b)) in single.iter().zip(&parallel).enumerate() {
            assert_same_batch(a, b, &format!("batch {index}, {workers} workers"));
        }
    }

    // Augmentation is part of what must match: without it the pixels differ.
    let plain = ParallelLoader::new(
        sequence(CLASSES * PER_CLASS, EPISODES),
        encoded(),
        LoaderConfig {
            image_size: 8,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(bits(&plain.batch(1, 0).unwrap().support), bits(&single[0].support));

    // The calling thread computes the same batches as the workers.
    for (index, batch) in single.iter().enumerate() {
        assert_same_batch(&reference.batch(1, index).unwrap(), batch, &format!("batch {index}"));
    }
}

#[test]
fn batches_carry_episode_labels_and_shapes() {
    let loader = loader(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), 2);

    for (index, batch) in collect_epoch(&loader, 0, 0).iter().enumerate() {
        let episode = loader.sequence().batch(0, index).unwrap();

        assert_eq!(batch.n_way, 3);
        assert_eq!(batch.support.dims(), [3, 1, 8, 8]);
        assert_eq!(batch.query.dims(), [6, 1, 8, 8]);
        assert_eq!(batch.support_labels, episode.support_labels);
        assert_eq!(batch.query_labels, episode.query_labels);
    }
}

#[test]
fn decoded_and_encoded_images_agree() {
    let decoded = LoaderImages::Decoded(Arc::new(images(CLASSES * PER_CLASS)));
    let from_decoded = collect_epoch(&loader(sequence(CLASSES * PER_CLASS, EPISODES), decoded, 2), 0, 0);
    let from_encoded = collect_epoch(&loader(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), 2), 0, 0);

    for (index, (a, b)) in from_decoded.iter().zip(&from_encoded).enumerate() {
        assert_same_batch(a, b, &format!("batch {index}"));
    }
}

#[test]
fn epoch_resumes_from_index() {
    let full = collect_epoch(&loader(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), 2), 2, 0);

    // A new loader from the same seeds, as after a restart, resumes epoch 2 at batch 7.
    let restarted = loader(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), 3);
    let resumed = collect_epoch(&restarted, 2, 7);

    assert_eq!(resumed.len(), EPISODES - 7);
    for (offset, (a, b)) in full[7..].iter().zip(&resumed).enumerate() {
        assert_same_batch(a, b, &format!("batch {}", 7 + offset));
    }
    assert_eq!(restarted.epoch_from(2, EPISODES).unwrap().count(), 0);
    assert_ne!(bits(&full[0].support), bits(&restarted.batch(3, 0).unwrap().support));
}

#[test]
fn dropping_iterator_stops_workers() {
    let (workers, prefetch, consumed) = (2, 2, 3);
    let calls = Arc::new(AtomicUsize::new(0));
    let sequence = Instrumented {
        inner: sequence(CLASSES * PER_CLASS, 10_000),
        calls: Arc::clone(&calls),
        panic_at: None,
    };
    let loader = loader(sequence, encoded(), workers).with_prefetch(prefetch).unwrap();

    let mut batches = loader.epoch(0).unwrap();
    for _ in 0..consumed {
        batches.next().unwrap().unwrap();
    }
    drop(batches);

    // Dropping joins the workers. Each may have filled its queue, built one batch that found the
    // queue full, and started one more before it saw the stop flag.
    let after_drop = calls.load(Ordering::SeqCst);
    assert!(
        after_drop <= consumed + workers * (prefetch + 2),
        "{after_drop} batches built for {consumed} consumed"
    );

    // An iterator dropped before its first batch stops as well.
    drop(loader.epoch(1).unwrap());
    let second = calls.load(Ordering::SeqCst) - after_drop;
    assert!(
        second <= workers * (prefetch + 2),
        "{second} batches built for none consumed"
    );
}

#[test]
fn batch_errors_arrive_in_order() {
    let corrupt = 13;
    let table = table(&images(CLASSES * PER_CLASS), Some(corrupt));
    let sequence = sequence(CLASSES * PER_CLASS, 30);
    let contains_corrupt: Vec<bool> = (0..30)
        .map(|index| {
            let episode = sequence.batch(0, index).unwrap();
            episode.support.contains(&corrupt) || episode.query.contains(&corrupt)
        })
        .collect();
    assert!(
        contains_corrupt.contains(&true),
        "no episode draws the corrupt row; change the seed"
    );
    assert!(
        contains_corrupt.contains(&false),
        "every episode draws the corrupt row; change the seed"
    );

    let results: Vec<_> = loader(sequence, LoaderImages::Encoded(Arc::new(table)), 3)
        .epoch(0)
        .unwrap()
        .collect();

    assert_eq!(results.len(), 30);
    for (index, (result, &bad)) in results.iter().zip(&contains_corrupt).enumerate() {
        match result {
            Ok(_) => assert!(!bad, "batch {index} contains the corrupt row but loaded"),
            Err(Error::Dataset(fsl_datasets::Error::Decode { source_name, .. })) => {
                assert!(bad, "batch {index} failed without the corrupt row");
                assert!(source_name.contains("row 13"), "{source_name}");
            }
            Err(other) => panic!("batch {index}: expected a decode error, got {other:?}"),
        }
    }
}

#[test]
fn item_without_image_is_error() {
    let items = CLASSES * PER_CLASS;
    let images = LoaderImages::Decoded(Arc::new(images(items - PER_CLASS)));

    let results: Vec<_> = loader(sequence(items, 20), images, 2).epoch(0).unwrap().collect();

    let mut failed = 0;
    for (index, result) in results.iter().enumerate() {
        let episode = sequence(items, 20).batch(0, index).unwrap();
        let missing = episode
            .support
            .iter()
            .chain(&episode.query)
            .find(|&&item| item >= items - PER_CLASS);
        match (result, missing) {
            (Ok(_), None) => {}
            (Err(error @ Error::ItemOutOfRange { item, images, .. }), Some(missing)) => {
                failed += 1;
                assert_eq!(item, missing, "batch {index}");
                assert_eq!(*images, items - PER_CLASS);
                assert!(
                    error.to_string().contains(&format!("batch {index} of epoch 0")),
                    "{error}"
                );
            }
            (result, missing) => panic!("batch {index}: got {result:?} with missing item {missing:?}"),
        }
    }
    assert!(failed > 0, "no episode drew the class without images; change the seed");
}

#[test]
fn worker_panic_becomes_error() {
    let sequence = Instrumented {
        inner: sequence(CLASSES * PER_CLASS, EPISODES),
        calls: Arc::new(AtomicUsize::new(0)),
        panic_at: Some(3),
    };

    let results: Vec<_> = loader(sequence, encoded(), 2).epoch(4).unwrap().collect();

    assert_eq!(results.len(), 4, "batches 0 to 2, then the error");
    assert!(results[..3].iter().all(Result::is_ok));
    match &results[3] {
        Err(Error::WorkerStopped { epoch: 4, index: 3 }) => {}
        other => panic!("expected WorkerStopped at batch 3, got {other:?}"),
    }
}

#[test]
fn zero_workers_rejected() {
    let loader = ParallelLoader::new(
        sequence(CLASSES * PER_CLASS, EPISODES),
        encoded(),
        LoaderConfig::default(),
    )
    .unwrap();

    let error = loader.with_workers(0).unwrap_err();

    assert!(
        matches!(
            error,
            Error::InvalidArgument {
                name: "workers",
                value: 0,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("workers = 0"), "{error}");
}

#[test]
fn zero_prefetch_rejected() {
    let loader = ParallelLoader::new(
        sequence(CLASSES * PER_CLASS, EPISODES),
        encoded(),
        LoaderConfig::default(),
    )
    .unwrap();

    let error = loader.with_prefetch(0).unwrap_err();

    assert!(
        matches!(
            error,
            Error::InvalidArgument {
                name: "prefetch",
                value: 0,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("prefetch = 0"), "{error}");
}

#[test]
fn zero_image_size_rejected() {
    let config = LoaderConfig {
        image_size: 0,
        ..Default::default()
    };

    let error = ParallelLoader::new(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), config).unwrap_err();

    assert!(
        matches!(
            error,
            Error::InvalidArgument {
                name: "image_size",
                value: 0,
                ..
            }
        ),
        "{error:?}"
    );
}

/// With a query augmenter only, support images stay as loaded and queries are distorted; both
/// loaders apply the same choice.
#[test]
fn query_augmenter_distorts_queries_only() {
    let plain_config = LoaderConfig {
        image_size: 8,
        seed: 3,
        ..Default::default()
    };
    let query_only = LoaderConfig {
        query_augmenter: Some(Arc::new(Affine::omniglot())),
        ..plain_config.clone()
    };
    let plain = ParallelLoader::new(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), plain_config).unwrap();
    let augmented = ParallelLoader::new(sequence(CLASSES * PER_CLASS, EPISODES), encoded(), query_only).unwrap();

    let mut queries_differ = false;
    for index in 0..EPISODES {
        let plain_batch = plain.batch(0, index).unwrap();
        let augmented_batch = augmented.batch(0, index).unwrap();
        assert_eq!(
            bits(&plain_batch.support),
            bits(&augmented_batch.support),
            "episode {index}"
        );
        queries_differ |= bits(&plain_batch.query) != bits(&augmented_batch.query);
    }
    assert!(queries_differ, "the query augmenter never changed a query image");
}

#[test]
fn augmenter_for_picks_the_query_augmenter_for_queries() {
    let support_augmenter: Arc<dyn fsl_augment::Augmenter> = Arc::new(Affine::omniglot());
    let config = LoaderConfig {
        augmenter: Some(Arc::clone(&support_augmenter)),
        ..Default::default()
    };
    assert!(config.augmenter_for(true).is_some());
    assert!(Arc::ptr_eq(config.augmenter_for(true).unwrap(), &support_augmenter));

    let query_augmenter: Arc<dyn fsl_augment::Augmenter> = Arc::new(fsl_augment::Identity);
    let config = LoaderConfig {
        query_augmenter: Some(Arc::clone(&query_augmenter)),
        ..config
    };
    assert!(Arc::ptr_eq(config.augmenter_for(false).unwrap(), &support_augmenter));
    assert!(Arc::ptr_eq(config.augmenter_for(true).unwrap(), &query_augmenter));
}
