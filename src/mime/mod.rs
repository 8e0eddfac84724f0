//! MIME layer: raw message bytes → an owned, serialisable summary ([`MimeInfo`]).
//!
//! Parsing is mail-parser's (RFC 5322 headers, RFC 2047 encoded words in any charset,
//! RFC 2231 parameters, the part tree); this module puts our own model on top: decoded
//! headers beside their raw values, the leaf parts depth-first with IMAP section numbers and
//! the size and SHA-256 of their *transfer-decoded* bytes (base64 / quoted-printable undone,
//! charset left alone, so the hashes match the bytes of an attachment on disk), and MIME
//! anomalies as named flags. It never fails: a broken message yields what could be read.
//!
//! Every count a message controls has a bound ([`Bounds`], from [`crate::limits::Limits`]):
//! entities listed, nesting followed, header fields and addresses listed, anomalies kept per
//! name. Past a bound the rest is counted and reported by one anomaly with the count; the
//! work per entity is linear in its bytes, so a message costs time linear in its size.

pub(crate) mod qp;
mod words;

pub use words::decode_unstructured;

use crate::proto::vocab::mime::Anomaly;
use crate::sha::Paired;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{HeaderName, MessageParser, MessagePart, MimeHeaders};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
/// Characters of decoded text kept as a preview.
const PREVIEW_CHARS: usize = 400;

/// Decoded header values (Unicode), with the raw ones beside them.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Headers {
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub bcc: Option<String>,
    pub reply_to: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub user_agent: Option<String>,
    pub received: Vec<String>,
    /// Every header as sent (unfolded), in order.
    pub raw: Vec<(String, String)>,
}

/// One non-multipart entity.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Part {
    /// IMAP section number: `1`, `2.1`, ….
    pub path: String,
    pub depth: usize,
    pub content_type: String,
    pub charset: Option<String>,
    pub transfer_encoding: Option<String>,
    pub disposition: Option<String>,
    pub filename: Option<String>,
    pub content_id: Option<String>,
    /// Size and SHA-256 of the transfer-decoded bytes.
    pub size: u64,
    pub sha256: String,
    /// Start of the text, decoded to UTF-8 (text parts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The decoded bytes when asked for (`--extract`); not serialised.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// A MIME-level problem. Serialises as `{"name", "detail"}`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MimeAnomaly {
    #[serde(rename = "name")]
    pub kind: Anomaly,
    pub detail: String,
}

impl MimeAnomaly {
    /// The stable kebab-case name.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

/// What a message is, as far as its bytes tell.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct MimeInfo {
    pub content_type: Option<String>,
    pub headers: Headers,
    /// Leaf parts, depth-first. A `message/rfc822` part is listed as a leaf (its decoded
    /// bytes are the inner message) and is followed by the inner message's leaves.
    pub parts: Vec<Part>,
    /// Every entity with its depth, multipart containers included (for drawing the tree).
    #[serde(skip)]
    pub tree: Vec<(usize, String, String)>,
    #[serde(rename = "mime_anomalies")]
    pub anomalies: Vec<MimeAnomaly>,
}

/// The limits MIME decoding enforces (from [`crate::limits::Limits`]; see the fields there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub max_parts: usize,
    pub max_depth: usize,
    pub max_headers: usize,
    pub max_addresses: usize,
    pub max_anomalies_per_name: usize,
}

impl From<&crate::limits::Limits> for Bounds {
    fn from(l: &crate::limits::Limits) -> Bounds {
        Bounds {
            max_parts: l.max_mime_parts,
            max_depth: l.max_mime_depth,
            max_headers: l.max_mime_headers,
            max_addresses: l.max_mime_addresses,
            max_anomalies_per_name: l.max_mime_anomalies_per_name,
        }
    }
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds::from(&crate::limits::Limits::default())
    }
}

/// The anomalies of one message: the first `cap` of each name are kept, the rest counted;
/// [`Anomalies::finish`] adds one `too-many-anomalies` per name that went over.
struct Anomalies {
    list: Vec<MimeAnomaly>,
    /// Anomalies seen per name (few names, so a list).
    seen: Vec<(Anomaly, u64)>,
    cap: usize,
}

impl Anomalies {
    fn new(cap: usize) -> Anomalies {
        Anomalies {
            list: Vec::new(),
            seen: Vec::new(),
            cap,
        }
    }

    /// Records one; `detail` is only built when the anomaly is kept.
    fn push(&mut self, kind: Anomaly, detail: impl FnOnce() -> String) {
        let i = match self.seen.iter().position(|(n, _)| *n == kind) {
            Some(i) => i,
            None => {
                self.seen.push((kind, 0));
                self.seen.len() - 1
            }
        };
        self.seen[i].1 += 1;
        if self.seen[i].1 <= self.cap as u64 {
            self.list.push(MimeAnomaly {
                kind,
                detail: detail(),
            });
        }
    }

    /// Records one that sums up a limit (at most one per limit, and per address field):
    /// always kept.
    fn summary(&mut self, kind: Anomaly, detail: String) {
        self.list.push(MimeAnomaly { kind, detail });
    }

    fn finish(mut self) -> Vec<MimeAnomaly> {
        for &(name, n) in &self.seen {
            if n > self.cap as u64 {
                self.list.push(MimeAnomaly {
                    kind: Anomaly::TooManyAnomalies,
                    detail: format!(
                        "{} more {name} (first {} listed)",
                        n - self.cap as u64,
                        self.cap
                    ),
                });
            }
        }
        self.list
    }
}

/// SHA-256 as lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// An address field as text: the addresses of every field of that name (RFC 5322 4.5.3
/// allows repeated To and Cc), the first `max` listed and the rest reported. The header
/// cap does not apply: addresses are what users search for.
fn address_text(
    msg: &mail_parser::Message<'_>,
    name: HeaderName<'_>,
    field: &str,
    max: usize,
    anomalies: &mut Anomalies,
) -> Option<String> {
    let mut all = msg
        .header_values(name)
        .filter_map(|v| v.as_address())
        .flat_map(|a| a.iter());
    let list: Vec<String> = all
        .by_ref()
        .take(max)
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    let more = all.count();
    if more > 0 {
        anomalies.summary(
            Anomaly::TooManyAddresses,
            format!("{more} more addresses in {field} not listed (limit {max})"),
        );
    }
    (!list.is_empty()).then(|| list.join(", "))
}

