//! The IMAP grammar (RFC 9051 9 / RFC 3501 9 formal syntax) as nom combinators over one framed
//! logical line: atoms, numbers, quoted strings, literals (`{n}`, `{n+}`, `{n-}`, `~{n}`),
//! NIL, astrings, nstrings, parenthesised lists, sequence sets, flags, response codes and
//! FETCH item names; a tolerant reader of data items built from them; and the one-line FETCH
//! summary (UID, FLAGS, RFC822.SIZE, INTERNALDATE, ENVELOPE, BODYSTRUCTURE, and header
//! sections decoded by `mime::parse_header_block`).
//!
//! The framing layer (`imap.rs`) runs first: it cuts a direction into logical lines, text
//! pieces each ending in a literal marker, and the literals' bytes. The grammar reads the text
//! pieces joined into one [`Line`]; a marker that ends a piece stands for the framed literal,
//! whose bytes the [`Value`] borrows (never copies). Parsing is complete, not streaming:
//! framing has already made the line whole.
//!
//! Captures carry invalid IMAP too, and it must still be shown as sent: where no rule matches,
//! the reader takes a *word* (bytes up to a space, a parenthesis or the line end) instead of
//! failing. Hostile input: lists nest at most `max_depth` deep (deeper lists are skipped by a
//! counting loop and reported through [`Reader::too_deep`]), a line yields at most
//! [`MAX_VALUES`] values, every value consumes input, and nothing is sized by a number read
//! from the input.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_till, take_till1, take_while1};
use nom::character::complete::{char, line_ending, one_of, u64 as number};
use nom::combinator::{opt, recognize, verify};
use nom::multi::{separated_list0, separated_list1};
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};
use std::borrow::Cow;

type Res<'a, O> = IResult<&'a [u8], O>;

/// Values read from one line at most (a line is already bounded by `max_imap_line`).
pub const MAX_VALUES: usize = 10_000;

// ----- RFC 9051 9 rules ------------------------------------------------------------------

/// ATOM-CHAR: any CHAR except atom-specials (`(` `)` `{` SP CTL `%` `*` `"` `\` `]`).
pub fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// ASTRING-CHAR: ATOM-CHAR or `]`.
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `atom = 1*ATOM-CHAR`.
pub fn atom(i: &[u8]) -> Res<'_, &[u8]> {
    take_while1(is_atom_char).parse(i)
}

/// `nz-number`: a number other than 0 (`number` itself is nom's `u64`, which refuses
/// overflow).
pub fn nz_number(i: &[u8]) -> Res<'_, u64> {
    verify(number, |n: &u64| *n != 0).parse(i)
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, escapes undone (borrowed when there are none).
/// Laxer than the RFC where clients are: a backslash escapes any byte.
pub fn quoted(i: &[u8]) -> Res<'_, Cow<'_, [u8]>> {
    match quoted_lax(i)? {
        (rest, (s, true)) => Ok((rest, s)),
        (_, (_, false)) => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Char,
        ))),
    }
}

/// A quoted string, also when its closing quote is missing (then it runs to the line end).
/// The flag says whether it was closed.
fn quoted_lax(i: &[u8]) -> Res<'_, (Cow<'_, [u8]>, bool)> {
    let (body, _) = char('"').parse(i)?;
    let mut owned: Option<Vec<u8>> = None;
    let mut j = 0;
    let mut start = 0;
    while j < body.len() {
        match body[j] {
            b'"' => {
                let s = match owned {
                    Some(mut v) => {
                        v.extend_from_slice(&body[start..j]);
                        Cow::Owned(v)
                    }
                    None => Cow::Borrowed(&body[..j]),
                };
                return Ok((&body[j + 1..], (s, true)));
            }
            b'\r' | b'\n' => break,
            b'\\' if j + 1 < body.len() && !matches!(body[j + 1], b'\r' | b'\n') => {
                let v = owned.get_or_insert_with(Vec::new);
                v.extend_from_slice(&body[start..j]);
                v.push(body[j + 1]);
                j += 2;
                start = j;
            }
            _ => j += 1,
        }
    }
    let s = match owned {
        Some(mut v) => {
            v.extend_from_slice(&body[start..j]);
            Cow::Owned(v)
        }
        None => Cow::Borrowed(&body[..j]),
    };
    Ok((&body[j..], (s, false)))
}

/// A literal's marker up to its line end: `["~"] "{" number ["+" / "-"] "}" CRLF` (LITERAL+ /
/// LITERAL-, RFC 7888; literal8, RFC 3516). Its bytes follow in the framed line.
pub fn literal_marker(i: &[u8]) -> Res<'_, u64> {
    let (i, _) = opt(char('~')).parse(i)?;
    terminated(
        delimited(char('{'), number, (opt(one_of("+-")), char('}'))),
        line_ending,
    )
    .parse(i)
}

/// `seq-number = nz-number / "*"`; `seq-range = seq-number ":" seq-number`;
/// `sequence-set = (seq-number / seq-range) ["," sequence-set]`, and `$` (RFC 9051 6.4.4.1).
pub fn sequence_set(i: &[u8]) -> Res<'_, &[u8]> {
    fn seq_number(i: &[u8]) -> Res<'_, &[u8]> {
        alt((recognize(nz_number), tag("*"))).parse(i)
    }
    let range = recognize((seq_number, opt(preceded(char(':'), seq_number))));
    alt((recognize(separated_list1(char(','), range)), tag("$"))).parse(i)
}

