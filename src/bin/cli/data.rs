//! `fsl data`: build Parquet tables from image collections, describe them, and assign splits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, BinaryArray};
use clap::{Args, Subcommand, ValueEnum};
use fsl::omniglot::{SourceFormat, open_table};
use fsl_datasets::AnnotationTable;
use fsl_datasets::decode::decode_luma8_named;
use fsl_datasets::image_folder::SPLIT;
use fsl_datasets::omniglot::ALPHABET;
use fsl_datasets::parquet::write_parquet;
use fsl_datasets::table::{IMAGE, LABEL, PATH};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Convert an Omniglot archive or folder, an image folder or a Parquet table into a Parquet
    /// table that contains the image bytes, so it can be moved and read without the source.
    Convert(ConvertArgs),
    /// Print rows, columns, classes and images per class of a data source.
    Info(InfoArgs),
    /// Assign whole groups of rows (for example alphabets or classes) to splits at random, and
    /// write the table with a split column.
    Split(SplitArgs),
}

/// Formats a source can be read as; `auto` guesses from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Auto,
    Omniglot,
    Parquet,
    Folder,
}

impl FormatArg {
    fn format(self) -> Option<SourceFormat> {
        match self {
            Self::Auto => None,
            Self::Omniglot => Some(SourceFormat::Omniglot),
            Self::Parquet => Some(SourceFormat::Parquet),
            Self::Folder => Some(SourceFormat::ImageFolder),
        }
    }
}

#[derive(Debug, Args)]
struct SourceArgs {
    /// An Omniglot archive (.zip) or extracted folder, a Parquet table (.parquet), or an image
    /// folder laid out as DIR/<class>/<image> or DIR/<split>/<class>/<image>.
    source: PathBuf,

    /// How to read the source.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
}

impl SourceArgs {
    fn open(&self) -> fsl::Result<AnnotationTable> {
        open_table(&self.source, self.format.format())
    }
}

#[derive(Debug, Args)]
struct ConvertArgs {
    #[command(flatten)]
    source: SourceArgs,

    /// Parquet file to write; it appears only once complete.
    #[arg(long, short)]
    output: PathBuf,

    /// Do not decode every image to check it; only copy the bytes.
    #[arg(long)]
    no_check: bool,
}

#[derive(Debug, Args)]
struct InfoArgs {
    #[command(flatten)]
    source: SourceArgs,

    /// Also list every class with its number of images.
    #[arg(long)]
    per_class: bool,
}

#[derive(Debug, Args)]
struct SplitArgs {
    #[command(flatten)]
    source: SourceArgs,

    /// Parquet file to write, with the images embedded as by `fsl data convert`.
    #[arg(long, short)]
    output: PathBuf,

    /// Column whose distinct values are assigned whole to one split, for example `alphabet`
    /// for Omniglot so that no alphabet is shared between splits.
    #[arg(long, default_value = LABEL)]
    by: String,

    /// Names of the splits, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "train,test")]
    choices: Vec<String>,

    /// Probability of each split, comma-separated, in the order of --choices; they sum to 1.
    #[arg(long = "p", value_delimiter = ',', default_value = "0.8,0.2")]
    probabilities: Vec<f64>,

    /// Seed of the assignment.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Name of the column that receives the split.
    #[arg(long, default_value = "split")]
    column: String,
}

pub fn run(arguments: DataArgs) -> fsl::Result<()> {
    match arguments.command {
        DataCommand::Convert(arguments) => convert(arguments),
        DataCommand::Info(arguments) => info(arguments),
        DataCommand::Split(arguments) => split(arguments),
    }
}

fn convert(arguments: ConvertArgs) -> fsl::Result<()> {
    check_output(&arguments.output)?;
    let table = arguments.source.open()?;
    let table = embed_images(&table, !arguments.no_check)?;

    write_parquet(&table, &arguments.output)?;
    println!(
        "Wrote {} images of {} classes to {}.",
        table.num_rows(),
        count(&class_names(&table)?).len(),
        arguments.output.display()
    );
    Ok(())
}

