//! Materialising the batches of an epoch on worker threads, delivered in index order.
//!
//! Worker `w` of `n` builds batches `start + w`, `start + w + n`, … of the epoch and sends each
//! into its own bounded channel. The consumer takes from the channels in turn, so batches arrive
//! in index order without a reordering buffer. A worker that is `prefetch` batches ahead blocks
//! until the consumer catches up.

use std::borrow::Cow;
use std::num::NonZero;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use candle_core::{Device, Tensor};
use fsl_datasets::AnnotationTable;
use fsl_datasets::decode::decode_row;
use fsl_layers::EpisodeBatch;
use image::GrayImage;

use crate::error::{Error, Result};
use crate::loadable::{ImageSide, LoadableBatch};
use crate::loader::LoaderConfig;
use crate::seed;
use crate::sequence::Sequence;

/// Batches each worker may finish ahead of the consumer unless [`ParallelLoader::with_prefetch`]
/// sets another value.
pub const DEFAULT_PREFETCH: usize = 2;

/// The images a [`ParallelLoader`] reads, item `i` being image `i`.
#[derive(Debug, Clone)]
pub enum LoaderImages {
    /// Images decoded beforehand, for example with [`decode_images`](crate::decode_images).
    Decoded(Arc<Vec<GrayImage>>),
    /// An annotation table whose row `i` is item `i`. Workers decode an image each time a batch
    /// needs it, so a corrupt image fails only the batches that contain it.
    Encoded(Arc<AnnotationTable>),
}

impl LoaderImages {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            Self::Decoded(images) => images.len(),
            Self::Encoded(table) => table.num_rows(),
        }
    }

    /// Returns whether there is no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the image of `item`, decoding it when the images are encoded.
    fn image(&self, item: usize) -> Result<Cow<'_, GrayImage>> {
        match self {
            Self::Decoded(images) => Ok(Cow::Borrowed(&images[item])),
            Self::Encoded(table) => Ok(Cow::Owned(decode_row(table, item)?)),
        }
    }
}

