//! MNIST and CIFAR-10 from their standard local files, as the tensors of `candle-datasets`.
//!
//! [`load_mnist`] and [`load_cifar10`] return a [`Dataset`] with the shapes and types of
//! `candle_datasets::vision::{mnist, cifar}::load_dir`, so either can replace the other:
//! MNIST images are `(N, 784)` `f32` in [0, 1], CIFAR-10 images `(N, 3, 32, 32)` `f32` in
//! [0, 1], labels `(N,)` `u8`. The network is never used.
//!
//! The files are parsed here rather than by those `load_dir` functions because, in
//! candle-datasets 0.11, the MNIST reader accepts only uncompressed files, while the files are
//! usually distributed gzipped. The CIFAR-10 reader also requires exactly 10000 images per
//! batch file. Both return errors that do not name the file. The formats are small. An idx
//! file is a big-endian header (magic number, then one `u32` per dimension) followed by `u8`
//! values. A CIFAR-10 batch is a sequence of records of one label byte and 3072 pixel bytes:
//! 1024 red, 1024 green, then 1024 blue, each plane row-major 32x32.
//!
//! The loaders of candle-datasets stay available as [`mnist`] and [`cifar`], including the
//! ones that download from the Hugging Face Hub.

use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use flate2::read::GzDecoder;

pub use candle_datasets::vision::{Dataset, cifar, mnist};

use crate::error::{Error, Result};

/// Number of classes of MNIST and of CIFAR-10.
pub const NUM_CLASSES: usize = 10;

const IDX_LABELS_MAGIC: u32 = 0x0000_0801;
const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
const CIFAR_SIDE: usize = 32;
const CIFAR_RECORD: usize = 1 + 3 * CIFAR_SIDE * CIFAR_SIDE;
const CIFAR_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
const CIFAR_TEST_FILE: &str = "test_batch.bin";
const CIFAR_FOLDER: &str = "cifar-10-batches-bin";

/// Loads MNIST from `dir`, which contains `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each uncompressed or with a `.gz`
/// suffix.
///
/// # Errors
///
/// [`Error::NotFound`] naming the uncompressed file name when neither form exists.
/// [`Error::InvalidFile`] naming the file for a wrong magic number, a size that does not match
/// the header, a label above 9, or image and label files with different counts.
/// [`Error::Io`] when a file cannot be read or decompressed.
pub fn load_mnist(dir: &Path) -> Result<Dataset> {
    let (train_images, train_labels) = read_mnist_pair(dir, "train")?;
    let (test_images, test_labels) = read_mnist_pair(dir, "t10k")?;

    tracing::info!(
        dir = %dir.display(),
        train = train_labels.dim(0)?,
        test = test_labels.dim(0)?,
        "loaded MNIST"
    );
    Ok(Dataset {
        train_images,
        train_labels,
        test_images,
        test_labels,
        labels: NUM_CLASSES,
    })
}

/// Loads CIFAR-10 (binary version) from `dir` or from `dir/cifar-10-batches-bin`, the folder
/// the official archive extracts to: `data_batch_1.bin` … `data_batch_5.bin` for training and
/// `test_batch.bin` for testing.
///
/// # Errors
///
/// [`Error::NotFound`] naming a missing batch file, [`Error::InvalidFile`] naming the file for
/// an empty file, a size that is not a multiple of 3073 bytes, or a label above 9, and
/// [`Error::Io`] when a file cannot be read.
pub fn load_cifar10(dir: &Path) -> Result<Dataset> {
    let nested = dir.join(CIFAR_FOLDER);
    let dir = if nested.is_dir() { nested } else { dir.to_owned() };

    let mut train_images = Vec::new();
    let mut train_labels = Vec::new();
    for name in CIFAR_TRAIN_FILES {
        let (images, labels) = read_cifar10_batch(&dir.join(name))?;
        train_images.push(images);
        train_labels.push(labels);
    }
    let (test_images, test_labels) = read_cifar10_batch(&dir.join(CIFAR_TEST_FILE))?;

    let dataset = Dataset {
        train_images: Tensor::cat(&train_images, 0)?,
        train_labels: Tensor::cat(&train_labels, 0)?,
        test_images,
        test_labels,
        labels: NUM_CLASSES,
    };
    tracing::info!(
        dir = %dir.display(),
        train = dataset.train_labels.dim(0)?,
        test = dataset.test_labels.dim(0)?,
        "loaded CIFAR-10"
    );
    Ok(dataset)
}

/// Reads an idx3 image file (uncompressed, or gzip when the name ends in `.gz`) into an
/// `(N, rows * columns)` `f32` tensor of values divided by 255.
///
/// # Errors
///
/// [`Error::NotFound`], [`Error::Io`], and [`Error::InvalidFile`] for a wrong magic number or
/// a size that does not match the header.
pub fn read_idx_images(path: &Path) -> Result<Tensor> {
    let bytes = read_maybe_gzip(path)?;
    let (dims, values) = parse_idx(path, &bytes, IDX_IMAGES_MAGIC, 3)?;

    let pixels = dims[1] * dims[2];
    Ok(Tensor::from_vec(unit_values(values), (dims[0], pixels), &Device::Cpu)?)
}

