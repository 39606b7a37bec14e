//! The official one-shot runs reader, on runs built from real Omniglot images.

mod common;

use std::io::Write;
use std::path::Path;

use fsl_datasets::Error;
use fsl_datasets::omniglot::{self, OmniglotArchive};
use fsl_datasets::one_shot_runs::{OneShotRun, read_runs};
use zip::write::SimpleFileOptions;

use common::omniglot_archive;

const RUNS: usize = 3;
const WAY: usize = 5;

/// Query `i` of every run shows the character of support image `ANSWERS[i]`.
const ANSWERS: [usize; WAY] = [3, 0, 4, 1, 2];
/// The order in which the class_labels.txt lines are written, deliberately not sorted.
const LINE_ORDER: [usize; WAY] = [2, 4, 0, 3, 1];

/// Files of a run archive as (path, bytes), plus the runs they must read back as.
struct Fixture {
    files: Vec<(String, Vec<u8>)>,
    expected: Vec<OneShotRun>,
}

/// Builds 3 runs of 5 characters of one alphabet: drawer 1 images as the support set and
/// drawer 2 images as queries.
fn fixture() -> Fixture {
    let table = omniglot::load(&omniglot_archive(OmniglotArchive::BackgroundSmall1.file_name())).unwrap();
    let characters = table
        .with_joined_column("class", &["alphabet", "label"], "/")
        .unwrap()
        .group_indices("class")
        .unwrap();
    let drawers = table.int64s("drawer").unwrap();
    let image_of = |rows: &Vec<usize>, drawer: i64| {
        let row = rows.iter().find(|&&row| drawers[row] == drawer).unwrap();
        table.image_bytes(*row).unwrap()
    };
    let characters: Vec<&Vec<usize>> = characters.values().collect();

    let mut files = Vec::new();
    let mut expected = Vec::new();
    for run in 0..RUNS {
        let name = format!("run{:02}", run + 1);
        let chosen = &characters[run * WAY..(run + 1) * WAY];
        let support: Vec<(String, Vec<u8>)> = (0..WAY)
            .map(|class| (format!("class{:02}.png", class + 1), image_of(chosen[class], 1)))
            .collect();
        let queries: Vec<(String, Vec<u8>)> = (0..WAY)
            .map(|item| (format!("item{:02}.png", item + 1), image_of(chosen[ANSWERS[item]], 2)))
            .collect();
        let lines: Vec<String> = LINE_ORDER
            .iter()
            .map(|&item| {
                format!(
                    "{name}/test/item{:02}.png {name}/training/class{:02}.png",
                    item + 1,
                    ANSWERS[item] + 1
                )
            })
            .collect();

        for (file, bytes) in &support {
            files.push((format!("{name}/training/{file}"), bytes.clone()));
        }
        for (file, bytes) in &queries {
            files.push((format!("{name}/test/{file}"), bytes.clone()));
        }
        files.push((
            format!("{name}/class_labels.txt"),
            (lines.join("\n") + "\n").into_bytes(),
        ));
        expected.push(OneShotRun {
            name,
            support,
            queries,
            answers: ANSWERS.to_vec(),
        });
    }

    Fixture { files, expected }
}

