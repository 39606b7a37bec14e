//! Omniglot tables prepared for few-shot episodes: one class per character of an alphabet.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fsl_datasets::AnnotationTable;
use fsl_datasets::image_folder::SPLIT;
use fsl_datasets::omniglot::{self, ALPHABET, OmniglotArchive};
use fsl_sequences::{EpisodeLoader, EpisodeSampler, EpisodeSpec, LoaderConfig, SamplerOptions, decode_images};
use image::GrayImage;

use super::open::open_table;
use crate::{Error, Result};

/// Name of the derived class column: `alphabet/character`, so that `character01` of two
/// alphabets are different classes.
pub const CLASS: &str = "class";

/// Sources of the Omniglot archives: a local folder, then a download cache and address.
#[derive(Debug, Clone)]
pub struct ArchiveSource {
    /// Folder holding `images_background_small1.zip` and the other archives, if any.
    pub data_dir: Option<PathBuf>,
    /// Folder for downloaded archives.
    pub cache_dir: PathBuf,
    /// Base address of the archives.
    pub base_url: String,
}

impl ArchiveSource {
    /// Returns the path of `archive`, downloading it (with SHA-256 verification) if needed.
    pub fn locate(&self, archive: OmniglotArchive) -> Result<PathBuf> {
        if let Some(dir) = self.data_dir.as_ref().filter(|dir| !dir.is_dir()) {
            tracing::warn!(data_dir = %dir.display(), "data folder does not exist; looking in the download cache instead");
        }
        Ok(omniglot::locate_or_download(
            archive,
            self.data_dir.as_deref(),
            &self.cache_dir,
            &self.base_url,
        )?)
    }
}

/// An Omniglot table with its decoded images, ready to sample episodes from.
#[derive(Clone)]
pub struct CharacterSet {
    /// Rows of the table, with the derived [`CLASS`] column.
    pub table: AnnotationTable,
    /// Class of every row.
    pub classes: Vec<String>,
    /// Alphabet of every row.
    pub alphabets: Vec<String>,
    /// Decoded image of every row.
    pub images: Arc<Vec<GrayImage>>,
    /// Leave out of episodes the classes with fewer images than k + q, instead of failing.
    pub skip_small_classes: bool,
}

