//! Finding input files and reading the S3 key layout of their paths.

use std::path::{Component, Path, PathBuf};

use crate::error::IngestError;

/// The account, region and day an S3-layout path names (used for reporting only: the record
/// itself is the authority on account, region and time).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArchiveKey {
    /// Organization id for organization trails (`o-...`).
    pub org: Option<String>,
    /// Account id.
    pub account: String,
    /// `CloudTrail`, `CloudTrail-Digest` or `CloudTrail-Insight`.
    pub area: String,
    /// Region.
    pub region: String,
    /// `YYYY-MM-DD`, when the path has the date folders.
    pub date: Option<String>,
}

/// One file to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// The path to open.
    pub path: PathBuf,
    /// Given by name (always read) rather than found by walking.
    pub explicit: bool,
    /// The path as the manifest records it: relative to the input it was found under, prefixed
    /// with that input's own name (`sample/AWSLogs/...`), `/`-separated. It does not depend on
    /// where the evidence sits on this machine.
    pub evidence_path: String,
}

/// The name of the last component of an input path (`.` and `..` resolved lexically).
fn input_name(input: &Path) -> String {
    input
        .components()
        .rev()
        .find_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .unwrap_or_else(|| "evidence".to_owned())
}

/// Collect the files under the given paths, sorted by path so that every run sees one order.
///
/// # Errors
/// When an input path does not exist, or the walk fails (a loop of links, a permission error).
pub fn discover(inputs: &[PathBuf], follow_links: bool) -> Result<Vec<InputFile>, IngestError> {
    discover_noting_links(inputs, follow_links).map(|(files, _)| files)
}

/// [`discover`], also naming (as evidence paths, sorted) the symbolic links found while walking
/// and not followed: without `--follow-links` what they point to is not read, and the examiner
/// must be told.
///
/// # Errors
/// As [`discover`].
pub fn discover_noting_links(
    inputs: &[PathBuf],
    follow_links: bool,
) -> Result<(Vec<InputFile>, Vec<String>), IngestError> {
    let mut files = Vec::new();
    let mut links = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|error| IngestError::Input { path: input.clone(), error })?;
        if meta.is_file() {
            files.push(InputFile { path: input.clone(), explicit: true, evidence_path: input_name(input) });
            continue;
        }
        // Sorted while walking too, although the list is sorted whole below: the walk stops at
        // its first error, which must be the same one on every copy of the evidence.
        let walk = walkdir::WalkDir::new(input).follow_links(follow_links).sort_by_file_name();
        for entry in walk {
            let entry = entry.map_err(|e| IngestError::Walk {
                path: e.path().map(Path::to_path_buf).unwrap_or_else(|| input.clone()),
                message: e.to_string(),
            })?;
            let file_type = entry.file_type();
            if !file_type.is_file() && !file_type.is_symlink() {
                continue;
            }
            let rel = entry.path().strip_prefix(input).unwrap_or(entry.path());
            let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let evidence_path = format!("{}/{}", input_name(input), rel.join("/"));
            if file_type.is_file() {
                files.push(InputFile { path: entry.into_path(), explicit: false, evidence_path });
            } else {
                // Only reached without follow_links: walkdir resolves links when following.
                links.push(evidence_path);
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    links.sort();
    links.dedup();
    Ok((files, links))
}

/// Read `.../AWSLogs/[o-id/]<account>/<area>/<region>/<YYYY>/<MM>/<DD>/file` from a path.
pub fn archive_key(path: &Path) -> Option<ArchiveKey> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let at = parts.iter().rposition(|p| *p == "AWSLogs")?;
    let mut rest = &parts[at + 1..];
    let org = match rest.first() {
        Some(p) if p.starts_with("o-") => {
            let org = Some(p.to_string());
            rest = &rest[1..];
            org
        }
        _ => None,
    };
    let [account, area, region, tail @ ..] = rest else { return None };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) || !area.starts_with("CloudTrail") {
        return None;
    }
    let date = match tail {
        [y, m, d, _file] if y.len() == 4 && m.len() == 2 && d.len() == 2 => Some(format!("{y}-{m}-{d}")),
        _ => None,
    };
    Some(ArchiveKey { org, account: account.to_string(), area: area.to_string(), region: region.to_string(), date })
}

/// Operating-system side files that copies of evidence pick up: macOS AppleDouble (`._name`),
/// `.DS_Store`, Windows `Thumbs.db` and `desktop.ini`.
pub fn is_os_metadata(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with("._") || matches!(name, ".DS_Store" | "Thumbs.db" | "desktop.ini")
}

/// Does the name say "JSON, maybe gzipped"? Such files are always parsed; others are sniffed.
pub fn has_json_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_organization_layouts() {
        let k = archive_key(Path::new(
            "/case/AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/01/123456789012_CloudTrail_us-east-1_20240301T1235Z_abc.json.gz",
        ))
        .unwrap();
        assert_eq!(
            (k.account.as_str(), k.region.as_str(), k.date.as_deref()),
            ("123456789012", "us-east-1", Some("2024-03-01"))
        );
        assert_eq!(k.org, None);
        let k = archive_key(Path::new(
            "AWSLogs/o-abc123def4/210987654321/CloudTrail-Digest/eu-west-1/2024/03/01/x.json.gz",
        ))
        .unwrap();
        assert_eq!(k.org.as_deref(), Some("o-abc123def4"));
        assert_eq!(k.area, "CloudTrail-Digest");
        assert!(archive_key(Path::new("flat/evidence.json")).is_none());
    }

    #[test]
    fn json_names() {
        assert!(has_json_name(Path::new("a/b.json.gz")));
        assert!(has_json_name(Path::new("events.JSONL")));
        assert!(!has_json_name(Path::new("notes.txt")));
        assert!(!has_json_name(Path::new("blob.gz")));
    }

    #[test]
    fn links_not_followed_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dump");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/a.json"), b"{}").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("real"), root.join("linked-dir")).unwrap();
            std::os::unix::fs::symlink(root.join("real/a.json"), root.join("linked.json")).unwrap();
            let (files, links) = discover_noting_links(std::slice::from_ref(&root), false).unwrap();
            assert_eq!(files.len(), 1);
            assert_eq!(links, vec!["dump/linked-dir", "dump/linked.json"]);
            let (files, links) = discover_noting_links(&[root], true).unwrap();
            assert_eq!((files.len(), links.len()), (3, 0), "followed: read, not reported");
        }
    }
}
