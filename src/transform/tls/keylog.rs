//! The NSS key log (`SSLKEYLOGFILE`, written by OpenSSL, Python's `ssl`, curl, NSS and Go):
//! the secrets of each TLS connection, keyed by the ClientHello's random.
//!
//! A key log is a secret: nothing here prints a key (`Debug` says how many entries there
//! are), and a malformed line is reported by its number alone. Lines are read one at a time
//! from any chunking ([`KeyLog::feed`]), so a live run can read a file as it grows and a
//! pcapng Decryption Secrets Block adds its text the same way. Entries are bounded
//! (`Limits::max_keylog_entries`); a secret longer than any hash this program knows is a
//! malformed line.

use std::collections::HashMap;

/// The longest secret: a TLS 1.2 master secret is 48 bytes, a TLS 1.3 traffic secret the
/// hash's length (at most SHA-384's 48).
const MAX_SECRET: usize = 48;
/// The longest line read whole; longer ones are malformed.
const MAX_LINE: usize = 512;

/// Which secret a line gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// TLS 1.2 and earlier: the master secret.
    ClientRandom,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic0,
    ServerTraffic0,
}

impl Label {
    fn parse(word: &str) -> Option<Option<Label>> {
        Some(Some(match word {
            "CLIENT_RANDOM" => Label::ClientRandom,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
            "CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic0,
            "SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic0,
            // Known, and of no use for reading the records: skipped without a warning.
            // (The secrets after a KeyUpdate, `*_TRAFFIC_SECRET_N`, are derived here from
            // the first; `RSA` gives a pre-master secret by its encrypted prefix, which a
            // CLIENT_RANDOM line of the same connection makes unneeded.)
            "EXPORTER_SECRET" | "EARLY_EXPORTER_SECRET" | "CLIENT_EARLY_TRAFFIC_SECRET" | "RSA" => {
                return Some(None);
            }
            w if (w.starts_with("CLIENT_TRAFFIC_SECRET_")
                || w.starts_with("SERVER_TRAFFIC_SECRET_"))
                && w[22..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                return Some(None);
            }
            _ => return None,
        }))
    }
}

/// One secret's bytes; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    bytes: [u8; MAX_SECRET],
}

impl Default for Secret {
    fn default() -> Secret {
        Secret {
            len: 0,
            bytes: [0; MAX_SECRET],
        }
    }
}

impl Secret {
    fn from_hex(hex: &str) -> Option<Secret> {
        let mut s = Secret::default();
        if !hex.len().is_multiple_of(2) || hex.len() / 2 > MAX_SECRET || hex.is_empty() {
            return None;
        }
        hex::decode_to_slice(hex, &mut s.bytes[..hex.len() / 2]).ok()?;
        s.len = (hex.len() / 2) as u8;
        Some(s)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.len)
    }
}

/// The secrets known for one connection (one ClientHello random).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    pub master: Option<Secret>,
    pub client_handshake: Option<Secret>,
    pub server_handshake: Option<Secret>,
    pub client_traffic: Option<Secret>,
    pub server_traffic: Option<Secret>,
}

impl Keys {
    fn slot(&mut self, label: Label) -> &mut Option<Secret> {
        match label {
            Label::ClientRandom => &mut self.master,
            Label::ClientHandshake => &mut self.client_handshake,
            Label::ServerHandshake => &mut self.server_handshake,
            Label::ClientTraffic0 => &mut self.client_traffic,
            Label::ServerTraffic0 => &mut self.server_traffic,
        }
    }
}

/// A line that was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// 1-based, counted over everything fed to this key log.
    pub line: u64,
    pub why: &'static str,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}; skipped", self.line, self.why)
    }
}

/// Every secret read so far, by client random.
#[derive(Clone, Default)]
pub struct KeyLog {
    keys: HashMap<[u8; 32], Keys>,
    max_entries: usize,
    /// The start of a line not yet ended.
    partial: Vec<u8>,
    /// The current line is over `MAX_LINE`: skipped to its end.
    skipping: bool,
    lines: u64,
    /// Entries refused because the log was full.
    refused: u64,
    /// Lines read that gave a secret.
    secrets: u64,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyLog({} connections)", self.keys.len())
    }
}

impl KeyLog {
    /// An empty key log holding at most `max_entries` connections.
    pub fn new(max_entries: usize) -> KeyLog {
        KeyLog {
            max_entries,
            ..KeyLog::default()
        }
    }

