//! IMAP response data (RFC 9051 4): atoms, numbers, quoted strings, NIL, literals and
//! parenthesised lists, read into a small tree; and the one-line FETCH summary built from it
//! (UID, FLAGS, RFC822.SIZE, INTERNALDATE, ENVELOPE, BODYSTRUCTURE).

/// One IMAP data item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Atom(String),
    Str(String),
    Nil,
    /// A literal: only its size is kept here.
    Literal(u64),
    List(Vec<Item>),
}

impl Item {
    fn text(&self) -> Option<&str> {
        match self {
            Item::Atom(s) | Item::Str(s) => Some(s),
            _ => None,
        }
    }
    fn list(&self) -> &[Item] {
        match self {
            Item::List(v) => v,
            _ => &[],
        }
    }
}

/// Reads data items from `s` (at most `max_items` in all, nesting at most 32 deep).
pub fn parse(s: &str) -> Vec<Item> {
    let mut p = Parser {
        b: s.as_bytes(),
        i: 0,
        budget: 10_000,
    };
    p.items(0)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    budget: usize,
}

impl Parser<'_> {
    fn items(&mut self, depth: usize) -> Vec<Item> {
        let mut out = Vec::new();
        while self.i < self.b.len() && self.budget > 0 {
            self.budget -= 1;
            match self.b[self.i] {
                b' ' | b'\r' | b'\n' => self.i += 1,
                b')' => {
                    self.i += 1;
                    if depth > 0 {
                        return out;
                    }
                }
                b'(' => {
                    self.i += 1;
                    if depth >= 32 {
                        return out;
                    }
                    out.push(Item::List(self.items(depth + 1)));
                }
                b'"' => {
                    self.i += 1;
                    let mut s = Vec::new();
                    while self.i < self.b.len() && self.b[self.i] != b'"' {
                        if self.b[self.i] == b'\\' && self.i + 1 < self.b.len() {
                            self.i += 1;
                        }
                        s.push(self.b[self.i]);
                        self.i += 1;
                    }
                    self.i += 1;
                    out.push(Item::Str(String::from_utf8_lossy(&s).into_owned()));
                }
                b'{' | b'~' => {
                    let start = self.i;
                    while self.i < self.b.len() && self.b[self.i] != b'}' {
                        self.i += 1;
                    }
                    let inner = String::from_utf8_lossy(&self.b[start..self.i]);
                    self.i += 1;
                    let n = inner
                        .trim_start_matches(['~', '{'])
                        .trim_end_matches(['+', '-'])
                        .parse()
                        .unwrap_or(0);
                    out.push(Item::Literal(n));
                }
                _ => {
                    let start = self.i;
                    // Atoms include section specs: BODY[HEADER.FIELDS (A B)]<0>.
                    let mut bracket = 0usize;
                    while self.i < self.b.len() {
                        match self.b[self.i] {
                            b'[' => bracket += 1,
                            b']' => bracket = bracket.saturating_sub(1),
                            b' ' | b'(' | b')' if bracket == 0 => break,
                            _ => {}
                        }
                        self.i += 1;
                    }
                    let atom = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
                    out.push(if atom.eq_ignore_ascii_case("NIL") {
                        Item::Nil
                    } else {
                        Item::Atom(atom)
                    });
                }
            }
        }
        out
    }
}

fn address_list(item: &Item) -> String {
    item.list()
        .iter()
        .filter_map(|a| {
            let f = a.list();
            let name = f
                .first()
                .and_then(Item::text)
                .map(crate::mime::decode_words);
            let mailbox = f.get(2).and_then(Item::text)?;
            let host = f.get(3).and_then(Item::text).unwrap_or("");
            Some(match name {
                Some(n) if !n.is_empty() => format!("{n} <{mailbox}@{host}>"),
                _ => format!("{mailbox}@{host}"),
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `type/subtype` of a body structure, with the parts of a multipart.
fn structure(item: &Item, depth: usize) -> String {
    let f = item.list();
    if depth > 8 {
        return "…".into();
    }
    if f.first().is_some_and(|i| matches!(i, Item::List(_))) {
        let parts: Vec<String> = f
            .iter()
            .take_while(|i| matches!(i, Item::List(_)))
            .map(|p| structure(p, depth + 1))
            .collect();
        let sub = f
            .iter()
            .find_map(|i| match i {
                Item::Str(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            })
            .unwrap_or_else(|| "mixed".into());
        return format!("multipart/{sub} ({})", parts.join(", "));
    }
    let t = f
        .first()
        .and_then(Item::text)
        .unwrap_or("?")
        .to_ascii_lowercase();
    let s = f
        .get(1)
        .and_then(Item::text)
        .unwrap_or("?")
        .to_ascii_lowercase();
    format!("{t}/{s}")
}

/// A one-line summary of the data of a `* n FETCH (…)` response (text after `FETCH`).
pub fn fetch_summary(items: &str) -> Option<String> {
    let parsed = parse(items);
    let list = parsed.first()?.list();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < list.len() {
        let key = list[i].text().unwrap_or("").to_ascii_uppercase();
        let value = &list[i + 1];
        match key.as_str() {
            "UID" => out.push(format!("UID {}", value.text().unwrap_or("?"))),
            "FLAGS" => {
                let flags: Vec<&str> = value.list().iter().filter_map(Item::text).collect();
                out.push(format!("flags [{}]", flags.join(" ")));
            }
            "RFC822.SIZE" => out.push(format!("{} bytes", value.text().unwrap_or("?"))),
            "INTERNALDATE" => out.push(format!("received {}", value.text().unwrap_or("?"))),
            "ENVELOPE" => {
                let f = value.list();
                let subject = f.get(1).and_then(Item::text).map(crate::mime::decode_words);
                let from = f.get(2).map(address_list).unwrap_or_default();
                out.push(format!(
                    "\"{}\" from {}",
                    subject.unwrap_or_default(),
                    if from.is_empty() { "?".into() } else { from }
                ));
            }
            "BODYSTRUCTURE" | "BODY" => out.push(structure(value, 0)),
            k if matches!(value, Item::Literal(_)) => {
                if let Item::Literal(n) = value {
                    out.push(format!("{k} ({n} bytes)"));
                }
            }
            _ => {}
        }
        i += 2;
    }
    (!out.is_empty()).then(|| out.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_fetch_data() {
        let s = fetch_summary(
            "(UID 1 FLAGS (\\Seen) RFC822.SIZE 9164 ENVELOPE (\"Thu, 26 Nov 2026 08:11:31 +0000\" \"=?utf-8?q?Caf=C3=A9?= menu\" ((\"Dora\" NIL \"dora\" \"example.net\")) NIL NIL ((NIL NIL \"alice\" \"example.test\")) NIL NIL NIL \"<x@y>\") BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 33 1 NIL NIL NIL NIL)(\"application\" \"pdf\" NIL NIL NIL \"base64\" 8000 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL) BODY[HEADER.FIELDS (SUBJECT)] {20})",
        )
        .unwrap();
        assert_eq!(
            s,
            "UID 1; flags [\\Seen]; 9164 bytes; \"Café menu\" from Dora <dora@example.net>; multipart/mixed (text/plain, application/pdf); BODY[HEADER.FIELDS (SUBJECT)] (20 bytes)"
        );
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let deep = "(".repeat(100_000);
        let _ = parse(&deep);
        let _ = fetch_summary(&deep);
        let _ = fetch_summary("(ENVELOPE ((((");
    }
}