/// Loads the batches of a [`Sequence`] as tensors on worker threads, in index order.
///
/// Any sequence whose batch implements [`LoadableBatch`] works: episodes give
/// [`EpisodeBatch`]es, and pairs, products, triplets, k-shot batches and single images give
/// the `Loaded*` types of this crate. Each input of a batch (support and query, anchor and
/// partners) reads the support images or, with [`ParallelLoader::with_query_images`], its own
/// query images, and uses the augmenter of its side from [`LoaderConfig::augmenter_for`].
///
/// Batch `index` of epoch `epoch` depends only on the sequence (with its seed), the loader seed,
/// `epoch` and `index`: the augmentation stream of the item at position `p` of the batch
/// (counting through the inputs in order, for episodes support first, then query) is seeded
/// from `(config.seed, epoch, index, p)`. The batches are therefore bit-identical for any
/// number of workers, and an interrupted epoch resumes with [`ParallelLoader::epoch_from`].
///
/// ```
/// use std::sync::Arc;
///
/// use fsl_sequences::{
///     EpisodeSampler, EpisodeSequence, EpisodeSpec, LoaderConfig, LoaderImages, ParallelLoader, SamplerOptions,
/// };
/// use image::{GrayImage, Luma};
///
/// // Three classes of four 10x10 images each, item i being image i.
/// let labels: Vec<String> = (0..12).map(|item| format!("class{}", item / 4)).collect();
/// let images: Vec<GrayImage> = (0..12).map(|item| GrayImage::from_pixel(10, 10, Luma([item * 20]))).collect();
///
/// let sampler = EpisodeSampler::new(&labels, EpisodeSpec::new(2, 1, 3)?, SamplerOptions::new())?;
/// let episodes = EpisodeSequence::new(sampler, 5, 42)?;
/// let config = LoaderConfig { image_size: 8, ..Default::default() };
/// let loader = ParallelLoader::new(episodes, LoaderImages::Decoded(Arc::new(images)), config)?
///     .with_workers(2)?
///     .with_prefetch(1)?;
///
/// let batches: Vec<_> = loader.epoch(0)?.collect::<Result<_, _>>()?;
/// assert_eq!(batches.len(), 5);
/// assert_eq!(batches[4].support.dims(), [2, 1, 8, 8]);
/// assert_eq!(batches[4].query_labels, [0, 0, 0, 1, 1, 1]);
///
/// // Resuming epoch 0 at batch 4 gives the batch the full pass gave.
/// let resumed = loader.epoch_from(0, 4)?.next().unwrap()?;
/// assert_eq!(resumed.query_labels, batches[4].query_labels);
/// assert_eq!(
///     resumed.support.flatten_all()?.to_vec1::<f32>()?,
///     batches[4].support.flatten_all()?.to_vec1::<f32>()?
/// );
/// # Ok::<(), fsl_sequences::Error>(())
/// ```
///
/// Pairs load the same way, with one tensor per side and the index-level batch alongside:
///
/// ```
/// use std::sync::Arc;
///
/// use fsl_sequences::{BalancedPairs, LabelTables, LoaderConfig, LoaderImages, ParallelLoader};
/// use image::{GrayImage, Luma};
///
/// let labels: Vec<String> = (0..12).map(|item| format!("class{}", item / 4)).collect();
/// let images: Vec<GrayImage> = (0..12).map(|item| GrayImage::from_pixel(10, 10, Luma([item * 20]))).collect();
///
/// let pairs = BalancedPairs::new(LabelTables::shared(&labels), 2, 4, 7)?;
/// let config = LoaderConfig { image_size: 8, ..Default::default() };
/// let loader = ParallelLoader::new(pairs, LoaderImages::Decoded(Arc::new(images)), config)?.with_workers(2)?;
///
/// let batch = loader.epoch(0)?.next().unwrap()?;
/// assert_eq!(batch.query.dims(), [4, 1, 8, 8]);
/// assert_eq!(batch.support.dims(), [4, 1, 8, 8]);
/// assert_eq!(batch.batch.targets, [true, false, true, false]);
/// # Ok::<(), fsl_sequences::Error>(())
/// ```
#[derive(Debug)]
pub struct ParallelLoader<S> {
    sequence: Arc<S>,
    images: SideImages,
    config: Arc<LoaderConfig>,
    workers: usize,
    prefetch: usize,
}

/// The images of each side: the support images, and the query images when queries come from
/// their own table.
#[derive(Debug, Clone)]
struct SideImages {
    support: LoaderImages,
    query: Option<LoaderImages>,
}

impl SideImages {
    fn get(&self, side: ImageSide) -> &LoaderImages {
        match (side, &self.query) {
            (ImageSide::Query, Some(query)) => query,
            _ => &self.support,
        }
    }
}