fn info(arguments: InfoArgs) -> fsl::Result<()> {
    let table = arguments.source.open()?;
    let batch = table.record_batch();

    println!("source: {}", arguments.source.source.display());
    println!("rows: {}", table.num_rows());
    println!("columns:");
    for field in batch.schema().fields() {
        println!("  {}: {}", field.name(), field.data_type());
    }
    let images = if batch.column_by_name(IMAGE).is_some() {
        "embedded in the table".to_owned()
    } else {
        match table.root() {
            Some(root) => format!("files under {}", root.display()),
            None => "files at the paths of the `path` column".to_owned(),
        }
    };
    println!("images: {images}");

    let counts = count(&class_names(&table)?);
    println!("classes: {}", counts.len());
    if let Some((min, median, max)) = spread(counts.values().copied()) {
        println!("images per class: min {min}, median {median}, max {max}");
    }

    for column in [ALPHABET, SPLIT] {
        if batch.column_by_name(column).is_none() {
            continue;
        }
        let rows = table.value_counts(column)?;
        let classes = classes_per_value(&table, column)?;
        println!("{column}: {} values", rows.len());
        for (value, count) in &rows {
            println!("  {value}: {count} images, {} classes", classes[value]);
        }
    }

    if arguments.per_class {
        println!("images per class:");
        for (class, count) in &counts {
            println!("  {class}: {count}");
        }
    }
    Ok(())
}

fn split(arguments: SplitArgs) -> fsl::Result<()> {
    check_output(&arguments.output)?;
    check_choices(&arguments.choices)?;
    if [LABEL, IMAGE, PATH, ALPHABET].contains(&arguments.column.as_str()) {
        return Err(fsl::Error::InvalidSetting {
            name: "column",
            value: arguments.column.clone(),
            reason: "this column holds data the split would overwrite; choose another name such as `split`".to_owned(),
        });
    }
    let table = arguments.source.open()?;
    if table.record_batch().column_by_name(&arguments.column).is_some() {
        tracing::warn!(column = arguments.column, "replacing the existing split column");
    }
    let choices: Vec<&str> = arguments.choices.iter().map(String::as_str).collect();
    let table = table.with_group_split(
        &arguments.by,
        &choices,
        &arguments.probabilities,
        arguments.seed,
        &arguments.column,
    )?;
    let table = embed_images(&table, false)?;

    write_parquet(&table, &arguments.output)?;
    let groups = classes_per_value(&table, &arguments.column)?;
    let rows = table.value_counts(&arguments.column)?;
    println!("Wrote {} rows to {}:", table.num_rows(), arguments.output.display());
    for choice in &choices {
        let count = rows.get(*choice).copied().unwrap_or(0);
        let classes = groups.get(*choice).copied().unwrap_or(0);
        println!("  {choice}: {count} images, {classes} classes");
    }
    Ok(())
}

/// Rejects empty or repeated split names, which would merge splits or make them unnamable.
fn check_choices(choices: &[String]) -> fsl::Result<()> {
    for (index, choice) in choices.iter().enumerate() {
        let reason = if choice.trim().is_empty() {
            "split names must not be empty"
        } else if choices[..index].contains(choice) {
            "each split name may appear only once"
        } else {
            continue;
        };
        return Err(fsl::Error::InvalidSetting {
            name: "choices",
            value: choices.join(","),
            reason: reason.to_owned(),
        });
    }
    Ok(())
}

