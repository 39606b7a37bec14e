//! Drives the built `fsl` binary: train a small model, then label real Omniglot characters of an
//! alphabet it never saw against a support folder, and reject bad input with a one-line error.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use fsl_datasets::omniglot;

fn fsl(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fsl"))
        .args(arguments)
        .output()
        .expect("the fsl binary starts")
}

/// Writes three support images of each of three Sanskrit characters as `support/<character>/`
/// and one other drawing of each as a query file. Returns the query paths with their labels.
fn write_support_and_queries(dir: &Path) -> Vec<(String, String)> {
    let table = omniglot::load(&common::data_dir().join("images_background_small2.zip")).unwrap();
    let paths = table.strings("path").unwrap();

    let mut queries = Vec::new();
    for character in ["character01", "character02", "character03"] {
        let rows: Vec<usize> = paths
            .iter()
            .enumerate()
            .filter(|(_, path)| path.contains(&format!("/Sanskrit/{character}/")))
            .map(|(row, _)| row)
            .collect();
        assert!(rows.len() >= 4, "Sanskrit {character} has {} images", rows.len());

        let folder = dir.join("support").join(character);
        std::fs::create_dir_all(&folder).unwrap();
        for &row in &rows[..3] {
            let name = format!("{row}.png");
            std::fs::write(folder.join(name), table.image_bytes(row).unwrap()).unwrap();
        }
        let query = dir.join(format!("query_{character}.png"));
        std::fs::write(&query, table.image_bytes(rows[3]).unwrap()).unwrap();
        queries.push((query.display().to_string(), character.to_string()));
    }
    queries
}

#[test]
fn predict_labels_queries_of_an_unseen_alphabet() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let small1 = common::data_dir().join("images_background_small1.zip");

    let trained = fsl(&[
        "train",
        "--data",
        small1.to_str().unwrap(),
        "--output-dir",
        run.to_str().unwrap(),
        "--episodes",
        "100",
        "--n-way",
        "5",
        "--validate-every",
        "0",
    ]);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));

    let queries = write_support_and_queries(dir.path());
    let support = dir.path().join("support");
    let mut arguments = vec![
        "predict",
        run.to_str().unwrap(),
        "--support",
        support.to_str().unwrap(),
        "--all-scores",
        "--query",
    ];
    arguments.extend(queries.iter().map(|(path, _)| path.as_str()));
    let predicted = fsl(&arguments);

    assert!(
        predicted.status.success(),
        "{}",
        String::from_utf8_lossy(&predicted.stderr)
    );
    let stdout = String::from_utf8(predicted.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "query\tlabel\tsquared distance to prototype\tscores (label=squared distance to prototype)"
    );
    assert_eq!(lines.len(), 1 + queries.len(), "{stdout}");

    let mut correct = 0;
    for (line, (path, truth)) in lines[1..].iter().zip(&queries) {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields[0], path);
        assert_eq!(fields.len(), 3 + 3, "one score per label: {line}");
        let score: f64 = fields[2].parse().unwrap();
        assert!(score.is_finite(), "{line}");
        assert!(score >= 0.0, "{line}");
        assert!(
            fields[3..]
                .iter()
                .any(|pair| *pair == format!("{}={}", fields[1], fields[2]))
        );
        correct += usize::from(fields[1] == truth);
    }
    // A three-way three-shot task on an unseen alphabet: a trained encoder gets most right.
    assert!(correct >= 2, "{correct} of 3 correct:\n{stdout}");
}

#[test]
fn predict_rejects_missing_inputs_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing_run = dir.path().join("no-run");

    let output = fsl(&[
        "predict",
        missing_run.to_str().unwrap(),
        "--support",
        dir.path().to_str().unwrap(),
        "--query",
        "q.png",
    ]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error_lines: Vec<&str> = stderr.lines().filter(|line| line.starts_with("error")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(error_lines[0].contains("no-run"), "{stderr}");
}