fn unfold(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes RFC 2047 encoded words in a header value (as IMAP ENVELOPE fields carry them),
/// keeping the sender's white space ([`decode_unstructured`]).
pub fn decode_words(value: &str) -> String {
    decode_unstructured(value)
}

/// The fields of a header block alone (an IMAP `BODY[HEADER]` fetch), decoded as a
/// message's are (default [`Bounds`]).
pub fn parse_header_block(bytes: &[u8]) -> Headers {
    parse_bounded(bytes, false, &Bounds::default()).headers
}

/// Parses a message with the default [`Bounds`]; see [`parse_bounded`].
pub fn parse(bytes: &[u8], keep_bodies: bool) -> MimeInfo {
    parse_bounded(bytes, keep_bodies, &Bounds::default())
}

/// Parses a message. `bytes` is the message as transferred (no transport framing);
/// `keep_bodies` keeps each leaf's decoded bytes in [`Part::body`] (for extraction).
pub fn parse_bounded(bytes: &[u8], keep_bodies: bool, bounds: &Bounds) -> MimeInfo {
    parse_with(bytes, keep_bodies, bounds, &mut Paired::new(&[]))
}

/// [`parse_bounded`], and the SHA-256 of the whole message, hashed in lock step with the
/// parts' decoded bytes (see [`crate::sha`]).
pub fn parse_hashed(bytes: &[u8], keep_bodies: bool, bounds: &Bounds) -> (MimeInfo, String) {
    let mut hasher = Paired::new(bytes);
    let info = parse_with(bytes, keep_bodies, bounds, &mut hasher);
    (info, hasher.finish())
}

/// Parses a message; the parts are hashed as followers of `hasher`.
fn parse_with(
    bytes: &[u8],
    keep_bodies: bool,
    bounds: &Bounds,
    hasher: &mut Paired<'_>,
) -> MimeInfo {
    let mut info = MimeInfo::default();
    let mut anomalies = Anomalies::new(bounds.max_anomalies_per_name);
    header_lint(bytes, &mut anomalies);
    let parser = MessageParser::default();
    let Some(msg) = parser.parse_headers(bytes) else {
        anomalies.push(Anomaly::Unparseable, || {
            "no header or body could be read".into()
        });
        info.anomalies = anomalies.finish();
        return info;
    };
    let h = &mut info.headers;
    let max = bounds.max_addresses;
    h.from = address_text(&msg, HeaderName::From, "From", max, &mut anomalies);
    h.to = address_text(&msg, HeaderName::To, "To", max, &mut anomalies);
    h.cc = address_text(&msg, HeaderName::Cc, "Cc", max, &mut anomalies);
    h.bcc = address_text(&msg, HeaderName::Bcc, "Bcc", max, &mut anomalies);
    h.reply_to = address_text(&msg, HeaderName::ReplyTo, "Reply-To", max, &mut anomalies);
    h.message_id = msg.message_id().map(str::to_string);
    let mut subject = None;
    let mut unlisted = 0u64;
    for (name, value) in msg.headers_raw() {
        let listed = h.raw.len() < bounds.max_headers;
        unlisted += u64::from(!listed);
        let lower = name.to_ascii_lowercase();
        if lower == "subject" {
            // The last Subject, as mail-parser picks; decoded here to keep the sender's
            // white space (mail-parser collapses it).
            subject = Some(decode_unstructured(value)).filter(|s| !s.is_empty());
        }
        let slot = match lower.as_str() {
            "date" => Some(&mut h.date),
            "in-reply-to" => Some(&mut h.in_reply_to),
            "references" => Some(&mut h.references),
            "user-agent" | "x-mailer" => Some(&mut h.user_agent),
            _ => None,
        };
        if !listed && slot.is_none() {
            continue;
        }
        let value = unfold(value);
        if let Some(slot) = slot {
            *slot = Some(value.clone());
        }
        if listed {
            if lower == "received" {
                h.received.push(value.clone());
            }
            h.raw.push((name.to_string(), value));
        }
    }
    // A raw value that is not UTF-8 is not among `headers_raw`: mail-parser's reading then.
    h.subject = subject.or_else(|| msg.subject().map(str::to_string));
    if unlisted > 0 {
        anomalies.summary(
            Anomaly::TooManyHeaders,
            format!(
                "{unlisted} more header fields not listed (limit {})",
                bounds.max_headers
            ),
        );
    }
    let root = msg.root_part();
    info.content_type = root.content_type().map(content_type_text);
    let body = &bytes[body_start(bytes)..];
    let mut walker = Walker {
        info: &mut info,
        anomalies,
        keep_bodies,
        parser,
        bounds: *bounds,
        unlisted: 0,
        hasher,
    };
    walker.message(Some(root), body, None, 0);
    let Walker {
        mut anomalies,
        unlisted,
        ..
    } = walker;
    if unlisted > 0 {
        anomalies.summary(
            Anomaly::TooManyParts,
            format!(
                "{unlisted} more entities not listed (limit {}; message/rfc822 parts among them not opened)",
                bounds.max_parts
            ),
        );
    }
    info.anomalies = anomalies.finish();
    info
}

fn content_type_text(ct: &mail_parser::ContentType<'_>) -> String {
    match ct.subtype() {
        Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
        None => ct.ctype().to_ascii_lowercase(),
    }
}

/// Where an entity's body starts: after the first empty line (RFC 5322 §2.1), or at the
/// end when there is none.
fn body_start(bytes: &[u8]) -> usize {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        if matches!(&bytes[start..end], b"" | b"\r") {
            return end + 1;
        }
        start = end + 1;
    }
    bytes.len()
}

/// The header fields of one entity, as mail-parser read them (`None`: there were none).
type Head<'p, 'x> = Option<&'p MessagePart<'x>>;

/// The parts of a multipart body (RFC 2046 §5.1.1): the text between delimiter lines
/// (`--boundary` at the start of a line, then only white space), without the line break
/// that belongs to the delimiter; preamble and epilogue dropped. `closed` tells whether the
/// close delimiter (`--boundary--`) was there. `None` when no delimiter occurs at all.
struct Multipart<'a> {
    parts: Vec<&'a [u8]>,
    closed: bool,
}

fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Option<Multipart<'a>> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let mut parts = Vec::new();
    // Start of the current part's content, once the first delimiter has been seen.
    let mut start: Option<usize> = None;
    for pos in memchr::memmem::find_iter(body, &delimiter) {
        if pos > 0 && body[pos - 1] != b'\n' {
            continue;
        }
        let after = &body[pos + delimiter.len()..];
        let close = after.starts_with(b"--");
        let rest = if close { &after[2..] } else { after };
        let line_end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let tail = &rest[..line_end];
        // A longer boundary that merely starts like this one is not a delimiter.
        if !tail.iter().all(|&c| matches!(c, b' ' | b'\t' | b'\r')) {
            continue;
        }
        if let Some(s) = start {
            // The line break before the delimiter belongs to it.
            let mut end = pos;
            if end > s && body[end - 1] == b'\n' {
                end -= 1;
                if end > s && body[end - 1] == b'\r' {
                    end -= 1;
                }
            }
            parts.push(&body[s..end.max(s)]);
        }
        if close {
            return Some(Multipart {
                parts,
                closed: true,
            });
        }
        start = Some((pos + delimiter.len() + line_end + 1).min(body.len()));
    }
    let s = start?;
    parts.push(&body[s..]);
    Some(Multipart {
        parts,
        closed: false,
    })
}

struct Walker<'a, 'h> {
    info: &'a mut MimeInfo,
    /// Hashes the parts beside the whole message.
    hasher: &'a mut Paired<'h>,
    anomalies: Anomalies,
    keep_bodies: bool,
    parser: MessageParser,
    bounds: Bounds,
    /// Entities past [`Bounds::max_parts`], counted instead of listed.
    unlisted: u64,
}

impl Walker<'_, '_> {
    /// Whether one more entity may be listed; counts it when not.
    fn may_list(&mut self) -> bool {
        let ok = self.info.tree.len() < self.bounds.max_parts;
        self.unlisted += u64::from(!ok);
        ok
    }