/// `flag = "\Answered" / … / flag-keyword / flag-extension`, and `flag-perm`'s `\*`.
pub fn flag(i: &[u8]) -> Res<'_, &[u8]> {
    alt((recognize(preceded(char('\\'), atom)), tag("\\*"), atom)).parse(i)
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
pub fn flag_list(i: &[u8]) -> Res<'_, Vec<&[u8]>> {
    delimited(char('('), separated_list0(char(' '), flag), char(')')).parse(i)
}

/// The `resp-text-code` of a response's text, as written between `[` and `]` (one word, the
/// status, may come before it). Without a closing `]` it runs to the end of `i`.
pub fn resp_text_code(i: &[u8]) -> Res<'_, &[u8]> {
    let ws = |i| take_till(|b: u8| !b.is_ascii_whitespace()).parse(i);
    let (i, _) = (
        ws,
        opt(take_till1(|b: u8| b.is_ascii_whitespace() || b == b'[')),
        ws,
    )
        .parse(i)?;
    terminated(
        preceded(char('['), take_till(|b| b == b']')),
        opt(char(']')),
    )
    .parse(i)
}

/// A FETCH item name with its section and partial range: `BODY[HEADER.FIELDS (A B)]<0.10>`,
/// `RFC822.SIZE`, `UID`. Brackets nest; the name ends at a space or parenthesis outside them
/// (laxly: any byte but those is taken, as captures send them).
pub fn fetch_item_name(i: &[u8]) -> Res<'_, &[u8]> {
    let mut bracket = 0usize;
    let mut end = 0;
    while end < i.len() {
        match i[end] {
            b'[' => bracket += 1,
            b']' => bracket = bracket.saturating_sub(1),
            b'\r' | b'\n' => break,
            b' ' | b'(' | b')' if bracket == 0 => break,
            _ => {}
        }
        end += 1;
    }
    if end == 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::TakeWhile1,
        )));
    }
    Ok((&i[end..], &i[..end]))
}

/// A word of an invalid line: any bytes up to a space, a parenthesis or the line end. Every
/// ASTRING-CHAR run is one, so it also reads well-formed atoms, flags and sequence sets.
fn word(i: &[u8]) -> Res<'_, &[u8]> {
    take_till1(|b| matches!(b, b' ' | b'(' | b')' | b'\r' | b'\n')).parse(i)
}

// ----- the framed line -------------------------------------------------------------------

/// One framed logical line: its text pieces joined (each literal marker and its line end in
/// place, the literal's bytes left out) and, per literal the framing kept, where its marker
/// ends in the text and its bytes, borrowed from the framing layer.
pub struct Line<'a> {
    text: Vec<u8>,
    literals: Vec<(usize, &'a [u8])>,
}

impl<'a> Line<'a> {
    /// `texts[i]` is the text before literal `i` (its marker at the end); there may be one
    /// more text than literals.
    pub fn new<'t>(
        texts: impl IntoIterator<Item = &'t [u8]>,
        literals: impl IntoIterator<Item = &'a [u8]>,
    ) -> Line<'a> {
        let mut text = Vec::new();
        let mut ends = Vec::new();
        for t in texts {
            text.extend_from_slice(t);
            ends.push(text.len());
        }
        Line {
            text,
            literals: ends.into_iter().zip(literals).collect(),
        }
    }

    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// A reader of data items, lists at most `max_depth` deep.
    pub fn reader(&self, max_depth: usize) -> Reader<'_, 'a> {
        Reader {
            line: self,
            budget: MAX_VALUES,
            max_depth,
            too_deep: false,
        }
    }

    /// The framed literal whose marker ends where `rest` begins.
    fn literal_at(&self, rest: &[u8]) -> Option<(usize, &'a [u8])> {
        let at = self.text.len().checked_sub(rest.len())?;
        let k = self.literals.binary_search_by_key(&at, |l| l.0).ok()?;
        Some((k, self.literals[k].1))
    }
}

/// One IMAP data item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// An atom, number, flag, NIL, sequence set, FETCH item name with its section, or a word
    /// of an invalid line: the bytes as sent.
    Atom(&'a [u8]),
    /// A quoted string, escapes undone.
    Quoted(Cow<'a, [u8]>),
    Literal(Literal<'a>),
    List(Vec<Value<'a>>),
}

/// A literal in a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Literal<'a> {
    /// The size its marker announced.
    pub announced: u64,
    /// Which literal of the framed line it is, and the bytes the framing kept of it (`None`:
    /// framed but not kept, past the line's bounds).
    pub framed: Option<(usize, &'a [u8])>,
}

impl<'a> Value<'a> {
    /// `nil = "NIL"` (case-insensitive).
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Atom(a) if a.eq_ignore_ascii_case(b"NIL"))
    }

    /// An atom's or quoted string's text (not NIL, not a literal).
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Atom(_) if self.is_nil() => None,
            Value::Atom(a) => Some(String::from_utf8_lossy(a)),
            Value::Quoted(s) => Some(String::from_utf8_lossy(s)),
            _ => None,
        }
    }

    /// `string` / `nstring` text: an atom (not NIL), a quoted string or a kept literal.
    pub fn string(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Literal(Literal {
                framed: Some((_, data)),
                ..
            }) => Some(String::from_utf8_lossy(data)),
            v => v.text(),
        }
    }

    /// `astring` / `string` bytes: an atom, a quoted string or a kept literal.
    pub fn astring(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(a) => Some(a),
            Value::Quoted(s) => Some(s),
            Value::Literal(Literal {
                framed: Some((_, data)),
                ..
            }) => Some(data),
            _ => None,
        }
    }

    pub fn list(&self) -> &[Value<'a>] {
        match self {
            Value::List(v) => v,
            _ => &[],
        }
    }
}

