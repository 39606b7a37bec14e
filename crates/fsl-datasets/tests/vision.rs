//! MNIST idx files and CIFAR-10 binary batches that the tests write into a temporary folder.

#![cfg(feature = "vision-datasets")]

use std::io::Write;
use std::path::Path;

use candle_core::DType;
use flate2::Compression;
use flate2::write::GzEncoder;
use fsl_datasets::Error;
use fsl_datasets::vision::{load_cifar10, load_mnist, read_cifar10_batch, read_idx_images, read_idx_labels};

/// Builds an idx file: magic number, dimensions, then the values, all big-endian.
fn idx(magic: u32, dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for dim in dims {
        bytes.extend(dim.to_be_bytes());
    }
    bytes.extend(values);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Two 2x3 training images with values 0..12 and labels 3, 7 (uncompressed), and one test
/// image of 51s with label 9 (gzipped).
fn write_mnist(dir: &Path) {
    let pixels: Vec<u8> = (0..12).collect();
    std::fs::write(dir.join("train-images-idx3-ubyte"), idx(0x803, &[2, 2, 3], &pixels)).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(0x801, &[2], &[3, 7])).unwrap();
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte.gz"),
        gzip(&idx(0x803, &[1, 2, 3], &[51; 6])),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), gzip(&idx(0x801, &[1], &[9]))).unwrap();
}

/// Builds one CIFAR-10 record: the label, then red, green and blue planes. Red is 255, green
/// 0, and blue counts the pixel index modulo 256.
fn cifar_record(label: u8) -> Vec<u8> {
    let mut record = vec![label];
    record.extend([255; 1024]);
    record.extend([0; 1024]);
    record.extend((0..1024).map(|index| (index % 256) as u8));
    record
}

fn write_cifar(dir: &Path) {
    for (index, name) in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(dir.join(name), cifar_record(index as u8)).unwrap();
    }
    let mut test = cifar_record(8);
    test.extend(cifar_record(9));
    std::fs::write(dir.join("test_batch.bin"), test).unwrap();
}

#[test]
fn mnist_reads_plain_and_gzip_files() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path());

    let dataset = load_mnist(dir.path()).unwrap();

    assert_eq!(dataset.labels, 10);
    assert_eq!(dataset.train_images.dims(), [2, 6]);
    assert_eq!(dataset.train_images.dtype(), DType::F32);
    let train: Vec<Vec<f32>> = dataset.train_images.to_vec2().unwrap();
    assert_eq!(train[0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0].map(|value| value / 255.0));
    assert_eq!(train[1], [6.0, 7.0, 8.0, 9.0, 10.0, 11.0].map(|value| value / 255.0));
    assert_eq!(dataset.train_labels.dtype(), DType::U8);
    assert_eq!(dataset.train_labels.to_vec1::<u8>().unwrap(), [3, 7]);
    assert_eq!(dataset.test_images.to_vec2::<f32>().unwrap(), [[0.2; 6]]);
    assert_eq!(dataset.test_labels.to_vec1::<u8>().unwrap(), [9]);
}

#[test]
fn mnist_missing_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path());
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();

    let error = load_mnist(dir.path()).err().expect("loading fails");

    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("t10k-labels-idx1-ubyte"), "{error}");
}

#[test]
fn truncated_idx_images_are_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train-images-idx3-ubyte");
    std::fs::write(&path, idx(0x803, &[2, 2, 3], &[0; 11])).unwrap();

    let error = read_idx_images(&path).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, Error::InvalidFile { .. }), "{message}");
    assert!(message.contains("train-images-idx3-ubyte"), "{message}");
    assert!(message.contains("11 value bytes"), "{message}");
}

#[test]
fn short_idx_header_is_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels");
    std::fs::write(&path, [0, 0, 8, 1, 0]).unwrap();

    let error = read_idx_labels(&path).unwrap_err();

    assert!(matches!(error, Error::InvalidFile { .. }), "{error}");
    assert!(error.to_string().contains("header"), "{error}");
}

#[test]
fn gzip_without_gz_suffix_is_wrong_magic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train-labels-idx1-ubyte");
    std::fs::write(&path, gzip(&idx(0x801, &[1], &[4]))).unwrap();

    let error = read_idx_labels(&path).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, Error::InvalidFile { .. }), "{message}");
    assert!(message.contains("magic number"), "{message}");
    assert!(message.contains(".gz"), "{message}");
}