    /// Reports an entity nested deeper than [`Bounds::max_depth`]; true when it is.
    fn too_deep(&mut self, path: &str, depth: usize) -> bool {
        let max = self.bounds.max_depth;
        if depth <= max {
            return false;
        }
        self.anomalies.push(Anomaly::NestingTooDeep, || {
            format!("part {path} is nested deeper than {max} levels")
        });
        true
    }

    /// Reads an entity's header block; returns it (if any) and where the body starts.
    fn head<'x>(&self, bytes: &'x [u8]) -> (Option<mail_parser::Message<'x>>, usize) {
        let at = body_start(bytes);
        (self.parser.parse_headers(&bytes[..at]), at)
    }

    /// The multipart structure of an entity, when it is one with a boundary that occurs.
    fn multipart<'b>(&self, head: Head<'_, '_>, body: &'b [u8]) -> Option<Multipart<'b>> {
        let ct = head?.content_type()?;
        if !ct.ctype().eq_ignore_ascii_case("multipart") {
            return None;
        }
        let boundary = ct.attribute("boundary").filter(|b| !b.is_empty())?;
        split_multipart(body, boundary.as_bytes())
    }

    /// A whole message (the top level, or inside a message/rfc822 part): a multipart root
    /// is a container numbered like its parent, a single body is part 1.
    fn message(&mut self, head: Head<'_, '_>, body: &[u8], base: Option<&str>, depth: usize) {
        let join = |i: usize| match base {
            Some(b) => format!("{b}.{i}"),
            None => i.to_string(),
        };
        match self.multipart(head, body) {
            Some(mp) => {
                let ct = head.and_then(|h| h.content_type());
                if self.may_list() {
                    self.info.tree.push((
                        depth,
                        base.unwrap_or("").to_string(),
                        ct.map_or("multipart/mixed".into(), content_type_text),
                    ));
                }
                self.children(mp, ct, &join, depth);
            }
            None => self.leaf(head, body, join(1), depth, false),
        }
    }

    fn children(
        &mut self,
        mp: Multipart<'_>,
        ct: Option<&mail_parser::ContentType<'_>>,
        join: &dyn Fn(usize) -> String,
        depth: usize,
    ) {
        if !mp.closed {
            let boundary = ct.and_then(|c| c.attribute("boundary")).unwrap_or("");
            self.anomalies.push(Anomaly::MissingClosingBoundary, || {
                format!("no --{boundary}--")
            });
        }
        let digest = ct.and_then(|c| c.subtype()) == Some("digest");
        for (i, bytes) in mp.parts.into_iter().enumerate() {
            self.entity(bytes, join(i + 1), depth + 1, digest);
        }
    }

    /// One part of a multipart body.
    fn entity(&mut self, bytes: &[u8], path: String, depth: usize, in_digest: bool) {
        if self.too_deep(&path, depth) {
            return;
        }
        let (msg, at) = self.head(bytes);
        let head = msg.as_ref().map(|m| m.root_part());
        let body = &bytes[at..];
        match self.multipart(head, body) {
            Some(mp) => {
                let ct = head.and_then(|h| h.content_type());
                if self.may_list() {
                    self.info.tree.push((
                        depth,
                        path.clone(),
                        ct.map_or("multipart/mixed".into(), content_type_text),
                    ));
                }
                let join = |i: usize| format!("{path}.{i}");
                self.children(mp, ct, &join, depth);
            }
            None => self.leaf(head, body, path, depth, in_digest),
        }
    }

    /// A non-multipart entity: transfer-decoded, hashed, listed; a message/rfc822 part is
    /// then descended into. Past the entity limit it is only counted.
    fn leaf(&mut self, head: Head<'_, '_>, raw: &[u8], path: String, depth: usize, digest: bool) {
        if self.too_deep(&path, depth) || !self.may_list() {
            return;
        }
        let ct = head.and_then(|h| h.content_type());
        let content_type = match ct {
            Some(ct) => content_type_text(ct),
            None if digest => "message/rfc822".into(),
            None => "text/plain".into(),
        };
        let transfer_encoding = head
            .and_then(|h| h.content_transfer_encoding())
            .map(|e| e.trim().to_ascii_lowercase());
        let is_message = matches!(content_type.as_str(), "message/rfc822" | "message/global");
        let text_type = match ct {
            Some(ct) => ["text", "multipart"]
                .iter()
                .any(|t| ct.ctype().eq_ignore_ascii_case(t)),
            None => !digest,
        };
        let keep = self.keep_bodies || is_message || text_type;
        let mut base64 = |raw: &[u8]| match keep {
            false => hash_base64(raw, self.hasher).map(Decoded::Summed),
            true => decode_base64(raw).map(|d| Decoded::Bytes(d.into())),
        };
        let decoded = match transfer_encoding.as_deref() {
            Some("base64") => base64(raw).or_else(|| {
                // RFC 2045 6.8: characters outside the alphabet are ignored. A part with
                // no base64 at all is shown as it is (below).
                let (clean, stray) = strip_stray_base64(raw);
                if !clean.iter().any(|&b| base64_letter(b)) {
                    return None;
                }
                self.anomalies.push(Anomaly::Base64StrayCharacters, || {
                    let s = if stray == 1 { "" } else { "s" };
                    format!("part {path}: {stray} character{s} outside the base64 alphabet ignored")
                });
                match base64(&clean)? {
                    Decoded::Bytes(b) => Some(Decoded::Bytes(b.into_owned().into())),
                    summed => Some(summed),
                }
            }),
            Some("quoted-printable") => qp::decode(raw).map(|d| Decoded::Bytes(d.into())),
            _ => Some(Decoded::Bytes(raw.into())),
        };
        let (body, summed, encoding_problem): (Cow<'_, [u8]>, _, _) = match decoded {
            Some(Decoded::Bytes(b)) => (b, None, false),
            Some(Decoded::Summed(s)) => (Cow::Borrowed(&[]), Some(s), false),
            None => {
                let kind = match transfer_encoding.as_deref() {
                    Some("base64") => Anomaly::InvalidBase64,
                    _ => Anomaly::InvalidQuotedPrintable,
                };
                self.anomalies.push(kind, || format!("part {path}"));
                (raw.into(), None, true)
            }
        };
        let is_text = encoding_problem || text_type;
        let (size, sha256) =
            summed.unwrap_or_else(|| (body.len() as u64, self.hasher.follower(&body)));
        let charset = ct.and_then(|c| c.attribute("charset"));
        let text = is_text.then(|| preview(&body, charset));
        if let (true, Some(cte @ ("base64" | "quoted-printable"))) =
            (is_message, transfer_encoding.as_deref())
        {
            // RFC 2046 5.2.1 allows only identity encodings here; an encoded message hides
            // what it carries from filters that follow the rule. Open it anyway.
            self.anomalies.push(Anomaly::EncodedMessagePart, || {
                format!("part {path}: {content_type} with Content-Transfer-Encoding {cte}")
            });
        }
        self.info
            .tree
            .push((depth, path.clone(), content_type.clone()));
        let index = self.info.parts.len();
        self.info.parts.push(Part {
            path: path.clone(),
            depth,
            content_type,
            charset: charset.map(str::to_string),
            transfer_encoding,
            disposition: head
                .and_then(|h| h.content_disposition())
                .map(|d| d.ctype().to_ascii_lowercase()),
            filename: head.and_then(|h| h.attachment_name()).map(str::to_string),
            content_id: head.and_then(|h| h.content_id()).map(str::to_string),
            size,
            sha256,
            text,
            body: Vec::new(),
        });
        if is_message && !encoding_problem {
            let (inner, at) = self.head(&body);
            if let Some(inner) = &inner {
                self.message(Some(inner.root_part()), &body[at..], Some(&path), depth + 1);
            }
        }
        if self.keep_bodies {
            if let Cow::Borrowed(b) = &body {
                crate::copies::count(crate::copies::Site::Decoded, b.len());
            }
            self.info.parts[index].body = body.into_owned();
        }
    }
}