/// Reads data items from a [`Line`].
pub struct Reader<'l, 'a> {
    line: &'l Line<'a>,
    budget: usize,
    max_depth: usize,
    /// A list nested deeper than `max_depth` was skipped.
    pub too_deep: bool,
}

/// How words of the line are read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Words {
    /// Command arguments: astrings, a word up to a space or parenthesis.
    Astring,
    /// Response data: FETCH item names keep their bracketed sections whole.
    FetchItem,
}

impl<'l, 'a: 'l> Reader<'l, 'a> {
    /// The data items of the line from byte `from` on, lists as trees.
    pub fn values(&mut self, from: usize, words: Words) -> Vec<Value<'l>> {
        let text = self.line.text.get(from..).unwrap_or(&[]);
        self.items(text, 0, words).1
    }

    fn items(&mut self, mut i: &'l [u8], depth: usize, words: Words) -> (&'l [u8], Vec<Value<'l>>) {
        let mut out = Vec::new();
        loop {
            let start = i.iter().position(|b| !matches!(b, b' ' | b'\r' | b'\n'));
            i = &i[start.unwrap_or(i.len())..];
            if i.is_empty() || self.budget == 0 {
                return (i, out);
            }
            self.budget -= 1;
            match i[0] {
                b')' => {
                    i = &i[1..];
                    if depth > 0 {
                        return (i, out);
                    }
                }
                b'(' if depth >= self.max_depth => {
                    self.too_deep = true;
                    i = skip_list(i);
                    out.push(Value::List(Vec::new()));
                }
                b'(' => {
                    let (rest, list) = self.items(&i[1..], depth + 1, words);
                    out.push(Value::List(list));
                    i = rest;
                }
                _ => {
                    let (rest, v) = self.item(i, words);
                    out.push(v);
                    i = rest;
                }
            }
        }
    }

    /// One item that is not a list: quoted string, literal, atom or word.
    fn item(&self, i: &'l [u8], words: Words) -> (&'l [u8], Value<'l>) {
        if let Ok((rest, (s, _))) = quoted_lax(i) {
            return (rest, Value::Quoted(s));
        }
        if let Ok((rest, announced)) = literal_marker(i) {
            let framed = self.line.literal_at(rest);
            return (rest, Value::Literal(Literal { announced, framed }));
        }
        let read = match words {
            Words::Astring => word(i),
            Words::FetchItem => fetch_item_name(i),
        };
        match read {
            Ok((rest, w)) => (rest, Value::Atom(w)),
            // Only a lone delimiter is left (e.g. "~" before a space): one byte.
            Err(_) => (&i[1..], Value::Atom(&i[..1])),
        }
    }
}

/// Past a list too deep to read: to its closing parenthesis (or the end), counting, not
/// recursing; quoted strings are stepped over.
fn skip_list(i: &[u8]) -> &[u8] {
    let mut depth = 0u64;
    let mut j = 0;
    while j < i.len() {
        match i[j] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return &i[j + 1..];
                }
            }
            b'"' => {
                if let Ok((rest, _)) = quoted_lax(&i[j..]) {
                    j = i.len() - rest.len();
                    continue;
                }
            }
            _ => {}
        }
        j += 1;
    }
    &i[i.len()..]
}

// ----- commands and responses ------------------------------------------------------------

/// Where a command's arguments start in its first text: after `tag SP verb SP`, and the
/// subcommand of `UID`.
pub fn command_args(line: &[u8]) -> usize {
    fn head(i: &[u8]) -> Res<'_, ()> {
        let sp = |i| opt(char(' ')).parse(i);
        let eol = |b: u8| matches!(b, b' ' | b'\r' | b'\n');
        let (i, (_tag, _, verb, _)) = (take_till(eol), sp, take_till(eol), sp).parse(i)?;
        let (i, _) = if verb.eq_ignore_ascii_case(b"UID") {
            (take_till(eol), sp).parse(i)?
        } else {
            (i, (&[][..], None))
        };
        Ok((i, ()))
    }
    head(line).map_or(0, |(rest, ())| line.len() - rest.len())
}

/// Where the data of `* n FETCH (…)` starts (after `FETCH SP`).
pub fn fetch_data(line: &[u8]) -> Option<usize> {
    let head: Res<'_, _> = (
        tag("* "),
        take_till(|b| b == b' '),
        char(' '),
        tag_no_case("FETCH"),
        char(' '),
    )
        .parse(line);
    let (rest, _) = head.ok()?;
    Some(line.len() - rest.len())
}

