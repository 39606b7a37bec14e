//! Omniglot loading from the real small background archives, and bad input.

mod common;

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use fsl_datasets::decode::decode_row;
use fsl_datasets::omniglot::{self, OmniglotArchive};
use fsl_datasets::{AnnotationTable, Error};

use common::omniglot_archive;

fn small1() -> std::path::PathBuf {
    omniglot_archive(OmniglotArchive::BackgroundSmall1.file_name())
}

fn small2() -> std::path::PathBuf {
    omniglot_archive(OmniglotArchive::BackgroundSmall2.file_name())
}

/// Returns (alphabets, characters, images), counting characters as distinct (alphabet, label).
fn counts(table: &AnnotationTable) -> (usize, usize, usize) {
    let alphabets = table.strings("alphabet").unwrap();
    let labels = table.strings("label").unwrap();
    let distinct_alphabets: HashSet<&String> = alphabets.iter().collect();
    let characters: HashSet<(&String, &String)> = alphabets.iter().zip(&labels).collect();

    (distinct_alphabets.len(), characters.len(), table.num_rows())
}

fn extract(archive: &Path, folder: &Path) {
    let mut zip = zip::ZipArchive::new(File::open(archive).unwrap()).unwrap();
    zip.extract(folder).unwrap();
}

#[test]
fn small1_counts() {
    let table = omniglot::load(&small1()).unwrap();

    assert_eq!(counts(&table), (5, 136, 2720));
}

#[test]
fn small2_counts() {
    let table = omniglot::load(&small2()).unwrap();

    assert_eq!(counts(&table), (5, 156, 3120));
}

#[test]
fn both_small_archives_merge_without_duplicates() {
    let table = omniglot::load_many(&[&small1(), &small2()]).unwrap();

    assert_eq!(counts(&table), (8, 242, 4840));
    let alphabets: HashSet<String> = table.strings("alphabet").unwrap().into_iter().collect();
    assert!(alphabets.contains("Japanese_(katakana)"));
    assert!(alphabets.contains("Early_Aramaic"));
}

#[test]
fn columns_and_row_order() {
    let table = omniglot::load(&small1()).unwrap();

    assert_eq!(table.column_names(), ["image", "alphabet", "label", "drawer", "path"]);
    let paths = table.strings("path").unwrap();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    let row = paths
        .iter()
        .position(|path| path == "images_background_small1/Greek/character01/0394_01.png")
        .expect("Greek character01 drawer 1 is in small1");
    assert_eq!(table.string("alphabet", row).unwrap(), "Greek");
    assert_eq!(table.string("label", row).unwrap(), "character01");
    assert_eq!(table.int64s("drawer").unwrap()[row], 1);

    let drawers = table.int64s("drawer").unwrap();
    assert!(drawers.iter().all(|drawer| (1..=20).contains(drawer)));
    for (character, rows) in table
        .with_joined_column("class", &["alphabet", "label"], "/")
        .unwrap()
        .group_indices("class")
        .unwrap()
    {
        assert_eq!(rows.len(), 20, "{character} has one image per drawer");
    }
}

#[test]
fn images_decode_to_105_square_binary() {
    let table = omniglot::load(&small1()).unwrap();

    for row in [0, 1000, table.num_rows() - 1] {
        let image = decode_row(&table, row).unwrap();
        assert_eq!(image.dimensions(), (105, 105));
        assert!(image.as_raw().iter().all(|&luma| luma == 0 || luma == 255));
        assert!(image.as_raw().contains(&0), "row {row} has ink");
    }
}

#[test]
fn extracted_folder_equals_zip() {
    let zip_table = omniglot::load(&small1()).unwrap();
    let folder = tempfile::tempdir().unwrap();
    extract(&small1(), folder.path());

    let from_parent = omniglot::load(folder.path()).unwrap();
    let from_set = omniglot::load(&folder.path().join("images_background_small1")).unwrap();

    assert_eq!(from_parent.record_batch(), zip_table.record_batch());
    assert_eq!(from_set.record_batch(), zip_table.record_batch());
}