impl<S> ParallelLoader<S>
where
    S: Sequence + Send + Sync + 'static,
    S::Batch: LoadableBatch,
{
    /// Creates a loader with one worker per available CPU and [`DEFAULT_PREFETCH`], whose
    /// inputs all read `images` until [`ParallelLoader::with_query_images`] gives the queries
    /// their own.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for `config.image_size = 0`.
    pub fn new(sequence: S, images: LoaderImages, config: LoaderConfig) -> Result<Self> {
        if config.image_size == 0 {
            return Err(Error::InvalidArgument {
                name: "image_size",
                value: 0,
                reason: "images need a side of at least 1 pixel",
            });
        }

        let workers = std::thread::available_parallelism().map_or(1, NonZero::get);
        Ok(Self {
            sequence: Arc::new(sequence),
            images: SideImages {
                support: images,
                query: None,
            },
            config: Arc::new(config),
            workers,
            prefetch: DEFAULT_PREFETCH,
        })
    }

    /// Reads query and anchor items from `images`, for a sequence built from separate query and
    /// support tables ([`LabelTables::Separate`](crate::LabelTables::Separate) or
    /// [`EpisodeSampler::from_tables`](crate::EpisodeSampler::from_tables)).
    ///
    /// NOTE: the loader cannot tell which tables a sequence was built from. Without this call,
    /// the query indices of a two-table sequence index the support images, which is only
    /// caught when an index is past their end.
    pub fn with_query_images(mut self, images: LoaderImages) -> Self {
        self.images.query = Some(images);
        self
    }

    /// Sets the number of worker threads.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for `workers = 0`.
    pub fn with_workers(mut self, workers: usize) -> Result<Self> {
        if workers == 0 {
            return Err(Error::InvalidArgument {
                name: "workers",
                value: workers,
                reason: "the loader needs at least one worker thread",
            });
        }

        self.workers = workers;
        Ok(self)
    }

    /// Sets how many finished batches each worker may hold before the consumer takes them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for `prefetch = 0`.
    pub fn with_prefetch(mut self, prefetch: usize) -> Result<Self> {
        if prefetch == 0 {
            return Err(Error::InvalidArgument {
                name: "prefetch",
                value: prefetch,
                reason: "each worker needs room for at least one finished batch",
            });
        }

        self.prefetch = prefetch;
        Ok(self)
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Finished batches each worker may hold ahead of the consumer.
    pub fn prefetch(&self) -> usize {
        self.prefetch
    }

    /// Returns the index-level sequence.
    pub fn sequence(&self) -> &S {
        &self.sequence
    }

    /// Batches per epoch.
    pub fn len(&self) -> usize {
        self.sequence.len()
    }

    /// Returns whether an epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.sequence.is_empty()
    }

    /// Builds batch `index` of epoch `epoch` on the calling thread.
    ///
    /// # Errors
    ///
    /// The errors of [`Sequence::batch`], [`Error::ItemOutOfRange`] for an item without an
    /// image, [`Error::Dataset`] for an image that cannot be read or decoded (naming its file
    /// or row).
    pub fn batch(&self, epoch: u64, index: usize) -> Result<<S::Batch as LoadableBatch>::Loaded> {
        load_batch(&*self.sequence, &self.images, &self.config, epoch, index)
    }

    /// Starts the workers on every batch of `epoch`.
    ///
    /// # Errors
    ///
    /// See [`ParallelLoader::epoch_from`].
    pub fn epoch(&self, epoch: u64) -> Result<LoaderBatches<<S::Batch as LoadableBatch>::Loaded>> {
        self.epoch_from(epoch, 0)
    }

    /// Starts the workers on the batches of `epoch` from batch `start` on, to resume an epoch.
    ///
    /// The iterator yields one `Result` per batch, in index order. A batch that fails does not
    /// end the epoch. Dropping the iterator stops the workers and waits for each to finish the
    /// batch it is building.
    ///
    /// # Errors
    ///
    /// [`Error::BatchOutOfRange`] when `start` is past the end of the epoch (`start` equal to
    /// the number of batches gives an empty iterator), and [`Error::SpawnWorker`] when the
    /// operating system cannot start a thread.
    pub fn epoch_from(&self, epoch: u64, start: usize) -> Result<LoaderBatches<<S::Batch as LoadableBatch>::Loaded>> {
        let end = self.len();
        if start > end {
            return Err(Error::BatchOutOfRange { index: start, len: end });
        }
        let workers = self.workers.min(end.saturating_sub(start)).max(1);
        let stop = Arc::new(AtomicBool::new(false));

        let mut batches = LoaderBatches {
            receivers: Vec::with_capacity(workers),
            handles: Vec::with_capacity(workers),
            stop: Arc::clone(&stop),
            epoch,
            start,
            next: start,
            end,
            stopped: false,
        };
        for worker in 0..workers {
            let (sender, receiver) = sync_channel(self.prefetch);
            let job = WorkerJob {
                sequence: Arc::clone(&self.sequence),
                images: self.images.clone(),
                config: Arc::clone(&self.config),
                stop: Arc::clone(&stop),
                epoch,
                indices: (start + worker..end).step_by(workers),
            };

            // On a spawn failure, dropping `batches` stops the workers already started.
            let handle = std::thread::Builder::new()
                .name(format!("fsl-loader-{worker}"))
                .spawn(move || job.run(sender))
                .map_err(Error::SpawnWorker)?;
            batches.receivers.push(receiver);
            batches.handles.push(handle);
        }

        Ok(batches)
    }
}