// ----- FETCH summary ---------------------------------------------------------------------

/// An ENVELOPE text field (`nstring`, a literal too) as shown: unfolded (a literal may
/// carry CRLF), RFC 2047 words decoded, at most `chars` characters read
/// (`max_imap_field_chars`; a longer one ends in `…`).
fn field(v: &Value, chars: usize) -> Option<String> {
    let s = v.string()?;
    let s = super::line::truncate(&s, chars);
    let unfolded: String = s
        .split("\r\n")
        .flat_map(|piece| piece.split(['\r', '\n']))
        .collect::<Vec<_>>()
        .join("");
    Some(crate::mime::decode_words(&unfolded))
}

fn address_list(item: &Value, chars: usize) -> String {
    let field = |v| field(v, chars);
    item.list()
        .iter()
        .filter_map(|a| {
            let f = a.list();
            let name = f.first().and_then(field);
            let mailbox = f.get(2).and_then(field)?;
            let host = f.get(3).and_then(field).unwrap_or_default();
            Some(match name {
                Some(n) if !n.is_empty() => format!("{n} <{mailbox}@{host}>"),
                _ => format!("{mailbox}@{host}"),
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn lowered(v: &Value, chars: usize) -> Option<String> {
    v.string().map(|s| truncate_lower(&s, chars))
}

fn truncate_lower(s: &str, chars: usize) -> String {
    super::line::truncate(s, chars).to_ascii_lowercase()
}

/// `type/subtype` of a body structure, with the parts of a multipart; each name at most
/// `chars` characters.
fn structure(item: &Value, depth: usize, chars: usize) -> String {
    let f = item.list();
    if depth > 8 {
        return "…".into();
    }
    if f.first().is_some_and(|i| matches!(i, Value::List(_))) {
        let parts: Vec<String> = f
            .iter()
            .take_while(|i| matches!(i, Value::List(_)))
            .map(|p| structure(p, depth + 1, chars))
            .collect();
        let sub = f
            .iter()
            .find_map(|i| match i {
                Value::Quoted(_) | Value::Literal(_) => lowered(i, chars),
                _ => None,
            })
            .unwrap_or_else(|| "mixed".into());
        return format!("multipart/{sub} ({})", parts.join(", "));
    }
    let t = f.first().and_then(Value::string);
    let s = f.get(1).and_then(Value::string);
    format!(
        "{}/{}",
        truncate_lower(t.as_deref().unwrap_or("?"), chars),
        truncate_lower(s.as_deref().unwrap_or("?"), chars)
    )
}

/// A one-line summary of FETCH data: `msg-att` = "(" item SP value *(SP item SP value) ")".
pub fn fetch_summary(data: &[Value], bounds: &super::Bounds) -> Option<String> {
    fetch_reading(data, bounds).summary
}

/// Whether a FETCH item (upper case) is a header section: `BODY[HEADER]`,
/// `BODY[1.2.HEADER]`, `BODY[HEADER.FIELDS (…)]`, `BODY[HEADER.FIELDS.NOT (…)]`,
/// `RFC822.HEADER` (a partial range after it too).
fn is_header_section(key: &str) -> bool {
    if key == "RFC822.HEADER" {
        return true;
    }
    let Some(section) = ["BODY[", "BODY.PEEK["]
        .iter()
        .find_map(|p| key.strip_prefix(p))
        .and_then(|s| s.split(']').next())
    else {
        return false;
    };
    let last = section.split(' ').next().unwrap_or("").rsplit('.');
    let words: Vec<&str> = last.take(2).collect();
    // HEADER, n.HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT
    matches!(
        words.as_slice(),
        ["HEADER", ..] | ["FIELDS", "HEADER"] | ["NOT", "FIELDS"]
    )
}

/// What [`fetch_reading`] makes of FETCH data.
#[derive(Debug, Default)]
pub struct Reading {
    /// The one-line summary.
    pub summary: Option<String>,
    /// The decoded fields of the first header section, cut to the bounds.
    pub headers: Option<crate::mime::Headers>,
    /// Header fields as sent and Received lines of that section past
    /// `max_imap_header_fields`, not kept.
    pub fields_dropped: usize,
}

/// The summary line of FETCH data, and the decoded fields of its first header section,
/// within the IMAP display caps of `bounds`.
pub fn fetch_reading(data: &[Value], bounds: &super::Bounds) -> Reading {
    let Some(first) = data.first() else {
        return Reading::default();
    };
    let chars = bounds.max_imap_field_chars;
    let list = first.list();
    let mut out = Vec::new();
    let mut headers = None;
    let mut fields_dropped = 0;
    for pair in list.chunks_exact(2) {
        let (key, value) = (&pair[0], &pair[1]);
        let key = key.text().unwrap_or_default().to_ascii_uppercase();
        let text = || value.text().unwrap_or(Cow::Borrowed("?")).into_owned();
        match key.as_str() {
            "UID" => out.push(format!("UID {}", text())),
            "FLAGS" => {
                let flags: Vec<Cow<str>> = value.list().iter().filter_map(Value::text).collect();
                out.push(format!("flags [{}]", flags.join(" ")));
            }
            "RFC822.SIZE" => out.push(format!("{} bytes", text())),
            "INTERNALDATE" => out.push(format!("received {}", text())),
            "ENVELOPE" => {
                let f = value.list();
                let subject = f.get(1).and_then(|v| field(v, chars));
                let from = f.get(2).map(|v| address_list(v, chars)).unwrap_or_default();
                out.push(format!(
                    "\"{}\" from {}",
                    subject.unwrap_or_default(),
                    if from.is_empty() { "?".into() } else { from }
                ));
            }
            "BODYSTRUCTURE" | "BODY" => out.push(structure(value, 0, chars)),
            k => {
                let bytes = match value {
                    Value::Literal(Literal {
                        framed: Some((_, data)),
                        ..
                    }) => Some(&data[..]),
                    Value::Quoted(q) => Some(&q[..]),
                    _ => None,
                };
                let decoded = bytes
                    .filter(|_| is_header_section(k))
                    .map(crate::mime::parse_header_block)
                    .filter(|h| !h.raw.is_empty());
                match (decoded, value) {
                    (Some(h), _) => {
                        out.push(format!("headers: {}", header_line(&h, chars)));
                        if headers.is_none() {
                            let (h, dropped) = compact(h, bounds);
                            headers = Some(h);
                            fields_dropped = dropped;
                        }
                    }
                    (None, Value::Literal(l)) => out.push(format!("{k} ({} bytes)", l.announced)),
                    _ => {}
                }
            }
        }
    }
    Reading {
        summary: (!out.is_empty()).then(|| out.join("; ")),
        headers,
        fields_dropped,
    }
}

/// Header fields kept on a FETCH reply (JSON `headers`): each value cut to
/// `max_imap_header_chars` (ending in `…`), at most `max_imap_header_fields` fields as sent
/// and as many Received lines, so that every reply of a header-listing session does not keep
/// its whole header block (the messages themselves are bounded elsewhere). Also returns how
/// many fields and Received lines were left out.
fn compact(mut h: crate::mime::Headers, bounds: &super::Bounds) -> (crate::mime::Headers, usize) {
    let (chars, kept) = (bounds.max_imap_header_chars, bounds.max_imap_header_fields);
    let cut = |s: &mut String| {
        if s.chars().count() > chars {
            *s = super::line::truncate(s, chars);
        }
    };
    for f in [
        &mut h.from,
        &mut h.to,
        &mut h.cc,
        &mut h.bcc,
        &mut h.reply_to,
        &mut h.subject,
        &mut h.date,
        &mut h.message_id,
        &mut h.in_reply_to,
        &mut h.references,
        &mut h.user_agent,
    ]
    .into_iter()
    .flatten()
    {
        cut(f);
    }
    let dropped = h.received.len().saturating_sub(kept) + h.raw.len().saturating_sub(kept);
    h.received.truncate(kept);
    h.received.iter_mut().for_each(cut);
    h.raw.truncate(kept);
    for (_, v) in &mut h.raw {
        cut(v);
    }
    (h, dropped)
}

/// Decoded header fields in one line: `"subject" from … to … cc …, date …`; without any of
/// those, the fields as sent; each value at most `chars` characters.
fn header_line(h: &crate::mime::Headers, chars: usize) -> String {
    let cut = |s: &str| super::line::truncate(s, chars);
    let mut words = Vec::new();
    if let Some(s) = &h.subject {
        words.push(format!("\"{}\"", cut(s)));
    }
    for (label, v) in [("from", &h.from), ("to", &h.to), ("cc", &h.cc)] {
        if let Some(v) = v {
            words.push(format!("{label} {}", cut(v)));
        }
    }
    let mut line = words.join(" ");
    if let Some(d) = &h.date {
        if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(&format!("date {}", cut(d)));
    }
    if line.is_empty() {
        line = h
            .raw
            .iter()
            .take(8)
            .map(|(n, v)| format!("{n}: {}", cut(v)))
            .collect::<Vec<_>>()
            .join(", ");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &[u8]) -> Line<'static> {
        Line::new([text], [])
    }

    #[test]
    fn atoms_and_astrings() {
        // RFC 9051 9: atom-specials end an atom; "]" is an ASTRING-CHAR only.
        assert_eq!(atom(b"INBOX rest"), Ok((&b" rest"[..], &b"INBOX"[..])));
        assert_eq!(atom(b"a]b"), Ok((&b"]b"[..], &b"a"[..])));
        assert!(atom(b"(x").is_err());
        assert!(atom(b"\"x").is_err());
        assert!(is_astring_char(b']') && !is_atom_char(b']'));
        assert!(!is_atom_char(b'{') && !is_atom_char(b'%') && !is_atom_char(0x7f));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            number::<_, nom::error::Error<&[u8]>>(&b"4294967296 "[..])
                .unwrap()
                .1,
            1 << 32
        );
        assert!(nz_number(b"0").is_err());
        assert_eq!(nz_number(b"18 EXISTS").unwrap().1, 18);
        // Past u64: refused, never wrapped.
        assert!(nz_number(b"99999999999999999999999").is_err());
    }

    #[test]
    fn quoted_strings() {
        // RFC 9051 4.3: "\"" and "\\" are the escapes; the common case borrows.
        let (rest, s) = quoted(br#""Wonder\"land 24\\" x"#).unwrap();
        assert_eq!((rest, &*s), (&b" x"[..], &br#"Wonder"land 24\"#[..]));
        assert!(matches!(
            quoted(b"\"INBOX\"").unwrap().1,
            Cow::Borrowed(b"INBOX")
        ));
        assert_eq!(&*quoted(b"\"\"").unwrap().1, b"");
        // Unterminated: not a quoted string by the rule, but the reader keeps it to the line end.
        assert!(quoted(b"\"abc\r\n").is_err());
        let l = line(b"\"abc\r\nx");
        let v = l.reader(8).values(0, Words::Astring);
        assert_eq!(v, [Value::Quoted(Cow::Borrowed(b"abc")), Value::Atom(b"x")]);
    }

    #[test]
    fn literal_markers() {
        // RFC 9051 4.3, RFC 7888 (LITERAL+ / LITERAL-), RFC 3516 (literal8).
        assert_eq!(literal_marker(b"{22}\r\nrest").unwrap(), (&b"rest"[..], 22));
        assert_eq!(literal_marker(b"{5+}\r\n").unwrap().1, 5);
        assert_eq!(literal_marker(b"{5-}\n").unwrap().1, 5);
        assert_eq!(literal_marker(b"~{4294967295}\r\n").unwrap().1, 4294967295);
        assert!(literal_marker(b"{5} x").is_err(), "a marker ends its line");
        assert!(literal_marker(b"{x}\r\n").is_err());
        assert!(literal_marker(b"{99999999999999999999999}\r\n").is_err());
    }

    #[test]
    fn sequence_sets() {
        // RFC 9051 9, seq-number examples.
        for s in [
            &b"1"[..],
            b"2,4:7,9,12:*",
            b"*:4",
            b"1:*",
            b"$",
            b"4294967295",
        ] {
            assert_eq!(
                sequence_set(s),
                Ok((&b""[..], s)),
                "{}",
                String::from_utf8_lossy(s)
            );
        }
        assert_eq!(
            sequence_set(b"1:3 Trash").unwrap(),
            (&b" Trash"[..], &b"1:3"[..])
        );
        assert!(sequence_set(b"0").is_err());
        assert!(sequence_set(b"Trash").is_err());
    }

    #[test]
    fn flags() {
        // RFC 9051 section 8: "* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)".
        let (rest, f) = flag_list(b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft)").unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            f,
            [
                &b"\\Answered"[..],
                b"\\Flagged",
                b"\\Deleted",
                b"\\Seen",
                b"\\Draft"
            ]
        );
        assert_eq!(flag_list(b"()").unwrap().1, Vec::<&[u8]>::new());
        assert_eq!(flag(b"\\* x").unwrap().1, b"\\*");
        assert_eq!(flag(b"$Forwarded").unwrap().1, b"$Forwarded");
        assert!(flag_list(b"(\\Seen").is_err());
    }

    #[test]
    fn response_codes() {
        // RFC 9051 section 8 responses (text after the tag).
        assert_eq!(
            resp_text_code(b"OK [UIDVALIDITY 3857529045] UIDs valid")
                .unwrap()
                .1,
            b"UIDVALIDITY 3857529045"
        );
        assert_eq!(
            resp_text_code(b"NO [PRIVACYREQUIRED] LOGIN disabled")
                .unwrap()
                .1,
            b"PRIVACYREQUIRED"
        );
        assert_eq!(
            resp_text_code(
                b"OK [CAPABILITY STARTTLS AUTH=SCRAM-SHA-256 LOGINDISABLED IMAP4rev2] Ready"
            )
            .unwrap()
            .1,
            b"CAPABILITY STARTTLS AUTH=SCRAM-SHA-256 LOGINDISABLED IMAP4rev2"
        );
        assert_eq!(resp_text_code(b"OK [READ-WRITE").unwrap().1, b"READ-WRITE");
        // Only one word (the status) may come before the code.
        assert!(resp_text_code(b"12 FETCH (BODY[HEADER] {22}").is_err());
        assert!(resp_text_code(b"OK no code").is_err());
    }

    #[test]
    fn fetch_item_names_keep_their_sections() {
        assert_eq!(
            fetch_item_name(b"BODY[HEADER.FIELDS (A B)]<0> {5}")
                .unwrap()
                .1,
            b"BODY[HEADER.FIELDS (A B)]<0>"
        );
        assert_eq!(
            fetch_item_name(b"RFC822.SIZE 44").unwrap().1,
            b"RFC822.SIZE"
        );
        assert!(fetch_item_name(b" x").is_err());
    }

    #[test]
    fn command_and_fetch_heads() {
        assert_eq!(command_args(b"a1 LOGIN bob pw\r\n"), 9);
        assert_eq!(command_args(b"a1 UID COPY 1:3 Trash\r\n"), 12);
        assert_eq!(command_args(b"a1 NOOP\r\n"), 7);
        assert_eq!(fetch_data(b"* 12 FETCH (FLAGS ())"), Some(11));
        assert_eq!(fetch_data(b"* 12 EXISTS"), None);
    }

    #[test]
    fn literals_are_borrowed_from_the_framing() {
        let (pass, name) = (b"Wonder\"land 24\\".to_vec(), b"alice".to_vec());
        let l = Line::new(
            [&b"A1 LOGIN {5}\r\n"[..], b" {15}\r\n", b"\r\n"],
            [name.as_slice(), pass.as_slice()],
        );
        let v = l.reader(8).values(command_args(l.text()), Words::Astring);
        assert_eq!(v.len(), 2);
        let Value::Literal(Literal {
            announced: 15,
            framed: Some((1, data)),
        }) = v[1]
        else {
            panic!("{v:?}");
        };
        // The very bytes the framing holds: no copy.
        assert!(std::ptr::eq(data, pass.as_slice()));
        assert_eq!(v[0].astring(), Some(&b"alice"[..]));
        // A marker past the literals the framing kept: its size only.
        let l = Line::new([&b"x {3}\r\n"[..], b")\r\n"], []);
        let v = l.reader(8).values(0, Words::Astring);
        assert_eq!(
            v[1],
            Value::Literal(Literal {
                announced: 3,
                framed: None
            })
        );
        assert_eq!(v[1].astring(), None);
    }

    #[test]
    fn nil_and_nstring() {
        let l = line(b"(NIL nil \"NIL\" NILS)");
        let v = l.reader(8).values(0, Words::FetchItem);
        let f = v[0].list();
        assert!(f[0].is_nil() && f[1].is_nil() && !f[2].is_nil() && !f[3].is_nil());
        assert_eq!(f[0].text(), None);
        assert_eq!(f[2].text().as_deref(), Some("NIL"));
    }

    fn summary(data: &[u8]) -> Option<String> {
        let l = line(data);
        let v = l.reader(32).values(0, Words::FetchItem);
        fetch_summary(&v, &Default::default())
    }

    #[test]
    fn summarises_fetch_data() {
        let s = summary(
            b"(UID 1 FLAGS (\\Seen) RFC822.SIZE 9164 ENVELOPE (\"Thu, 26 Nov 2026 08:11:31 +0000\" \"=?utf-8?q?Caf=C3=A9?= menu\" ((\"Dora\" NIL \"dora\" \"example.net\")) NIL NIL ((NIL NIL \"alice\" \"example.test\")) NIL NIL NIL \"<x@y>\") BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 33 1 NIL NIL NIL NIL)(\"application\" \"pdf\" NIL NIL NIL \"base64\" 8000 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL) BODY[HEADER.FIELDS (SUBJECT)] {20}\r\n)\r\n",
        )
        .unwrap();
        assert_eq!(
            s,
            "UID 1; flags [\\Seen]; 9164 bytes; \"Café menu\" from Dora <dora@example.net>; multipart/mixed (text/plain, application/pdf); BODY[HEADER.FIELDS (SUBJECT)] (20 bytes)"
        );
        // RFC 9051 section 8.
        assert_eq!(
            summary(
                b"(FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286)"
            )
            .unwrap(),
            "flags [\\Seen]; received 17-Jul-1996 02:44:25 -0700; 4286 bytes"
        );
        assert_eq!(summary(b"FLAGS"), None);
    }

    /// ENVELOPE and BODYSTRUCTURE fields may arrive as literals (servers send them for
    /// subjects with quotes, CR/LF or 8-bit bytes): read from the framing's bytes.
    #[test]
    fn envelope_and_bodystructure_fields_as_literals() {
        let (subject, name, sub) = (
            b"Say \"hi\"\r\n again".to_vec(),
            b"=?utf-8?q?Dora_M=C3=BCller?=".to_vec(),
            b"alternative".to_vec(),
        );
        let l = Line::new(
            [
                &b"(UID 4 ENVELOPE (\"Thu, 26 Nov 2026 08:11:31 +0000\" {16}\r\n"[..],
                b" (({28}\r\n",
                b" NIL \"dora\" \"example.net\")) NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)(\"text\" \"html\" NIL NIL NIL \"7bit\" 1 1) {11}\r\n",
                b"))",
            ],
            [subject.as_slice(), name.as_slice(), sub.as_slice()],
        );
        let v = l.reader(32).values(0, Words::FetchItem);
        assert_eq!(
            fetch_summary(&v, &Default::default()).unwrap(),
            "UID 4; \"Say \"hi\" again\" from Dora Müller <dora@example.net>; multipart/alternative (text/plain, text/html)"
        );
    }

    fn bounds(field: usize, header: usize, fields: usize) -> crate::proto::Bounds {
        crate::proto::Bounds {
            max_imap_field_chars: field,
            max_imap_header_chars: header,
            max_imap_header_fields: fields,
            ..Default::default()
        }
    }

    /// `max_imap_field_chars` cuts ENVELOPE strings, body types and the header fields of
    /// the summary line, and the cut says so (`…`).
    #[test]
    fn summary_fields_answer_to_their_cap() {
        let subject = format!("Subject: {}\r\n\r\n", "s".repeat(30));
        let text = format!(
            "(ENVELOPE (NIL \"{}\" NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE (\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 1) BODY[HEADER] {{{}}}\r\n",
            "x".repeat(30),
            subject.len()
        );
        let l = Line::new([text.as_bytes(), b")"], [subject.as_bytes()]);
        let v = l.reader(32).values(0, Words::FetchItem);
        let wide = fetch_summary(&v, &Default::default()).unwrap();
        assert_eq!(
            wide,
            format!(
                "\"{}\" from ?; application/octet-stream; headers: \"{}\"",
                "x".repeat(30),
                "s".repeat(30)
            )
        );
        assert_eq!(
            fetch_summary(&v, &bounds(8, 1000, 32)).unwrap(),
            "\"xxxxxxxx…\" from ?; applicat…/octet-st…; headers: \"ssssssss…\""
        );
    }

    /// `max_imap_header_chars` cuts each header value kept on the reply (`…` says so);
    /// `max_imap_header_fields` keeps that many fields as sent and Received lines, and
    /// counts the rest.
    #[test]
    fn kept_headers_answer_to_their_caps() {
        let block = format!(
            "Received: from a\r\nReceived: from b\r\nReceived: from c\r\nSubject: {}\r\nX-A: 1\r\n\r\n",
            "s".repeat(30)
        );
        let text = format!("(BODY[HEADER] {{{}}}\r\n", block.len());
        let l = Line::new([text.as_bytes(), b")"], [block.as_bytes()]);
        let v = l.reader(32).values(0, Words::FetchItem);
        let all = fetch_reading(&v, &Default::default());
        let h = all.headers.unwrap();
        assert_eq!(h.subject.as_deref(), Some("s".repeat(30).as_str()));
        assert_eq!(
            (h.raw.len(), h.received.len(), all.fields_dropped),
            (5, 3, 0)
        );

        let cut = fetch_reading(&v, &bounds(400, 10, 32));
        let h = cut.headers.unwrap();
        assert_eq!(h.subject.as_deref(), Some("ssssssssss…"));
        assert_eq!(h.raw[3].1, "ssssssssss…");
        assert_eq!(cut.fields_dropped, 0);
        // The summary line answers to the field cap, not this one.
        assert!(cut.summary.unwrap().contains(&"s".repeat(30)));

        let few = fetch_reading(&v, &bounds(400, 1000, 2));
        let h = few.headers.unwrap();
        assert_eq!(h.raw.len(), 2);
        assert_eq!(h.received, ["from a", "from b"]);
        // The decoded fields are still read from the whole block.
        assert_eq!(h.subject.as_deref(), Some("s".repeat(30).as_str()));
        assert_eq!(few.fields_dropped, 3 + 1);
    }

    #[test]
    fn header_sections() {
        for k in [
            "BODY[HEADER]",
            "BODY[2.1.HEADER]",
            "BODY[HEADER.FIELDS (DATE FROM)]",
            "BODY[HEADER.FIELDS.NOT (X-A)]<0>",
            "BODY.PEEK[HEADER]",
            "RFC822.HEADER",
        ] {
            assert!(is_header_section(k), "{k}");
        }
        for k in [
            "BODY[]",
            "BODY[TEXT]",
            "BODY[1.MIME]",
            "RFC822",
            "BODY[1]",
            "HEADER",
        ] {
            assert!(!is_header_section(k), "{k}");
        }
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let deep = "(".repeat(100_000);
        let l = line(deep.as_bytes());
        let mut r = l.reader(32);
        let v = r.values(0, Words::FetchItem);
        assert!(r.too_deep);
        let _ = fetch_summary(&v, &Default::default());
        assert_eq!(summary(b"(ENVELOPE (((("), Some("\"\" from ?".into()));
        // A list too deep is skipped whole; what follows it is still read.
        let l = line(b"(a (b (c (d)) e) f) g");
        let mut r = l.reader(2);
        let v = r.values(0, Words::Astring);
        assert!(r.too_deep);
        assert_eq!(
            v,
            [
                Value::List(vec![
                    Value::Atom(b"a"),
                    Value::List(vec![
                        Value::Atom(b"b"),
                        Value::List(vec![]),
                        Value::Atom(b"e")
                    ]),
                    Value::Atom(b"f"),
                ]),
                Value::Atom(b"g"),
            ]
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_on_arbitrary_bytes(
                texts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..5),
                depth in 0usize..6,
            ) {
                let literals: Vec<&[u8]> = texts.iter().map(|t| &t[..t.len() / 2]).collect();
                let l = Line::new(texts.iter().map(Vec::as_slice), literals);
                for words in [Words::Astring, Words::FetchItem] {
                    let from = command_args(l.text());
                    let v = l.reader(depth).values(from, words);
                    let _ = fetch_summary(&v, &Default::default());
                    let mut out = Vec::new();
                    for x in &v {
                        out.extend(x.astring());
                    }
                }
                let t = l.text();
                let _ = (fetch_data(t), resp_text_code(t), sequence_set(t), flag_list(t), literal_marker(t));
            }

            #[test]
            fn deep_nesting_is_skipped_not_recursed(
                open in 0usize..50_000,
                close in 0usize..50_000,
                tail in "[ a-z()\"{}0-9\r\n]{0,40}",
            ) {
                let text = format!("{}{}{}", "(".repeat(open), tail, ")".repeat(close));
                let l = line(text.as_bytes());
                let mut r = l.reader(32);
                let v = r.values(0, Words::FetchItem);
                if open > 32 {
                    prop_assert!(r.too_deep);
                }
                if open + tail.matches('(').count() <= 32 {
                    prop_assert!(!r.too_deep);
                }
                let _ = fetch_summary(&v, &Default::default());
            }
        }
    }
}