/// Reads an idx1 label file (uncompressed, or gzip when the name ends in `.gz`) into an `(N,)`
/// `u8` tensor.
///
/// # Errors
///
/// [`Error::NotFound`], [`Error::Io`], and [`Error::InvalidFile`] for a wrong magic number, a
/// size that does not match the header, or a label above 9.
pub fn read_idx_labels(path: &Path) -> Result<Tensor> {
    let bytes = read_maybe_gzip(path)?;
    let (dims, values) = parse_idx(path, &bytes, IDX_LABELS_MAGIC, 1)?;
    check_labels(path, values)?;

    Ok(Tensor::from_vec(values.to_vec(), dims[0], &Device::Cpu)?)
}

/// Reads one CIFAR-10 binary batch into `(N, 3, 32, 32)` `f32` images in [0, 1] and `(N,)`
/// `u8` labels.
///
/// # Errors
///
/// [`Error::NotFound`], [`Error::Io`], and [`Error::InvalidFile`] for an empty file, a size
/// that is not a multiple of 3073 bytes, or a label above 9.
pub fn read_cifar10_batch(path: &Path) -> Result<(Tensor, Tensor)> {
    let bytes = read_file(path)?;
    if bytes.is_empty() || bytes.len() % CIFAR_RECORD != 0 {
        return Err(Error::InvalidFile {
            path: path.to_owned(),
            reason: format!(
                "size {} bytes is not a positive multiple of the {CIFAR_RECORD}-byte CIFAR-10 record \
                 (1 label byte, 3072 pixel bytes); the file may be truncated or not a CIFAR-10 binary batch",
                bytes.len()
            ),
        });
    }

    let count = bytes.len() / CIFAR_RECORD;
    let mut labels = Vec::with_capacity(count);
    let mut pixels = Vec::with_capacity(count * (CIFAR_RECORD - 1));
    for record in bytes.chunks_exact(CIFAR_RECORD) {
        labels.push(record[0]);
        pixels.extend(unit_values(&record[1..]));
    }
    check_labels(path, &labels)?;

    let images = Tensor::from_vec(pixels, (count, 3, CIFAR_SIDE, CIFAR_SIDE), &Device::Cpu)?;
    let labels = Tensor::from_vec(labels, count, &Device::Cpu)?;
    Ok((images, labels))
}

/// Reads `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` and checks that their
/// counts agree.
fn read_mnist_pair(dir: &Path, prefix: &str) -> Result<(Tensor, Tensor)> {
    let images_path = find_idx(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find_idx(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_idx_images(&images_path)?;
    let labels = read_idx_labels(&labels_path)?;

    let (image_count, label_count) = (images.dim(0)?, labels.dim(0)?);
    if image_count != label_count {
        return Err(Error::InvalidFile {
            path: labels_path,
            reason: format!(
                "{label_count} labels for {image_count} images in {}; use the image and label files of one release",
                images_path.display()
            ),
        });
    }
    Ok((images, labels))
}

/// Returns `dir/<name>` or `dir/<name>.gz`, whichever exists.
fn find_idx(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gzip = dir.join(format!("{name}.gz"));
    if gzip.is_file() {
        return Ok(gzip);
    }

    Err(Error::NotFound { path: plain })
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::io("read", path, source),
    })
}

fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_file(path)?;
    if !path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("gz"))
    {
        return Ok(bytes);
    }

    let mut decompressed = Vec::new();
    GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut decompressed)
        .map_err(|source| Error::io("decompress", path, source))?;
    Ok(decompressed)
}

/// Splits an idx file into its dimensions and `u8` values, checking the magic number, the
/// number of dimensions and the size.
fn parse_idx<'a>(path: &Path, bytes: &'a [u8], magic: u32, rank: usize) -> Result<(Vec<usize>, &'a [u8])> {
    let invalid = |reason: String| Error::InvalidFile {
        path: path.to_owned(),
        reason,
    };
    let header_len = 4 * (rank + 1);
    if bytes.len() < header_len {
        return Err(invalid(format!(
            "{} bytes is shorter than the {header_len}-byte idx header; the file is truncated",
            bytes.len()
        )));
    }

    let word = |index: usize| {
        u32::from_be_bytes([
            bytes[4 * index],
            bytes[4 * index + 1],
            bytes[4 * index + 2],
            bytes[4 * index + 3],
        ])
    };
    let found = word(0);
    if found != magic {
        return Err(invalid(format!(
            "magic number {found:#010x}, expected {magic:#010x} (unsigned bytes, {rank} dimensions); \
             check that this is the right MNIST file and that a gzipped file ends in .gz"
        )));
    }

    let dims: Vec<usize> = (1..=rank).map(|index| word(index) as usize).collect();
    let expected = dims.iter().try_fold(1usize, |product, &dim| product.checked_mul(dim));
    let values = &bytes[header_len..];
    if expected != Some(values.len()) {
        return Err(invalid(format!(
            "the header declares dimensions {dims:?} but {} value bytes follow; the file is truncated or corrupt",
            values.len()
        )));
    }
    Ok((dims, values))
}

/// Divides bytes by 255 in `f32`, as [`crate::decode`] does. A tensor division would multiply
/// by the rounded reciprocal and differ in the last bit.
fn unit_values(bytes: &[u8]) -> Vec<f32> {
    bytes.iter().map(|&byte| f32::from(byte) / 255.0).collect()
}

fn check_labels(path: &Path, labels: &[u8]) -> Result<()> {
    match labels.iter().position(|&label| usize::from(label) >= NUM_CLASSES) {
        Some(index) => Err(Error::InvalidFile {
            path: path.to_owned(),
            reason: format!("label {} of item {index} is outside 0..=9", labels[index]),
        }),
        None => Ok(()),
    }
}