/// The share of one worker thread: every `workers`-th batch of an epoch.
struct WorkerJob<S> {
    sequence: Arc<S>,
    images: SideImages,
    config: Arc<LoaderConfig>,
    stop: Arc<AtomicBool>,
    epoch: u64,
    indices: std::iter::StepBy<std::ops::Range<usize>>,
}

impl<S> WorkerJob<S>
where
    S: Sequence,
    S::Batch: LoadableBatch,
{
    fn run(self, sender: SyncSender<Result<<S::Batch as LoadableBatch>::Loaded>>) {
        for index in self.indices {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }

            let batch = load_batch(&*self.sequence, &self.images, &self.config, self.epoch, index);

            // A closed channel means the iterator was dropped.
            if sender.send(batch).is_err() {
                return;
            }
        }
    }
}

/// The batches of one epoch, produced by the workers of a [`ParallelLoader`].
///
/// Yields `Ok` or `Err` for every batch, in index order, and [`Error::WorkerStopped`] once if a
/// worker thread panicked, after which the iteration ends. `T` is the loaded batch type, an
/// [`EpisodeBatch`] for episode sequences.
#[derive(Debug)]
pub struct LoaderBatches<T = EpisodeBatch> {
    receivers: Vec<Receiver<Result<T>>>,
    handles: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    epoch: u64,
    start: usize,
    next: usize,
    end: usize,
    stopped: bool,
}

impl<T> Iterator for LoaderBatches<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped || self.next >= self.end {
            return None;
        }

        let index = self.next;
        let worker = (index - self.start) % self.receivers.len();
        match self.receivers[worker].recv() {
            Ok(batch) => {
                self.next += 1;
                Some(batch)
            }

            // A worker only drops its sender early by panicking, since it sends every batch
            // of its share before returning.
            Err(_) => {
                self.stopped = true;
                Some(Err(Error::WorkerStopped {
                    epoch: self.epoch,
                    index,
                }))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.stopped {
            return (0, Some(0));
        }

        let left = self.end.saturating_sub(self.next);
        (left.min(1), Some(left))
    }
}

impl<T> Drop for LoaderBatches<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);

        // Closing the channels first wakes the workers blocked on a full queue.
        self.receivers.clear();
        for handle in self.handles.drain(..) {
            if handle.join().is_err() {
                tracing::warn!(epoch = self.epoch, "a loader worker thread panicked");
            }
        }
    }
}

/// Builds batch `index` of epoch `epoch`: computes the index-level batch, then decodes,
/// augments, resizes and stacks the images of each input.
fn load_batch<S>(
    sequence: &S,
    images: &SideImages,
    config: &LoaderConfig,
    epoch: u64,
    index: usize,
) -> Result<<S::Batch as LoadableBatch>::Loaded>
where
    S: Sequence + ?Sized,
    S::Batch: LoadableBatch,
{
    let batch = sequence.batch(epoch, index)?;

    let side = config.image_size as usize;
    let inputs = batch.inputs();
    let mut tensors = Vec::with_capacity(inputs.len());
    let mut position = 0u64;
    for (image_side, items) in inputs {
        let source = images.get(image_side);
        let mut pixels = Vec::with_capacity(items.len() * side * side);
        for &item in items {
            if item >= source.len() {
                return Err(Error::ItemOutOfRange {
                    epoch,
                    index,
                    item,
                    images: source.len(),
                });
            }

            let image = source.image(item)?;
            let seed = seed::mix(&[config.seed, epoch, index as u64, position]);
            pixels.extend(config.image_pixels(&image, image_side == ImageSide::Query, seed));
            position += 1;
        }
        tensors.push(Tensor::from_vec(pixels, (items.len(), 1, side, side), &Device::Cpu)?);
    }

    batch.assemble(tensors)
}