fn write_folder(files: &[(String, Vec<u8>)], folder: &Path) {
    for (path, bytes) in files {
        let path = folder.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn write_zip(files: &[(String, Vec<u8>)], prefix: &str, file: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(file).unwrap());
    for (path, bytes) in files {
        zip.start_file(format!("{prefix}{path}"), SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Replaces the contents of one file of the fixture, or removes it for `None`.
fn with_file(files: &[(String, Vec<u8>)], path: &str, contents: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = files.iter().filter(|(p, _)| p != path).cloned().collect();
    if let Some(contents) = contents {
        files.push((path.to_owned(), contents.as_bytes().to_vec()));
    }
    files
}

fn read_folder_error(files: &[(String, Vec<u8>)]) -> Error {
    let folder = tempfile::tempdir().unwrap();
    write_folder(files, folder.path());
    read_runs(folder.path()).unwrap_err()
}

#[test]
fn folder_runs_resolve_shuffled_lines() {
    let fixture = fixture();
    let folder = tempfile::tempdir().unwrap();
    write_folder(&fixture.files, folder.path());

    let runs = read_runs(folder.path()).unwrap();

    assert_eq!(runs.len(), RUNS);
    for (run, expected) in runs.iter().zip(&fixture.expected) {
        assert_eq!(run.name, expected.name);
        assert_eq!(run.answers, ANSWERS);
        assert_eq!(run, expected);
    }
}

#[test]
fn zip_with_top_folder_reads_same_runs() {
    let fixture = fixture();
    let folder = tempfile::tempdir().unwrap();
    let nested = folder.path().join("nested.zip");
    let flat = folder.path().join("flat.zip");
    write_zip(&fixture.files, "one_shot_runs/", &nested);
    write_zip(&fixture.files, "", &flat);

    assert_eq!(read_runs(&nested).unwrap(), fixture.expected);
    assert_eq!(read_runs(&flat).unwrap(), fixture.expected);
}

#[test]
fn missing_class_labels_names_run() {
    let fixture = fixture();
    let files = with_file(&fixture.files, "run02/class_labels.txt", None);

    let error = read_folder_error(&files);

    assert!(
        matches!(&error, Error::InvalidRun { run, line: None, .. } if run == "run02"),
        "{error}"
    );
    assert!(error.to_string().contains("class_labels.txt"), "{error}");
}

#[test]
fn line_naming_absent_file_names_run_and_line() {
    let fixture = fixture();
    let labels = "run01/test/item01.png run01/training/class04.png\n\
                  run01/test/item02.png run01/training/class09.png\n";
    let files = with_file(&fixture.files, "run01/class_labels.txt", Some(labels));

    let error = read_folder_error(&files);

    assert!(
        matches!(&error, Error::InvalidRun { run, line: Some(2), .. } if run == "run01"),
        "{error}"
    );
    assert!(error.to_string().contains("class09.png"), "{error}");
}

#[test]
fn malformed_line_names_run_and_line() {
    let fixture = fixture();
    let labels = "run03/test/item01.png run03/training/class04.png\n\
                  run03/test/item02.png\n";
    let files = with_file(&fixture.files, "run03/class_labels.txt", Some(labels));

    let error = read_folder_error(&files);

    assert!(
        matches!(&error, Error::InvalidRun { run, line: Some(2), .. } if run == "run03"),
        "{error}"
    );
    assert!(error.to_string().contains("line 2"), "{error}");
}

#[test]
fn line_pointing_into_other_run_is_rejected() {
    let fixture = fixture();
    let labels = "run01/test/item01.png run02/training/class04.png\n";
    let files = with_file(&fixture.files, "run01/class_labels.txt", Some(labels));

    let error = read_folder_error(&files);

    assert!(
        matches!(&error, Error::InvalidRun { run, line: Some(1), .. } if run == "run01"),
        "{error}"
    );
}

#[test]
fn query_without_line_is_rejected() {
    let fixture = fixture();
    let labels = "run01/test/item01.png run01/training/class04.png\n";
    let files = with_file(&fixture.files, "run01/class_labels.txt", Some(labels));

    let error = read_folder_error(&files);

    assert!(
        matches!(&error, Error::InvalidRun { run, line: None, .. } if run == "run01"),
        "{error}"
    );
    assert!(error.to_string().contains("item02.png"), "{error}");
}

#[test]
fn duplicate_query_line_is_rejected() {
    let fixture = fixture();
    let labels = "run01/test/item01.png run01/training/class04.png\n\
                  run01/test/item01.png run01/training/class01.png\n";
    let files = with_file(&fixture.files, "run01/class_labels.txt", Some(labels));

    let error = read_folder_error(&files);

    assert!(matches!(&error, Error::InvalidRun { line: Some(2), .. }), "{error}");
}

#[test]
fn archive_without_runs_is_rejected() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("readme.txt"), b"no runs").unwrap();

    let error = read_runs(folder.path()).unwrap_err();

    assert!(matches!(error, Error::NoImages { .. }), "{error}");
}
