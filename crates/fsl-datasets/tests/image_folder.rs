//! Image-folder scanning: class layout, split layout, junk entries, empty inputs.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use fsl_datasets::decode::decode_row;
use fsl_datasets::{Error, image_folder};

use common::fixture;

fn png() -> Vec<u8> {
    std::fs::read(fixture("gray8_2x2.png")).unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Writes a class tree with every kind of junk next to the real classes.
fn junk_tree(root: &Path) {
    let mut apple_double = vec![0u8; 4096];
    apple_double[..4].copy_from_slice(&[0x00, 0x05, 0x16, 0x07]);

    write(&root.join(".DS_Store"), b"junk!!");
    write(&root.join(".ipynb_checkpoints/alpha-checkpoint.png"), &png());
    write(&root.join("notes.txt"), b"notes");
    write(&root.join("alpha/0001.png"), &png());
    write(&root.join("alpha/0002.png"), &png());
    write(&root.join("alpha/.DS_Store"), b"junk");
    write(&root.join("alpha/Thumbs.db"), b"junk");
    write(&root.join("alpha/._0001.png"), &apple_double);
    write(&root.join("beta/0001.PNG"), &png());
    write(&root.join("beta/0002.png"), &png());
    std::fs::create_dir_all(root.join("gamma")).unwrap();
}

#[test]
fn classes_skip_junk_and_empty_folders() {
    let folder = tempfile::tempdir().unwrap();
    junk_tree(folder.path());

    let table = image_folder::load(folder.path()).unwrap();

    let index = table.class_index("label").unwrap();
    assert_eq!(index.keys().collect::<Vec<_>>(), ["alpha", "beta"]);
    assert_eq!(index["alpha"], 0);
    assert_eq!(index["beta"], 1);
    assert_eq!(
        table.value_counts("label").unwrap(),
        [("alpha".to_owned(), 2), ("beta".to_owned(), 2)].into()
    );
    assert_eq!(
        table.strings("path").unwrap(),
        ["alpha/0001.png", "alpha/0002.png", "beta/0001.PNG", "beta/0002.png"]
    );
    assert!(table.column("split").is_err());
}

#[test]
fn every_listed_image_decodes() {
    let folder = tempfile::tempdir().unwrap();
    junk_tree(folder.path());

    let table = image_folder::load(folder.path()).unwrap();

    // Decoding the AppleDouble file would fail on the PNG signature.
    for row in 0..table.num_rows() {
        assert_eq!(decode_row(&table, row).unwrap().as_raw(), &[0, 255, 128, 64]);
    }
}

#[test]
fn split_layout_fills_split_column() {
    let folder = tempfile::tempdir().unwrap();
    let root = folder.path();
    write(&root.join("train/cat/a.jpg"), b"jpeg bytes");
    write(&root.join("train/dog/b.JPEG"), b"jpeg bytes");
    write(&root.join("test/cat/c.png"), &png());
    std::fs::create_dir_all(root.join("test/dog")).unwrap();

    let table = image_folder::load(root).unwrap();

    assert_eq!(table.strings("split").unwrap(), ["test", "train", "train"]);
    assert_eq!(table.strings("label").unwrap(), ["cat", "cat", "dog"]);
    assert_eq!(
        table.strings("path").unwrap(),
        ["test/cat/c.png", "train/cat/a.jpg", "train/dog/b.JPEG"]
    );
    assert_eq!(table.image_bytes(1).unwrap(), b"jpeg bytes");
}

#[test]
fn empty_root_names_root_and_extensions() {
    let folder = tempfile::tempdir().unwrap();

    let error = image_folder::load(folder.path()).unwrap_err();

    assert!(matches!(error, Error::NoImages { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains(&folder.path().display().to_string()), "{message}");
    assert!(message.contains("png, jpg, jpeg"), "{message}");
}

#[test]
fn root_without_images_names_root() {
    let folder = tempfile::tempdir().unwrap();
    write(&folder.path().join("delta/readme.md"), b"# delta");

    let error = image_folder::load(folder.path()).unwrap_err();

    assert!(matches!(error, Error::NoImages { .. }), "{error}");
    assert!(error.to_string().contains(&folder.path().display().to_string()));
}

#[test]
fn images_without_class_folders_named() {
    let folder = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png"] {
        write(&folder.path().join(name), &png());
    }

    let error = image_folder::load(folder.path()).unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    let message = error.to_string();
    assert!(message.contains("2 images but no class folders"), "{message}");
    assert!(message.contains("subfolder named after its class"), "{message}");
}

#[test]
fn missing_root_is_not_found() {
    let error = image_folder::load(Path::new("/nonexistent/images")).unwrap_err();

    assert!(matches!(error, Error::NotFound { .. }), "{error}");
}

#[test]
fn file_as_root_is_invalid_argument() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("table.parquet");
    std::fs::write(&file, b"PAR1").unwrap();

    let error = image_folder::load(&file).unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    assert!(error.to_string().contains("is a file"), "{error}");
}

/// A log sink for `tracing_subscriber` that keeps what is written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn load_logged(root: &Path) -> (fsl_datasets::Result<fsl_datasets::AnnotationTable>, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();

    let result = tracing::subscriber::with_default(subscriber, || image_folder::load(root));
    (result, captured.text())
}

