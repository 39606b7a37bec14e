//! The official one-shot runs evaluator on an archive built from real Omniglot images.

mod common;

use std::io::Write;
use std::path::Path;

use candle_core::Tensor;
use fsl::omniglot::{model_config, score_one_shot_runs};
use fsl_datasets::decode::{decode_luma8, gray_to_f32};
use fsl_models::FewShotNetwork;

const CLASSES: usize = 6;

/// Writes runs in the official layout: `runNN/training/classYY.png`, `runNN/test/itemXX.png`
/// and `runNN/class_labels.txt` with its lines in shuffled order. Query `i` shows the character of
/// support `answers[i]`; `query_images[i]` are its bytes.
fn write_run(root: &Path, run: usize, supports: &[Vec<u8>], query_images: &[Vec<u8>], answers: &[usize]) {
    let name = format!("run{run:02}");
    std::fs::create_dir_all(root.join(&name).join("training")).unwrap();
    std::fs::create_dir_all(root.join(&name).join("test")).unwrap();
    for (index, bytes) in supports.iter().enumerate() {
        std::fs::write(
            root.join(&name).join(format!("training/class{:02}.png", index + 1)),
            bytes,
        )
        .unwrap();
    }
    for (index, bytes) in query_images.iter().enumerate() {
        std::fs::write(root.join(&name).join(format!("test/item{:02}.png", index + 1)), bytes).unwrap();
    }

    // Lines in reverse order, so a reader relying on line order would pair queries wrongly.
    let mut labels = std::fs::File::create(root.join(&name).join("class_labels.txt")).unwrap();
    for (query, &answer) in answers.iter().enumerate().rev() {
        writeln!(
            labels,
            "{name}/test/item{:02}.png {name}/training/class{:02}.png",
            query + 1,
            answer + 1
        )
        .unwrap();
    }
}

/// Returns the drawer-1 and drawer-2 images of the first `CLASSES` characters of an alphabet.
fn character_images(alphabet: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let table = fsl_datasets::omniglot::load(&common::data_dir().join("images_background_small1.zip")).unwrap();
    let alphabets = table.strings("alphabet").unwrap();
    let labels = table.strings("label").unwrap();
    let drawers = table.int64s("drawer").unwrap();

    let mut characters: Vec<&String> = labels
        .iter()
        .zip(&alphabets)
        .filter(|(_, a)| *a == alphabet)
        .map(|(l, _)| l)
        .collect();
    characters.sort();
    characters.dedup();
    let image_of = |character: &String, drawer: i64| {
        let row = (0..table.num_rows())
            .find(|&r| alphabets[r] == alphabet && &labels[r] == character && drawers[r] == drawer)
            .unwrap();
        table.image_bytes(row).unwrap()
    };
    let first = characters.iter().take(CLASSES).map(|c| image_of(c, 1)).collect();
    let second = characters.iter().take(CLASSES).map(|c| image_of(c, 2)).collect();
    (first, second)
}

#[test]
fn one_shot_runs_scored_by_file_name() {
    let root = tempfile::tempdir().unwrap();
    let (drawer1, drawer2) = character_images("Greek");
    let network = FewShotNetwork::new(model_config(5, 28)).unwrap();

    // Run 1: each query is an exact copy of its support image, so any encoder is right.
    let answers: Vec<usize> = vec![3, 0, 5, 1, 4, 2];
    let copies: Vec<Vec<u8>> = answers.iter().map(|&a| drawer1[a].clone()).collect();
    write_run(root.path(), 1, &drawer1, &copies, &answers);

    // Run 2: the same files but every answer names the wrong support image.
    let wrong: Vec<usize> = answers.iter().map(|&a| (a + 1) % CLASSES).collect();
    write_run(root.path(), 2, &drawer1, &copies, &wrong);

    // Run 3: real queries drawn by another person.
    let queries: Vec<Vec<u8>> = answers.iter().map(|&a| drawer2[a].clone()).collect();
    write_run(root.path(), 3, &drawer1, &queries, &answers);

    let report = score_one_shot_runs(&network, root.path(), 28).unwrap();

    let names: Vec<&str> = report.runs.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["run01", "run02", "run03"]);
    assert_eq!(report.runs[0].1, 0.0);
    assert_eq!(report.runs[1].1, 1.0);

    // Independent check of run 3: nearest support by a plain f64 loop over the embeddings.
    let embed = |images: &[Vec<u8>]| -> Vec<Vec<f64>> {
        let pixels: Vec<f32> = images
            .iter()
            .flat_map(|b| gray_to_f32(&decode_luma8(b).unwrap(), 28, 28, true))
            .collect();
        let tensor = Tensor::from_vec(pixels, (images.len(), 1, 28, 28), &candle_core::Device::Cpu).unwrap();
        let rows = network.embed(&tensor, false).unwrap().to_vec2::<f32>().unwrap();
        rows.into_iter()
            .map(|row| row.into_iter().map(f64::from).collect())
            .collect()
    };
    let support = embed(&drawer1);
    let wrong_count = embed(&queries)
        .iter()
        .zip(&answers)
        .filter(|(query, answer)| {
            let distance = |s: &Vec<f64>| s.iter().zip(query.iter()).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
            let nearest = (0..CLASSES)
                .min_by(|&a, &b| distance(&support[a]).total_cmp(&distance(&support[b])))
                .unwrap();
            nearest != **answer
        })
        .count();
    assert_eq!(report.runs[2].1, wrong_count as f64 / CLASSES as f64);
    assert_eq!(report.mean_error, (0.0 + 1.0 + report.runs[2].1) / 3.0);
}
