//! Drives the built `fsl` binary through a user's whole loop on an image folder the test writes.
//! The loop converts to Parquet, describes, splits by class, trains on one split, evaluates on
//! the other and labels a query. Bad input must fail with one error line and exit code 2.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use fsl_datasets::omniglot;

/// Classes and images per class of the test folder.
const CLASSES: usize = 10;
const IMAGES_PER_CLASS: usize = 6;

fn fsl(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fsl"))
        .args(arguments)
        .output()
        .expect("the fsl binary starts")
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Asserts exit code 2 and a single `error:` line on standard error that mentions `needle`.
fn assert_input_error(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let error_lines: Vec<&str> = stderr.lines().filter(|line| line.starts_with("error")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(error_lines[0].contains(needle), "{needle:?} not in {stderr}");
}

/// Writes the first characters of small2's Sanskrit alphabet as `root/<character>/<image>.png`,
/// plus a hidden file and a text file that the loaders skip.
fn write_image_folder(root: &Path) {
    let table = omniglot::load(&common::data_dir().join("images_background_small2.zip")).unwrap();
    let paths = table.strings("path").unwrap();

    for class in 1..=CLASSES {
        let character = format!("character{class:02}");
        let folder = root.join(&character);
        std::fs::create_dir_all(&folder).unwrap();
        let rows = paths
            .iter()
            .enumerate()
            .filter(|(_, path)| path.contains(&format!("/Sanskrit/{character}/")))
            .map(|(row, _)| row)
            .take(IMAGES_PER_CLASS);
        for row in rows {
            std::fs::write(folder.join(format!("{row}.png")), table.image_bytes(row).unwrap()).unwrap();
        }
    }
    std::fs::write(root.join("character01").join(".DS_Store"), b"metadata").unwrap();
    std::fs::write(root.join("character01").join("notes.txt"), b"not an image").unwrap();
}

#[test]
fn whole_loop_on_image_folder() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    write_image_folder(&images);
    let table = dir.path().join("table.parquet");
    let split = dir.path().join("split.parquet");
    let run = dir.path().join("run");
    let path = |path: &Path| path.to_str().unwrap().to_owned();

    let converted = stdout(&fsl(&["data", "convert", &path(&images), "--output", &path(&table)]));
    assert!(
        converted.contains(&format!(
            "Wrote {} images of {CLASSES} classes",
            CLASSES * IMAGES_PER_CLASS
        )),
        "{converted}"
    );

    // The table contains the bytes, so it describes itself without the folder.
    std::fs::rename(&images, dir.path().join("moved")).unwrap();
    let info = stdout(&fsl(&["data", "info", &path(&table)]));
    assert!(
        info.contains(&format!("rows: {}", CLASSES * IMAGES_PER_CLASS)),
        "{info}"
    );
    assert!(info.contains(&format!("classes: {CLASSES}")), "{info}");
    assert!(
        info.contains(&format!(
            "images per class: min {IMAGES_PER_CLASS}, median {IMAGES_PER_CLASS}"
        )),
        "{info}"
    );
    assert!(info.contains("images: embedded in the table"), "{info}");
    std::fs::rename(dir.path().join("moved"), &images).unwrap();

    let split_output = stdout(&fsl(&[
        "data",
        "split",
        &path(&table),
        "--output",
        &path(&split),
        "--by",
        "label",
        "--choices",
        "train,test",
        "--p",
        "0.5,0.5",
        "--seed",
        "1",
    ]));
    let classes_of = |name: &str| -> usize {
        let line = split_output
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} line in {split_output}"));
        let classes = line.split(", ").nth(1).unwrap().trim_end_matches(" classes");
        classes.parse().unwrap()
    };
    let (train_classes, test_classes) = (classes_of("train"), classes_of("test"));
    assert_eq!(train_classes + test_classes, CLASSES, "{split_output}");
    // Training holds out two classes for validation and needs three for its episodes.
    assert!(train_classes >= 5, "{split_output}");
    assert!(test_classes >= 3, "{split_output}");

    let info = stdout(&fsl(&["data", "info", &path(&split)]));
    assert!(info.contains("split: 2 values"), "{info}");
    assert!(
        info.contains(&format!(
            "train: {} images, {train_classes} classes",
            train_classes * IMAGES_PER_CLASS
        )),
        "{info}"
    );

    let trained = stdout(&fsl(&[
        "train",
        "--data",
        &path(&split),
        "--split",
        "train",
        "--output-dir",
        &path(&run),
        "--episodes",
        "5",
        "--n-way",
        "3",
        "--k-shot",
        "1",
        "--q-query",
        "2",
        "--validate-every",
        "0",
    ]));
    assert!(trained.contains("Saved the model"), "{trained}");
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        saved.contains("type = \"affine\""),
        "the default augmentation is recorded: {saved}"
    );

    // Episodes the data cannot serve fail before the run folder is created.
    let too_many = dir.path().join("too-many");
    let output = fsl(&[
        "train",
        "--data",
        &path(&split),
        "--split",
        "train",
        "--output-dir",
        &path(&too_many),
        "--n-way",
        "50",
    ]);
    assert_input_error(&output, "50");
    assert!(!too_many.exists(), "a data error must fail before the run folder");

    // Without validation no class is held out, so an episode may use every training class.
    let all_classes = stdout(&fsl(&[
        "train",
        "--data",
        &path(&split),
        "--split",
        "train",
        "--output-dir",
        &path(&dir.path().join("all-classes")),
        "--episodes",
        "2",
        "--n-way",
        &train_classes.to_string(),
        "--k-shot",
        "1",
        "--q-query",
        "1",
        "--validate-every",
        "0",
    ]));
    assert!(all_classes.contains("Saved the model"), "{all_classes}");

    // A run of 2 episodes resumed to 4 ends with the weights of a straight run of 4.
    let train_run = |output: &Path, episodes: &str| {
        stdout(&fsl(&[
            "train",
            "--data",
            path_str(&split),
            "--split",
            "train",
            "--output-dir",
            path_str(output),
            "--episodes",
            episodes,
            "--n-way",
            "3",
            "--k-shot",
            "1",
            "--q-query",
            "1",
            "--validate-every",
            "0",
        ]))
    };
    let straight = dir.path().join("straight");
    let resumed = dir.path().join("resumed");
    train_run(&straight, "4");
    train_run(&resumed, "2");
    assert!(resumed.join("checkpoint/training_state.json").is_file());
    let config_toml = resumed.join("config.toml");
    let text = std::fs::read_to_string(&config_toml).unwrap();
    assert!(text.contains("episodes = 2\n"), "{text}");
    std::fs::write(&config_toml, text.replace("episodes = 2\n", "episodes = 4\n")).unwrap();
    let continued = stdout(&fsl(&["train", "--resume", path_str(&resumed)]));
    assert!(continued.contains("Saved the model"), "{continued}");
    let weights = |run: &Path| std::fs::read(run.join("model/model.safetensors")).unwrap();
    assert!(
        weights(&resumed) == weights(&straight),
        "resumed weights differ from a straight run's"
    );
    let history = std::fs::read_to_string(resumed.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 3, "one record per run part: {history}");

    // Resuming a folder without a configuration names it.
    assert_input_error(&fsl(&["train", "--resume", path_str(&too_many)]), "too-many");

    // A run folder whose checkpoint is missing, and one whose [model] was edited after training.
    let no_checkpoint = dir.path().join("no-checkpoint");
    std::fs::create_dir(&no_checkpoint).unwrap();
    std::fs::copy(&config_toml, no_checkpoint.join("config.toml")).unwrap();
    assert_input_error(&fsl(&["train", "--resume", path_str(&no_checkpoint)]), "no checkpoint");
    let text = std::fs::read_to_string(&config_toml).unwrap();
    assert!(text.contains("hidden_channels = 64"), "{text}");
    std::fs::write(
        &config_toml,
        text.replace("hidden_channels = 64", "hidden_channels = 32"),
    )
    .unwrap();
    assert_input_error(&fsl(&["train", "--resume", path_str(&resumed)]), "differs");
    assert!(run.join("model").join("config.json").is_file());
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert!(history.lines().count() >= 2, "{history}");

    let evaluated = stdout(&fsl(&[
        "eval",
        "--model",
        &path(&run),
        "--data",
        &path(&split),
        "--split",
        "test",
        "--n-way",
        "3",
        "--k-shot",
        "1",
        "--q-query",
        "2",
        "--episodes",
        "20",
    ]));
    let accuracy: f64 = evaluated
        .strip_prefix("3-way 1-shot: ")
        .and_then(|rest| rest.split('%').next())
        .unwrap_or_else(|| panic!("unexpected evaluation output {evaluated}"))
        .trim()
        .parse()
        .unwrap();
    assert!((0.0..=100.0).contains(&accuracy), "{evaluated}");

    // The same evaluation with every prediction and the confusion matrix written out: 20
    // episodes of 3 classes x 2 queries, and the diagonal gives back the printed accuracy.
    let eval_on_test_split = |options: &[&str]| {
        let mut arguments = vec!["eval", path_str(&run), "--data", path_str(&split), "--split", "test"];
        arguments.extend_from_slice(options);
        fsl(&arguments)
    };
    let predictions = dir.path().join("predictions.csv");
    let confusion = dir.path().join("confusion.csv");
    let detailed = stdout(&eval_on_test_split(&[
        "--n-way",
        "3",
        "--q-query",
        "2",
        "--episodes",
        "20",
        "--predictions",
        path_str(&predictions),
        "--confusion",
        path_str(&confusion),
    ]));
    assert!(detailed.starts_with(evaluated.trim()), "{detailed}");
    assert!(detailed.contains("classes with the lowest accuracy:"), "{detailed}");
    let rows = std::fs::read_to_string(&predictions).unwrap();
    let mut lines = rows.lines();
    assert_eq!(lines.next(), Some("episode,row,path,class,predicted,score"));
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert_eq!(rows.len(), 20 * 3 * 2);
    let correct = rows.iter().filter(|fields| fields[3] == fields[4]).count();
    assert!(
        (100.0 * correct as f64 / rows.len() as f64 - accuracy).abs() < 0.01,
        "{correct} of {} correct, printed {accuracy}%",
        rows.len()
    );
    let cells = std::fs::read_to_string(&confusion).unwrap();
    let mut diagonal = 0;
    let mut total = 0;
    for line in cells.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let count: usize = fields[2].parse().unwrap();
        total += count;
        if fields[0] == fields[1] {
            diagonal += count;
        }
    }
    assert_eq!((diagonal, total), (correct, rows.len()), "{cells}");

    // An output file in a missing folder is invalid input, rejected before the evaluation.
    let unwritable = dir.path().join("no-such-folder").join("predictions.csv");
    let output = eval_on_test_split(&["--predictions", path_str(&unwritable)]);
    assert_input_error(&output, "invalid predictions");
    assert_input_error(&output, "existing, writable folder");

    // Every class has 6 images, fewer than 1 + 6: the error names the option that skips them,
    // and with the option every class is left out, which is a different error.
    let too_small = |extra: &[&str]| {
        let mut arguments = vec!["eval", path_str(&run), "--data", path_str(&split), "--q-query", "6"];
        arguments.extend_from_slice(extra);
        fsl(&arguments)
    };
    assert_input_error(&too_small(&[]), "skip_small_classes");
    let skipped = too_small(&["--skip-small-classes"]);
    assert_eq!(skipped.status.code(), Some(2));
    assert!(
        !String::from_utf8_lossy(&skipped.stderr).contains("enable skip_small_classes"),
        "{}",
        String::from_utf8_lossy(&skipped.stderr)
    );

    // A configuration file with an encoder that takes any size; its run folder records the
    // image side, so evaluation needs no flag for it.
    let config = dir.path().join("run.toml");
    std::fs::write(
        &config,
        "[data]\npath = \"split.parquet\"\nsplit = \"train\"\nimage_size = 20\n\n\
         [model]\nencoder = { kind = \"resnet12\", in_channels = 1, channels = [4, 4, 4, 4] }\n\n\
         [episodes]\nn_way = 3\nk_shot = 1\nq_query = 2\n\n\
         [training]\nepisodes = 3\nvalidate_every = 0\naugment = false\n\
         optimizer = { kind = \"sgd\", momentum = 0.9 }\nschedule = { kind = \"cosine\", min_learning_rate = 0.0001 }\n\
         max_grad_norm = 5.0\n",
    )
    .unwrap();
    let resnet_run = dir.path().join("resnet-run");
    stdout(&fsl(&[
        "train",
        "--config",
        &path(&config),
        "--output-dir",
        &path(&resnet_run),
    ]));
    for file in [
        "config.toml",
        "train.log",
        "history.csv",
        "training_curve.png",
        "model/model.safetensors",
    ] {
        assert!(resnet_run.join(file).is_file(), "{file} missing from the run folder");
    }
    let saved = std::fs::read_to_string(resnet_run.join("config.toml")).unwrap();
    assert!(saved.contains("kind = \"resnet12\""), "{saved}");
    assert!(saved.contains("image_size = 20"), "{saved}");
    assert!(saved.contains("kind = \"cosine\""), "{saved}");
    let log = std::fs::read_to_string(resnet_run.join("train.log")).unwrap();
    assert!(log.contains("training"), "{log}");

    // With validation, the best model is kept, and early stopping may end the run.
    let validated = dir.path().join("validated.toml");
    std::fs::write(
        &validated,
        "[data]\npath = \"split.parquet\"\nsplit = \"train\"\n\n\
         [model]\nencoder = { kind = \"conv4\", in_channels = 1, hidden_channels = 8, image_size = 28 }\n\n\
         [episodes]\nn_way = 3\nk_shot = 1\nq_query = 2\n\n\
         [training]\nepisodes = 20\nvalidate_every = 2\nearly_stopping_patience = 1\n",
    )
    .unwrap();
    let validated_run = dir.path().join("validated-run");
    stdout(&fsl(&[
        "train",
        "--config",
        &path(&validated),
        "--output-dir",
        &path(&validated_run),
    ]));
    assert!(validated_run.join("best_model/model.safetensors").is_file());
    let history = std::fs::read_to_string(validated_run.join("history.csv")).unwrap();
    assert!((2..=11).contains(&history.lines().count()), "{history}");

    let evaluated = stdout(&fsl(&[
        "eval",
        &path(&resnet_run),
        "--data",
        &path(&split),
        "--split",
        "test",
        "--n-way",
        "3",
        "--q-query",
        "2",
        "--episodes",
        "5",
    ]));
    assert!(evaluated.starts_with("3-way 1-shot: "), "{evaluated}");

    let query = images
        .join("character02")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let predicted = stdout(&fsl(&[
        "predict",
        &path(&run),
        "--support",
        &path(&images),
        "--query",
        &path(&query),
    ]));
    let line = predicted.lines().nth(1).unwrap();
    let label = line.split('\t').nth(1).unwrap();
    assert!(label.starts_with("character"), "{predicted}");
}

