//! Uploaded files for the file rules (`file`, `image`, `mimes`, `mimetypes`, `extensions`, and
//! size rules in kilobytes).

use std::fmt;

/// A file uploaded with a form: the client's file name and declared type, and the bytes.
///
/// The MIME type used by `mimes`, `mimetypes` and `image` is detected from the content (magic
/// numbers), like Laravel's `finfo`-based guess; the client's declared type is not trusted.
/// `extensions` checks the client's file name.
///
/// ```
/// use foundry_validation::{UploadedFile, Validator};
/// use serde_json::json;
///
/// let png = UploadedFile::new("me.png", Some("image/png"), b"\x89PNG\r\n\x1a\n....".to_vec());
/// assert_eq!(png.mime_type(), "image/png");
/// let mut v = Validator::new(json!({}), [("avatar", "required|image|max:1024")])
///     .unwrap()
///     .file("avatar", png);
/// assert!(v.passes());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct UploadedFile {
    file_name: String,
    client_mime: Option<String>,
    bytes: Vec<u8>,
}

impl UploadedFile {
    /// A file from its original name, the client's declared type and its content.
    pub fn new(file_name: impl Into<String>, client_mime: Option<&str>, bytes: Vec<u8>) -> Self {
        Self {
            file_name: file_name.into(),
            client_mime: client_mime.map(str::to_owned),
            bytes,
        }
    }

    /// The client's file name.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The type the client declared (untrusted).
    pub fn client_mime_type(&self) -> Option<&str> {
        self.client_mime.as_deref()
    }

    /// The content.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Size in kilobytes, as size rules measure it.
    pub fn size_kb(&self) -> f64 {
        self.bytes.len() as f64 / 1024.0
    }

    /// The extension of the client's file name, lowercased.
    pub fn client_extension(&self) -> Option<String> {
        let (_, ext) = self.file_name.rsplit_once('.')?;
        (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
    }

    /// The MIME type detected from the content.
    pub fn mime_type(&self) -> &'static str {
        sniff(&self.bytes)
    }

    /// The extension that goes with the detected type (`jpg`, `png`, `txt`, …).
    pub fn guessed_extension(&self) -> Option<&'static str> {
        extension_for(self.mime_type())
    }
}

impl fmt::Debug for UploadedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedFile")
            .field("file_name", &self.file_name)
            .field("client_mime", &self.client_mime)
            .field("size", &self.bytes.len())
            .finish()
    }
}

fn sniff(b: &[u8]) -> &'static str {
    let starts = |sig: &[u8]| b.starts_with(sig);
    if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if starts(b"BM") && b.len() > 14 {
        "image/bmp"
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        "image/webp"
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" && matches!(&b[8..12], b"avif" | b"avis") {
        "image/avif"
    } else if starts(b"%PDF-") {
        "application/pdf"
    } else if starts(b"PK\x03\x04") {
        "application/zip"
    } else if starts(b"\x1f\x8b") {
        "application/gzip"
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        "video/mp4"
    } else if starts(b"ID3") || starts(b"\xff\xfb") {
        "audio/mpeg"
    } else if let Ok(text) = std::str::from_utf8(b) {
        let t = text.trim_start();
        let head = t.get(..t.len().min(512)).unwrap_or(t).to_ascii_lowercase();
        if head.starts_with("<svg") || (head.starts_with("<?xml") && head.contains("<svg")) {
            "image/svg+xml"
        } else if head.starts_with("<!doctype html") || head.starts_with("<html") {
            "text/html"
        } else if (t.starts_with('{') || t.starts_with('['))
            && serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()
        {
            "application/json"
        } else if b.is_empty() {
            "application/x-empty"
        } else {
            "text/plain"
        }
    } else {
        "application/octet-stream"
    }
}

fn extension_for(mime: &str) -> Option<&'static str> {
    Some(match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/bmp" => "bmp",
        "image/webp" => "webp",
        "image/avif" => "avif",
        "image/svg+xml" => "svg",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "application/gzip" => "gz",
        "application/json" => "json",
        "video/mp4" => "mp4",
        "audio/mpeg" => "mp3",
        "text/html" => "html",
        "text/plain" => "txt",
        _ => return None,
    })
}

/// `mimes`: the detected type's extension is listed. `jpg`/`jpeg` are the same; a plain-text
/// file also matches text extensions (`csv`, `txt`, …) the client's name carries.
pub(crate) fn matches_mimes(file: &UploadedFile, params: &[String]) -> bool {
    let listed = |ext: &str| params.iter().any(|p| p.eq_ignore_ascii_case(ext));
    let Some(guess) = file.guessed_extension() else {
        return false;
    };
    if listed(guess) || (guess == "jpg" && listed("jpeg")) {
        return true;
    }
    if guess == "txt"
        && let Some(client) = file.client_extension()
    {
        return matches!(
            client.as_str(),
            "csv" | "txt" | "md" | "log" | "tsv" | "ics" | "vcf"
        ) && listed(&client);
    }
    if guess == "zip"
        && let Some(client) = file.client_extension()
    {
        // Office documents are zip containers.
        return matches!(
            client.as_str(),
            "docx" | "xlsx" | "pptx" | "odt" | "ods" | "epub"
        ) && listed(&client);
    }
    false
}

/// `mimetypes`: the detected type is listed (`image/*` matches any image).
pub(crate) fn matches_mimetypes(file: &UploadedFile, params: &[String]) -> bool {
    let mime = file.mime_type();
    let family = mime.split('/').next().unwrap_or("");
    params.iter().any(|p| {
        p.eq_ignore_ascii_case(mime)
            || p.strip_suffix("/*")
                .is_some_and(|f| f.eq_ignore_ascii_case(family))
    })
}

/// `image`: jpg, jpeg, png, gif, bmp, webp (and svg with `image:allow_svg`).
pub(crate) fn is_image(file: &UploadedFile, allow_svg: bool) -> bool {
    match file.mime_type() {
        "image/svg+xml" => allow_svg,
        "image/png" | "image/jpeg" | "image/gif" | "image/bmp" | "image/webp" | "image/avif" => {
            true
        }
        _ => false,
    }
}
