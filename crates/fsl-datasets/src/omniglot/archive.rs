//! The official Omniglot archives.

/// Folder of the official download address; the archive file name is appended.
pub const OMNIGLOT_BASE_URL: &str = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python";

/// One of the official Omniglot archives (Lake et al. 2015).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OmniglotArchive {
    /// `images_background.zip`: 30 alphabets, 964 characters.
    Background,
    /// `images_evaluation.zip`: 20 alphabets, 659 characters.
    Evaluation,
    /// `images_background_small1.zip`: 5 alphabets, 136 characters.
    BackgroundSmall1,
    /// `images_background_small2.zip`: 5 alphabets, 156 characters.
    BackgroundSmall2,
}

impl OmniglotArchive {
    /// All archives.
    pub const ALL: [OmniglotArchive; 4] = [
        OmniglotArchive::Background,
        OmniglotArchive::Evaluation,
        OmniglotArchive::BackgroundSmall1,
        OmniglotArchive::BackgroundSmall2,
    ];

    /// Returns the archive file name, e.g. `images_background_small1.zip`.
    pub fn file_name(self) -> &'static str {
        match self {
            OmniglotArchive::Background => "images_background.zip",
            OmniglotArchive::Evaluation => "images_evaluation.zip",
            OmniglotArchive::BackgroundSmall1 => "images_background_small1.zip",
            OmniglotArchive::BackgroundSmall2 => "images_background_small2.zip",
        }
    }

    /// Returns the top-level folder inside the archive, e.g. `images_background_small1`.
    pub fn folder_name(self) -> &'static str {
        self.file_name().trim_end_matches(".zip")
    }

    /// Returns the SHA-256 hex digest of the archive, where it has been recorded.
    ///
    /// The two small archives were hashed from the copies of the official files that the
    /// tests use. The full archives have no recorded digest yet.
    pub fn sha256(self) -> Option<&'static str> {
        match self {
            OmniglotArchive::BackgroundSmall1 => {
                Some("f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4")
            }
            OmniglotArchive::BackgroundSmall2 => {
                Some("3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f")
            }
            // TODO: record the digests of the full archives once they have been downloaded
            // and checked; until then their downloads are not verified.
            OmniglotArchive::Background | OmniglotArchive::Evaluation => None,
        }
    }

    /// Returns the official download address.
    pub fn url(self) -> String {
        format!("{OMNIGLOT_BASE_URL}/{}", self.file_name())
    }
}
