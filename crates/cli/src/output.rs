//! Where output goes: always stdout; with `--out DIR` also a file in the case directory, the
//! evidence manifest beside it, and an entry in the case's hash-chained audit log.
//!
//! The case directory is itself evidence: an existing output with other content is never
//! replaced silently (a numbered name instead, or `--force`, which the audit entry records), and
//! temporary files are removed on every exit path, SIGINT and SIGTERM included.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use sha2::{Digest, Sha256};
use trailscope_integrity::audit::{self, AuditEntry, InputFile, OutputHash};
use trailscope_integrity::{sha256_hex, Manifest};

/// A case directory (`--out`) and whether outputs of other content already there may be replaced.
#[derive(Clone, Copy, Debug)]
pub struct CaseDir<'a> {
    /// The directory.
    pub dir: &'a Path,
    /// `--force`: replace an existing output of other content (recorded in the audit entry).
    pub force: bool,
}

impl crate::args::OutArgs {
    /// The case directory, when `--out` was given.
    pub fn case(&self) -> Option<CaseDir<'_>> {
        self.out.as_deref().map(|dir| CaseDir { dir, force: self.force })
    }
}

/// Temporary files not yet renamed to their final name: what an interrupted run must remove. A
/// process-wide list because the signal handler is process-wide.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget_pending(path: &Path) {
    pending().retain(|p| p != path);
}

/// A temporary file or directory an interrupted run must remove (the segments, spills and
/// section files of a save in segments); [`forget_temporary`] once it is removed normally.
pub fn temporary(path: &Path) {
    pending().push(path.to_owned());
}

/// The temporary is gone (or renamed into place): nothing for an interrupt to remove.
pub fn forget_temporary(path: &Path) {
    forget_pending(path);
}

/// On SIGINT or SIGTERM (or Ctrl-C on Windows), remove the temporary files of unfinished
/// outputs and exit with status 130, so an interrupted run leaves only finished files behind.
pub fn remove_temporaries_on_interrupt() {
    // Fails only when a handler is already set, which this binary never does twice.
    let _ = ctrlc::set_handler(|| {
        let files = std::mem::take(&mut *pending());
        for f in &files {
            if f.is_dir() {
                let _ = std::fs::remove_dir_all(f);
            } else {
                let _ = std::fs::remove_file(f);
            }
        }
        let _ = writeln!(io::stderr(), "trailscope: interrupted; unfinished outputs removed");
        std::process::exit(130);
    });
}

/// Writes to stdout and, when a case directory is set, to a temporary file there that becomes
/// `name` on [`Tee::finish`] (so a half-written output never carries the final name).
pub struct Tee {
    /// `None` for a file-only output (one of several written at once).
    stdout: Option<BufWriter<io::StdoutLock<'static>>>,
    file: Option<(BufWriter<File>, PathBuf, Sha256)>,
    /// The case directory and `--force`.
    case: Option<(PathBuf, bool)>,
    name: String,
}

