//! MIME layer: raw message bytes → an owned, serialisable summary ([`MimeInfo`]).
//!
//! Parsing is mail-parser's (RFC 5322 headers, RFC 2047 encoded words in any charset,
//! RFC 2231 parameters, the part tree); this module puts our own model on top: decoded
//! headers beside their raw values, the leaf parts depth-first with IMAP section numbers and
//! the size and SHA-256 of their *transfer-decoded* bytes (base64 / quoted-printable undone,
//! charset left alone, so the hashes match the bytes of an attachment on disk), and MIME
//! anomalies as named flags. It never fails: a broken message yields what could be read.

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Parts nested deeper than this are not descended into (reported as an anomaly).
pub const MAX_DEPTH: usize = 32;
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

/// A MIME-level problem.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MimeAnomaly {
    pub name: &'static str,
    pub detail: String,
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
    pub tree: Vec<(usize, String, String)>,
    pub anomalies: Vec<MimeAnomaly>,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn address_text(a: Option<&Address<'_>>) -> Option<String> {
    let a = a?;
    let list: Vec<String> = a
        .iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

fn unfold(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes RFC 2047 encoded words in a header value (as IMAP ENVELOPE fields carry them).
pub fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let header = format!("Subject: {value}\r\n\r\n");
    MessageParser::default()
        .parse(header.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

/// Parses a message. `bytes` is the message as transferred (no transport framing);
/// `keep_bodies` keeps each leaf's decoded bytes in [`Part::body`] (for extraction).
pub fn parse(bytes: &[u8], keep_bodies: bool) -> MimeInfo {
    let mut info = MimeInfo::default();
    header_lint(bytes, &mut info.anomalies);
    let Some(msg) = MessageParser::default().parse(bytes) else {
        info.anomalies.push(MimeAnomaly {
            name: "unparseable",
            detail: "no header or body could be read".into(),
        });
        return info;
    };
    let h = &mut info.headers;
    h.from = address_text(msg.from());
    h.to = address_text(msg.to());
    h.cc = address_text(msg.cc());
    h.bcc = address_text(msg.bcc());
    h.reply_to = address_text(msg.reply_to());
    h.subject = msg.subject().map(str::to_string);
    h.message_id = msg.message_id().map(str::to_string);
    for (name, value) in msg.headers_raw() {
        let value = unfold(value);
        match name.to_ascii_lowercase().as_str() {
            "date" => h.date = Some(value.clone()),
            "in-reply-to" => h.in_reply_to = Some(value.clone()),
            "references" => h.references = Some(value.clone()),
            "user-agent" | "x-mailer" => h.user_agent = Some(value.clone()),
            "received" => h.received.push(value.clone()),
            _ => {}
        }
        if h.raw.len() < 500 {
            h.raw.push((name.to_string(), value));
        }
    }
    info.content_type = msg.root_part().content_type().map(content_type_text);
    let mut walker = Walker {
        info: &mut info,
        boundaries_ok: true,
        keep_bodies,
    };
    walker.message(&msg, None, 0);
    info
}

fn content_type_text(ct: &mail_parser::ContentType<'_>) -> String {
    match ct.subtype() {
        Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
        None => ct.ctype().to_ascii_lowercase(),
    }
}

struct Walker<'a> {
    info: &'a mut MimeInfo,
    boundaries_ok: bool,
    keep_bodies: bool,
}

impl Walker<'_> {
    fn message(&mut self, msg: &mail_parser::Message<'_>, base: Option<&str>, depth: usize) {
        let join = |i: usize| match base {
            Some(b) => format!("{b}.{i}"),
            None => i.to_string(),
        };
        let Some(root) = msg.parts.first() else {
            return;
        };
        match &root.body {
            PartType::Multipart(children) => {
                self.check_closing_boundary(msg, root);
                self.info.tree.push((
                    depth,
                    base.unwrap_or("").to_string(),
                    root.content_type()
                        .map_or("multipart/mixed".into(), content_type_text),
                ));
                for (i, child) in children.iter().enumerate() {
                    self.part(msg, *child as usize, join(i + 1), depth + 1);
                }
            }
            _ => self.part(msg, 0, join(1), depth),
        }
    }

    fn part(&mut self, msg: &mail_parser::Message<'_>, id: usize, path: String, depth: usize) {
        let Some(part) = msg.parts.get(id) else {
            return;
        };
        if depth > MAX_DEPTH {
            self.info.anomalies.push(MimeAnomaly {
                name: "nesting-too-deep",
                detail: format!("part {path} is nested deeper than {MAX_DEPTH} levels"),
            });
            return;
        }
        let content_type = part
            .content_type()
            .map_or_else(|| "text/plain".to_string(), content_type_text);
        if let PartType::Multipart(children) = &part.body {
            self.check_closing_boundary(msg, part);
            self.info.tree.push((depth, path.clone(), content_type));
            for (i, child) in children.iter().enumerate() {
                self.part(msg, *child as usize, format!("{path}.{}", i + 1), depth + 1);
            }
            return;
        }
        let transfer_encoding = part
            .content_transfer_encoding()
            .map(|e| e.trim().to_ascii_lowercase());
        let raw = msg
            .raw_message()
            .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
            .unwrap_or(&[]);
        let body: std::borrow::Cow<'_, [u8]> = match (&part.body, transfer_encoding.as_deref()) {
            (PartType::Message(inner), _) => inner.raw_message().into(),
            // mail-parser already undid the transfer encoding of non-text parts; text parts
            // are also charset-converted there, so those are decoded again from the raw bytes.
            (PartType::Binary(b) | PartType::InlineBinary(b), _) if !part.is_encoding_problem => {
                b.as_ref().into()
            }
            (_, Some("base64")) => match mail_parser::decoders::base64::base64_decode(raw) {
                Some(d) if !part.is_encoding_problem => d.into(),
                _ => {
                    self.info.anomalies.push(MimeAnomaly {
                        name: "invalid-base64",
                        detail: format!("part {path}"),
                    });
                    part.contents().into()
                }
            },
            (_, Some("quoted-printable")) => {
                match mail_parser::decoders::quoted_printable::quoted_printable_decode(raw) {
                    Some(d) if !part.is_encoding_problem => d.into(),
                    _ => {
                        self.info.anomalies.push(MimeAnomaly {
                            name: "invalid-quoted-printable",
                            detail: format!("part {path}"),
                        });
                        part.contents().into()
                    }
                }
            }
            _ => raw.into(),
        };
        let text = match &part.body {
            PartType::Text(t) | PartType::Html(t) => {
                Some(t.chars().take(PREVIEW_CHARS).collect::<String>())
            }
            _ => None,
        };
        let ct = part.content_type();
        self.info
            .tree
            .push((depth, path.clone(), content_type.clone()));
        self.info.parts.push(Part {
            path: path.clone(),
            depth,
            content_type,
            charset: ct.and_then(|c| c.attribute("charset")).map(str::to_string),
            transfer_encoding,
            disposition: part
                .content_disposition()
                .map(|d| d.ctype().to_ascii_lowercase()),
            filename: part.attachment_name().map(str::to_string),
            content_id: part.content_id().map(str::to_string),
            size: body.len() as u64,
            sha256: sha256_hex(&body),
            text,
            body: if self.keep_bodies {
                body.into_owned()
            } else {
                Vec::new()
            },
        });
        if let PartType::Message(inner) = &part.body {
            self.message(inner, Some(&path), depth + 1);
        }
    }

    fn check_closing_boundary(
        &mut self,
        msg: &mail_parser::Message<'_>,
        part: &mail_parser::MessagePart<'_>,
    ) {
        let Some(boundary) = part.content_type().and_then(|c| c.attribute("boundary")) else {
            return;
        };
        let raw = msg
            .raw_message()
            .get(part.raw_body_offset() as usize..)
            .unwrap_or(&[]);
        let close = format!("--{boundary}--");
        // The closing delimiter is normally at the very end: search backwards.
        if self.boundaries_ok && memchr::memmem::rfind(raw, close.as_bytes()).is_none() {
            self.info.anomalies.push(MimeAnomaly {
                name: "missing-closing-boundary",
                detail: format!("no {close}"),
            });
        }
    }
}