/// A leaf's transfer-decoded content: the bytes, or only their size and SHA-256 (an
/// attachment nobody needs the bytes of is decoded and hashed in pieces, never held whole).
enum Decoded<'a> {
    Bytes(Cow<'a, [u8]>),
    Summed((u64, String)),
}

/// Undoes base64. The fast path strips line breaks in cache-sized chunks and decodes them
/// with a SIMD decoder; anything irregular (white space inside a line, padding in the
/// middle, missing padding, a stray character) makes it give up, and mail-parser's lenient
/// decoder gives the answer. The fast path only succeeds on canonical base64, where both
/// agree, so it never changes what comes out.
fn decode_base64(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len() / 4 * 3);
    let keep = |piece: &[u8]| {
        crate::copies::count(crate::copies::Site::Decoded, piece.len());
        out.extend_from_slice(piece)
    };
    match fast_base64(raw, keep) {
        Some(()) => Some(out),
        None => base64_decode(raw),
    }
}

/// A letter of the base64 alphabet (RFC 2045 6.8, table 1).
fn base64_letter(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// The base64 text without the characters RFC 2045 6.8 says to ignore (anything but the
/// alphabet, padding and the white space of line breaks), and how many were taken out.
fn strip_stray_base64(raw: &[u8]) -> (Vec<u8>, usize) {
    let clean: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&b| base64_letter(b) || matches!(b, b'=' | b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    let stray = raw.len() - clean.len();
    (clean, stray)
}

/// For the fuzz target: the fast base64 path agrees with mail-parser's decoder on `raw`.
#[doc(hidden)]
pub fn check_base64_paths(raw: &[u8]) {
    let reference = base64_decode(raw);
    assert_eq!(decode_base64(raw), reference);
    assert_eq!(
        hash_base64(raw, &mut Paired::new(&[])),
        reference.map(|d| (d.len() as u64, sha256_hex(&d)))
    );
}

/// Size and SHA-256 of base64-encoded bytes, as [`decode_base64`] would decode them.
/// The digest is made by `hasher` (a follower of its message).
fn hash_base64(raw: &[u8], hasher: &mut Paired<'_>) -> Option<(u64, String)> {
    hasher.restart_follower();
    let mut size = 0u64;
    let fast = fast_base64(raw, |piece| {
        hasher.update(piece);
        size += piece.len() as u64;
    });
    match fast {
        Some(()) => Some((size, hasher.finish_follower())),
        None => base64_decode(raw).map(|d| (d.len() as u64, hasher.follower(&d))),
    }
}

/// Decodes canonical base64 piece by piece into `sink`; `None` at anything else (the
/// pieces given so far are then to be thrown away).
fn fast_base64(raw: &[u8], mut sink: impl FnMut(&[u8])) -> Option<()> {
    const CHUNK: usize = 32 << 10;
    let decoder = base64_simd::STANDARD;
    let mut out = Vec::with_capacity(CHUNK + 1024);
    let mut scratch = Vec::new();
    let mut padded = false;
    // Length of the first line: encoders write lines of one length, so the next line end
    // is tried there before searching for it.
    let mut stride: Option<usize> = None;
    let mut rest = raw;
    while !rest.is_empty() {
        let (line, next) = match stride.and_then(|n| Some((n, rest.get(n..n + 2)?))) {
            Some((n, b"\r\n")) => (&rest[..n], &rest[n + 2..]),
            _ => match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    let line = &rest[..i];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if stride.is_none() && line.len() < i {
                        stride = Some(line.len());
                    }
                    (line, &rest[i + 1..])
                }
                None => (rest, &rest[rest.len()..]),
            },
        };
        rest = next;
        if line.is_empty() {
            continue;
        }
        // Padding ends the data: anything after it is for the lenient decoder to judge.
        if padded {
            return None;
        }
        if scratch.is_empty() && line.len() % 4 == 0 {
            // Whole quads (a 76-character line is 19): decoded where they are, not copied.
            decoder.decode_append(line, &mut out).ok()?;
            padded = line.ends_with(b"=");
        } else {
            // A line that splits a quad: gathered until quads are whole.
            crate::copies::count(crate::copies::Site::Base64Lines, line.len());
            scratch.extend_from_slice(line);
            let cut = scratch.len() / 4 * 4;
            if cut > 0 {
                decoder.decode_append(&scratch[..cut], &mut out).ok()?;
                padded = scratch[cut - 1] == b'=';
                scratch.drain(..cut);
            }
        }
        if out.len() >= CHUNK {
            sink(&out);
            out.clear();
        }
    }
    // Characters left over that make no quad: not canonical.
    if !scratch.is_empty() {
        return None;
    }
    sink(&out);
    Some(())
}

/// The start of a text part, converted from its charset to UTF-8 (as mail-parser does for
/// text bodies); only a prefix is converted, enough for [`PREVIEW_CHARS`].
fn preview(body: &[u8], charset: Option<&str>) -> String {
    let head = &body[..body.len().min(PREVIEW_CHARS * 16)];
    let text = match charset.and_then(|c| charset_decoder(c.as_bytes())) {
        Some(decode) => decode(head),
        None => String::from_utf8_lossy(head).into_owned(),
    };
    text.chars().take(PREVIEW_CHARS).collect()
}

/// Checks the header block for lines without a colon and the whole message for lines
/// longer than RFC 5322's 998 characters.
fn header_lint(bytes: &[u8], anomalies: &mut Anomalies) {
    if let Some((n, len)) = first_long_line(bytes, 998) {
        anomalies.push(Anomaly::LineTooLong, || {
            format!("line {n} has {len} characters (limit 998)")
        });
    }
    let header = &bytes[..body_start(bytes)];
    for (n, line) in header.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty()
            && !line.starts_with(b" ")
            && !line.starts_with(b"\t")
            && !line.contains(&b':')
        {
            anomalies.push(Anomaly::HeaderWithoutColon, || {
                format!(
                    "header line {}: {}",
                    n + 1,
                    String::from_utf8_lossy(&line[..line.len().min(60)])
                )
            });
        }
    }
}

