//! A user's own images laid out as `root/<class>/<image>` or `root/<split>/<class>/<image>`.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::source::{has_extension, is_junk};
use crate::table::{AnnotationTable, LABEL, PATH};

/// Accepted image file extensions, compared case-insensitively.
pub const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// Name of the split column filled by the `root/<split>/<class>/<image>` layout.
pub const SPLIT: &str = "split";

/// Scans an image folder into a table with `path` (relative to `root`, `/`-separated) and
/// `label` columns, plus `split` for the split layout. The table root is `root`, so
/// [`AnnotationTable::image_bytes`] reads the files.
///
/// The layout is `root/<split>/<class>/<image>` when no folder under `root` contains images
/// directly but some of their subfolders do, and `root/<class>/<image>` otherwise (images
/// deeper than one folder are then ignored). Classes and images are sorted byte-wise. Hidden
/// files and folders (`.DS_Store`, `.ipynb_checkpoints`, AppleDouble `._x` files) and files
/// with other extensions are skipped, and their number is logged. Class folders without images
/// are skipped with a warning. Images are not decoded here.
///
/// # Errors
///
/// [`Error::NotFound`] for a missing root, [`Error::InvalidArgument`] for a root that is a
/// file or has images but no class folders, [`Error::NoImages`] naming the root and the
/// accepted extensions when no class has an image, and [`Error::Io`] for unreadable folders.
pub fn load(root: &Path) -> Result<AnnotationTable> {
    if !root.exists() {
        return Err(Error::NotFound { path: root.to_owned() });
    }
    if !root.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "{} is a file, but an image folder is a directory laid out as <class>/<image>; \
             give the folder that contains the class folders",
            root.display()
        )));
    }

    let mut skipped = Skipped::default();
    let top = subfolders(root, &mut skipped)?;
    let mut direct = Vec::new();
    for name in &top {
        direct.push((name.clone(), images(&root.join(name), &mut skipped)?));
    }

    let mut rows: Vec<(Option<String>, String, String)> = Vec::new();
    let has_direct_images = direct.iter().any(|(_, files)| !files.is_empty());
    if has_direct_images {
        for (class, files) in direct {
            add_class(&mut rows, None, &class, files, root);
        }
    } else {
        for split in &top {
            for class in subfolders(&root.join(split), &mut skipped)? {
                let files = images(&root.join(split).join(&class), &mut skipped)?;
                add_class(&mut rows, Some(split), &class, files, root);
            }
        }
    }

    if rows.is_empty() {
        // Images straight in the root are the usual mistake, so the error names where they belong.
        let loose = images(root, &mut Skipped::default())?.len();
        if loose > 0 {
            return Err(Error::InvalidArgument(format!(
                "{} contains {loose} images but no class folders; an image folder is laid out as \
                 <class>/<image>, so move each image into a subfolder named after its class",
                root.display()
            )));
        }
        tracing::warn!(
            root = %root.display(),
            skipped_hidden = skipped.hidden,
            skipped_non_image = skipped.non_image,
            "image folder has no images"
        );
        return Err(Error::NoImages {
            path: root.to_owned(),
            expected: format!(
                "root/<class>/<image> or root/<split>/<class>/<image> with extensions {}",
                EXTENSIONS.join(", ")
            ),
        });
    }

    let table = build_table(rows, !has_direct_images)?;
    tracing::info!(
        root = %root.display(),
        images = table.num_rows(),
        classes = table.value_counts(LABEL)?.len(),
        skipped_hidden = skipped.hidden,
        skipped_non_image = skipped.non_image,
        "scanned image folder"
    );
    Ok(table.with_root(root.to_owned()))
}

fn add_class(
    rows: &mut Vec<(Option<String>, String, String)>,
    split: Option<&String>,
    class: &str,
    files: Vec<String>,
    root: &Path,
) {
    let prefix = match split {
        Some(split) => format!("{split}/{class}"),
        None => class.to_owned(),
    };
    if files.is_empty() {
        tracing::warn!(
            root = %root.display(),
            class = prefix,
            "skipping class folder without images"
        );
        return;
    }

    for file in files {
        rows.push((split.cloned(), class.to_owned(), format!("{prefix}/{file}")));
    }
}

fn build_table(rows: Vec<(Option<String>, String, String)>, with_split: bool) -> Result<AnnotationTable> {
    let mut fields = vec![
        Field::new(PATH, DataType::Utf8, false),
        Field::new(LABEL, DataType::Utf8, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|row| &row.2))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|row| &row.1))),
    ];
    if with_split {
        fields.push(Field::new(SPLIT, DataType::Utf8, false));
        columns.push(Arc::new(StringArray::from_iter_values(
            rows.iter().map(|row| row.0.clone().unwrap_or_default()),
        )));
    }

    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    AnnotationTable::from_record_batch(batch)
}

/// Counts of the entries a scan ignored, for the log.
#[derive(Default)]
struct Skipped {
    /// Hidden files and folders, counted where the scan met them.
    hidden: usize,
    /// Files whose extension is not an image extension, in the folders scanned for images.
    non_image: usize,
}

/// Returns the sorted names of the non-hidden folders in `folder`.
fn subfolders(folder: &Path, skipped: &mut Skipped) -> Result<Vec<String>> {
    let mut names = list(folder, true, skipped)?;
    names.sort();
    Ok(names)
}

/// Returns the sorted names of the non-hidden image files in `folder`.
fn images(folder: &Path, skipped: &mut Skipped) -> Result<Vec<String>> {
    let mut names = list(folder, false, skipped)?;
    let listed = names.len();
    names.retain(|name| has_extension(name, &EXTENSIONS));
    skipped.non_image += listed - names.len();
    names.sort();
    Ok(names)
}

fn list(folder: &Path, folders: bool, skipped: &mut Skipped) -> Result<Vec<String>> {
    let listing = std::fs::read_dir(folder).map_err(|source| Error::io("list folder", folder, source))?;

    let mut names = Vec::new();
    for item in listing {
        let item = item.map_err(|source| Error::io("list folder", folder, source))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if is_junk(&name) {
            // Each folder is listed twice, once for subfolders and once for files, so each
            // listing counts only its own kind.
            let path = item.path();
            if path.is_dir() == folders {
                skipped.hidden += 1;
            }
            continue;
        }
        let path = item.path();
        let metadata = std::fs::metadata(&path).map_err(|source| Error::io("read metadata of", &path, source))?;
        if metadata.is_dir() == folders {
            names.push(name);
        }
    }

    Ok(names)
}