#[test]
fn images_as_labels_is_wrong_magic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("swapped");
    std::fs::write(&path, idx(0x803, &[1, 1, 1], &[0])).unwrap();

    let error = read_idx_labels(&path).unwrap_err();

    assert!(matches!(error, Error::InvalidFile { .. }), "{error}");
    assert!(error.to_string().contains("0x00000803"), "{error}");
}

#[test]
fn mnist_count_mismatch_is_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path());
    std::fs::write(dir.path().join("train-labels-idx1-ubyte"), idx(0x801, &[3], &[1, 2, 3])).unwrap();

    let error = load_mnist(dir.path()).err().expect("loading fails");

    assert!(matches!(error, Error::InvalidFile { .. }), "{error}");
    assert!(error.to_string().contains("3 labels for 2 images"), "{error}");
}

#[test]
fn label_above_nine_is_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels");
    std::fs::write(&path, idx(0x801, &[3], &[1, 10, 2])).unwrap();

    let error = read_idx_labels(&path).unwrap_err();

    assert!(matches!(error, Error::InvalidFile { .. }), "{error}");
    assert!(error.to_string().contains("label 10 of item 1"), "{error}");
}

#[test]
fn corrupt_gzip_is_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.gz");
    let mut bytes = gzip(&idx(0x801, &[4], &[1, 2, 3, 4]));
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, bytes).unwrap();

    let error = read_idx_labels(&path).unwrap_err();

    assert!(
        matches!(
            error,
            Error::Io {
                action: "decompress",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("labels.gz"), "{error}");
}

#[test]
fn cifar_reads_planes_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path());

    let dataset = load_cifar10(dir.path()).unwrap();

    assert_eq!(dataset.train_images.dims(), [5, 3, 32, 32]);
    assert_eq!(dataset.train_labels.to_vec1::<u8>().unwrap(), [0, 1, 2, 3, 4]);
    assert_eq!(dataset.test_images.dims(), [2, 3, 32, 32]);
    assert_eq!(dataset.test_labels.to_vec1::<u8>().unwrap(), [8, 9]);

    let image: Vec<Vec<Vec<f32>>> = dataset.test_images.get(1).unwrap().to_vec3().unwrap();
    assert!(image[0].iter().flatten().all(|&red| red == 1.0));
    assert!(image[1].iter().flatten().all(|&green| green == 0.0));
    // Blue pixel (row 1, column 2) has index 34.
    assert_eq!(image[2][1][2], 34.0 / 255.0);
    assert_eq!(image[2][8][0], 0.0);
}

#[test]
fn cifar_reads_extracted_archive_folder() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&nested).unwrap();
    write_cifar(&nested);

    let dataset = load_cifar10(dir.path()).unwrap();

    assert_eq!(dataset.train_labels.dims(), [5]);
}

#[test]
fn truncated_cifar_batch_is_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path());
    let path = dir.path().join("data_batch_3.bin");
    std::fs::write(&path, &cifar_record(1)[..3000]).unwrap();

    let error = load_cifar10(dir.path()).err().expect("loading fails");

    let message = error.to_string();
    assert!(matches!(error, Error::InvalidFile { .. }), "{message}");
    assert!(message.contains("data_batch_3.bin"), "{message}");
    assert!(message.contains("3073"), "{message}");
}

#[test]
fn empty_cifar_batch_is_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    std::fs::write(&path, []).unwrap();

    let error = read_cifar10_batch(&path).unwrap_err();

    assert!(matches!(error, Error::InvalidFile { .. }), "{error}");
}

#[test]
fn cifar_label_above_nine_is_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    std::fs::write(&path, cifar_record(12)).unwrap();

    let error = read_cifar10_batch(&path).unwrap_err();

    assert!(matches!(error, Error::InvalidFile { .. }), "{error}");
    assert!(error.to_string().contains("label 12"), "{error}");
}

#[test]
fn cifar_missing_batch_names_file() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path());
    std::fs::remove_file(dir.path().join("data_batch_5.bin")).unwrap();

    let error = load_cifar10(dir.path()).err().expect("loading fails");

    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("data_batch_5.bin"), "{error}");
}