/// The first line with more than `limit` characters (the line break not counted): its
/// number (from 1) and length.
///
/// First a check that there is none, with one search per block rather than per line (a
/// base64 body has a line end every 78 bytes): if every aligned block of `(limit + 2) / 2`
/// bytes holds a line end, any two line ends (or the start or the end and the nearest line
/// end) are at most `limit + 1` bytes apart, so no line is longer than `limit`. Each search
/// stops at the block's first line end, early in the block, and the blocks are read in
/// order. Only a message that fails the check gets the exact pass: one forward walk over
/// its line ends (probing windows backwards, jumping to their last line end, waited on
/// memory at every window and cost twice as much).
fn first_long_line(bytes: &[u8], limit: usize) -> Option<(usize, usize)> {
    let block = limit / 2 + 1;
    if bytes
        .chunks_exact(block)
        .all(|b| memchr::memchr(b'\n', b).is_some())
    {
        return None;
    }
    let len = |line: &[u8]| line.strip_suffix(b"\r").unwrap_or(line).len();
    let mut start = 0;
    for (n, end) in memchr::memchr_iter(b'\n', bytes).enumerate() {
        // A line within the limit with its CR needs no closer look.
        if end - start > limit + 1 || (end - start == limit + 1 && bytes[end - 1] != b'\r') {
            return Some((n + 1, len(&bytes[start..end])));
        }
        start = end + 1;
    }
    let last = len(&bytes[start..]);
    (last > limit).then(|| (memchr::memchr_iter(b'\n', bytes).count() + 1, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_headers_and_parts() {
        let msg = b"From: =?UTF-8?B?R3LDvMOfZQ==?= <a@example.test>\r\n\
To: b@example.test\r\n\
Subject: =?ISO-8859-1?Q?Caf=E9?= =?GB2312?B?1tDOxA==?=\r\n\
Content-Type: multipart/mixed; boundary=\"xx\"\r\n\
\r\n\
--xx\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=C3=A9 =\r\nsoft\r\n\
--xx\r\n\
Content-Type: application/pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename*0=\"re\"; filename*1=\"port.pdf\"\r\n\
\r\n\
aGVsbG8=\r\n\
--xx--\r\n";
        let info = parse(msg, true);
        assert_eq!(info.headers.from.as_deref(), Some("Grüße <a@example.test>"));
        assert_eq!(info.headers.subject.as_deref(), Some("Café中文"));
        assert_eq!(info.parts.len(), 2);
        assert_eq!(info.parts[0].path, "1");
        assert_eq!(info.parts[0].body, "café soft".as_bytes());
        assert_eq!(info.parts[1].path, "2");
        assert_eq!(info.parts[1].body, b"hello");
        assert_eq!(info.parts[1].filename.as_deref(), Some("report.pdf"));
        assert!(info.anomalies.is_empty(), "{:?}", info.anomalies);
    }

    #[test]
    fn flags_broken_messages() {
        let msg = b"Subject: x\r\nbroken header\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64***\r\n";
        let info = parse(msg, true);
        let names: Vec<&str> = info.anomalies.iter().map(|a| a.name()).collect();
        assert!(names.contains(&"header-without-colon"), "{names:?}");
        assert!(names.contains(&"missing-closing-boundary"), "{names:?}");
    }

    /// Issue 9: past the header cap, the fields users search for are still decoded.
    #[test]
    fn caps_never_hide_addresses() {
        let mut msg = Vec::new();
        for i in 0..600 {
            msg.extend_from_slice(format!("Received: from h{i}\r\n").as_bytes());
        }
        for i in 0..600 {
            msg.extend_from_slice(format!("To: t{i}@example.test\r\n").as_bytes());
        }
        for i in 0..600 {
            msg.extend_from_slice(format!("Cc: c{i}@example.test\r\n").as_bytes());
        }
        msg.extend_from_slice(
            b"From: f@example.test\r\nSubject: late\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n",
        );
        let info = parse(&msg, false);
        let to: Vec<&str> = info
            .headers
            .to
            .as_deref()
            .unwrap_or_default()
            .split(", ")
            .collect();
        let cc: Vec<&str> = info
            .headers
            .cc
            .as_deref()
            .unwrap_or_default()
            .split(", ")
            .collect();
        assert_eq!(to.len(), 600);
        assert_eq!((to[0], to[599]), ("t0@example.test", "t599@example.test"));
        assert_eq!(cc.len(), 600);
        assert_eq!((cc[0], cc[599]), ("c0@example.test", "c599@example.test"));
        assert_eq!(info.headers.from.as_deref(), Some("f@example.test"));
        assert_eq!(info.headers.subject.as_deref(), Some("late"));
        assert_eq!(info.headers.message_id.as_deref(), Some("m@x"));
        assert_eq!(info.headers.raw.len(), 500);
        let over: Vec<&str> = info
            .anomalies
            .iter()
            .filter(|a| a.name() == "too-many-headers")
            .map(|a| a.detail.as_str())
            .collect();
        assert_eq!(over, ["1303 more header fields not listed (limit 500)"]);
    }

    /// Addresses over several fields of one name answer to one address cap.
    #[test]
    fn repeated_address_fields_share_the_address_cap() {
        let msg = b"To: a@x, b@x\r\nTo: c@x\r\nCc: d@x\r\n\r\n";
        let bounds = Bounds {
            max_addresses: 2,
            ..Bounds::default()
        };
        let info = parse_bounded(msg, false, &bounds);
        assert_eq!(info.headers.to.as_deref(), Some("a@x, b@x"));
        assert_eq!(info.headers.cc.as_deref(), Some("d@x"));
        let details: Vec<&str> = info.anomalies.iter().map(|a| a.detail.as_str()).collect();
        assert_eq!(details, ["1 more addresses in To not listed (limit 2)"]);
    }

    /// RFC 2045 6.8: characters outside the base64 alphabet are ignored, and flagged.
    #[test]
    fn base64_ignores_characters_outside_the_alphabet() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs*bG8g-d29y\r\nbGQ=!\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGk_=\r\n--b--\r\n";
        for keep in [false, true] {
            let info = parse(msg, keep);
            assert_eq!(info.parts[0].size, 11);
            assert_eq!(info.parts[0].sha256, sha256_hex(b"hello world"));
            assert_eq!(info.parts[1].text.as_deref(), Some("hi"));
            if keep {
                assert_eq!(info.parts[0].body, b"hello world");
            }
            let found: Vec<(&str, &str)> = info
                .anomalies
                .iter()
                .map(|a| (a.name(), a.detail.as_str()))
                .collect();
            assert_eq!(
                found,
                [
                    (
                        "base64-stray-characters",
                        "part 1: 3 characters outside the base64 alphabet ignored"
                    ),
                    (
                        "base64-stray-characters",
                        "part 2: 1 character outside the base64 alphabet ignored"
                    ),
                ]
            );
        }
    }

    /// A message/rfc822 part labelled base64 (RFC 2046 5.2.1 allows only 7bit, 8bit and
    /// binary) is decoded, descended into, and flagged.
    #[test]
    fn an_encoded_message_part_is_opened_and_flagged() {
        use base64::Engine;
        let inner = b"Subject: hidden\r\nContent-Type: application/x-msdownload; name=evil.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVo=\r\n";
        let encoded = base64::engine::general_purpose::STANDARD.encode(inner);
        let msg = format!(
            "Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
        );
        let info = parse(msg.as_bytes(), false);
        let paths: Vec<(&str, &str)> = info
            .parts
            .iter()
            .map(|p| (p.path.as_str(), p.content_type.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("1", "text/plain"),
                ("2", "message/rfc822"),
                ("2.1", "application/x-msdownload")
            ]
        );
        assert_eq!(info.parts[2].sha256, sha256_hex(b"MZ"));
        let found: Vec<(&str, &str)> = info
            .anomalies
            .iter()
            .map(|a| (a.name(), a.detail.as_str()))
            .collect();
        assert_eq!(
            found,
            [(
                "encoded-message-part",
                "part 2: message/rfc822 with Content-Transfer-Encoding base64"
            )]
        );
    }

    /// RFC 2047 6.2: only the white space between adjacent encoded words goes; the
    /// sender's other spaces stay, and the raw value stays exact.
    #[test]
    fn decoded_headers_keep_the_senders_whitespace() {
        let msg = b"Subject: 4spaces    =?iso-8859-1?B?5SDpIO4g+A==?= =?iso-8859-1?Q?=FC?=     5spaces\r\n\r\n";
        let info = parse(msg, false);
        assert_eq!(
            info.headers.subject.as_deref(),
            Some("4spaces    å é î øü     5spaces")
        );
        assert_eq!(
            info.headers.raw,
            [(
                "Subject".to_string(),
                "4spaces    =?iso-8859-1?B?5SDpIO4g+A==?= =?iso-8859-1?Q?=FC?=     5spaces"
                    .to_string()
            )]
        );
        // Folded between adjacent words: the fold is white space between them too.
        let msg = b"Subject: =?utf-8?Q?a?=\r\n  =?utf-8?Q?b?=  c  =?utf-8?Q?d?=\r\n\r\n";
        assert_eq!(
            parse(msg, false).headers.subject.as_deref(),
            Some("ab  c  d")
        );
        assert_eq!(
            decode_words("x  =?utf-8?Q?a?=  =?utf-8?Q?b?=  y"),
            "x  ab  y"
        );
    }

    /// Counts an attacker controls (parts, header fields, addresses, anomalies) are listed up
    /// to a limit, then counted and reported once.
    mod bounds {
        use super::super::*;

        /// The defaults (the tests need counts well past them).
        const B: Bounds = Bounds {
            max_parts: 10_000,
            max_depth: 32,
            max_headers: 500,
            max_addresses: 1000,
            max_anomalies_per_name: 20,
        };

        #[test]
        fn the_defaults_are_the_limits_defaults() {
            assert_eq!(Bounds::default(), B);
        }

        fn details<'a>(info: &'a MimeInfo, name: &str) -> Vec<&'a str> {
            info.anomalies
                .iter()
                .filter(|a| a.name() == name)
                .map(|a| a.detail.as_str())
                .collect()
        }

        #[test]
        fn parts_past_the_limit_are_counted_not_listed() {
            let mut msg =
                b"Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
            for i in 0..20_000 {
                msg.extend_from_slice(
                    format!("--b\r\nContent-Type: text/plain\r\n\r\n{i}\r\n").as_bytes(),
                );
            }
            msg.extend_from_slice(b"--b--\r\n");
            let info = parse(&msg, false);
            // The root container and the first leaves are listed, in order.
            assert_eq!(info.tree.len(), B.max_parts);
            assert_eq!(info.parts.len(), B.max_parts - 1);
            assert_eq!(info.parts.last().map(|p| p.path.as_str()), Some("9999"));
            let over = details(&info, "too-many-parts");
            assert_eq!(over.len(), 1, "{:?}", info.anomalies);
            assert!(
                over[0].starts_with(&format!("{} more ", 20_001 - B.max_parts)),
                "{}",
                over[0]
            );
        }

        #[test]
        fn a_header_block_without_end_gives_bounded_anomalies() {
            let mut msg = b"Subject: forever\r\n".to_vec();
            for _ in 0..100_000 {
                msg.extend_from_slice(b"X\r\n");
            }
            let info = parse(&msg, false);
            assert_eq!(
                details(&info, "header-without-colon").len(),
                B.max_anomalies_per_name
            );
            let over = details(&info, "too-many-anomalies");
            assert_eq!(
                over.len(),
                1,
                "{:?}",
                &info.anomalies[B.max_anomalies_per_name..]
            );
            assert!(
                over[0].starts_with(&format!(
                    "{} more header-without-colon",
                    100_000 - B.max_anomalies_per_name
                )),
                "{}",
                over[0]
            );
            assert!(
                info.anomalies.len() <= B.max_anomalies_per_name + 2,
                "{:?}",
                info.anomalies
            );
        }

        #[test]
        fn anomalies_are_capped_per_name() {
            // Containers nested down to the depth limit, then 100 leaves one level too deep.
            let mut msg =
                b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n".to_vec();
            for i in 1..=B.max_depth {
                msg.extend_from_slice(
                    format!(
                        "--b{}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n",
                        i - 1
                    )
                    .as_bytes(),
                );
            }
            for _ in 0..100 {
                msg.extend_from_slice(format!("--b{}\r\n\r\nleaf\r\n", B.max_depth).as_bytes());
            }
            for i in (0..=B.max_depth).rev() {
                msg.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
            }
            // And 30 leaves with invalid base64.
            let mut outer =
                b"Subject: x\r\nContent-Type: multipart/mixed; boundary=top\r\n\r\n".to_vec();
            for _ in 0..30 {
                outer.extend_from_slice(
                    b"--top\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n",
                );
            }
            outer.extend_from_slice(b"--top--\r\n");
            let info = parse(&msg, false);
            assert_eq!(
                details(&info, "nesting-too-deep").len(),
                B.max_anomalies_per_name,
                "{:?}",
                info.anomalies
            );
            assert_eq!(
                details(&info, "too-many-anomalies"),
                [format!(
                    "{} more nesting-too-deep (first {} listed)",
                    100 - B.max_anomalies_per_name,
                    B.max_anomalies_per_name
                )]
            );
            let info = parse(&outer, false);
            assert_eq!(
                details(&info, "invalid-base64").len(),
                B.max_anomalies_per_name
            );
            assert_eq!(
                details(&info, "too-many-anomalies"),
                [format!(
                    "{} more invalid-base64 (first {} listed)",
                    30 - B.max_anomalies_per_name,
                    B.max_anomalies_per_name
                )]
            );
            // Every part is still listed and hashed.
            assert_eq!(info.parts.len(), 30);
        }

        #[test]
        fn limit_reports_are_kept_whatever_the_anomaly_cap() {
            let msg = b"To: a@x, b@x, c@x\r\nCc: d@x, e@x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b--\r\n";
            let bounds = Bounds {
                max_parts: 2,
                max_headers: 1,
                max_addresses: 1,
                max_anomalies_per_name: 0,
                ..B
            };
            let info = parse_bounded(msg, false, &bounds);
            let names: Vec<&str> = info.anomalies.iter().map(|a| a.name()).collect();
            assert_eq!(
                names,
                [
                    "too-many-addresses",
                    "too-many-addresses",
                    "too-many-headers",
                    "too-many-parts"
                ]
            );
            assert_eq!(
                info.anomalies[1].detail,
                "1 more addresses in Cc not listed (limit 1)"
            );
        }

        #[test]
        fn header_fields_past_the_limit_are_counted() {
            let mut msg = Vec::new();
            for i in 0..1200 {
                msg.extend_from_slice(format!("Received: from h{i}\r\n").as_bytes());
            }
            msg.extend_from_slice(b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nbody\r\n");
            let info = parse(&msg, false);
            assert_eq!(info.headers.raw.len(), B.max_headers);
            assert_eq!(info.headers.received.len(), B.max_headers);
            // A field past the limit is still read.
            assert!(info.headers.date.is_some());
            assert_eq!(
                details(&info, "too-many-headers"),
                [format!(
                    "{} more header fields not listed (limit {})",
                    1201 - B.max_headers,
                    B.max_headers
                )]
            );
        }

        #[test]
        fn addresses_past_the_limit_are_counted() {
            let mut msg = b"To: ".to_vec();
            for i in 0..2500 {
                msg.extend_from_slice(format!("u{i}@example.test,\r\n ").as_bytes());
            }
            msg.extend_from_slice(b"last@example.test\r\nSubject: x\r\n\r\nbody\r\n");
            let info = parse(&msg, false);
            let to = info.headers.to.as_deref().unwrap_or_default();
            assert_eq!(to.split(", ").count(), B.max_addresses);
            assert_eq!(
                details(&info, "too-many-addresses"),
                [format!(
                    "{} more addresses in To not listed (limit {})",
                    2501 - B.max_addresses,
                    B.max_addresses
                )]
            );
        }
    }

    proptest::proptest! {
        /// The windowed search finds the same first long line as looking at every line.
        #[test]
        fn first_long_line_is_the_first_long_line(
            lines in proptest::collection::vec((0usize..30, proptest::prelude::any::<u8>()), 0..40),
            limit in 1usize..12,
        ) {
            let mut bytes = Vec::new();
            for (len, end) in &lines {
                bytes.extend(std::iter::repeat_n(b'x', *len));
                match end % 4 {
                    0 => bytes.extend_from_slice(b"\r\n"),
                    1 => bytes.push(b'\n'),
                    2 => bytes.push(b'\r'),
                    _ => {}
                }
            }
            let simple = bytes
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l).len())
                .enumerate()
                .find(|(_, len)| *len > limit)
                .map(|(n, len)| (n + 1, len));
            proptest::prop_assert_eq!(first_long_line(&bytes, limit), simple);
        }
    }

    mod base64_paths {
        use super::super::*;
        use base64::Engine;
        use proptest::prelude::*;

        /// Base64 as encoders write it, and as they should not: any line length, LF or
        /// CRLF, white space, missing or inner padding, stray characters.
        fn encoded() -> impl Strategy<Value = Vec<u8>> {
            (
                proptest::collection::vec(any::<u8>(), 0..5000),
                prop_oneof![Just(76usize), Just(64), Just(72), 1usize..200],
                any::<bool>(),
                proptest::collection::vec(
                    (
                        any::<u16>(),
                        prop_oneof![Just(b' '), Just(b'='), Just(b'\n'), Just(b'*'), Just(b'\r')],
                    ),
                    0..3,
                ),
                any::<bool>(),
            )
                .prop_map(|(data, width, crlf, damage, strip_padding)| {
                    let mut text = base64::engine::general_purpose::STANDARD.encode(&data);
                    if strip_padding {
                        text = text.trim_end_matches('=').to_string();
                    }
                    let mut out = Vec::new();
                    for line in text.as_bytes().chunks(width) {
                        out.extend_from_slice(line);
                        out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                    }
                    for (at, byte) in damage {
                        if !out.is_empty() {
                            let at = at as usize % out.len();
                            out.insert(at, byte);
                        }
                    }
                    out
                })
        }

        proptest! {
            /// The SIMD fast path never changes a result: it agrees with mail-parser's
            /// decoder on every input, valid or not, and hashing agrees with decoding.
            #[test]
            fn fast_base64_agrees_with_mail_parser(raw in encoded()) {
                let reference = base64_decode(&raw);
                prop_assert_eq!(decode_base64(&raw), reference.clone());
                prop_assert_eq!(
                    hash_base64(&raw, &mut Paired::new(&[])),
                    reference.map(|d| (d.len() as u64, sha256_hex(&d)))
                );
            }
        }
    }

    /// Random MIME trees (multipart nesting, message/rfc822, base64, quoted-printable and
    /// 7-bit leaves, preambles and epilogues): every leaf comes back with its section number
    /// and exactly the bytes that were encoded, and nothing is flagged.
    /// Every string of `a`, CR and LF up to 11 bytes, at limits 0-4, against splitting the
    /// lines; and the edges at RFC 5322's 998.
    #[test]
    fn first_long_line_on_every_short_string() {
        fn naive(b: &[u8], limit: usize) -> Option<(usize, usize)> {
            for (i, line) in b.split(|&c| c == b'\n').enumerate() {
                let l = line.strip_suffix(b"\r").unwrap_or(line).len();
                if l > limit {
                    return Some((i + 1, l));
                }
            }
            None
        }
        let alpha = [b'a', b'\r', b'\n'];
        for len in 0..=11usize {
            let total = 3usize.pow(len as u32);
            for mut k in 0..total {
                let mut v = Vec::with_capacity(len);
                for _ in 0..len {
                    v.push(alpha[k % 3]);
                    k /= 3;
                }
                for limit in 0..5 {
                    assert_eq!(
                        first_long_line(&v, limit),
                        naive(&v, limit),
                        "{:?} {limit}",
                        String::from_utf8_lossy(&v)
                    );
                }
            }
        }
        let mut v = vec![b'x'; 998];
        v.extend_from_slice(b"\r\n");
        assert_eq!(first_long_line(&v, 998), None);
        let mut v = vec![b'x'; 999];
        v.extend_from_slice(b"\n");
        assert_eq!(first_long_line(&v, 998), Some((1, 999)));
        let v = vec![b'x'; 999];
        assert_eq!(first_long_line(&v, 998), Some((1, 999)));
        let mut v = vec![b'x'; 998];
        v.push(b'\r');
        assert_eq!(first_long_line(&v, 998), None);
    }

    /// The fast base64 path against mail-parser's on inputs at its edges: padding across
    /// lines, empty and blank lines, a last line without CRLF, quads split over lines.
    mod base64_edges {
        use super::super::*;
        use proptest::prelude::*;
        #[test]
        fn edges() {
            for raw in [
                &b"aGk=\r\n\r\n"[..],
                b"aGVs\r\nbG8=",
                b"aGVsbA\r\n==\r\n",
                b"aG\r\nVs\r\nbG8=",
                b" \r\n",
                b"aGVs\r\n \r\n",
                b"aGk=\r\naGk=\r\n",
                b"aG\r\nk=aGk=\r\n",
                b"A===",
                b"aGl=\r\n",
                b"aGk\r\n=\r\n",
                b"aGk\r\n=\r\n\r\n",
                b"aGVs\r\nbG8\r\n",
                b"\r\n\r\naGVs",
                b"aGVs\r\r\nbG8=",
                b"aGVs\nbG8=\r\n",
                b"aGVsbG8=\r\n",
                b"aGVsbG8\r\n=",
                b"aG=\r\n=\r\n",
                b"aG==\r\n\t\r\n",
                b"====\r\n",
                b"aGVs\r\na\nbc\r\n",
            ] {
                check_base64_paths(raw);
            }
        }
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(5000))]
            #[test]
            fn small_alphabet(raw in proptest::collection::vec(prop_oneof![
                Just(b'A'), Just(b'Q'), Just(b'g'), Just(b'/'), Just(b'='), Just(b'\r'), Just(b'\n'), Just(b' '), Just(b'\t')
            ], 0..40)) {
                check_base64_paths(&raw);
            }
        }
    }

    mod trees {
        use super::super::*;
        use crate::synth::Rng;
        use base64::Engine;
        use proptest::prelude::*;

        enum Node {
            Leaf {
                encoding: u64,
                data: Vec<u8>,
            },
            Multi {
                subtype: &'static str,
                boundary: String,
                preamble: bool,
                kids: Vec<Node>,
            },
            Message(Box<Node>),
        }

        fn generate(rng: &mut Rng, depth: usize, counter: &mut u32) -> Node {
            match rng.below(if depth >= 4 { 1 } else { 4 }) {
                1 | 2 => {
                    *counter += 1;
                    let kids = (0..1 + rng.below(3))
                        .map(|_| generate(rng, depth + 1, counter))
                        .collect();
                    Node::Multi {
                        subtype: ["mixed", "alternative", "related"][rng.below(3) as usize],
                        boundary: format!("=_b{:04}_{:08x}", *counter, rng.next_u64() as u32),
                        preamble: rng.below(2) == 0,
                        kids,
                    }
                }
                3 => Node::Message(Box::new(generate(rng, depth + 1, counter))),
                _ => {
                    let encoding = rng.below(3);
                    let cap = if rng.below(4) == 0 { 20_000 } else { 300 };
                    let len = rng.below(cap) as usize;
                    let data = if encoding == 2 {
                        let alphabet = b"abcXYZ019 .,;:!?";
                        let mut text: Vec<u8> = (0..len)
                            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                            .collect();
                        for i in (70..text.len()).step_by(71) {
                            text[i - 1] = b'\r';
                            text[i] = b'\n';
                        }
                        text
                    } else {
                        let mut d = vec![0; len];
                        rng.fill(&mut d);
                        d
                    };
                    Node::Leaf { encoding, data }
                }
            }
        }

        fn quoted_printable(data: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut column = 0;
            for &b in data {
                if column >= 70 {
                    out.extend_from_slice(b"=\r\n");
                    column = 0;
                }
                if b.is_ascii_alphanumeric() {
                    out.push(b);
                    column += 1;
                } else {
                    out.extend_from_slice(format!("={b:02X}").as_bytes());
                    column += 3;
                }
            }
            out
        }

        fn render(node: &Node, out: &mut Vec<u8>) {
            match node {
                Node::Leaf { encoding: 0, data } => {
                    out.extend_from_slice(b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
                    let text = base64::engine::general_purpose::STANDARD.encode(data);
                    for line in text.as_bytes().chunks(76) {
                        out.extend_from_slice(line);
                        out.extend_from_slice(b"\r\n");
                    }
                }
                Node::Leaf { encoding: 1, data } => {
                    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n");
                    out.extend_from_slice(&quoted_printable(data));
                }
                Node::Leaf { data, .. } => {
                    out.extend_from_slice(b"Content-Type: text/plain\r\n\r\n");
                    out.extend_from_slice(data);
                }
                Node::Multi {
                    subtype,
                    boundary,
                    preamble,
                    kids,
                } => {
                    out.extend_from_slice(
                        format!(
                            "Content-Type: multipart/{subtype};\r\n boundary=\"{boundary}\"\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    if *preamble {
                        out.extend_from_slice(b"This is a multi-part message in MIME format.\r\n");
                    }
                    for kid in kids {
                        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                        render(kid, out);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
                    if *preamble {
                        out.extend_from_slice(b"epilogue\r\n");
                    }
                }
                Node::Message(inner) => {
                    out.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
                    out.extend_from_slice(&message(inner));
                }
            }
        }

        fn message(root: &Node) -> Vec<u8> {
            let mut out = b"Subject: test\r\nMIME-Version: 1.0\r\n".to_vec();
            render(root, &mut out);
            out
        }

        fn expect(node: &Node, path: String, out: &mut Vec<(String, Vec<u8>)>) {
            match node {
                Node::Leaf { data, .. } => out.push((path, data.clone())),
                Node::Multi { kids, .. } => {
                    for (i, kid) in kids.iter().enumerate() {
                        expect(kid, format!("{path}.{}", i + 1), out);
                    }
                }
                Node::Message(inner) => {
                    out.push((path.clone(), message(inner)));
                    expect_message(inner, Some(&path), out);
                }
            }
        }

        fn expect_message(root: &Node, base: Option<&str>, out: &mut Vec<(String, Vec<u8>)>) {
            let join = |i: usize| base.map_or(i.to_string(), |b| format!("{b}.{i}"));
            match root {
                Node::Multi { kids, .. } => {
                    for (i, kid) in kids.iter().enumerate() {
                        expect(kid, join(i + 1), out);
                    }
                }
                other => expect(other, join(1), out),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            #[test]
            fn every_leaf_comes_back_exactly(seed in any::<u64>()) {
                let mut rng = Rng::new(seed);
                let root = generate(&mut rng, 0, &mut 0);
                let msg = message(&root);
                let mut want = Vec::new();
                expect_message(&root, None, &mut want);
                let info = parse(&msg, true);
                prop_assert!(info.anomalies.is_empty(), "{:?}", info.anomalies);
                let got: Vec<(String, Vec<u8>)> =
                    info.parts.iter().map(|p| (p.path.clone(), p.body.clone())).collect();
                prop_assert_eq!(got.len(), want.len());
                for ((gp, gb), (wp, wb)) in got.iter().zip(&want) {
                    prop_assert_eq!(gp, wp);
                    prop_assert!(gb == wb, "part {} differs ({} vs {} bytes)", gp, gb.len(), wb.len());
                }
                for p in &info.parts {
                    prop_assert_eq!(p.size, p.body.len() as u64);
                    prop_assert_eq!(&p.sha256, &sha256_hex(&p.body));
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]
            #[test]
            /// Lock-step hashing gives every part the digest of exactly its bytes, and the
            /// message the digest of all of them.
            fn parse_hashed_digests_are_one_stream_digests(seed in any::<u64>()) {
                let mut rng = Rng::new(seed);
                let root = generate(&mut rng, 0, &mut 0);
                let msg = message(&root);
                let kept = parse(&msg, true);
                let (hashed, whole) = parse_hashed(&msg, false, &Bounds::default());
                prop_assert_eq!(whole, sha256_hex(&msg));
                prop_assert_eq!(kept.parts.len(), hashed.parts.len());
                for (a, b) in kept.parts.iter().zip(&hashed.parts) {
                    prop_assert_eq!(&a.sha256, &sha256_hex(&a.body));
                    prop_assert_eq!(&a.sha256, &b.sha256, "part {}", a.path);
                    prop_assert_eq!(a.size, b.size);
                }
            }
        }
    }
}
