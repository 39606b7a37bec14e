//! A TrueType font for plot labels, found among common system fonts.

use std::sync::OnceLock;

/// Font files tried in order; DejaVu and Liberation ship with most Linux distributions.
const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers the first available font as plotters' "sans-serif"; returns whether one was found.
pub(crate) fn register_system_font() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        for candidate in CANDIDATES {
            let Ok(bytes) = std::fs::read(candidate) else { continue };
            // plotters keeps fonts for the life of the program, so the bytes are leaked once.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
        tracing::warn!("no TrueType font found; training curves are drawn without labels");
        false
    })
}