/// Checks the header block for lines without a colon and the whole message for lines
/// longer than RFC 5322's 998 characters.
fn header_lint(bytes: &[u8], anomalies: &mut Vec<MimeAnomaly>) {
    let mut in_header = true;
    let mut reported_long = false;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    for (n, end) in ends.enumerate() {
        if start > bytes.len() {
            break;
        }
        let line = &bytes[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > 998 && !reported_long {
            reported_long = true;
            anomalies.push(MimeAnomaly {
                name: "line-too-long",
                detail: format!("line {} has {} characters (limit 998)", n + 1, line.len()),
            });
        }
        if in_header {
            if line.is_empty() {
                in_header = false;
            } else if !line.starts_with(b" ") && !line.starts_with(b"\t") && !line.contains(&b':') {
                anomalies.push(MimeAnomaly {
                    name: "header-without-colon",
                    detail: format!(
                        "header line {}: {}",
                        n + 1,
                        String::from_utf8_lossy(&line[..line.len().min(60)])
                    ),
                });
            }
        }
    }
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
        let names: Vec<&str> = info.anomalies.iter().map(|a| a.name).collect();
        assert!(names.contains(&"header-without-colon"), "{names:?}");
        assert!(names.contains(&"missing-closing-boundary"), "{names:?}");
    }
}