#[test]
fn benchmark_compares_configurations_on_one_split() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    write_image_folder(&images);
    let split = dir.path().join("split.parquet");
    let path = |path: &Path| path.to_str().unwrap().to_owned();
    stdout(&fsl(&[
        "data",
        "split",
        &path(&images),
        "--output",
        &path(&split),
        "--choices",
        "train,test",
        "--p",
        "0.5,0.5",
        "--seed",
        "1",
    ]));

    let training = "[episodes]\nn_way = 3\nk_shot = 1\nq_query = 2\n\n[training]\nepisodes = 2\nvalidate_every = 0\n";
    let small_conv4 = dir.path().join("small_conv4.toml");
    std::fs::write(
        &small_conv4,
        format!(
            "[data]\npath = \"unused\"\n\n[model]\nencoder = {{ kind = \"conv4\", in_channels = 1, hidden_channels = 8, image_size = 28 }}\n\n{training}"
        ),
    )
    .unwrap();
    let small_resnet = dir.path().join("small_resnet.toml");
    std::fs::write(
        &small_resnet,
        format!(
            "[data]\npath = \"unused\"\nimage_size = 20\n\n[model]\nencoder = {{ kind = \"resnet12\", in_channels = 1, channels = [4, 4, 4, 4] }}\n\n{training}"
        ),
    )
    .unwrap();
    let output_dir = dir.path().join("benchmark");
    let models = format!("{},{}", path(&small_conv4), path(&small_resnet));

    let table = stdout(&fsl(&[
        "benchmark",
        "--data",
        &path(&split),
        "--models",
        &models,
        "--n-way",
        "3",
        "--q-query",
        "2",
        "--episodes",
        "10",
        "--output-dir",
        &path(&output_dir),
    ]));

    assert!(
        table.starts_with("3-way 1-shot, 10 episodes on the `test` split"),
        "{table}"
    );
    // Conv-4 with 8 filters: 8 * (1 * 9 + 1) + 16 for the first block, 3 * (8 * (8 * 9 + 1) + 16)
    // for the others, counting batch-norm scale and shift but not running statistics.
    assert!(table.contains("| small_conv4 | conv4 | 1896 |"), "{table}");
    assert!(table.contains("| small_resnet | resnet12 |"), "{table}");
    let csv = std::fs::read_to_string(output_dir.join("benchmark.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(output_dir.join("small_resnet/model/model.safetensors").is_file());
    assert!(output_dir.join("small_conv4/config.toml").is_file());

    // A broken file anywhere in the list fails before any model trains.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[data]\npath = \"unused\"\n[training]\nepisodez = 1\n").unwrap();
    let second_output = dir.path().join("second");
    let models = format!("{},{}", path(&small_conv4), path(&broken));
    let output = fsl(&[
        "benchmark",
        "--data",
        &path(&split),
        "--models",
        &models,
        "--output-dir",
        &path(&second_output),
    ]);
    assert_input_error(&output, "episodez");
    assert!(!second_output.exists());
}

#[test]
fn bad_input_exits_with_two() {
    let dir = tempfile::tempdir().unwrap();
    let path = |path: &Path| path.to_str().unwrap().to_owned();
    let missing = dir.path().join("no-such-folder");

    let output = fsl(&[
        "train",
        "--data",
        &path(&missing),
        "--output-dir",
        &path(&dir.path().join("run")),
    ]);
    assert_input_error(&output, "no-such-folder");

    let output = fsl(&["data", "info", &path(&missing)]);
    assert_input_error(&output, "no-such-folder");

    let output = fsl(&["eval", "--model", &path(&missing), "--data", &path(&missing)]);
    assert_input_error(&output, "no-such-folder");
    assert_input_error(&output, "folder not found");

    // An existing folder without a saved model: the error explains what a run folder contains.
    let output = fsl(&["eval", &path(dir.path()), "--data", &path(&missing)]);
    assert_input_error(&output, "no saved model here");

    // A file given as the run.
    let file = dir.path().join("history.csv");
    std::fs::write(&file, "episode,loss\n").unwrap();
    let output = fsl(&["eval", &path(&file), "--data", &path(&missing)]);
    assert_input_error(&output, "a file, not a run folder");

    let images = dir.path().join("images");
    std::fs::create_dir_all(images.join("cat")).unwrap();
    std::fs::write(images.join("cat").join("broken.png"), b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let output = fsl(&[
        "data",
        "convert",
        &path(&images),
        "--output",
        &path(&dir.path().join("out.parquet")),
    ]);
    assert_input_error(&output, "broken.png");
    assert_input_error(&output, "replace it with a valid PNG or JPEG file");
    assert!(!dir.path().join("out.parquet").exists());

    let damaged = dir.path().join("damaged.zip");
    std::fs::write(&damaged, b"PK\x03\x04 not a whole archive").unwrap();
    let output = fsl(&["data", "info", &path(&damaged)]);
    assert_input_error(&output, "damaged.zip");
    assert_input_error(&output, "download or copy it again");

    let output = fsl(&[
        "data",
        "convert",
        &path(&images),
        "--output",
        &path(&dir.path().join("out.csv")),
    ]);
    assert_input_error(&output, "out.csv");

    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, b"PAR1 not a whole file").unwrap();
    let output = fsl(&["data", "info", &path(&truncated)]);
    assert_input_error(&output, "truncated.parquet");

    let run = dir.path().join("run");
    let train_with_config = |name: &str, text: &str| {
        let config = dir.path().join(name);
        std::fs::write(&config, text).unwrap();
        fsl(&["train", "--config", &path(&config), "--output-dir", &path(&run)])
    };
    let output = train_with_config("no-path.toml", "[data]\nsplit = \"train\"\n");
    assert_input_error(&output, "missing field `path`");
    let output = train_with_config(
        "unknown-model.toml",
        "[data]\npath = \"images\"\n[model]\nencoder = { kind = \"vgg16\" }\n",
    );
    assert_input_error(&output, "unknown variant `vgg16`");
    assert_input_error(&output, "model.encoder.kind");
    let output = train_with_config(
        "wrong-type.json",
        r#"{"data": {"path": "images"}, "training": {"episodes": "many"}}"#,
    );
    assert_input_error(&output, "training.episodes");
    // Head settings that only building the network checks.
    let output = train_with_config(
        "no-hidden-units.toml",
        "[data]\npath = \"images\"\n[model]\nhead = { kind = \"relation\", hidden = 0 }\n",
    );
    assert_input_error(&output, "hidden");
    let output = train_with_config(
        "zero-scale.toml",
        "[data]\npath = \"images\"\n[model]\nhead = { kind = \"matching\", scale = 0.0 }\n",
    );
    assert_input_error(&output, "head.scale");
    assert!(!run.exists(), "a configuration error must fail before the run folder");

    let split_with = |extra: &[&str]| {
        let mut arguments = vec!["data", "split", "/no/such.parquet", "--output"];
        let output = path(&dir.path().join("split.parquet"));
        arguments.push(&output);
        arguments.extend_from_slice(extra);
        fsl(&arguments)
    };
    assert_input_error(
        &split_with(&["--choices", "train,train", "--p", "0.5,0.5"]),
        "only once",
    );
    assert_input_error(
        &split_with(&["--choices", "train,,test", "--p", "0.4,0.2,0.4"]),
        "empty",
    );
    assert_input_error(&split_with(&["--column", "label"]), "overwrite");

    // clap reports unknown values with exit code 2 as well.
    let output = fsl(&["data", "info", &path(&images), "--format", "csv"]);
    assert_eq!(output.status.code(), Some(2));
}