/// Refuses an output that is not a `.parquet` file name or whose folder does not exist, before
/// any slow work.
fn check_output(output: &Path) -> fsl::Result<()> {
    let is_parquet = output
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("parquet"));
    if !is_parquet {
        return Err(fsl::Error::InvalidSetting {
            name: "output",
            value: output.display().to_string(),
            reason: "give a file name ending in .parquet".to_owned(),
        });
    }
    let folder = output.parent().filter(|parent| !parent.as_os_str().is_empty());
    if let Some(folder) = folder.filter(|folder| !folder.is_dir()) {
        return Err(fsl::Error::InvalidSetting {
            name: "output",
            value: output.display().to_string(),
            reason: format!("the folder {} does not exist; create it first", folder.display()),
        });
    }
    Ok(())
}

/// Returns the table with an `image` column of every row's encoded bytes, read from the table
/// or from its files. With `check`, each image is decoded first, so a corrupt file fails the
/// conversion instead of a later training run.
fn embed_images(table: &AnnotationTable, check: bool) -> fsl::Result<AnnotationTable> {
    let has_bytes = table.record_batch().column_by_name(IMAGE).is_some_and(|column| {
        matches!(
            column.data_type(),
            arrow::datatypes::DataType::Binary | arrow::datatypes::DataType::LargeBinary
        ) && column.null_count() == 0
    });
    if has_bytes && !check {
        return Ok(table.clone());
    }

    let names = table.strings(PATH).ok();
    let progress = progress_bar(table.num_rows() as u64, if check { "checking" } else { "reading" });
    let mut images = Vec::with_capacity(table.num_rows());
    for row in 0..table.num_rows() {
        let bytes = table.image_bytes(row)?;
        if check {
            let name = names
                .as_ref()
                .map_or_else(|| format!("row {row}"), |names| names[row].clone());
            decode_luma8_named(&bytes, &name)?;
        }
        images.push(bytes);
        progress.inc(1);
    }
    progress.finish_and_clear();

    if has_bytes {
        return Ok(table.clone());
    }
    let column = BinaryArray::from_iter_values(images.iter().map(Vec::as_slice));
    Ok(table.with_column(IMAGE, Arc::new(column))?)
}

/// Creates a progress bar on standard error, hidden when it is not a terminal.
fn progress_bar(length: u64, message: &'static str) -> ProgressBar {
    let progress = ProgressBar::new(length);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} images ({eta} left)") {
        progress.set_style(style);
    }
    progress.set_message(message);
    progress
}

/// Returns the smallest, median and largest value, or nothing for no values.
fn spread(values: impl Iterator<Item = usize>) -> Option<(usize, usize, usize)> {
    let mut values: Vec<usize> = values.collect();
    values.sort_unstable();
    let (first, last) = (values.first()?, values.last()?);
    Some((*first, values[values.len() / 2], *last))
}

/// Returns the class of every row: `alphabet/label` when the table has an alphabet column,
/// because Omniglot's character names repeat across alphabets, and the label otherwise.
fn class_names(table: &AnnotationTable) -> fsl::Result<Vec<String>> {
    let labels = table.strings(LABEL)?;
    if table.record_batch().column_by_name(ALPHABET).is_none() {
        return Ok(labels);
    }
    let alphabets = table.strings(ALPHABET)?;
    Ok(alphabets
        .iter()
        .zip(&labels)
        .map(|(alphabet, label)| format!("{alphabet}/{label}"))
        .collect())
}

/// Counts the rows of every distinct value.
fn count(values: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for value in values {
        *counts.entry(value.clone()).or_insert(0) += 1;
    }
    counts
}

/// Counts the distinct classes among the rows of each value of `column`.
fn classes_per_value(table: &AnnotationTable, column: &str) -> fsl::Result<BTreeMap<String, usize>> {
    let values = table.strings(column)?;
    let labels = class_names(table)?;
    let mut classes: BTreeMap<String, std::collections::BTreeSet<&String>> = BTreeMap::new();
    for (value, label) in values.iter().zip(&labels) {
        classes.entry(value.clone()).or_default().insert(label);
    }
    Ok(classes
        .into_iter()
        .map(|(value, labels)| (value, labels.len()))
        .collect())
}