#[test]
fn macos_junk_is_skipped() {
    let folder = tempfile::tempdir().unwrap();
    extract(&small1(), folder.path());
    let set = folder.path().join("images_background_small1");
    let character = set.join("Greek/character01");
    std::fs::write(character.join("._0394_01.png"), [0x00, 0x05, 0x16, 0x07]).unwrap();
    std::fs::write(character.join(".DS_Store"), b"junk").unwrap();
    std::fs::create_dir_all(folder.path().join("__MACOSX/images_background_small1/Greek")).unwrap();
    std::fs::write(
        folder.path().join("__MACOSX/images_background_small1/Greek/._x_01.png"),
        [0x00, 0x05, 0x16, 0x07],
    )
    .unwrap();

    let table = omniglot::load(folder.path()).unwrap();

    assert_eq!(counts(&table), (5, 136, 2720));
}

#[test]
fn missing_path_says_what_to_do() {
    let error = omniglot::load(Path::new("/nonexistent/images_background.zip")).unwrap_err();

    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("/nonexistent/images_background.zip"), "{message}");
    assert!(message.contains("check the path"), "{message}");
}

#[test]
fn truncated_zip_is_error_naming_file() {
    let folder = tempfile::tempdir().unwrap();
    let truncated = folder.path().join("truncated.zip");
    let bytes = std::fs::read(small1()).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let error = omniglot::load(&truncated).unwrap_err();

    assert!(matches!(error, Error::Zip { .. }), "{error}");
    assert!(error.to_string().contains("truncated.zip"), "{error}");
}

#[test]
fn corrupt_entry_is_error_naming_entry() {
    // Flipping bytes inside the first image's compressed data breaks its CRC check while the
    // central directory stays valid.
    let folder = tempfile::tempdir().unwrap();
    let corrupt = folder.path().join("corrupt.zip");
    let mut bytes = std::fs::read(small1()).unwrap();
    let name = b"images_background_small1/Balinese/character01/0108_01.png";
    let header = bytes.windows(name.len()).position(|window| window == name).unwrap();
    // The local header is 30 bytes, then the name, then an extra field whose length is stored
    // at offset 28.
    let extra = usize::from(u16::from_le_bytes([bytes[header - 2], bytes[header - 1]]));
    let data = header + name.len() + extra;
    for byte in &mut bytes[data + 10..data + 40] {
        *byte ^= 0xff;
    }
    std::fs::write(&corrupt, &bytes).unwrap();

    let error = omniglot::load(&corrupt).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, Error::Zip { .. }), "{message}");
    assert!(message.contains("corrupt.zip"), "{message}");
    assert!(message.contains("0108_01.png"), "{message}");
}

#[test]
fn non_zip_file_is_error_naming_file() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("notes.zip");
    std::fs::write(&file, b"not a zip archive").unwrap();

    let error = omniglot::load(&file).unwrap_err();

    assert!(matches!(error, Error::Zip { .. }), "{error}");
    assert!(error.to_string().contains("notes.zip"), "{error}");
}

#[test]
fn folder_without_images_is_error_naming_folder() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(folder.path().join("Greek/character01")).unwrap();
    std::fs::write(folder.path().join("Greek/character01/readme.txt"), b"x").unwrap();

    let error = omniglot::load(folder.path()).unwrap_err();

    assert!(matches!(error, Error::NoImages { .. }), "{error}");
    assert!(error.to_string().contains(&folder.path().display().to_string()));
}

#[test]
fn file_without_drawer_is_error_naming_entry() {
    let folder = tempfile::tempdir().unwrap();
    let character = folder.path().join("set/Greek/character01");
    std::fs::create_dir_all(&character).unwrap();
    std::fs::write(character.join("drawing.png"), b"x").unwrap();

    let error = omniglot::load(folder.path()).unwrap_err();

    assert!(matches!(error, Error::InvalidEntry { .. }), "{error}");
    assert!(error.to_string().contains("drawing.png"), "{error}");
}

#[test]
fn archive_names_and_urls() {
    let archive = OmniglotArchive::BackgroundSmall1;

    assert_eq!(archive.file_name(), "images_background_small1.zip");
    assert_eq!(archive.folder_name(), "images_background_small1");
    assert_eq!(
        archive.url(),
        "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_background_small1.zip"
    );
    assert_eq!(OmniglotArchive::Evaluation.sha256(), None);
}

