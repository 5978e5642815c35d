//! From a decompressed buffer to rows: wrapper detection and record extraction on simd-json's
//! tape (a flat array of nodes; no DOM is built).

use std::io::Write as _;
use std::sync::Arc;

use simd_json::{Buffers, Node, StaticNode, Tape, INPUT_PADDING};
use trailscope_store::{ChunkBuilder, ChunkFull, Field, Flag, RowValues};

use crate::report::{RejectReason, Wrapper};
use crate::time::parse_event_time;
use crate::RecordGate;

/// Nodes a value takes on the tape, itself included.
#[inline]
fn span(nodes: &[Node<'_>], i: usize) -> usize {
    match nodes[i] {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// `(key, value index)` pairs of the object at `i`.
fn entries<'t, 'i>(nodes: &'t [Node<'i>], i: usize) -> impl Iterator<Item = (&'i str, usize)> + 't {
    let len = match nodes[i] {
        Node::Object { len, .. } => len,
        _ => 0,
    };
    let mut idx = i + 1;
    (0..len).map(move |_| {
        let key = match nodes[idx] {
            Node::String(k) => k,
            _ => "",
        };
        let v = idx + 1;
        idx = v + span(nodes, v);
        (key, v)
    })
}

/// Indexes of the elements of the array at `i`.
fn elements<'t>(nodes: &'t [Node<'_>], i: usize) -> impl Iterator<Item = usize> + 't {
    let len = match nodes[i] {
        Node::Array { len, .. } => len,
        _ => 0,
    };
    let mut idx = i + 1;
    (0..len).map(move |_| {
        let v = idx;
        idx += span(nodes, v);
        v
    })
}

fn get<'i>(nodes: &[Node<'i>], obj: usize, key: &str) -> Option<usize> {
    entries(nodes, obj).find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn as_str<'i>(nodes: &[Node<'i>], i: usize) -> Option<&'i str> {
    match nodes[i] {
        Node::String(s) => Some(s),
        _ => None,
    }
}