impl CharacterSet {
    /// Loads an Omniglot archive or folder and decodes its images.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_table(omniglot::load(path)?)
    }

    /// Opens any source [`open_table`] reads (Omniglot archive or folder, Parquet table, image
    /// folder), keeps the rows whose `split` column equals `split` when one is given, and
    /// decodes the images.
    pub fn open(path: &Path, split: Option<&str>) -> Result<Self> {
        let mut table = open_table(path, None)?;
        if let Some(split) = split {
            table = rows_of_split(&table, split, path)?;
        }
        Self::from_table(table)
    }

    /// Prepares a table with a `label` column and, optionally, an `alphabet` column.
    ///
    /// With an `alphabet` column the class is `alphabet/label`, because Omniglot's character
    /// folders repeat across alphabets. Without one, the class is the label and every row
    /// belongs to the same alphabet, the empty string. [`Self::has_alphabets`] distinguishes the two cases.
    pub fn from_table(table: AnnotationTable) -> Result<Self> {
        let has_alphabets = table.column_names().iter().any(|name| name == ALPHABET);
        let (table, alphabets) = if has_alphabets {
            let table = table.with_joined_column(CLASS, &[ALPHABET, fsl_datasets::table::LABEL], "/")?;
            let alphabets = table.strings(ALPHABET)?;
            (table, alphabets)
        } else {
            let table = table.with_joined_column(CLASS, &[fsl_datasets::table::LABEL], "/")?;
            let alphabets = vec![String::new(); table.num_rows()];
            (table, alphabets)
        };
        let classes = table.strings(CLASS)?;
        let images = Arc::new(decode_images(&table)?);
        Ok(Self {
            table,
            classes,
            alphabets,
            images,
            skip_small_classes: false,
        })
    }

    /// Returns whether the rows came with an `alphabet` column.
    pub fn has_alphabets(&self) -> bool {
        self.table.column_names().iter().any(|name| name == ALPHABET)
    }

    /// Keeps the rows whose alphabet satisfies `keep`.
    pub fn filter_alphabets(&self, keep: impl Fn(&str) -> bool) -> Result<Self> {
        let rows: Vec<usize> = (0..self.table.num_rows())
            .filter(|&row| keep(&self.alphabets[row]))
            .collect();
        self.take(&rows)
    }

    /// Keeps the given rows, in order.
    pub fn take(&self, rows: &[usize]) -> Result<Self> {
        Ok(Self {
            table: self.table.take(rows)?,
            classes: rows.iter().map(|&r| self.classes[r].clone()).collect(),
            alphabets: rows.iter().map(|&r| self.alphabets[r].clone()).collect(),
            images: Arc::new(rows.iter().map(|&r| self.images[r].clone()).collect()),
            skip_small_classes: self.skip_small_classes,
        })
    }

    /// Returns the distinct alphabets, sorted.
    pub fn alphabet_names(&self) -> Vec<String> {
        let mut names = self.alphabets.clone();
        names.sort();
        names.dedup();
        names
    }

    /// Returns every alphabet with its number of distinct characters, sorted by alphabet.
    pub fn alphabet_sizes(&self) -> Vec<(String, usize)> {
        let mut pairs: Vec<(&String, &String)> = self.alphabets.iter().zip(&self.classes).collect();
        pairs.sort();
        pairs.dedup();

        let mut sizes: Vec<(String, usize)> = Vec::new();
        for (alphabet, _) in pairs {
            match sizes.last_mut() {
                Some((last, count)) if last == alphabet => *count += 1,
                _ => sizes.push((alphabet.clone(), 1)),
            }
        }
        sizes
    }

    /// Returns the number of distinct classes.
    pub fn class_count(&self) -> usize {
        let mut classes: Vec<&String> = self.classes.iter().collect();
        classes.sort();
        classes.dedup();
        classes.len()
    }

    /// Creates an episode loader; `within_alphabet` draws all classes of an episode from one
    /// alphabet, as in the official one-shot task.
    pub fn loader(
        &self,
        spec: EpisodeSpec,
        within_alphabet: bool,
        seed: u64,
        config: LoaderConfig,
    ) -> Result<EpisodeLoader> {
        let options = self.sampler_options(within_alphabet);
        Ok(EpisodeLoader::new(
            &self.classes,
            spec,
            options,
            seed,
            Arc::clone(&self.images),
            config,
        )?)
    }

    /// Creates an index-level episode sampler over the rows.
    pub fn sampler(&self, spec: EpisodeSpec, within_alphabet: bool) -> Result<EpisodeSampler<String>> {
        Ok(EpisodeSampler::new(
            &self.classes,
            spec,
            self.sampler_options(within_alphabet),
        )?)
    }

    /// Returns the set with [`Self::skip_small_classes`] set to `skip`.
    pub fn with_skip_small_classes(mut self, skip: bool) -> Self {
        self.skip_small_classes = skip;
        self
    }

    fn sampler_options(&self, within_alphabet: bool) -> SamplerOptions<String> {
        let options = SamplerOptions::new().with_skip_small_classes(self.skip_small_classes);
        if within_alphabet {
            options.with_groups(self.alphabets.iter().cloned())
        } else {
            options
        }
    }
}

/// Keeps the rows of `table` whose `split` column equals `split`.
fn rows_of_split(table: &AnnotationTable, split: &str, path: &Path) -> Result<AnnotationTable> {
    if !table.column_names().iter().any(|name| name == SPLIT) {
        return Err(Error::InvalidSetting {
            name: "split",
            value: split.to_owned(),
            reason: format!(
                "{} has no `{SPLIT}` column; add one with `fsl data split` or drop --split",
                path.display()
            ),
        });
    }

    let splits = table.strings(SPLIT)?;
    let rows = table.filter(|row| splits[row] == split)?;
    if rows.num_rows() == 0 {
        let mut names = splits;
        names.sort();
        names.dedup();
        return Err(Error::InvalidSetting {
            name: "split",
            value: split.to_owned(),
            reason: format!("{} has no row in this split; its splits are {names:?}", path.display()),
        });
    }
    Ok(rows)
}