    /// Reads the next bytes of a key log (any chunking; a line is taken once it ends, or
    /// at [`KeyLog::finish`]). Returns the lines skipped.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Warning> {
        let mut warnings = Vec::new();
        while !bytes.is_empty() {
            let (line, ended) = match memchr::memchr(b'\n', bytes) {
                Some(i) => (&bytes[..i], true),
                None => (bytes, false),
            };
            bytes = &bytes[line.len() + usize::from(ended)..];
            if !self.skipping {
                let room = MAX_LINE.saturating_sub(self.partial.len());
                if line.len() > room {
                    self.skipping = true;
                    self.partial.clear();
                } else {
                    self.partial.extend_from_slice(line);
                }
            }
            if ended {
                self.end_line(&mut warnings);
            }
        }
        warnings
    }

    /// The end of the input: a last line without a newline is read.
    pub fn finish(&mut self) -> Vec<Warning> {
        let mut warnings = Vec::new();
        if !self.partial.is_empty() || self.skipping {
            self.end_line(&mut warnings);
        }
        warnings
    }

    fn end_line(&mut self, warnings: &mut Vec<Warning>) {
        self.lines += 1;
        let line = std::mem::take(&mut self.partial);
        let skipping = std::mem::replace(&mut self.skipping, false);
        let why = if skipping {
            Some("longer than any key log line")
        } else {
            self.line(&line).err()
        };
        if let Some(why) = why {
            warnings.push(Warning {
                line: self.lines,
                why,
            });
        }
        self.partial = line;
        self.partial.clear();
    }

    fn line(&mut self, line: &[u8]) -> Result<(), &'static str> {
        let Ok(line) = std::str::from_utf8(line) else {
            return Err("not text");
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut words = line.split_ascii_whitespace();
        let (Some(label), Some(random), Some(secret), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err("not three fields (label, client random, secret)");
        };
        let Some(label) = Label::parse(label) else {
            // Wireshark's "RSA Session-ID:... Master-Key:..." and others: not read.
            return Err("a label this program does not read");
        };
        let Some(label) = label else {
            return Ok(());
        };
        let mut r = [0u8; 32];
        if random.len() != 64 || hex::decode_to_slice(random, &mut r).is_err() {
            return Err("the client random is not 32 bytes of hex");
        }
        let Some(secret) = Secret::from_hex(secret) else {
            return Err("the secret is not hex of at most 48 bytes");
        };
        if label == Label::ClientRandom && secret.len != 48 {
            return Err("a TLS 1.2 master secret is 48 bytes");
        }
        let full = self.keys.len() >= self.max_entries;
        match self.keys.get_mut(&r) {
            Some(keys) => *keys.slot(label) = Some(secret),
            None if full => {
                // Said once; the rest are counted.
                self.refused += 1;
                if self.refused == 1 {
                    return Err(
                        "the key log holds max-keylog-entries connections already (later ones are skipped)",
                    );
                }
                return Ok(());
            }
            None => {
                let mut keys = Keys::default();
                *keys.slot(label) = Some(secret);
                self.keys.insert(r, keys);
            }
        }
        self.secrets += 1;
        Ok(())
    }

    /// The secrets for the connection whose ClientHello had this random.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Keys> {
        self.keys.get(client_random)
    }

    /// Connections with at least one secret.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Lines that gave a secret, over everything fed.
    pub fn secrets(&self) -> u64 {
        self.secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "ec43287ec77d0ffde3bdbc493c80a98c4bd583f0c42b56369a2d0d741f2d9658";

    fn log_of(text: &str) -> (KeyLog, Vec<Warning>) {
        let mut k = KeyLog::new(10);
        let mut w = k.feed(text.as_bytes());
        w.extend(k.finish());
        (k, w)
    }

    #[test]
    fn reads_tls12_and_tls13_lines_in_any_chunking() {
        let m = "ab".repeat(48);
        let s = "cd".repeat(32);
        let text = format!(
            "# comment\nCLIENT_RANDOM {R} {m}\r\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {R} {s}\nSERVER_TRAFFIC_SECRET_0 {R} {s}\nEXPORTER_SECRET {R} {s}\nRSA 0011223344556677 {m}\nCLIENT_TRAFFIC_SECRET_1 {R} {s}"
        );
        let mut r = [0u8; 32];
        hex::decode_to_slice(R, &mut r).unwrap();
        for cut in [1, 7, text.len()] {
            let mut k = KeyLog::new(10);
            let mut w = Vec::new();
            for piece in text.as_bytes().chunks(cut) {
                w.extend(k.feed(piece));
            }
            w.extend(k.finish());
            assert!(w.is_empty(), "{w:?}");
            let keys = k.get(&r).unwrap();
            assert_eq!(keys.master.as_ref().unwrap().bytes(), &[0xab; 48][..]);
            assert_eq!(
                keys.client_handshake.as_ref().unwrap().bytes(),
                &[0xcd; 32][..]
            );
            assert!(keys.server_handshake.is_none());
            assert!(keys.server_traffic.is_some());
            assert_eq!(k.secrets(), 3);
        }
    }

    #[test]
    fn a_malformed_line_is_skipped_with_its_number_and_no_secret_in_sight() {
        let m = "ab".repeat(48);
        let text = format!(
            "CLIENT_RANDOM {R}\nCLIENT_RANDOM zz{} {m}\nCLIENT_RANDOM {R} {}\nNOPE {R} {m}\n{}\nCLIENT_RANDOM {R} {m}\n",
            &R[2..],
            "ab".repeat(47),
            "x".repeat(2000)
        );
        let (k, w) = log_of(&text);
        let lines: Vec<u64> = w.iter().map(|w| w.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5]);
        assert_eq!(k.len(), 1);
        for w in &w {
            assert!(!w.to_string().contains("abab"), "{w}");
        }
        assert!(!format!("{k:?}").contains("abab"));
        assert!(!format!("{:?}", k.keys.values().next()).contains("ab"));
    }

    #[test]
    fn entries_are_bounded() {
        let m = "ab".repeat(48);
        let mut text = String::new();
        for i in 0..20u8 {
            text += &format!("CLIENT_RANDOM {:02x}{} {m}\n", i, &R[2..]);
        }
        let (k, w) = log_of(&text);
        assert_eq!(k.len(), 10);
        // Said once, counted all.
        assert_eq!(w.len(), 1);
        assert_eq!(k.refused, 10);
    }
}