#[cfg(feature = "download")]
#[test]
fn recorded_digests_match_real_archives() {
    for archive in [OmniglotArchive::BackgroundSmall1, OmniglotArchive::BackgroundSmall2] {
        let digest = omniglot::sha256_file(&omniglot_archive(archive.file_name())).unwrap();
        assert_eq!(Some(digest.as_str()), archive.sha256(), "{archive:?}");
    }
}

#[test]
fn load_data_reads_background_and_evaluation() {
    // Copies of the small archives stand in for the full ones, which are not in the test data.
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::copy(small1(), data_dir.path().join("images_background.zip")).unwrap();
    std::fs::create_dir(data_dir.path().join("images_evaluation")).unwrap();
    extract(&small2(), &data_dir.path().join("images_evaluation"));

    let (background, evaluation) = omniglot::load_data(data_dir.path()).unwrap();

    assert_eq!(counts(&background), (5, 136, 2720));
    assert_eq!(counts(&evaluation), (5, 156, 3120));
}

#[test]
fn load_data_without_archives_names_expected_file() {
    let data_dir = tempfile::tempdir().unwrap();

    let error = omniglot::load_data(data_dir.path()).unwrap_err();

    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("images_background.zip"), "{message}");
    assert!(message.contains("not found"), "{message}");
}

/// Writes a zip archive with the given entries, stored without compression.
fn write_zip(path: &Path, entries: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        std::io::Write::write_all(&mut zip, bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Returns the bytes of the first image of the small1 archive, a real Omniglot PNG.
fn real_png() -> Vec<u8> {
    let table = omniglot::load(&small1()).unwrap();
    table.image_bytes(0).unwrap()
}

#[test]
fn zip_non_image_entry_fails_decode() {
    let folder = tempfile::tempdir().unwrap();
    let archive = folder.path().join("mixed.zip");
    let png = real_png();
    write_zip(
        &archive,
        &[
            ("set/Greek/character01/0001_01.png", &png),
            (
                "set/Greek/character01/0001_02.png",
                b"plain text saved with a .png name",
            ),
            ("set/Greek/readme.txt", b"notes"),
        ],
    );

    let table = omniglot::load(&archive).unwrap();

    // The .txt entry is not listed; the fake PNG is listed and fails when decoded.
    assert_eq!(table.num_rows(), 2);
    assert!(decode_row(&table, 0).is_ok());
    let error = decode_row(&table, 1).unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    assert!(
        error.to_string().contains("set/Greek/character01/0001_02.png"),
        "{error}"
    );
}

#[test]
fn unicode_and_parenthesised_names_in_zip() {
    let folder = tempfile::tempdir().unwrap();
    let archive = folder.path().join("names.zip");
    let png = real_png();
    write_zip(
        &archive,
        &[
            ("set/Japanese_(katakana)/character01/0001_01.png", &png),
            ("set/Ελληνικά/χαρακτήρας (1)/0002_03.png", &png),
        ],
    );

    let table = omniglot::load(&archive).unwrap();

    assert_eq!(table.strings("alphabet").unwrap(), ["Japanese_(katakana)", "Ελληνικά"]);
    assert_eq!(table.strings("label").unwrap(), ["character01", "χαρακτήρας (1)"]);
    assert_eq!(table.int64s("drawer").unwrap(), [1, 3]);
    assert_eq!(decode_row(&table, 1).unwrap().dimensions(), (105, 105));
}

#[test]
fn empty_folder_is_no_images() {
    let folder = tempfile::tempdir().unwrap();

    let error = omniglot::load(folder.path()).unwrap_err();

    assert!(matches!(error, Error::NoImages { .. }), "{error}");
    assert!(
        error.to_string().contains(&folder.path().display().to_string()),
        "{error}"
    );
}

#[test]
fn corrupt_png_in_folder_fails_at_decode() {
    let folder = tempfile::tempdir().unwrap();
    let character = folder.path().join("set/Greek/character01");
    std::fs::create_dir_all(&character).unwrap();
    let mut png = real_png();
    let idat = png.windows(4).position(|window| window == b"IDAT").unwrap();
    for byte in &mut png[idat + 4..idat + 20] {
        *byte ^= 0x5a;
    }
    std::fs::write(character.join("0001_01.png"), &png).unwrap();

    let table = omniglot::load(folder.path()).unwrap();

    let error = decode_row(&table, 0).unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    assert!(error.to_string().contains("0001_01.png"), "{error}");
}
