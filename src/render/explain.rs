//! The teaching text of the transcript (`--explain`) and of `mailscope explain TERM`: what
//! the knowledge base ([`crate::teach`]) says of a command, a reply, a capability, a phase,
//! an anomaly or a MIME term, in English or Chinese, laid out for a terminal (wrapped to its
//! width by display columns, so Chinese wraps as well as English).

use crate::render::escape;
use crate::session::mail::MessageInfo;
use crate::session::{Anomaly, Command, Reply};
use crate::teach::{Entry, Hit, Kind, Lang, Scope, kb};
use crate::types::Protocol;
use base64::Engine;
use unicode_width::UnicodeWidthChar;

/// An entry as one paragraph: its text, then its RFC in brackets.
fn paragraph(e: &Entry, lang: Lang) -> String {
    match &e.rfc {
        Some(rfc) => format!("{} ({rfc})", e.text(lang).trim()),
        None => e.text(lang).trim().to_string(),
    }
}

/// What a command does.
pub fn command(protocol: Protocol, c: &Command, lang: Lang) -> Option<String> {
    kb().verb(protocol, &c.verb).map(|e| paragraph(e, lang))
}

/// What a reply means: its code (SMTP) or status (POP3, IMAP), its response code when it
/// carries one (`[IN-USE]`, `[UIDVALIDITY …]`), and, for an SMTP 334, its base64 prompt
/// decoded.
pub fn reply(protocol: Protocol, r: &Reply, lang: Lang) -> Option<String> {
    let k = kb();
    let mut parts = Vec::new();
    match protocol {
        Protocol::Smtp => {
            if let Some(e) = k.reply(protocol, &r.code) {
                parts.push(paragraph(e, lang));
            }
            if r.code == "334"
                && let Some(prompt) = sasl_prompt(r)
            {
                parts.push(match lang {
                    Lang::En => format!("the prompt decoded from base64: {prompt}"),
                    Lang::Zh => format!("提示语经 base64 解码为：{prompt}"),
                });
            }
        }
        Protocol::Pop3 | Protocol::Imap => {
            // An untagged IMAP response is explained by its name (`* 3 EXISTS`, `* FLAGS`).
            let name = match (protocol, r.code.as_str()) {
                (Protocol::Imap, "*") => untagged(r).unwrap_or("*"),
                (_, code) => code,
            };
            if let Some(e) = k.response(protocol, name) {
                parts.push(paragraph(e, lang));
            }
            if let Some(code) = &r.enhanced {
                let word = code.split_whitespace().next().unwrap_or("");
                if let Some(e) = k.response_code(protocol, word) {
                    // Most entries begin with the code itself (`[UNSEEN 12]: …`).
                    let text = paragraph(e, lang);
                    match text.starts_with('[') {
                        true => parts.push(text),
                        false => parts.push(format!("[{word}] {text}")),
                    }
                }
            }
        }
        _ => {}
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The name of an untagged IMAP response: `* 3 EXISTS` → `EXISTS`, `* CAPABILITY …` →
/// `CAPABILITY`, `* OK […]` → `OK`.
fn untagged(r: &Reply) -> Option<&str> {
    let line = r.lines.first()?;
    let mut words = line.split_whitespace().skip(1);
    let first = words.next()?;
    if first.bytes().all(|b| b.is_ascii_digit()) {
        words.next()
    } else {
        Some(first)
    }
}

/// A client's SASL response line: base64, shown decoded when it is printable text (a
/// user name; a password was redacted before).
pub fn sasl_response(line: &str, lang: Lang) -> Option<String> {
    let text = line.trim();
    if text.is_empty() || text.starts_with('<') || text == "*" {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    if s.is_empty() || s.chars().any(crate::render::is_unsafe) {
        return None;
    }
    Some(match lang {
        Lang::En => format!(
            "the client's SASL answer, base64; decoded: \"{}\"",
            escape(&s)
        ),
        Lang::Zh => format!(
            "客户端的 SASL 回答，base64 编码；解码为：\"{}\"",
            escape(&s)
        ),
    })
}

/// An SMTP 334's prompt, base64-decoded, when it is printable text (`Username:`).
fn sasl_prompt(r: &Reply) -> Option<String> {
    let text = r.lines.first()?.get(4..)?.trim();
    if text.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    (!s.is_empty() && !s.chars().any(crate::render::is_unsafe))
        .then(|| format!("\"{}\"", escape(&s)))
}

/// What an advertised capability is: an EHLO reply line (`250-PIPELINING`), a POP3 CAPA
/// line (`SASL PLAIN`). Its first sentence only: a list of them is read at a glance.
pub fn capability(protocol: Protocol, line: &str, lang: Lang) -> Option<String> {
    let word = match protocol {
        Protocol::Smtp => line.get(4..)?.split_whitespace().next()?,
        _ => line.split_whitespace().next()?,
    };
    let e = kb().capability(protocol, word)?;
    Some(first_sentence(e.text(lang)).to_string())
}

/// The capabilities an IMAP line lists (`* CAPABILITY IMAP4rev1 IDLE …`, or a greeting's
/// `[CAPABILITY …]`), each with the first sentence of what it is: the known ones only.
pub fn imap_capabilities(line: &str, lang: Lang) -> Vec<String> {
    let list = if let Some(rest) = line.strip_prefix("* CAPABILITY ") {
        rest
    } else if let Some(at) = line.find("[CAPABILITY ") {
        let rest = &line[at + "[CAPABILITY ".len()..];
        rest.split(']').next().unwrap_or("")
    } else {
        return Vec::new();
    };
    let k = kb();
    list.split_whitespace()
        .take(200)
        .filter_map(|word| {
            let e = k.capability(Protocol::Imap, word)?;
            Some(format!(
                "{} — {}",
                escape(word),
                first_sentence(e.text(lang))
            ))
        })
        .collect()
}

/// The text up to its first full stop (`.`, `。`), or all of it.
fn first_sentence(text: &str) -> &str {
    let text = text.trim();
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        match c {
            '。' => return &text[..end],
            // Not the dot of an abbreviation (`e.g.`, `i.e.`, `etc.`, `vs.`).
            '.' if (text[end..].starts_with(' ') || end == text.len())
                && !["e.g", "i.e", "etc", "vs"]
                    .iter()
                    .any(|a| text[..i].ends_with(a)) =>
            {
                return &text[..end];
            }
            _ => {}
        }
    }
    text
}

/// What a protocol phase is.
pub fn phase(protocol: Protocol, name: &str, lang: Lang) -> Option<String> {
    kb().phase(protocol, name).map(|e| paragraph(e, lang))
}

/// What an anomaly means, and why it matters.
pub fn anomaly(a: &Anomaly, lang: Lang) -> Option<String> {
    kb().anomaly(a.kind).map(|e| paragraph(e, lang))
}

/// The MIME ideas a message shows, each explained once: its transfer encodings, encoded
/// words (the raw header beside its decoded text), multipart and its boundary, attachments
/// and inline parts.
pub fn message(m: &MessageInfo, lang: Lang) -> Vec<String> {
    let k = kb();
    let mut terms: Vec<String> = Vec::new();
    let mut add = |term: &str, extra: Option<String>| {
        if terms.iter().any(|t| t.starts_with(&format!("{term}: "))) {
            return;
        }
        if let Some(e) = k.term(term) {
            let mut text = format!("{term}: {}", paragraph(e, lang));
            if let Some(x) = extra {
                text.push_str(&format!(" — {x}"));
            }
            terms.push(text);
        }
    };
    for (name, value) in &m.mime.headers.raw {
        if value.contains("=?") {
            let decoded = match name.to_ascii_lowercase().as_str() {
                "subject" => m.mime.headers.subject.clone(),
                "from" => m.mime.headers.from.clone(),
                "to" => m.mime.headers.to.clone(),
                _ => None,
            };
            let shown = match decoded {
                Some(d) => format!("{}: {} = {}", escape(name), escape(value), escape(&d)),
                None => format!("{}: {}", escape(name), escape(value)),
            };
            add("encoded-word", Some(shown));
        }
    }
    let top = m.mime.content_type.as_deref().unwrap_or("");
    let containers = m.mime.parts.iter().map(|p| p.content_type.as_str());
    for ct in std::iter::once(top).chain(containers) {
        if ct.to_ascii_lowercase().starts_with("multipart/") {
            add("multipart", None);
            add(&ct.to_ascii_lowercase(), None);
            add("boundary", None);
        }
    }
    for p in &m.mime.parts {
        if let Some(enc) = &p.transfer_encoding {
            add(&enc.to_ascii_lowercase(), None);
        }
        match p.disposition.as_deref() {
            Some(d) if d.eq_ignore_ascii_case("attachment") => add("attachment", None),
            Some(d) if d.eq_ignore_ascii_case("inline") => add("inline", None),
            _ => {}
        }
        if p.content_type.eq_ignore_ascii_case("message/rfc822") {
            add("message/rfc822", None);
        }
    }
    terms
}

/// `text` in lines of at most `width` columns (by display width: a Chinese character takes
/// two), broken at spaces where there are any, else between characters.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    // An RFC reference (`RFC 5321 §4.1.1.3`) stays on one line.
    const KEEP: char = '\u{a0}';
    let text = text.replace("RFC ", "RFC\u{a0}").replace(" §", "\u{a0}§");
    let lines = wrap_at_spaces(&text, width);
    lines.into_iter().map(|l| l.replace(KEEP, " ")).collect()
}

fn wrap_at_spaces(text: &str, width: usize) -> Vec<String> {
    let width = width.max(10);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    // Where the line may break: after its last space, or before its current run of ASCII
    // letters and digits (`250`, `RCPT`), as a byte index in `line` and the width before it.
    let mut last_space: Option<(usize, usize)> = None;
    let mut word: Option<(usize, usize)> = None;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width && !line.is_empty() && c != ' ' {
            // At the last space, unless it is far back (Chinese has none between words:
            // breaking there would leave a short line); else before the word being cut, if
            // it does not fill the line; else here.
            let at = match (last_space, word) {
                (Some((at, before)), _) if used - before <= width / 3 => Some((at + 1, before + 1)),
                (_, Some((at, before))) if at > 0 && narrow(c) => Some((at, before)),
                // Chinese closing punctuation never starts a line: its character goes
                // down with it.
                _ if CLOSING.contains(c) => line
                    .char_indices()
                    .last()
                    .filter(|&(at, _)| at > 0)
                    .map(|(at, prev)| (at, used - prev.width().unwrap_or(0))),
                _ => None,
            };
            match at {
                Some((at, before)) => {
                    let rest = line.split_off(at);
                    lines.push(line.trim_end().to_string());
                    line = rest;
                    used -= before;
                }
                None => {
                    lines.push(line.trim_end().to_string());
                    line = String::new();
                    used = 0;
                }
            }
            last_space = None;
            word = word.filter(|_| !line.is_empty()).map(|_| (0, 0));
        }
        if c == ' ' && line.is_empty() {
            continue;
        }
        if c == ' ' {
            last_space = Some((line.len(), used));
        }
        if narrow(c) {
            word.get_or_insert((line.len(), used));
        } else {
            word = None;
        }
        line.push(c);
        used += w;
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// Punctuation that closes Chinese text: it never begins a line.
const CLOSING: &str = "，。、；：？！）」』”’》〉】";

/// A character of a Latin "word" (a keyword, a number, `[SYS/PERM]`, `Content-Type`,
/// `=?UTF-8?B?…?=`): not a space, one column wide. Such a run is not cut in two.
fn narrow(c: char) -> bool {
    !c.is_whitespace() && c != '\u{a0}' && c.width() == Some(1)
}

/// The name of what a [`Hit`] is, in `lang`: `SMTP command`, `POP3 响应码`.
fn what(hit: &Hit<'_>, lang: Lang) -> String {
    let scope = match hit.scope.protocol() {
        Some(p) => p.as_str().to_ascii_uppercase(),
        None => match hit.scope {
            Scope::Mime => "MIME".into(),
            _ => String::new(),
        },
    };
    let kind = match (hit.kind, lang) {
        (Kind::Verb, Lang::En) => "command",
        (Kind::Verb, Lang::Zh) => "命令",
        (Kind::Reply, Lang::En) => "reply code",
        (Kind::Reply, Lang::Zh) => "应答码",
        (Kind::Capability, Lang::En) => "capability",
        (Kind::Capability, Lang::Zh) => "扩展能力",
        (Kind::ResponseCode, Lang::En) => "response code",
        (Kind::ResponseCode, Lang::Zh) => "响应码",
        (Kind::Response, Lang::En) => "response",
        (Kind::Response, Lang::Zh) => "响应",
        (Kind::Phase, Lang::En) => "phase",
        (Kind::Phase, Lang::Zh) => "阶段",
        (Kind::Anomaly, Lang::En) => "anomaly",
        (Kind::Anomaly, Lang::Zh) => "异常",
        (Kind::Term, Lang::En) => "term",
        (Kind::Term, Lang::Zh) => "术语",
    };
    match (scope.is_empty(), lang) {
        (true, _) => kind.to_string(),
        (false, Lang::En) => format!("{scope} {kind}"),
        (false, Lang::Zh) => format!("{scope} {kind}"),
    }
}

/// The mail flow, drawn (`mailscope explain flow`), within 80 columns.
pub fn flow_picture(lang: Lang) -> String {
    let (top, bottom) = match lang {
        Lang::En => (
            "  sender's MUA ──SMTP 587 (submission)──▶ MSA/MTA ──SMTP 25 (relay, MX)──▶ MTA",
            "  recipient's MUA ◀──POP3 110/995 · IMAP 143/993── mailbox ◀── MDA ◀",
        ),
        Lang::Zh => (
            "  发件人的 MUA ──SMTP 587（提交）──▶ MSA/MTA ──SMTP 25（中继，MX）──▶ MTA",
            "  收件人的 MUA ◀──POP3 110/995 · IMAP 143/993── 邮箱 ◀── MDA ◀",
        ),
    };
    let columns = |s: &str| s.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>();
    // The corner under the last MTA's middle letter.
    let corner = columns(top) - 2;
    let pad = corner.saturating_sub(columns(bottom));
    format!(
        "{top}\n{}│\n{bottom}{}┘",
        " ".repeat(corner),
        "─".repeat(pad)
    )
}

/// What `mailscope explain TERM` prints: every entry `term` names, each as a heading and
/// its text wrapped to `width`; `Err` with the nearest known terms when there is none.
pub fn lookup(term: &str, lang: Lang, width: usize) -> Result<String, Vec<String>> {
    let k = kb();
    let hits = k.search(term);
    if hits.is_empty() {
        return Err(k.nearest(term, 5).into_iter().map(String::from).collect());
    }
    let mut out = String::new();
    for (n, hit) in hits.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{} — {}", escape(hit.key), what(hit, lang)));
        if let Some(rfc) = &hit.entry.rfc {
            out.push_str(&format!(" ({rfc})"));
        }
        out.push('\n');
        for line in wrap(hit.entry.text(lang).trim(), width.saturating_sub(2)) {
            out.push_str(&format!("  {line}\n"));
        }
        if hit.kind == Kind::Term && hit.key.eq_ignore_ascii_case("flow") {
            out.push('\n');
            out.push_str(&flow_picture(lang));
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_english_at_spaces_and_chinese_between_characters() {
        let en = wrap("names one recipient; repeat it for each one of them", 20);
        assert!(en.iter().all(|l| l.chars().count() <= 20), "{en:?}");
        assert_eq!(
            en.join(" "),
            "names one recipient; repeat it for each one of them"
        );
        let zh = wrap(
            "指定信封中的一个收件人；有几个收件人就发送几次 RCPT TO。",
            20,
        );
        for l in &zh {
            let w: usize = l.chars().map(|c| c.width().unwrap_or(0)).sum();
            assert!(w <= 20, "{l} is {w} columns");
        }
        assert!(zh.concat().contains("RCPT"));
        // A number or keyword inside Chinese text is not cut in two.
        let t = wrap(
            "数据阶段：DATA 得到 354 后，传送邮件本身（首部、空行、主体），以只有一个点的行结束；250 表示服务器已收下。",
            40,
        );
        assert!(
            t.iter().all(|l| !l.ends_with('2') && !l.starts_with("50")),
            "{t:?}"
        );
        assert_eq!(
            t.concat().replace(' ', ""),
            "数据阶段：DATA得到354后，传送邮件本身（首部、空行、主体），以只有一个点的行结束；250表示服务器已收下。"
        );
        // Neither is a bracketed code, a header name or an RFC reference, and no line
        // starts with `，`.
        let r = wrap(
            "回应 [SYS/PERM] 表示永久错误，Content-Type 首部说明类型，而且要这样写。",
            14,
        );
        assert!(r.iter().any(|l| l.contains("[SYS/PERM]")), "{r:?}");
        assert!(r.iter().any(|l| l.contains("Content-Type")), "{r:?}");
        assert!(
            r.iter()
                .all(|l| !l.starts_with('，') && !l.starts_with('。')),
            "{r:?}"
        );
        let r = wrap("abcdefghij abcdefghij abcdefghij (RFC 5321 §4.1.1.3)", 36);
        assert!(r.iter().any(|l| l.contains("(RFC 5321 §4.1.1.3)")), "{r:?}");
    }

    #[test]
    fn the_seed_commands_are_explained_in_both_languages() {
        for verb in [
            "HELO", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "VRFY", "EXPN", "HELP", "NOOP",
        ] {
            for lang in [Lang::En, Lang::Zh] {
                let text = lookup(verb, lang, 80).unwrap_or_else(|n| panic!("{verb}: {n:?}"));
                assert!(text.starts_with(verb), "{text}");
                assert!(text.contains("RFC"), "{text}");
            }
        }
        let zh = lookup("RCPT", Lang::Zh, 80).unwrap();
        assert!(zh.contains("命令") && zh.contains("RCPT TO"), "{zh}");
    }

    #[test]
    fn the_flow_picture_fits_80_columns_in_both_languages() {
        for lang in [Lang::En, Lang::Zh] {
            let pic = flow_picture(lang);
            for line in pic.lines() {
                let w: usize = line.chars().map(|c| c.width().unwrap_or(0)).sum();
                assert!(w <= 80, "{w}: {line}");
            }
            // The corner sits under the line above it.
            let lines: Vec<&str> = pic.lines().collect();
            let col = |l: &str, c: char| {
                let i = l.find(c).unwrap();
                l[..i]
                    .chars()
                    .map(|c| c.width().unwrap_or(0))
                    .sum::<usize>()
            };
            assert_eq!(col(lines[1], '│'), col(lines[2], '┘'), "{pic}");
        }
        assert!(flow_picture(Lang::Zh).contains("收件人"));
    }

    #[test]
    fn an_unknown_term_suggests_the_nearest() {
        let near = lookup("RCTP", Lang::En, 80).unwrap_err();
        assert!(near.iter().any(|n| n == "RCPT"), "{near:?}");
    }

    #[test]
    fn a_334_prompt_is_decoded() {
        let r = Reply {
            mark: Default::default(),
            code: "334".into(),
            enhanced: None,
            lines: vec!["334 VXNlcm5hbWU6".into()],
            summary: None,
            headers: None,
            latency_ms: None,
        };
        let en = reply(Protocol::Smtp, &r, Lang::En).unwrap();
        assert!(en.contains("\"Username:\""), "{en}");
        // A prompt that decodes to control characters is not shown raw.
        let mut bad = r.clone();
        bad.lines = vec!["334 G1syShtbMko=".into()];
        assert!(
            !reply(Protocol::Smtp, &bad, Lang::En)
                .unwrap()
                .contains('\x1b')
        );
    }
}
