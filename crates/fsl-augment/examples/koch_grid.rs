//! Writes a PNG grid of one Omniglot character under the Koch et al. distortion.
//!
//! The top-left cell is the original drawing; every other cell is the same drawing augmented
//! with its own seed, so the grid shows the spread of the distortion.
//!
//! ```text
//! cargo run -p fsl-augment --example koch_grid -- grid.png
//! ```
//!
//! The character is the first PNG in `images_background_small1.zip` under the folder named by
//! `FSL_DATA_DIR` (default: `shared/data/omniglot` beside the repository).

use std::error::Error;
use std::io::Read;
use std::path::PathBuf;

use fsl_augment::presets::koch_omniglot;
use fsl_augment::{Augmenter, item_seed};
use image::{GrayImage, Luma, imageops};
use rand::SeedableRng;
use rand::rngs::StdRng;

const ARCHIVE: &str = "images_background_small1.zip";
const DEFAULT_DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/omniglot");
const COLUMNS: u32 = 8;
const ROWS: u32 = 4;
/// Gray gap between cells, in pixels.
const GAP: u32 = 4;
const SEED: u64 = 2015;

fn main() -> Result<(), Box<dyn Error>> {
    let output = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("missing output path; usage: koch_grid OUTPUT.png")?;

    let (name, character) = read_first_character()?;
    let grid = grid_of(&character);

    grid.save(&output)
        .map_err(|error| format!("cannot write {}: {error}", output.display()))?;
    println!("wrote {} ({} under the Koch preset)", output.display(), name);
    Ok(())
}

/// Reads the first PNG of the archive and returns its entry name and the decoded image.
fn read_first_character() -> Result<(String, GrayImage), Box<dyn Error>> {
    let data_dir = std::env::var_os("FSL_DATA_DIR").map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
    let path = data_dir.join(ARCHIVE);
    let file = std::fs::File::open(&path).map_err(|error| {
        format!(
            "cannot open the Omniglot archive {}: {error}; set FSL_DATA_DIR to the folder containing {ARCHIVE}",
            path.display()
        )
    })?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|error| format!("{} is not a valid zip: {error}", path.display()))?;

    let mut names: Vec<String> = archive
        .file_names()
        .filter(|name| name.ends_with(".png"))
        .map(str::to_owned)
        .collect();
    names.sort();
    let name = names
        .into_iter()
        .next()
        .ok_or_else(|| format!("{} holds no PNG images", path.display()))?;

    let mut bytes = Vec::new();
    archive.by_name(&name)?.read_to_end(&mut bytes)?;
    let image = image::load_from_memory(&bytes)
        .map_err(|error| format!("cannot decode {name} in {}: {error}", path.display()))?
        .to_luma8();
    Ok((name, image))
}

/// Lays out the original and `COLUMNS * ROWS - 1` augmented copies on a gray background.
fn grid_of(character: &GrayImage) -> GrayImage {
    let (width, height) = character.dimensions();
    let augmenter = koch_omniglot();
    let mut grid = GrayImage::from_pixel(
        COLUMNS * width + (COLUMNS + 1) * GAP,
        ROWS * height + (ROWS + 1) * GAP,
        Luma([128]),
    );

    for cell in 0..COLUMNS * ROWS {
        let image = if cell == 0 {
            character.clone()
        } else {
            let mut rng = StdRng::seed_from_u64(item_seed(SEED, 0, u64::from(cell)));
            augmenter.augment(character, &mut rng)
        };

        let x = GAP + (cell % COLUMNS) * (width + GAP);
        let y = GAP + (cell / COLUMNS) * (height + GAP);
        imageops::replace(&mut grid, &image, i64::from(x), i64::from(y));
    }
    grid
}