impl Tee {
    /// Start an output called `name`.
    pub fn new(case: Option<CaseDir<'_>>, name: &str) -> anyhow::Result<Self> {
        let file = match case {
            Some(CaseDir { dir, .. }) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
                // Listed before it exists, so no interruption can leave it unlisted.
                pending().push(tmp.clone());
                let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()));
                let f = f.inspect_err(|_| forget_pending(&tmp))?;
                Some((BufWriter::new(f), tmp, Sha256::new()))
            }
            None => None,
        };
        let case = case.map(|c| (c.dir.to_path_buf(), c.force));
        Ok(Tee { stdout: Some(BufWriter::new(io::stdout().lock())), file, case, name: name.to_owned() })
    }

    /// Start an output called `name` written only to the case directory: several outputs on
    /// stdout at once would be one unreadable stream.
    pub fn file_only(case: CaseDir<'_>, name: &str) -> anyhow::Result<Self> {
        let mut tee = Tee::new(Some(case), name)?;
        tee.stdout = None;
        Ok(tee)
    }

    /// Flush, give the file its name, and return its hash (None without a case directory). An
    /// existing file of that name with other content is kept: the output takes the next
    /// numbered name (`report-2.txt`), said on stderr, unless `--force` replaces it.
    pub fn finish(mut self) -> anyhow::Result<Option<OutputHash>> {
        if let Some(o) = &mut self.stdout {
            o.flush()?;
        }
        let (Some((mut w, tmp, hasher)), Some((dir, force))) = (self.file.take(), self.case.take()) else {
            return Ok(None);
        };
        let done = (|| -> anyhow::Result<OutputHash> {
            w.flush()?;
            w.get_ref().sync_all()?;
            drop(w);
            let sha256 = hex::encode(hasher.finalize());
            let placed = audit::place(&dir, &self.name, &sha256, force)?;
            let dest = dir.join(&placed.file);
            std::fs::rename(&tmp, &dest).with_context(|| format!("writing {}", dest.display()))?;
            if placed.file != self.name {
                eprintln!(
                    "trailscope: note: {} already holds other content; wrote {} (--force replaces it)",
                    dir.join(&self.name).display(),
                    dest.display()
                );
            } else if placed.replaced_sha256.is_some() {
                eprintln!("trailscope: note: replaced {} (--force; the audit entry keeps its SHA-256)", dest.display());
            }
            Ok(OutputHash { file: placed.file, sha256, replaced_sha256: placed.replaced_sha256 })
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        forget_pending(&tmp);
        done.map(Some)
    }
}

impl Drop for Tee {
    /// An output abandoned on an error leaves no temporary file.
    fn drop(&mut self) {
        if let Some((w, tmp, _)) = self.file.take() {
            drop(w);
            let _ = std::fs::remove_file(&tmp);
            forget_pending(&tmp);
        }
    }
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(o) = &mut self.stdout {
            o.write_all(buf)?;
        }
        if let Some((w, _, h)) = &mut self.file {
            w.write_all(buf)?;
            h.update(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if let Some(o) = &mut self.stdout {
            o.flush()?;
        }
        if let Some((w, ..)) = &mut self.file {
            w.flush()?;
        }
        Ok(())
    }
}

/// Finish an output and record it in the case directory (when there is one).
pub fn close(
    out: Tee,
    case: Option<CaseDir<'_>>,
    manifest: Option<&Manifest>,
    rule_set_sha256: Option<String>,
) -> anyhow::Result<()> {
    close_with_inputs(out, case, manifest, rule_set_sha256, Vec::new())
}

/// [`close`], naming the reference files (enrichment databases) the output rests on.
pub fn close_with_inputs(
    out: Tee,
    case: Option<CaseDir<'_>>,
    manifest: Option<&Manifest>,
    rule_set_sha256: Option<String>,
    inputs: Vec<InputFile>,
) -> anyhow::Result<()> {
    let written = out.finish()?;
    record_with_inputs(case, manifest, rule_set_sha256, inputs, written.into_iter().collect())
}

/// Write the manifest files and append the audit entry for a command's outputs, naming the
/// reference files (enrichment databases) they rest on.
pub fn record_with_inputs(
    case: Option<CaseDir<'_>>,
    manifest: Option<&Manifest>,
    rule_set_sha256: Option<String>,
    inputs: Vec<InputFile>,
    outputs: Vec<OutputHash>,
) -> anyhow::Result<()> {
    let Some(case) = case else { return Ok(()) };
    let mut outputs = outputs;
    let mut manifest_sha256 = None;
    if let Some(m) = manifest {
        let json = m.to_json();
        manifest_sha256 = Some(sha256_hex(&json));
        outputs.extend(write_file(case, "manifest.json", &json)?);
        outputs.extend(write_file(case, "manifest.csv", &m.to_csv())?);
    }
    let entry = AuditEntry {
        seq: 0,
        time: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        tool: "trailscope".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: std::env::args().collect(),
        rule_set_sha256,
        manifest_sha256,
        inputs,
        outputs,
        previous_sha256: String::new(),
        entry_sha256: String::new(),
    };
    audit::append(case.dir, entry)?;
    Ok(())
}

/// Write one whole file to the case directory, as [`Tee::finish`] places it.
fn write_file(case: CaseDir<'_>, name: &str, bytes: &[u8]) -> anyhow::Result<Option<OutputHash>> {
    let mut out = Tee::file_only(case, name)?;
    out.write_all(bytes)?;
    out.finish()
}
