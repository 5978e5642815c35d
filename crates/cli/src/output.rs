//! Where output goes: always stdout; with `--out DIR` also a file in the case directory, the
//! evidence manifest beside it, and an entry in the case's hash-chained audit log.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use trailscope_integrity::audit::{self, AuditEntry, InputFile, OutputHash};
use trailscope_integrity::{sha256_hex, Manifest};

/// Writes to stdout and, when a case directory is set, to a temporary file there that becomes
/// `name` on [`Tee::finish`] (so a half-written output never carries the final name).
pub struct Tee {
    /// `None` for a file-only output (one of several written at once).
    stdout: Option<BufWriter<io::StdoutLock<'static>>>,
    file: Option<(BufWriter<File>, PathBuf, PathBuf, Sha256)>,
    name: String,
}

impl Tee {
    /// Start an output called `name`.
    pub fn new(case: Option<&Path>, name: &str) -> anyhow::Result<Self> {
        let file = match case {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
                let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
                Some((BufWriter::new(f), tmp, dir.join(name), Sha256::new()))
            }
            None => None,
        };
        Ok(Tee { stdout: Some(BufWriter::new(io::stdout().lock())), file, name: name.to_owned() })
    }

    /// Start an output called `name` written only to the case directory: several outputs on
    /// stdout at once would be one unreadable stream.
    pub fn file_only(case: &Path, name: &str) -> anyhow::Result<Self> {
        let mut tee = Tee::new(Some(case), name)?;
        tee.stdout = None;
        Ok(tee)
    }

    /// Flush, give the file its name, and return its hash (None without a case directory).
    pub fn finish(mut self) -> anyhow::Result<Option<OutputHash>> {
        if let Some(o) = &mut self.stdout {
            o.flush()?;
        }
        match self.file.take() {
            None => Ok(None),
            Some((mut w, tmp, dest, hasher)) => {
                w.flush()?;
                w.get_ref().sync_all()?;
                drop(w);
                std::fs::rename(&tmp, &dest).with_context(|| format!("writing {}", dest.display()))?;
                Ok(Some(OutputHash { file: self.name.clone(), sha256: hex_of(hasher.finalize().as_slice()) }))
            }
        }
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(o) = &mut self.stdout {
            o.write_all(buf)?;
        }
        if let Some((w, _, _, h)) = &mut self.file {
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
    case: Option<&Path>,
    manifest: Option<&Manifest>,
    rule_set_sha256: Option<String>,
) -> anyhow::Result<()> {
    close_with_inputs(out, case, manifest, rule_set_sha256, Vec::new())
}

/// [`close`], naming the reference files (enrichment databases) the output rests on.
pub fn close_with_inputs(
    out: Tee,
    case: Option<&Path>,
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
    case: Option<&Path>,
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
        outputs.push(audit::write_atomic(case, "manifest.json", &json)?);
        outputs.push(audit::write_atomic(case, "manifest.csv", &m.to_csv())?);
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
    audit::append(case, entry)?;
    Ok(())
}
