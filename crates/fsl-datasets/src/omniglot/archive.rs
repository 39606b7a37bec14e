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
    /// The two small archives were hashed with `sha256sum` from copies of the official files.
    /// The full archives have no recorded SHA-256 digest, so [`OmniglotArchive::md5`] is their
    /// digest.
    pub fn sha256(self) -> Option<&'static str> {
        match self {
            OmniglotArchive::BackgroundSmall1 => {
                Some("f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4")
            }
            OmniglotArchive::BackgroundSmall2 => {
                Some("3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f")
            }
            OmniglotArchive::Background | OmniglotArchive::Evaluation => None,
        }
    }

    /// Returns the MD5 hex digest of the archive.
    ///
    /// The full archives' digests are those torchvision 0.29 checks (`Omniglot.zips_md5`); the
    /// small archives' were hashed with `md5sum` from copies of the official files.
    pub fn md5(self) -> &'static str {
        match self {
            OmniglotArchive::Background => "68d2efa1b9178cc56df9314c21c6e718",
            OmniglotArchive::Evaluation => "6b91aef0f799c5bb55b94e3f2daec811",
            OmniglotArchive::BackgroundSmall1 => "e704a628b5459e08445c13499850abc4",
            OmniglotArchive::BackgroundSmall2 => "b75a71a51d3b13f821f212756fe481fd",
        }
    }

    /// Returns the digest downloads are verified with: SHA-256 where recorded, MD5 otherwise.
    #[cfg(feature = "download")]
    pub fn checksum(self) -> super::Checksum {
        match self.sha256() {
            Some(digest) => super::Checksum::Sha256(digest.to_owned()),
            None => super::Checksum::Md5(self.md5().to_owned()),
        }
    }

    /// Returns the official download address.
    pub fn url(self) -> String {
        format!("{OMNIGLOT_BASE_URL}/{}", self.file_name())
    }
}