fn as_bool(nodes: &[Node<'_>], i: usize) -> Option<bool> {
    match nodes[i] {
        Node::Static(StaticNode::Bool(b)) => Some(b),
        Node::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Node::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn is_null(nodes: &[Node<'_>], i: usize) -> bool {
    matches!(nodes[i], Node::Static(StaticNode::Null))
}

/// Append `s` as a JSON string literal.
fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escaping: check in one pass, copy in one piece.
    // Branch-free scan (vectorises): most strings need no escaping and are copied whole.
    if !bytes.iter().fold(false, |acc, &b| acc | (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[from..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                from = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..i]);
        out.extend_from_slice(esc);
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

/// Append the value at `i` as minified JSON.
fn write_value(out: &mut Vec<u8>, nodes: &[Node<'_>], i: usize) {
    match nodes[i] {
        Node::String(s) => write_str(out, s),
        Node::Static(StaticNode::Null) => out.extend_from_slice(b"null"),
        Node::Static(StaticNode::Bool(b)) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        // Writing into a Vec cannot fail.
        Node::Static(StaticNode::I64(n)) => drop(write!(out, "{n}")),
        Node::Static(StaticNode::U64(n)) => drop(write!(out, "{n}")),
        Node::Static(StaticNode::F64(f)) if f.is_finite() => drop(write!(out, "{f:?}")),
        Node::Static(StaticNode::F64(_)) => out.extend_from_slice(b"null"),
        Node::Object { .. } => {
            out.push(b'{');
            for (n, (k, v)) in entries(nodes, i).enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value(out, nodes, v);
            }
            out.push(b'}');
        }
        Node::Array { .. } => {
            out.push(b'[');
            for (n, v) in elements(nodes, i).enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_value(out, nodes, v);
            }
            out.push(b']');
        }
    }
}

/// Writes `"key":value` members of one object, placing commas.
struct ObjectWriter {
    empty: bool,
}

impl ObjectWriter {
    fn open(out: &mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { empty: true }
    }
    fn key(&mut self, out: &mut Vec<u8>, k: &str) {
        if !self.empty {
            out.push(b',');
        }
        self.empty = false;
        write_str(out, k);
        out.push(b':');
    }
    fn member(&mut self, out: &mut Vec<u8>, k: &str, nodes: &[Node<'_>], v: usize) {
        self.key(out, k);
        write_value(out, nodes, v);
    }
    fn close(self, out: &mut Vec<u8>) {
        out.push(b'}');
    }
}

/// An object whose string members with a column (`column_of`) go to the row; the other members
/// are written to the payload under `key` (the sub-object is left out when nothing remains; an
/// empty object stays visible as `{}`). Without `PAYLOAD`, only the row is filled.
fn split_object<'i, const PAYLOAD: bool>(
    nodes: &[Node<'i>],
    v: usize,
    key: &str,
    column_of: fn(&str) -> Option<Field>,
    row: &mut RowValues<'i>,
    payload: &mut Vec<u8>,
    w: &mut ObjectWriter,
) {
    let mut rest: Option<ObjectWriter> = None;
    for (k, kv) in entries(nodes, v) {
        if let Some(field) = column_of(k) {
            if let Some(s) = as_str(nodes, kv) {
                row.strings[field.index()] = Some(s);
                continue;
            }
            if !is_null(nodes, kv) {
                row.spilled |= 1 << field.index();
            }
        }
        if PAYLOAD {
            let obj = rest.get_or_insert_with(|| {
                w.key(payload, key);
                ObjectWriter::open(payload)
            });
            obj.member(payload, k, nodes, kv);
        }
    }
    if !PAYLOAD {
        return;
    }
    match rest {
        Some(obj) => obj.close(payload),
        None if entries(nodes, v).next().is_none() => w.member(payload, key, nodes, v),
        None => {}
    }
}

/// Turn the record object at `i` into column values, appending everything else to `payload`
/// as one JSON object (also on error: the caller truncates). Without `PAYLOAD`, the same row
/// and the same verdict, nothing written: what a gate looks at before the record is stored.
fn extract<'i, const PAYLOAD: bool>(
    nodes: &[Node<'i>],
    i: usize,
    payload: &mut Vec<u8>,
    row: &mut RowValues<'i>,
) -> Result<(), (RejectReason, String)> {
    if !matches!(nodes[i], Node::Object { .. }) {
        return Err((RejectReason::NotAnObject, String::new()));
    }
    row.clear();
    // Every payload write below is behind `PAYLOAD`, a constant: the row-only form has none.
    let mut w = ObjectWriter { empty: true };
    if PAYLOAD {
        w = ObjectWriter::open(payload);
    }
    let mut time: Option<&str> = None;
    let mut console_mfa: Option<bool> = None;
    for (key, v) in entries(nodes, i) {
        match key {
            "eventTime" => {
                time = as_str(nodes, v);
                if PAYLOAD && time.is_none() {
                    w.member(payload, key, nodes, v);
                }
            }
            "userIdentity" if matches!(nodes[v], Node::Object { .. }) => {
                if let Some(ctx) = get(nodes, v, "sessionContext") {
                    if let Some(issuer) = get(nodes, ctx, "sessionIssuer") {
                        if let Some(arn) = get(nodes, issuer, "arn").and_then(|a| as_str(nodes, a)) {
                            row.strings[Field::SessionIssuerArn.index()] = Some(arn);
                        }
                    }
                    if let Some(attrs) = get(nodes, ctx, "attributes") {
                        row.flags[Flag::Mfa.index()] =
                            get(nodes, attrs, "mfaAuthenticated").and_then(|m| as_bool(nodes, m));
                    }
                }
                split_object::<PAYLOAD>(nodes, v, key, Field::from_identity_key, row, payload, &mut w);
            }
            "tlsDetails" if matches!(nodes[v], Node::Object { .. }) => {
                split_object::<PAYLOAD>(nodes, v, key, Field::from_tls_key, row, payload, &mut w);
            }
            "readOnly" | "managementEvent" => {
                let flag = if key == "readOnly" { Flag::ReadOnly } else { Flag::ManagementEvent };
                match as_bool(nodes, v) {
                    Some(b) => row.flags[flag.index()] = Some(b),
                    None if PAYLOAD => w.member(payload, key, nodes, v),
                    None => {}
                }
            }
            "additionalEventData" => {
                if matches!(nodes[v], Node::Object { .. }) {
                    console_mfa = get(nodes, v, "MFAUsed").and_then(|m| as_str(nodes, m)).and_then(|m| match m {
                        "Yes" => Some(true),
                        "No" => Some(false),
                        _ => None,
                    });
                }
                if PAYLOAD {
                    w.member(payload, key, nodes, v);
                }
            }
            _ => match Field::from_top_key(key) {
                Some(field) => match as_str(nodes, v) {
                    Some(s) => row.strings[field.index()] = Some(s),
                    None if is_null(nodes, v) => {}
                    None => {
                        row.spilled |= 1 << field.index();
                        if PAYLOAD {
                            w.member(payload, key, nodes, v)
                        }
                    }
                },
                None if PAYLOAD => w.member(payload, key, nodes, v),
                None => {}
            },
        }
    }
    if PAYLOAD {
        w.close(payload);
    }
    if row.flags[Flag::Mfa.index()].is_none() {
        row.flags[Flag::Mfa.index()] = console_mfa;
    }
    let time = time.ok_or((RejectReason::MissingField("eventTime"), String::new()))?;
    row.time_ms = parse_event_time(time).ok_or_else(|| (RejectReason::BadEventTime, truncate(time)))?;
    for (field, name) in [(Field::EventName, "eventName"), (Field::EventSource, "eventSource")] {
        if row.strings[field.index()].is_none() {
            return Err((RejectReason::MissingField(name), String::new()));
        }
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Per-file counts produced by the parser.
#[derive(Debug, Default)]
pub(crate) struct ParseOutcome {
    pub wrapper: Option<Wrapper>,
    pub records: u64,
    pub insight_records: u64,
    pub rejects: Vec<(u32, RejectReason, String)>,
    /// Valid records the gate did not admit.
    pub not_matching: u64,
}

/// Why a whole document could not be used.
pub(crate) enum DocError {
    Json(String),
    NotCloudTrail(String),
    /// A record did not fit in the file's chunk: the file is refused whole.
    Full(ChunkFull),
}

impl From<ChunkFull> for DocError {
    fn from(e: ChunkFull) -> Self {
        DocError::Full(e)
    }
}

/// Per-thread parser state, reused from file to file.
pub(crate) struct Parser {
    buffers: Buffers,
    tape: Option<Tape<'static>>,
    inner_buffers: Buffers,
    inner_tape: Option<Tape<'static>>,
    scratch: Vec<u8>,
    /// Records it does not admit are counted, not stored.
    gate: Option<Arc<dyn RecordGate>>,
}

impl Parser {
    pub fn new() -> Self {
        Parser {
            buffers: Buffers::new(1 << 20),
            tape: Some(Tape::null()),
            inner_buffers: Buffers::new(1 << 12),
            inner_tape: Some(Tape::null()),
            scratch: Vec::new(),
            gate: None,
        }
    }

    pub fn with_gate(mut self, gate: Option<Arc<dyn RecordGate>>) -> Self {
        self.gate = gate;
        self
    }

    /// Parse a file holding several JSON documents one after another (pages of `lookup-events`
    /// saved with `>>`, `cat`-ed log files, pretty-printed records one after another). `None`
    /// when `data` is not such a sequence. Record indexes run on across the documents.
    pub fn parse_sequence(&mut self, data: &[u8], chunk: &mut ChunkBuilder) -> Option<Result<ParseOutcome, DocError>> {
        let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<serde::de::IgnoredAny>();
        let mut bounds = Vec::new();
        let mut start = 0;
        while let Some(item) = stream.next() {
            item.ok()?;
            let end = stream.byte_offset();
            bounds.push((start, end));
            start = end;
        }
        if bounds.len() < 2 {
            return None;
        }
        let mut total = ParseOutcome::default();
        let mut doc = Vec::new();
        for (s, e) in bounds {
            doc.clear();
            doc.extend_from_slice(&data[s..e]);
            let len = doc.len();
            doc.resize(len + INPUT_PADDING, 0);
            let first_row = chunk.len();
            let base = total.records as u32;
            let part = match self.parse(&mut doc, len, chunk) {
                Ok(p) => p,
                Err(err) => return Some(Err(err)),
            };
            chunk.shift_indexes(first_row, base);
            total.wrapper = total.wrapper.or(part.wrapper);
            total.records += part.records;
            total.insight_records += part.insight_records;
            total.not_matching += part.not_matching;
            total.rejects.extend(part.rejects.into_iter().map(|(i, r, d)| (i + base, r, d)));
        }
        Some(Ok(total))
    }

    /// Parse `buf[..len]` (which must be followed by [`INPUT_PADDING`] spare bytes) into `chunk`.
    pub fn parse(&mut self, buf: &mut [u8], len: usize, chunk: &mut ChunkBuilder) -> Result<ParseOutcome, DocError> {
        debug_assert!(buf.len() >= len + INPUT_PADDING);
        let mut out = ParseOutcome::default();
        if looks_like_json_lines(&buf[..len]) {
            out.wrapper = Some(Wrapper::JsonLines);
            self.parse_lines(buf, len, chunk, &mut out)?;
            return Ok(out);
        }
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let r = simd_json::fill_tape_padded(buf, len, &mut self.buffers, &mut tape);
        let result = match r {
            Err(e) => Err(DocError::Json(e.to_string())),
            Ok(()) => self.document(&tape.0, chunk, &mut out),
        };
        self.tape = Some(tape.reset());
        result.map(|()| out)
    }

    fn document(
        &mut self,
        nodes: &[Node<'_>],
        chunk: &mut ChunkBuilder,
        out: &mut ParseOutcome,
    ) -> Result<(), DocError> {
        match nodes[0] {
            Node::Object { .. } => {
                if let Some(records) = get(nodes, 0, "Records") {
                    if !matches!(nodes[records], Node::Array { .. }) {
                        return Err(DocError::NotCloudTrail("\"Records\" is not an array".into()));
                    }
                    out.wrapper = Some(Wrapper::S3Records);
                    // A gated scan keeps few of them: room for all would be memory touched for nothing.
                    if let (Node::Array { len, .. }, None) = (nodes[records], &self.gate) {
                        chunk.reserve(len);
                    }
                    self.records(nodes, elements(nodes, records), chunk, out)?;
                } else if let Some(events) = get(nodes, 0, "Events").filter(|&e| matches!(nodes[e], Node::Array { .. }))
                {
                    out.wrapper = Some(Wrapper::LookupEvents);
                    self.records(nodes, elements(nodes, events), chunk, out)?;
                } else if get(nodes, 0, "logFiles").is_some() && get(nodes, 0, "digestStartTime").is_some() {
                    out.wrapper = Some(Wrapper::Digest);
                } else if get(nodes, 0, "eventTime").is_some() || get(nodes, 0, "eventName").is_some() {
                    out.wrapper = Some(Wrapper::SingleRecord);
                    self.records(nodes, std::iter::once(0), chunk, out)?;
                } else {
                    let keys: Vec<&str> = entries(nodes, 0).map(|(k, _)| k).take(8).collect();
                    return Err(DocError::NotCloudTrail(format!(
                        "JSON object without Records, Events or record fields (keys: {})",
                        if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }
                    )));
                }
            }
            Node::Array { .. } => {
                out.wrapper = Some(Wrapper::BareArray);
                let before = chunk.len();
                self.records(nodes, elements(nodes, 0), chunk, out)?;
                let none_object = out.records > 0
                    && chunk.len() == before
                    && elements(nodes, 0).all(|e| !matches!(nodes[e], Node::Object { .. }));
                if none_object {
                    return Err(DocError::NotCloudTrail("JSON array holds no objects".into()));
                }
            }
            _ => return Err(DocError::NotCloudTrail("top-level JSON value is not an object or array".into())),
        }
        Ok(())
    }

    /// Extract and push each record; lookup-events entries are unwrapped first. Stops at the
    /// first record the chunk cannot hold.
    fn records(
        &mut self,
        nodes: &[Node<'_>],
        items: impl Iterator<Item = usize>,
        chunk: &mut ChunkBuilder,
        out: &mut ParseOutcome,
    ) -> Result<(), ChunkFull> {
        for (index, i) in items.enumerate() {
            let index = index as u32;
            out.records += 1;
            let wrapped = matches!(nodes[i], Node::Object { .. }) && get(nodes, i, "eventTime").is_none();
            let inner = if wrapped { get(nodes, i, "CloudTrailEvent") } else { None };
            match inner {
                Some(s) => match as_str(nodes, s) {
                    Some(text) => self.inner_record(text, index, chunk, out)?,
                    None => out.rejects.push((index, RejectReason::NoCloudTrailEvent, String::new())),
                },
                None if out.wrapper == Some(Wrapper::LookupEvents) => {
                    out.rejects.push((index, RejectReason::NoCloudTrailEvent, String::new()))
                }
                None => record(chunk, nodes, i, index, out, self.gate.as_deref())?,
            }
        }
        Ok(())
    }

    /// A record held as a JSON string (lookup-events `CloudTrailEvent`).
    fn inner_record(
        &mut self,
        text: &str,
        index: u32,
        chunk: &mut ChunkBuilder,
        out: &mut ParseOutcome,
    ) -> Result<(), ChunkFull> {
        self.scratch.clear();
        self.scratch.extend_from_slice(text.as_bytes());
        self.scratch.resize(text.len() + INPUT_PADDING, 0);
        let mut tape = self.inner_tape.take().unwrap_or_else(Tape::null).reset();
        let pushed =
            match simd_json::fill_tape_padded(&mut self.scratch, text.len(), &mut self.inner_buffers, &mut tape) {
                Err(e) => {
                    out.rejects.push((index, RejectReason::InvalidJson, e.to_string()));
                    Ok(())
                }
                Ok(()) => record(chunk, &tape.0, 0, index, out, self.gate.as_deref()),
            };
        self.inner_tape = Some(tape.reset());
        pushed
    }

    fn parse_lines(
        &mut self,
        buf: &mut [u8],
        len: usize,
        chunk: &mut ChunkBuilder,
        out: &mut ParseOutcome,
    ) -> Result<(), ChunkFull> {
        let mut start = 0;
        let mut line_no = 0u32;
        while start < len {
            let end = memchr::memchr(b'\n', &buf[start..len]).map_or(len, |p| start + p);
            let line = &buf[start..end];
            let blank = line.iter().all(|b| b.is_ascii_whitespace());
            if !blank {
                out.records += 1;
                let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
                // The bytes after the line (the rest of the file, then the buffer's padding)
                // serve as the parser's padding.
                let pushed =
                    match simd_json::fill_tape_padded(&mut buf[start..], end - start, &mut self.buffers, &mut tape) {
                        Err(e) => {
                            out.rejects.push((line_no, RejectReason::InvalidJson, e.to_string()));
                            Ok(())
                        }
                        Ok(()) => record(chunk, &tape.0, 0, line_no, out, self.gate.as_deref()),
                    };
                self.tape = Some(tape.reset());
                pushed?;
            }
            line_no += 1;
            start = end + 1;
        }
        Ok(())
    }
}

/// Push the record at `i` into `chunk`, its payload written straight into the chunk's buffer
/// (no copy), or reject it. An error when the chunk cannot hold it (the whole file is refused).
/// With a gate, the record's columns are read first (no payload written) and a valid record
/// the gate does not admit is only counted: rejects stay the same rejects.
fn record(
    chunk: &mut ChunkBuilder,
    nodes: &[Node<'_>],
    i: usize,
    index: u32,
    out: &mut ParseOutcome,
    gate: Option<&dyn RecordGate>,
) -> Result<(), ChunkFull> {
    let mut row = RowValues::default();
    if let Some(gate) = gate {
        match extract::<false>(nodes, i, chunk.payload_mut(), &mut row) {
            Ok(()) if gate.admits(&row) => {}
            Ok(()) => {
                if row.strings[Field::EventType.index()] == Some("AwsCloudTrailInsight") {
                    out.insight_records += 1;
                }
                out.not_matching += 1;
                chunk.pass_over(
                    index,
                    row.strings[Field::EventId.index()],
                    row.strings[Field::RecipientAccount.index()],
                );
                return Ok(());
            }
            Err((reason, detail)) => {
                out.rejects.push((index, reason, detail));
                return Ok(());
            }
        }
    }
    let payload = chunk.payload_mut();
    let start = payload.len();
    match extract::<true>(nodes, i, payload, &mut row) {
        Ok(()) => {
            row.index = index;
            if row.strings[Field::EventType.index()] == Some("AwsCloudTrailInsight") {
                out.insight_records += 1;
            }
            chunk.push_written(&row)?;
        }
        Err((reason, detail)) => {
            chunk.payload_mut().truncate(start);
            out.rejects.push((index, reason, detail));
        }
    }
    Ok(())
}

/// One JSON object per line, with at least two lines (one line is parsed as a document).
/// Only the first line and the start of the second are looked at.
fn looks_like_json_lines(data: &[u8]) -> bool {
    let start = data.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(data.len());
    let data = &data[start..];
    if data.first() != Some(&b'{') {
        return false;
    }
    let Some(nl) = memchr::memchr(b'\n', data) else { return false };
    let first = data[..nl].trim_ascii();
    let next = data[nl..].iter().find(|b| !b.is_ascii_whitespace());
    first.len() >= 2 && first.ends_with(b"}") && next == Some(&b'{')
}

/// Cut a cut-short document after its last complete record and close it so that it parses, in
/// place (the text can be as large as the per-file limit: no copy): for `{"Records":[r1,r2,r3…`
/// (or lookup-events, or a bare array) the text up to the end of `r2` followed by the closing
/// brackets; for JSON Lines or concatenated documents, up to the last complete one. False (and
/// `buf` unchanged) when not even one record is complete.
pub fn complete_prefix(buf: &mut Vec<u8>) -> bool {
    match last_complete_record(buf) {
        Some((end, closers)) => {
            buf.truncate(end);
            buf.extend_from_slice(&closers);
            true
        }
        None => false,
    }
}

/// Deeper than the JSON parser goes (simd-json stops at 1024 levels): nothing past it can be
/// parsed, and the bracket stack of a hostile `[[[[…` stays small.
const MAX_DEPTH: usize = 1100;

/// Where the last complete record of `buf` ends, and the brackets that close what is open there.
fn last_complete_record(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    // Where records sit: in a wrapper's array, in a bare array, or at the top level. Decided
    // from the start, so that an object inside a record is never taken for a record.
    let text = buf.trim_ascii_start();
    let wrapped = text.starts_with(b"{") && {
        let key = text[1..].trim_ascii_start();
        key.starts_with(b"\"Records\"") || key.starts_with(b"\"Events\"")
    };
    let record_depth: &[u8] = if wrapped {
        b"{["
    } else if text.starts_with(b"[") {
        b"["
    } else {
        b""
    };
    let mut stack: Vec<u8> = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    let mut best: Option<(usize, Vec<u8>)> = None;
    for (i, &b) in buf.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' if stack.len() >= MAX_DEPTH => return best,
            b'{' | b'[' => stack.push(b),
            b'}' | b']' => {
                let open = stack.pop()?;
                if (open == b'{') != (b == b'}') {
                    return best;
                }
                if open == b'{' && stack == record_depth {
                    let closers = stack.iter().rev().map(|&o| if o == b'{' { b'}' } else { b']' }).collect();
                    best = Some((i + 1, closers));
                }
            }
            _ => {}
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `f` on the simd-json tape of one record's text (the rows `f` extracts borrow it, so
    /// the checks go inside).
    fn with_tape(rec: &str, f: impl FnOnce(&[Node<'_>])) {
        let mut buf = rec.as_bytes().to_vec();
        let len = buf.len();
        buf.resize(len + INPUT_PADDING, 0);
        let mut bufs = Buffers::new(len);
        let mut tape = Tape::null();
        simd_json::fill_tape_padded(&mut buf, len, &mut bufs, &mut tape).unwrap();
        f(&tape.0);
    }

    fn run(text: &str) -> (Result<ParseOutcome, String>, ChunkBuilder) {
        let mut buf = text.as_bytes().to_vec();
        let len = buf.len();
        buf.resize(len + INPUT_PADDING, 0);
        let mut chunk = ChunkBuilder::new();
        let r = Parser::new().parse(&mut buf, len, &mut chunk).map_err(|e| match e {
            DocError::Json(m) => format!("json: {m}"),
            DocError::NotCloudTrail(m) => format!("not cloudtrail: {m}"),
            DocError::Full(e) => format!("full: {e}"),
        });
        (r, chunk)
    }

    const REC: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accessKeyId":"AKIAEXAMPLE","sessionContext":{"attributes":{"mfaAuthenticated":"false"}}},"eventTime":"2024-03-01T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","requestParameters":{"bucketName":"b","key":"a\"b\\c\n"},"readOnly":true,"eventID":"e1"}"#;

    #[test]
    fn s3_wrapper_record_is_split_into_columns_and_payload() {
        let (r, chunk) = run(&format!(
            "{{\"Records\":[{REC},{{\"eventTime\":\"bad\",\"eventName\":\"X\",\"eventSource\":\"y\"}},42]}}"
        ));
        let out = r.unwrap();
        assert_eq!(out.wrapper, Some(Wrapper::S3Records));
        assert_eq!(out.records, 3);
        assert_eq!(chunk.len(), 1);
        assert_eq!(
            out.rejects.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            vec![(1, RejectReason::BadEventTime), (2, RejectReason::NotAnObject)]
        );
    }

    /// What a gate sees: the row of the full extraction, nothing written.
    #[test]
    fn the_row_only_extraction_fills_the_same_row() {
        let odd = [
            REC,
            r#"{"userIdentity":null,"eventTime":"2019-01-01T00:00:01Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","errorCode":403,"readOnly":"true","tlsDetails":{"tlsVersion":7}}"#,
            r#"{"eventName":"A","eventName":null,"eventSource":"x","eventTime":"2019-01-01T00:00:01Z","userIdentity":{"accountId":1,"arn":"a","sessionContext":{"sessionIssuer":{"arn":"r"}}}}"#,
            r#"{"eventTime":"bad","eventName":"X","eventSource":"y"}"#,
            r#"{"eventTime":"2019-01-01T00:00:01Z","eventSource":"y"}"#,
        ];
        for rec in odd {
            with_tape(rec, |tape| {
                let (mut full, mut nothing) = (Vec::new(), Vec::new());
                let (mut a, mut b) = (RowValues::default(), RowValues::default());
                let ra = extract::<true>(tape, 0, &mut full, &mut a);
                let rb = extract::<false>(tape, 0, &mut nothing, &mut b);
                assert_eq!(ra, rb, "{rec}");
                assert!(nothing.is_empty() && !full.is_empty());
                assert_eq!(
                    (a.strings, a.flags, a.spilled, a.time_ms),
                    (b.strings, b.flags, b.spilled, b.time_ms),
                    "{rec}"
                );
            });
        }
    }

    #[derive(Debug)]
    struct OnlyGetObject;
    impl RecordGate for OnlyGetObject {
        fn admits(&self, row: &RowValues<'_>) -> bool {
            row.strings[Field::EventName.index()] == Some("GetObject")
        }
    }

    #[test]
    fn a_gate_counts_what_it_leaves_out_and_rejects_stay_rejects() {
        let other = REC.replace("GetObject", "PutObject");
        let text = format!(
            "{{\"Records\":[{REC},{other},{{\"eventTime\":\"bad\",\"eventName\":\"X\",\"eventSource\":\"y\"}},42,{other}]}}"
        );
        for gate in [false, true] {
            let mut buf = text.as_bytes().to_vec();
            let len = buf.len();
            buf.resize(len + INPUT_PADDING, 0);
            let mut chunk = ChunkBuilder::new();
            let mut parser = Parser::new();
            if gate {
                parser = parser.with_gate(Some(Arc::new(OnlyGetObject)));
            }
            let out = parser.parse(&mut buf, len, &mut chunk).ok().unwrap();
            assert_eq!(out.records, 5);
            assert_eq!(
                out.rejects.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
                vec![(2, RejectReason::BadEventTime), (3, RejectReason::NotAnObject)]
            );
            assert_eq!((chunk.len(), out.not_matching), if gate { (1, 2) } else { (3, 0) });
            // The kept record's payload is whole, nothing of the others left in the buffer.
            let store = store_of(chunk);
            let first: serde_json::Value = serde_json::from_slice(&store.payload(0)).unwrap();
            assert_eq!(first["requestParameters"]["bucketName"], "b");
        }
    }

    #[test]
    fn every_wrapper_passes_its_records_through_the_gate() {
        let other = REC.replace("GetObject", "PutObject");
        let (a, b) = (serde_json::to_string(REC).unwrap(), serde_json::to_string(&other).unwrap());
        for text in [
            format!("[{other},{REC},{other}]"),
            format!("{other}\n{REC}\n{other}\n"),
            format!(
                "{{\"Events\":[{{\"CloudTrailEvent\":{b}}},{{\"CloudTrailEvent\":{a}}},{{\"CloudTrailEvent\":{b}}}]}}"
            ),
        ] {
            let mut buf = text.as_bytes().to_vec();
            let len = buf.len();
            buf.resize(len + INPUT_PADDING, 0);
            let mut chunk = ChunkBuilder::new();
            let out =
                Parser::new().with_gate(Some(Arc::new(OnlyGetObject))).parse(&mut buf, len, &mut chunk).ok().unwrap();
            assert_eq!((out.records, chunk.len(), out.not_matching, out.rejects.len()), (3, 1, 2, 0), "{text}");
        }
        let seq = format!("{{\"Records\":[{other}]}}\n{{\"Records\":[{REC},{other}]}}");
        let mut chunk = ChunkBuilder::new();
        let out = Parser::new().with_gate(Some(Arc::new(OnlyGetObject))).parse_sequence(seq.as_bytes(), &mut chunk);
        let out = out.unwrap().ok().unwrap();
        assert_eq!((out.records, chunk.len(), out.not_matching), (3, 1, 2), "documents one after another");
    }

    #[test]
    fn payload_is_valid_minified_json_without_columns() {
        with_tape(REC, |tape| {
            let mut payload = Vec::new();
            let mut row = RowValues::default();
            extract::<true>(tape, 0, &mut payload, &mut row).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            assert_eq!(v["requestParameters"]["key"], "a\"b\\c\n");
            assert_eq!(v["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"], "false");
            assert!(v.get("eventName").is_none() && v["userIdentity"].get("arn").is_none());
            assert_eq!(row.strings[Field::AccessKeyId.index()], Some("AKIAEXAMPLE"));
            assert_eq!(row.flags[Flag::Mfa.index()], Some(false));
            assert_eq!(row.flags[Flag::ReadOnly.index()], Some(true));
            assert_eq!(row.time_ms, 1_709_294_400_000);
        });
    }

    #[test]
    fn a_record_past_the_chunk_limit_stops_the_file_in_every_wrapper() {
        // `1E15` is written back as `1000000000000000.0`: the payload grows past the file.
        let big =
            REC.replace(r#""readOnly":true"#, &format!(r#""readOnly":true,"n":[{}]"#, vec!["1E15"; 60].join(",")));
        assert!(big.len() < 1024);
        let inner = serde_json::to_string(&big).unwrap();
        for text in [
            format!("{{\"Records\":[{REC},{big},{REC}]}}"),
            format!("[{REC},{big}]"),
            format!("{REC}\n{big}\n{REC}\n"),
            format!("{{\"Events\":[{{\"CloudTrailEvent\":{inner}}}]}}"),
            big.clone(),
        ] {
            let mut buf = text.as_bytes().to_vec();
            let len = buf.len();
            buf.resize(len + INPUT_PADDING, 0);
            let mut chunk = ChunkBuilder::new().with_limit(1024);
            match Parser::new().parse(&mut buf, len, &mut chunk) {
                Err(DocError::Full(e)) => assert_eq!(e, ChunkFull::Payload { limit: 1024 }, "{text}"),
                _ => panic!("not refused: {text}"),
            }
        }
        // A sequence of documents, the big one second.
        let mut chunk = ChunkBuilder::new().with_limit(1024);
        let seq = format!("{{\"Records\":[{REC}]}}\n{{\"Records\":[{big}]}}");
        assert!(matches!(Parser::new().parse_sequence(seq.as_bytes(), &mut chunk), Some(Err(DocError::Full(_)))));
    }

    fn store_of(chunk: ChunkBuilder) -> trailscope_store::Store {
        let mut b = trailscope_store::StoreBuilder::new();
        let src = b.add_source(trailscope_store::SourceFile { path: "f".into(), size: 1, sha256: String::new() });
        b.add_chunk(src, chunk);
        b.finish()
    }

    #[test]
    fn a_rejected_record_leaves_nothing_in_the_next_payload() {
        // The first record is rejected only at its end (no eventName), after its payload was written.
        let bad = r#"{"eventTime":"2024-03-01T12:00:00Z","eventSource":"s3.amazonaws.com","requestParameters":{"leak":"me"}}"#;
        let (r, chunk) = run(&format!("{{\"Records\":[{bad},{REC}]}}"));
        assert_eq!(r.unwrap().rejects[0].1, RejectReason::MissingField("eventName"));
        let store = store_of(chunk);
        assert_eq!(store.len(), 1);
        let payload: serde_json::Value = serde_json::from_slice(&store.payload(0)).unwrap();
        assert_eq!(payload["requestParameters"], serde_json::json!({"bucketName":"b","key":"a\"b\\c\n"}));
        assert!(!String::from_utf8_lossy(&store.payload(0)).contains("leak"));
    }

    #[test]
    fn tls_details_go_to_columns_and_unknown_keys_stay() {
        let rec = r#"{"eventTime":"2024-03-01T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"b.s3.amazonaws.com","quantumSafe":true}}"#;
        with_tape(rec, |tape| {
            let (mut payload, mut row) = (Vec::new(), RowValues::default());
            extract::<true>(tape, 0, &mut payload, &mut row).unwrap();
            assert_eq!(row.strings[Field::TlsHost.index()], Some("b.s3.amazonaws.com"));
            assert_eq!(std::str::from_utf8(&payload).unwrap(), r#"{"tlsDetails":{"quantumSafe":true}}"#);
        });
    }

    #[test]
    fn other_wrappers() {
        let inner = serde_json::to_string(REC).unwrap();
        let (r, c) = run(&format!("{{\"Events\":[{{\"EventId\":\"e1\",\"CloudTrailEvent\":{inner}}},{{\"EventId\":\"e2\"}}],\"NextToken\":null}}"));
        let out = r.unwrap();
        assert_eq!((out.wrapper, c.len(), out.rejects.len()), (Some(Wrapper::LookupEvents), 1, 1));
        let (r, c) = run(&format!("[{REC},{REC}]"));
        assert_eq!((r.unwrap().wrapper, c.len()), (Some(Wrapper::BareArray), 2));
        let (r, c) = run(&format!("{REC}\n\n{REC}\n{{broken\n"));
        let out = r.unwrap();
        assert_eq!((out.wrapper, c.len(), out.records), (Some(Wrapper::JsonLines), 2, 3));
        assert_eq!(out.rejects[0].0, 3);
        let (r, c) = run(REC);
        assert_eq!((r.unwrap().wrapper, c.len()), (Some(Wrapper::SingleRecord), 1));
        let (r, c) = run(r#"{"Records":[]}"#);
        assert_eq!((r.unwrap().records, c.len()), (0, 0));
    }

    #[test]
    fn odd_but_real_shapes() {
        // Service events without a type, null identity, non-string columnar values.
        let recs = [
            r#"{"eventVersion":"1.05","userIdentity":{"accountId":"111122223333","invokedBy":"ec2.amazonaws.com"},"eventTime":"2019-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"SharedSnapshotCopyInitiated","eventType":"AwsServiceEvent","sourceIPAddress":"AWS Internal","recipientAccountId":"111122223333"}"#,
            r#"{"userIdentity":null,"eventTime":"2019-01-01T00:00:01Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","errorCode":403,"readOnly":"true"}"#,
            r#"{"eventTime":1546300800,"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#,
        ];
        let (r, chunk) = run(&format!("{{\"Records\":[{}]}}", recs.join(",")));
        let out = r.unwrap();
        assert_eq!(chunk.len(), 2);
        assert_eq!(out.rejects.len(), 1);
        assert_eq!(out.rejects[0].0, 2);
        assert_eq!(out.rejects[0].1, RejectReason::MissingField("eventTime"));
        // The numeric errorCode stays a number in the payload and its text is the column value.
        let store = store_of(chunk);
        assert!(store.dict(Field::ErrorCode).lookup("403").is_some());
        assert!((0..store.len()).any(|r| String::from_utf8_lossy(&store.payload(r)).contains(r#""errorCode":403"#)));
    }

    #[test]
    fn documents_one_after_another() {
        let text = format!("{{\"Records\":[{REC}]}}\n{{\n  \"Records\": [{REC}, 7]\n}}\n");
        let mut chunk = ChunkBuilder::new();
        let out = Parser::new().parse_sequence(text.as_bytes(), &mut chunk).unwrap().ok().unwrap();
        assert_eq!((out.records, chunk.len()), (3, 2));
        assert_eq!(out.rejects.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2], "indexes run on across documents");
        assert!(Parser::new().parse_sequence(REC.as_bytes(), &mut ChunkBuilder::new()).is_none());
        assert!(Parser::new().parse_sequence(b"{} {", &mut ChunkBuilder::new()).is_none());
    }

    #[test]
    fn non_cloudtrail_and_invalid_json_are_file_errors() {
        assert!(run(r#"{"name":"package","version":"1.0"}"#).0.unwrap_err().contains("keys: name, version"));
        assert!(run("[1,2,3]").0.unwrap_err().starts_with("not cloudtrail"));
        assert!(run(r#"{"Records":[{"eventTime":"#).0.unwrap_err().starts_with("json"));
    }

    #[test]
    fn a_cut_document_keeps_its_complete_records() {
        let p = |s: &str| {
            let mut v = s.as_bytes().to_vec();
            complete_prefix(&mut v).then(|| String::from_utf8(v).unwrap())
        };
        assert_eq!(p(r#"{"Records":[{"a":1},{"b":"x}]"},{"c":"#).unwrap(), r#"{"Records":[{"a":1},{"b":"x}]"}]}"#);
        assert_eq!(p(r#"[{"a":{"n":[1]}},{"b"#).unwrap(), r#"[{"a":{"n":[1]}}]"#);
        assert_eq!(p("{\"a\":1}\n{\"b\":2}\n{\"c\"").unwrap(), "{\"a\":1}\n{\"b\":2}");
        assert_eq!(
            p(r#"{"Events":[{"CloudTrailEvent":"{\"x\":1}"},{"#).unwrap(),
            r#"{"Events":[{"CloudTrailEvent":"{\"x\":1}"}]}"#
        );
        assert_eq!(p(r#"{"Records":[{"a":"#), None, "no record complete");
        assert_eq!(p("{\"a\":1}\n{\"r\":[{\"x\":1},{\"y"), Some("{\"a\":1}".into()), "no record made up of a cut one");
        assert_eq!(p(""), None);
        // A hostile `[[[[…` after the records: the scan stops at the parser's depth, keeping them.
        let deep = format!(r#"{{"Records":[{{"a":1}},{}"#, "[".repeat(1 << 20));
        assert_eq!(p(&deep).unwrap(), r#"{"Records":[{"a":1}]}"#);
    }
}
