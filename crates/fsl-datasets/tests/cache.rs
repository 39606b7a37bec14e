//! A source converted to Parquet once: reused while unchanged, rebuilt after a change.

mod common;

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use fsl_datasets::cache::{CacheStatus, ParquetCache, source_key};
use fsl_datasets::{AnnotationTable, Error};

use common::folder_names;

/// Creates `root/<class>/<image>` files and returns the folder.
fn image_folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    for (path, bytes) in files {
        let file = folder.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    folder
}

/// Builds the table of an image folder, with relative paths, and counts the builds.
fn build_from(root: &Path, builds: &Cell<usize>) -> fsl_datasets::Result<AnnotationTable> {
    builds.set(builds.get() + 1);

    let mut paths: Vec<String> = walk(root);
    paths.sort();
    let labels: Vec<&str> = paths.iter().map(|path| path.split('/').next().unwrap()).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(labels)),
        Arc::new(StringArray::from(paths.clone())),
    ];
    let table = AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap())?;
    Ok(table.with_root(root.to_owned()))
}

fn walk(root: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    for class in std::fs::read_dir(root).unwrap() {
        let class = class.unwrap();
        for image in std::fs::read_dir(class.path()).unwrap() {
            let image = image.unwrap();
            paths.push(format!(
                "{}/{}",
                class.file_name().to_string_lossy(),
                image.file_name().to_string_lossy()
            ));
        }
    }
    paths
}

#[test]
fn unchanged_source_is_reused() {
    let data = image_folder(&[("cat/0.png", b"cat zero"), ("dog/0.png", b"dog zero")]);
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path());
    let builds = Cell::new(0);

    let first = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();
    let second = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();

    assert_eq!(builds.get(), 1);
    assert_eq!(first.status, CacheStatus::Built);
    assert_eq!(second.status, CacheStatus::Reused);
    assert_eq!(first.file, second.file);
    assert_eq!(second.table.strings("label").unwrap(), ["cat", "dog"]);
    assert_eq!(
        second.table.strings("path").unwrap(),
        first.table.strings("path").unwrap()
    );
}

#[test]
fn reused_table_keeps_root() {
    let data = image_folder(&[("cat/0.png", b"cat zero")]);
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path());
    let builds = Cell::new(0);

    cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();
    let reused = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();

    assert_eq!(reused.status, CacheStatus::Reused);
    let root = std::fs::canonicalize(data.path()).unwrap();
    assert_eq!(reused.table.root(), Some(root.as_path()));
    assert_eq!(reused.table.image_bytes(0).unwrap(), b"cat zero");
    assert!(reused.table.record_batch().schema().metadata().is_empty());
}

#[test]
fn changed_file_rebuilds_and_removes_old_entry() {
    let data = image_folder(&[("cat/0.png", b"cat zero"), ("dog/0.png", b"dog zero")]);
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path());
    let builds = Cell::new(0);

    let before = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();
    std::fs::write(data.path().join("dog/0.png"), b"a longer dog image").unwrap();
    let after = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();

    assert_eq!(builds.get(), 2);
    assert_eq!(after.status, CacheStatus::Built);
    assert_ne!(before.file, after.file);
    let entry = after.file.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(folder_names(cache_folder.path()), [entry]);
}

#[test]
fn same_size_rewrite_with_new_time_rebuilds() {
    let data = image_folder(&[("cat/0.png", b"cat zero")]);
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path());
    let builds = Cell::new(0);
    let image = data.path().join("cat/0.png");

    cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();
    std::fs::write(&image, b"cat ZERO").unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&image)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let after = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();

    assert_eq!(builds.get(), 2);
    assert_eq!(after.status, CacheStatus::Built);
}

#[test]
fn added_image_rebuilds() {
    let data = image_folder(&[("cat/0.png", b"cat zero")]);
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path());
    let builds = Cell::new(0);

    cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();
    std::fs::write(data.path().join("cat/1.png"), b"cat one").unwrap();
    let after = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();

    assert_eq!(after.status, CacheStatus::Built);
    assert_eq!(after.table.num_rows(), 2);
}

#[test]
fn key_depends_on_every_source_and_its_order() {
    let first = image_folder(&[("cat/0.png", b"cat zero")]);
    let second = image_folder(&[("cat/0.png", b"cat zero")]);

    let both = source_key(&[first.path(), second.path()]).unwrap();

    assert_eq!(both.len(), 64);
    assert_eq!(both, source_key(&[first.path(), second.path()]).unwrap());
    assert_ne!(both, source_key(&[second.path(), first.path()]).unwrap());
    assert_ne!(both, source_key(&[first.path()]).unwrap());
}

#[test]
fn single_file_source_is_keyed() {
    let data = image_folder(&[("archive.zip", b"zip bytes")]);
    let archive = data.path().join("archive.zip");

    let before = source_key(&[&archive]).unwrap();
    std::fs::write(&archive, b"other zip bytes").unwrap();

    assert_ne!(before, source_key(&[&archive]).unwrap());
}

#[test]
fn unreadable_entry_is_rebuilt() {
    let data = image_folder(&[("cat/0.png", b"cat zero")]);
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path());
    let builds = Cell::new(0);

    let first = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();
    std::fs::write(&first.file, b"PAR1 truncated").unwrap();
    let second = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();
    let third = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();

    assert_eq!(second.status, CacheStatus::Built);
    assert_eq!(third.status, CacheStatus::Reused);
    assert_eq!(third.table.strings("label").unwrap(), ["cat"]);
}

#[test]
fn failed_build_writes_nothing() {
    let data = image_folder(&[("cat/0.png", b"cat zero")]);
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path().join("fsl"));

    let error = cache
        .get_or_build("pets", &[data.path()], || {
            Err(Error::InvalidArgument("the builder failed".to_owned()))
        })
        .unwrap_err();

    assert_eq!(error.to_string(), "invalid argument: the builder failed");
    assert!(!cache.folder().exists());
}

#[test]
fn entries_of_other_names_are_kept() {
    let data = image_folder(&[("cat/0.png", b"cat zero")]);
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path());
    let builds = Cell::new(0);

    let pets = cache
        .get_or_build("pets", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();
    std::fs::write(data.path().join("cat/1.png"), b"cat one").unwrap();
    let animals = cache
        .get_or_build("animals", &[data.path()], || build_from(data.path(), &builds))
        .unwrap();

    assert_eq!(folder_names(cache_folder.path()).len(), 2);
    assert!(pets.file.exists());
    assert!(animals.file.exists());
}

#[test]
fn missing_source_is_not_found() {
    let cache_folder = tempfile::tempdir().unwrap();
    let cache = ParquetCache::new(cache_folder.path());
    let missing = cache_folder.path().join("absent");

    let error = cache
        .get_or_build("pets", &[&missing], || unreachable!("no build without a source"))
        .unwrap_err();

    assert!(
        matches!(&error, Error::NotFound { path } if path == &missing),
        "{error}"
    );
}

#[test]
fn invalid_names_are_rejected() {
    let data = image_folder(&[("cat/0.png", b"cat zero")]);
    let cache = ParquetCache::new(data.path().join("cache"));

    for name in ["", ".hidden", "a/b", "../up", "spaced name"] {
        let error = cache.file_for(name, &[data.path()]).unwrap_err();
        assert!(matches!(error, Error::InvalidArgument(_)), "name {name:?}: {error}");
    }
    assert!(cache.file_for("omniglot_small-1.v2", &[data.path()]).is_ok());
}

#[test]
fn empty_source_list_is_rejected() {
    let error = source_key(&[]).unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
}