#[test]
fn skipped_files_are_counted_in_log() {
    let folder = tempfile::tempdir().unwrap();
    junk_tree(folder.path());

    let (table, log) = load_logged(folder.path());

    assert_eq!(table.unwrap().num_rows(), 4);
    // Hidden: alpha/.DS_Store, alpha/._0001.png and the .ipynb_checkpoints folder. Not an
    // image: alpha/Thumbs.db. The root's own files are not in a class folder.
    assert!(log.contains("skipped_hidden=3"), "{log}");
    assert!(log.contains("skipped_non_image=1"), "{log}");
    assert!(log.contains("skipping class folder without images"), "{log}");
    assert!(log.contains("class=\"gamma\""), "{log}");
}

#[test]
fn unicode_and_parenthesised_classes_keep_names() {
    let folder = tempfile::tempdir().unwrap();
    let classes = ["Japanese_(katakana)", "N_Ko", "Ελληνικά", "日本語 (かな)"];
    for class in classes {
        write(&folder.path().join(class).join("drawing (1).png"), &png());
    }

    let table = image_folder::load(folder.path()).unwrap();

    let mut sorted = classes.map(str::to_owned).to_vec();
    sorted.sort();
    assert_eq!(table.strings("label").unwrap(), sorted);
    let paths: Vec<String> = sorted.iter().map(|class| format!("{class}/drawing (1).png")).collect();
    assert_eq!(table.strings("path").unwrap(), paths);
    for row in 0..table.num_rows() {
        assert_eq!(decode_row(&table, row).unwrap().as_raw(), &[0, 255, 128, 64]);
    }
}

#[test]
fn classes_without_images_are_no_images() {
    let folder = tempfile::tempdir().unwrap();
    for class in ["alpha", "beta", "gamma"] {
        std::fs::create_dir_all(folder.path().join(class)).unwrap();
    }
    write(&folder.path().join("beta/.DS_Store"), b"junk");
    write(&folder.path().join("gamma/labels.csv"), b"a,b");

    let (result, log) = load_logged(folder.path());

    let error = result.unwrap_err();
    assert!(matches!(error, Error::NoImages { .. }), "{error}");
    assert!(
        error.to_string().contains(&folder.path().display().to_string()),
        "{error}"
    );
    assert!(log.contains("skipped_hidden=1"), "{log}");
    assert!(log.contains("skipped_non_image=1"), "{log}");
}

#[test]
fn corrupt_png_in_folder_fails_at_decode() {
    let folder = tempfile::tempdir().unwrap();
    let mut corrupt = png();
    corrupt.truncate(corrupt.len() / 2);
    write(&folder.path().join("alpha/good.png"), &png());
    write(&folder.path().join("alpha/half.png"), &corrupt);

    let table = image_folder::load(folder.path()).unwrap();

    assert!(decode_row(&table, 0).is_ok());
    let error = decode_row(&table, 1).unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    assert!(error.to_string().contains("alpha/half.png (row 1)"), "{error}");
}
