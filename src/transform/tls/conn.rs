//! One TLS connection, both directions: the record layer (framing from any chunking,
//! bounded), the handshake read in clear and, with keys, decrypted (hellos, certificates,
//! Finished, KeyUpdate), and the application data's plaintext handed out one record at a
//! time.
//!
//! ```text
//!  bytes ─▶ record framer ─▶ protected? ──no──▶ handshake / alert / CCS
//!                               │yes
//!                               ▼
//!                         RecordCipher::open ─▶ inner type: application data ─▶ out
//!                                                 handshake ─▶ EncryptedExtensions,
//!                                                 Certificate, Finished (switch keys),
//!                                                 KeyUpdate (next generation)
//! ```
//!
//! Keys come from a [`KeySource`] (a key log), looked up by the ClientHello's random when
//! the first protected record of a direction needs them. Without them the records are
//! counted, never guessed at. After a hole in a protected direction the stream is read
//! again only from a record that decrypts: candidate headers are tried at the next few
//! sequence numbers, and the authentication tag decides.

use super::cert::{self, Certificate};
use super::crypto::{OpenError, RecordCipher};
use super::hello::{self, ClientHello, ServerHello};
use super::keylog::{KeyLog, Keys};
use crate::transform::Failure;

/// The largest record body: 2^14 plaintext plus the most any suite adds (RFC 5246 §6.2.3).
pub const MAX_RECORD: usize = (1 << 14) + 2048;
const HEADER: usize = 5;
/// Candidate record headers after holes that do not open, per direction, before the
/// direction is given up (each costs at most `MAX_RESYNC_SEQS` openings per cipher).
const MAX_RESYNC_FAILURES: u32 = 64;
/// Sequence numbers tried per candidate and cipher (records lost in the hole: estimated
/// from the bytes missing and the direction's record sizes so far).
const MAX_RESYNC_SEQS: u64 = 16;
/// The smallest protected record on the wire: a header and an AEAD tag.
const MIN_RECORD: u64 = (HEADER + 17) as u64;

/// Where the keys come from.
pub trait KeySource {
    /// The secrets of the connection whose ClientHello had this random, if known (now).
    fn keys(&mut self, client_random: &[u8; 32]) -> Option<Keys>;
    /// Whether keys may still come later (a key log read as it grows).
    fn growing(&self) -> bool {
        false
    }
    /// Why a session has no keys, when it has none.
    fn missing(&self) -> &'static str {
        "no key in the key log for this session"
    }
}

impl KeySource for KeyLog {
    fn keys(&mut self, client_random: &[u8; 32]) -> Option<Keys> {
        self.get(client_random).cloned()
    }
}

/// No key log at all.
pub struct NoKeys;

impl KeySource for NoKeys {
    fn keys(&mut self, _: &[u8; 32]) -> Option<Keys> {
        None
    }
    fn missing(&self) -> &'static str {
        "no key log given"
    }
}

/// Whether the connection's records could be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Decrypted {
    /// No protected record seen yet.
    #[default]
    Pending,
    Yes,
    /// Why not.
    No(String),
}

/// What TLS said in clear and, with keys, in its encrypted handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info {
    pub version: Option<String>,
    /// IANA name of the suite (or its number).
    pub cipher: Option<String>,
    pub sni: Option<String>,
    /// The protocol the server chose (ALPN), or else the client's first offer.
    pub alpn: Option<String>,
    /// The client's JA3 fingerprint (MD5 hex), from its ClientHello.
    pub ja3: Option<String>,
    /// The server's JA3S fingerprint (MD5 hex), from its ServerHello.
    pub ja3s: Option<String>,
    pub ja4: Option<String>,
    /// The server's chain, leaf first.
    pub certificates: Vec<Certificate>,
    /// An abbreviated handshake (TLS 1.2 session ID or ticket, TLS 1.3 PSK).
    pub resumed: bool,
    pub decrypted: Decrypted,
    /// Bytes of protected records per direction (client, server).
    pub encrypted: [u64; 2],
    /// Bytes of plaintext handed out per direction.
    pub plaintext: [u64; 2],
}

/// Something to report, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// An alert (decoded: level 1 warning, 2 fatal; description by name).
    Alert {
        client: bool,
        fatal: bool,
        description: &'static str,
        code: u8,
    },
    /// A protected record that does not decrypt (tag or MAC wrong): the rest of that
    /// direction is not read.
    DecryptFailed { client: bool, why: String },
    /// Protected records, and no key for them.
    NoKey { why: String },
    /// After a hole, reading went on from a record that decrypts.
    Resynced { client: bool, skipped: u64 },
    /// After a hole, no record decrypted before the end.
    HoleUnread { client: bool, skipped: u64 },
    /// A handshake message over the bound was skipped.
    HandshakeTooLong { client: bool, len: usize },
    /// A certificate chain longer than the bound: the first `max` are listed.
    CertificatesCut { total: usize, max: usize },
}

/// The bounds of one connection.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Bytes of one handshake message read (certificate chains); longer ones are skipped.
    pub max_handshake: usize,
    /// Certificates listed per chain.
    pub max_certificates: usize,
}

#[derive(Default)]
struct Dir {
    /// The record being read: header, then body.
    rec: Vec<u8>,
    /// Handshake bytes not yet a whole message.
    hs: Vec<u8>,
    /// Bytes of an over-long handshake message still to skip.
    hs_skip: usize,
    /// Records of this direction are protected (TLS 1.2: after its ChangeCipherSpec;
    /// TLS 1.3: application-data records after the ServerHello).
    protected: bool,
    cipher: Option<RecordCipher>,
    /// TLS 1.3: the application-traffic cipher, taken on after this side's Finished (or
    /// when the handshake cipher no longer opens a record: a Finished lost in a hole).
    next: Option<RecordCipher>,
    /// Reading again after a hole.
    resync: Option<Resync>,
    /// Bytes taken past the record found after a hole, read before new input.
    carry: Vec<u8>,
    /// Protected records that went by before the keys were known (a key log read as it
    /// grows).
    skipped: u64,
    /// TLS 1.3: this side's Finished went by, and its application secret was not in the key
    /// log yet: looked up again at its next record.
    want_app: bool,
    /// TLS 1.3 with only application secrets in the key log: the handshake records that do
    /// not open under them are passed over until one does.
    app_only: bool,
    /// Candidates after holes that did not open (the budget is `MAX_RESYNC_FAILURES`).
    resync_failures: u32,
    /// Protected records read, and their bytes (for the size of those lost in a hole).
    records: u64,
    record_bytes: u64,
    /// Bytes not read after the direction was given up.
    lost_bytes: u64,
    /// Given up (a record that did not decrypt, or a hole with nothing to check by).
    lost: bool,
}

#[derive(Clone, Copy)]
struct Resync {
    /// Sequence number the first record in the hole had.
    seq: u64,
    /// Bytes missing in the holes since the last record read.
    missing: u64,
    /// Bytes passed over looking for a record.
    skipped: u64,
}

impl Resync {
    /// The sequence numbers the next record may have, most likely first: the records the
    /// hole held, estimated from their average size so far, then the nearest others.
    fn seqs(&self, avg: u64) -> impl Iterator<Item = u64> {
        let lost = self.missing + self.skipped;
        let lo = self.seq;
        let hi = self.seq.saturating_add(lost / MIN_RECORD + 1);
        let est = self
            .seq
            .saturating_add(lost / avg.max(MIN_RECORD))
            .clamp(lo, hi);
        let around = (0..MAX_RESYNC_SEQS).map(move |k| match k % 2 {
            0 => est.saturating_add(k / 2),
            _ => est.saturating_sub(k / 2 + 1),
        });
        let mut seen = Vec::with_capacity(2 * MAX_RESYNC_SEQS as usize);
        around
            .chain(lo..lo.saturating_add(4))
            .filter(move |q| (lo..=hi).contains(q))
            .filter(move |q| {
                let new = !seen.contains(q);
                seen.push(*q);
                new
            })
    }
}

/// One TLS connection.
pub struct Conn {
    dirs: [Dir; 2],
    client_hello: Option<ClientHello>,
    server_hello: Option<ServerHello>,
    /// 0x0304 once TLS 1.3 is negotiated.
    version: u16,
    /// No keys will come: protected records are counted.
    gave_up: bool,
    /// Keys missing from a key log that may still grow: said at [`Conn::finish`] if they
    /// never came.
    no_key_later: Option<String>,
    /// A missing key was said (once).
    no_key_said: bool,
    info: Info,
    notes: Vec<Note>,
    bounds: Bounds,
    /// Bytes read per direction (client, server).
    seen: [u64; 2],
}

impl Conn {
    pub fn new(bounds: Bounds) -> Conn {
        Conn {
            dirs: [Dir::default(), Dir::default()],
            client_hello: None,
            server_hello: None,
            version: 0,
            gave_up: false,
            no_key_said: false,
            no_key_later: None,
            info: Info::default(),
            notes: Vec::new(),
            bounds,
            seen: [0; 2],
        }
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The connection ended: keys that never came, and holes no record after decrypted,
    /// are said now.
    pub fn finish(&mut self) {
        for (s, d) in self.dirs.iter_mut().enumerate() {
            if let Some(r) = d.resync.take() {
                d.lost_bytes += d.rec.len() as u64;
                self.notes.push(Note::HoleUnread {
                    client: s == 0,
                    skipped: r.skipped + d.rec.len() as u64,
                });
            }
        }
        if let Some(why) = self.no_key_later.take()
            && self.info.decrypted != Decrypted::Yes
            && !self.no_key_said
        {
            self.no_key_said = true;
            self.notes.push(Note::NoKey { why });
        }
    }

    /// Bytes not read per direction (client, server) because the direction was given up (a
    /// record that did not decrypt, or a hole nothing after could be checked by).
    pub fn lost(&self) -> [u64; 2] {
        [self.dirs[0].lost_bytes, self.dirs[1].lost_bytes]
    }

    /// Bytes read so far from the client (or the server).
    pub fn seen(&self, client: bool) -> u64 {
        self.seen[usize::from(!client)]
    }

    /// What to report since the last call.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Reads `client`'s (or the server's) next bytes from the front of `input`, and puts
    /// the plaintext of at most one record into `out` (cleared first). `Ok(true)`: call
    /// again. An error: the bytes are not TLS (the rest of the direction is not read).
    pub fn next(
        &mut self,
        client: bool,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        keys: &mut dyn KeySource,
    ) -> Result<bool, Failure> {
        out.clear();
        let s = usize::from(!client);
        let start = input.len();
        let r = self.next_in(s, input, out, keys);
        self.seen[s] += (start - input.len()) as u64;
        r
    }

    fn next_in(
        &mut self,
        s: usize,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        keys: &mut dyn KeySource,
    ) -> Result<bool, Failure> {
        // Bytes taken while looking for a record after a hole, past the one found.
        while !self.dirs[s].carry.is_empty() {
            let carry = std::mem::take(&mut self.dirs[s].carry);
            let mut rest: &[u8] = &carry;
            let r = self.frame(s, &mut rest, out, keys);
            let d = &mut self.dirs[s];
            if d.carry.is_empty() {
                d.carry = rest.to_vec();
            } else {
                d.carry.extend_from_slice(rest);
            }
            r?;
            if !out.is_empty() {
                return Ok(true);
            }
            if !rest.is_empty() && self.dirs[s].resync.is_none() {
                break;
            }
        }
        self.frame(s, input, out, keys)?;
        Ok(!input.is_empty() || !self.dirs[s].carry.is_empty())
    }

    /// Frames records from the front of `input` until one gives plaintext (in `out`) or
    /// the input is used up.
    fn frame(
        &mut self,
        s: usize,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        keys: &mut dyn KeySource,
    ) -> Result<(), Failure> {
        while !input.is_empty() {
            if self.dirs[s].lost {
                self.dirs[s].lost_bytes += input.len() as u64;
                *input = &[];
                return Ok(());
            }
            if self.dirs[s].resync.is_some() {
                if self.resync(s, input, out, keys) {
                    return Ok(());
                }
                continue;
            }
            let d = &mut self.dirs[s];
            if d.rec.len() < HEADER {
                let take = (HEADER - d.rec.len()).min(input.len());
                d.rec.extend_from_slice(&input[..take]);
                *input = &input[take..];
                if d.rec.len() < HEADER {
                    break;
                }
                if let Err(why) = check_header(&d.rec) {
                    d.lost = true;
                    d.rec.clear();
                    return Err(Failure::Corrupt(format!("{why} at the start of a record")));
                }
            }
            let len = usize::from(u16::from_be_bytes([d.rec[3], d.rec[4]]));
            let take = (HEADER + len - d.rec.len()).min(input.len());
            d.rec.extend_from_slice(&input[..take]);
            *input = &input[take..];
            if d.rec.len() < HEADER + len {
                break;
            }
            let mut rec = std::mem::take(&mut self.dirs[s].rec);
            self.record(s, &rec, out, keys);
            rec.clear();
            self.dirs[s].rec = rec;
            if !out.is_empty() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// `len` bytes of `client`'s direction are missing. `Ok(Some(n))`: the plaintext has a
    /// hole too (its size is not known: `n` is the bytes missing on the wire); `Ok(None)`:
    /// nothing readable was lost.
    pub fn gap(&mut self, client: bool, len: u64) -> Result<Option<u64>, Failure> {
        let s = usize::from(!client);
        let d = &mut self.dirs[s];
        if d.lost {
            return Ok(None);
        }
        let partial = d.rec.len() as u64;
        d.rec.clear();
        d.hs.clear();
        d.hs_skip = 0;
        let hellos = self.client_hello.is_some() && self.server_hello.is_some();
        match &d.cipher {
            // Read again from the next record that opens (the keys may still come).
            _ if d.protected && (d.cipher.is_some() || hellos) => {
                let seq = d.cipher.as_ref().map_or(0, RecordCipher::seq) + d.skipped;
                d.skipped = 0;
                let r = d.resync.get_or_insert(Resync {
                    seq,
                    missing: 0,
                    skipped: 0,
                });
                r.missing = r.missing.saturating_add(len).saturating_add(partial);
                Ok(Some(len))
            }
            // Protected and nothing to check a record by: nothing readable is lost, but the
            // record boundaries cannot be found again.
            None if d.protected => {
                d.lost = true;
                Ok(None)
            }
            // Clear records (the handshake): what follows cannot be followed safely.
            _ => {
                d.lost = true;
                Err(Failure::Gap(len))
            }
        }
    }

    /// One whole record (header and body) of direction `s`.
    fn record(&mut self, s: usize, rec: &[u8], out: &mut Vec<u8>, keys: &mut dyn KeySource) {
        let kind = rec[0];
        let header: [u8; HEADER] = [rec[0], rec[1], rec[2], rec[3], rec[4]];
        let body = &rec[HEADER..];
        let tls13 = self.version == 0x0304;
        // TLS 1.3 sends ChangeCipherSpec only for middleboxes, never protected.
        if tls13 && kind == 20 {
            return;
        }
        let protected = self.dirs[s].protected && (!tls13 || kind == 23);
        if !protected {
            self.clear_record(s, kind, body);
            return;
        }
        self.info.encrypted[s] += rec.len() as u64;
        self.dirs[s].records += 1;
        self.dirs[s].record_bytes += rec.len() as u64;
        if self.dirs[s].want_app {
            match self.app_cipher(s, keys) {
                Some(c) => {
                    let d = &mut self.dirs[s];
                    d.cipher = Some(c);
                    d.want_app = false;
                }
                None => {
                    self.dirs[s].skipped += 1;
                    return;
                }
            }
        }
        if self.dirs[s].cipher.is_none() && !self.find_keys(s, keys) {
            // Counted: if the keys come later (a key log still being written), the records
            // they missed are allowed for in the sequence numbers tried.
            self.dirs[s].skipped += 1;
            return;
        }
        match self.open(s, header, body, out) {
            Ok(inner) => self.plaintext(s, inner, out),
            // Passed over (a handshake record under application-only keys).
            Err(None) => out.clear(),
            Err(Some(why)) => {
                out.clear();
                self.dirs[s].lost = true;
                if self.info.decrypted != Decrypted::Yes {
                    self.info.decrypted = Decrypted::No(format!(
                        "the {} record does not decrypt with the key log's secret",
                        if s == 0 { "client's" } else { "server's" }
                    ));
                }
                self.notes.push(Note::DecryptFailed {
                    client: s == 0,
                    why,
                });
            }
        }
    }

    /// Opens a protected record with the direction's cipher (TLS 1.3: or the next one, when
    /// the handshake cipher no longer fits: its Finished was not seen).
    fn open(
        &mut self,
        s: usize,
        header: [u8; HEADER],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, Option<String>> {
        let tls13 = self.version == 0x0304;
        let d = &mut self.dirs[s];
        let Some(c) = d.cipher.as_mut() else {
            return Err(Some("no cipher".into()));
        };
        let seq = c.seq();
        if d.skipped > 0 {
            // The keys came after some records went by: this record's sequence number is
            // one of the next few, under the handshake keys or the application keys.
            let n = d.skipped.min(MAX_RESYNC_SEQS);
            d.skipped = 0;
            for at in seq..=seq + n {
                if let Ok(t) = c.open_at(at, header, body, out) {
                    d.app_only = false;
                    self.info.decrypted = Decrypted::Yes;
                    return Ok(t);
                }
            }
            if let Some(mut next) = d.next.take() {
                for at in 0..=n {
                    if let Ok(t) = next.open_at(at, header, body, out) {
                        d.cipher = Some(next);
                        self.info.decrypted = Decrypted::Yes;
                        return Ok(t);
                    }
                }
                d.next = Some(next);
            }
            out.clear();
            if tls13 && d.app_only {
                d.skipped = n + 1;
                return Err(None);
            }
            return Err(Some(format!(
                "record {seq}: no sequence number up to {n} records on opens it (the keys came late)"
            )));
        }
        match c.open(header, body, out) {
            Ok(t) => {
                d.app_only = false;
                self.info.decrypted = Decrypted::Yes;
                Ok(t)
            }
            Err(e) => {
                if e == OpenError::Authentication
                    && let Some(mut n) = d.next.take()
                {
                    if let Ok(t) = n.open(header, body, out) {
                        d.cipher = Some(n);
                        self.info.decrypted = Decrypted::Yes;
                        return Ok(t);
                    }
                    d.next = Some(n);
                }
                if e == OpenError::Authentication && tls13 && d.app_only {
                    // A handshake record: the application keys open the records after it.
                    d.skipped += 1;
                    out.clear();
                    return Err(None);
                }
                Err(Some(match e {
                    OpenError::Authentication => format!(
                        "record {seq}: the authentication tag does not match (a wrong key, or damaged data)"
                    ),
                    OpenError::Malformed => format!(
                        "record {seq}: {} bytes cannot be a protected record of this suite",
                        body.len()
                    ),
                    OpenError::TooLong => format!("record {seq}: plaintext over 2^14 bytes"),
                }))
            }
        }
    }

    /// What an opened record held (in `out`): application data stays there; the rest is
    /// read and `out` cleared.
    fn plaintext(&mut self, s: usize, inner: u8, out: &mut Vec<u8>) {
        match inner {
            23 => {
                self.info.plaintext[s] += out.len() as u64;
            }
            22 => {
                let bytes = std::mem::take(out);
                self.handshake(s, &bytes, true);
                *out = bytes;
                out.clear();
            }
            21 => {
                self.alert(s, out);
                out.clear();
            }
            _ => out.clear(),
        }
    }

    /// A record of `s` in clear.
    fn clear_record(&mut self, s: usize, kind: u8, body: &[u8]) {
        match kind {
            // ChangeCipherSpec (TLS 1.2 and earlier): this side's records are protected from
            // the next one. (Before the ServerHello, a TLS 1.3 client's middlebox
            // compatibility CCS: nothing changes.)
            20 if self.server_hello.is_some() => self.dirs[s].protected = true,
            21 => self.alert(s, body),
            22 => self.handshake(s, body, false),
            // Application data in clear, or a heartbeat: not for reading.
            _ => {}
        }
    }

    /// An alert record: one alert (two bytes: level, description). A record with more is
    /// still one note (its first alert): a record can carry no more than one report.
    fn alert(&mut self, s: usize, body: &[u8]) {
        if let [level, code, ..] = *body {
            self.notes.push(Note::Alert {
                client: s == 0,
                fatal: level == 2,
                description: hello::alert_name(code),
                code,
            });
        }
    }

    /// Handshake bytes of `s` (clear, or decrypted): whole messages are read, bounded.
    fn handshake(&mut self, s: usize, mut bytes: &[u8], protected: bool) {
        let max = self.bounds.max_handshake;
        while !bytes.is_empty() {
            let d = &mut self.dirs[s];
            if d.hs_skip > 0 {
                let n = d.hs_skip.min(bytes.len());
                d.hs_skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            if d.hs.len() < 4 {
                let take = (4 - d.hs.len()).min(bytes.len());
                d.hs.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if d.hs.len() < 4 {
                    return;
                }
            }
            let len = usize::from(d.hs[1]) << 16 | usize::from(d.hs[2]) << 8 | usize::from(d.hs[3]);
            if len > max {
                d.hs.clear();
                d.hs_skip = len;
                self.notes.push(Note::HandshakeTooLong {
                    client: s == 0,
                    len,
                });
                continue;
            }
            let take = (4 + len - d.hs.len()).min(bytes.len());
            d.hs.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if d.hs.len() < 4 + len {
                return;
            }
            let msg = std::mem::take(&mut self.dirs[s].hs);
            self.message(s, msg[0], &msg[4..], protected);
            let mut msg = msg;
            msg.clear();
            self.dirs[s].hs = msg;
        }
    }

    /// One whole handshake message of `s`.
    fn message(&mut self, s: usize, kind: u8, body: &[u8], protected: bool) {
        match (s, kind) {
            (0, 1) => {
                if let Some(ch) = hello::client_hello(body) {
                    self.info.sni = self.info.sni.take().or_else(|| ch.sni.clone());
                    if self.info.alpn.is_none() {
                        self.info.alpn = ch.alpn.first().cloned();
                    }
                    self.info.ja3 = Some(ch.ja3.clone());
                    self.info.ja4 = Some(ch.ja4.clone());
                    let v = ch
                        .versions
                        .iter()
                        .copied()
                        .max()
                        .unwrap_or(ch.legacy_version);
                    self.info
                        .version
                        .get_or_insert_with(|| hello::version_name(v));
                    // A second ClientHello (after a HelloRetryRequest) keeps the random.
                    if self.client_hello.is_none() {
                        self.client_hello = Some(ch);
                    }
                }
            }
            (1, 2) => {
                let Some(sh) = hello::server_hello(body) else {
                    return;
                };
                self.version = sh.version;
                self.info.version = Some(hello::version_name(sh.version));
                self.info.cipher = Some(
                    super::crypto::suite_name(sh.suite)
                        .map_or_else(|| format!("0x{:04x}", sh.suite), str::to_owned),
                );
                if let Some(alpn) = &sh.alpn {
                    self.info.alpn = Some(alpn.clone());
                }
                let tls13 = sh.version == 0x0304;
                if let Some(ch) = &self.client_hello {
                    self.info.resumed = if tls13 {
                        ch.psk
                    } else {
                        !sh.session_id.is_empty() && sh.session_id == ch.session_id
                    };
                }
                if tls13 && !sh.retry {
                    // Everything protected from here on, both ways.
                    self.dirs[0].protected = true;
                    self.dirs[1].protected = true;
                }
                if !sh.retry {
                    self.info.ja3s = Some(sh.ja3s.clone());
                    self.server_hello = Some(sh);
                }
            }
            (1, 8) if protected => {
                if let Some(alpn) = hello::encrypted_extensions_alpn(body) {
                    self.info.alpn = Some(alpn);
                }
            }
            (1, 11) if self.info.certificates.is_empty() => {
                let max = self.bounds.max_certificates;
                let chain = cert::chain(body, self.version == 0x0304, max);
                if chain.total > chain.certificates.len() {
                    self.notes.push(Note::CertificatesCut {
                        total: chain.total,
                        max,
                    });
                }
                self.info.certificates = chain.certificates;
            }
            (_, 20) if protected && self.version == 0x0304 => {
                // Finished: this side's application keys from the next record on.
                let d = &mut self.dirs[s];
                match d.next.take() {
                    Some(n) => d.cipher = Some(n),
                    None => d.want_app = true,
                }
            }
            (_, 24) if protected && self.version == 0x0304 => {
                // KeyUpdate: this side's next generation of keys from the next record on.
                let d = &mut self.dirs[s];
                if let Some(n) = d.cipher.as_ref().and_then(RecordCipher::key_update) {
                    d.cipher = Some(n);
                }
            }
            _ => {}
        }
    }

    /// Puts the ciphers in place from the key source, when the hellos were seen. False when
    /// there are none (said once, with why).
    fn find_keys(&mut self, s: usize, source: &mut dyn KeySource) -> bool {
        if self.gave_up {
            return false;
        }
        let why = match (&self.client_hello, &self.server_hello) {
            (None, _) => "the ClientHello was not seen (the capture starts after it)".to_owned(),
            (Some(_), None) => "the ServerHello was not seen".to_owned(),
            (Some(ch), Some(sh)) => match super::crypto::suite(sh.suite) {
                None => format!(
                    "cipher suite {} is not one this program decrypts",
                    self.info.cipher.as_deref().unwrap_or("?")
                ),
                Some(_) if sh.version < 0x0301 => format!(
                    "{} is not decrypted (TLS 1.0 to 1.3 are)",
                    hello::version_name(sh.version)
                ),
                Some(suite) => match source.keys(&ch.random) {
                    Some(keys) if self.install(suite, &keys, s) => return true,
                    Some(_) => {
                        "the key log has no secret of the kind this session needs".to_owned()
                    }
                    None => source.missing().to_owned(),
                },
            },
        };
        // A key log still being written may have the keys later: said at the end if not.
        if source.growing() {
            self.no_key_later = Some(why.clone());
        } else if !self.no_key_said {
            self.no_key_said = true;
            self.notes.push(Note::NoKey { why: why.clone() });
        }
        if self.info.decrypted != Decrypted::Yes {
            self.info.decrypted = Decrypted::No(why);
        }
        // A key log read as it grows may have the key later; else the protected records
        // are counted from now on. (Without the ServerHello yet, nothing is final.)
        self.gave_up = !source.growing() && self.server_hello.is_some();
        false
    }

    /// TLS 1.3: side `s`'s application cipher, from the key source now.
    fn app_cipher(&self, s: usize, source: &mut dyn KeySource) -> Option<RecordCipher> {
        let (ch, sh) = (self.client_hello.as_ref()?, self.server_hello.as_ref()?);
        let suite = super::crypto::suite(sh.suite)?;
        let keys = source.keys(&ch.random)?;
        let secret = if s == 0 {
            keys.client_traffic
        } else {
            keys.server_traffic
        };
        RecordCipher::tls13(suite, secret?.bytes())
    }

    /// The ciphers of the directions that have none yet, from `keys` (a key log being
    /// written may give one side's secrets before the other's); false when side `s` still
    /// has none.
    fn install(&mut self, suite: &'static super::crypto::Suite, keys: &Keys, s: usize) -> bool {
        let (Some(ch), Some(sh)) = (&self.client_hello, &self.server_hello) else {
            return false;
        };
        if sh.version == 0x0304 {
            let make = |k: &Option<super::keylog::Secret>| {
                k.as_ref()
                    .and_then(|k| RecordCipher::tls13(suite, k.bytes()))
            };
            let (ch_c, sh_c) = (make(&keys.client_handshake), make(&keys.server_handshake));
            let (ca_c, sa_c) = (make(&keys.client_traffic), make(&keys.server_traffic));
            for (d, hs, app) in [(0, ch_c, ca_c), (1, sh_c, sa_c)] {
                let dir = &mut self.dirs[d];
                if dir.cipher.is_some() {
                    continue;
                }
                match hs {
                    Some(hs) => {
                        dir.cipher = Some(hs);
                        dir.next = app;
                    }
                    // Without the handshake secret the handshake records do not open;
                    // the application cipher is tried on each until one does.
                    None => {
                        dir.app_only = app.is_some();
                        dir.cipher = app;
                    }
                }
            }
            self.dirs[s].cipher.is_some()
        } else {
            let Some(master) = &keys.master else {
                return false;
            };
            match RecordCipher::tls12(
                suite,
                sh.version,
                master.bytes(),
                &ch.random,
                &sh.random,
                sh.encrypt_then_mac,
            ) {
                Some((c, sc)) => {
                    for (d, cipher) in [(0, c), (1, sc)] {
                        self.dirs[d].cipher.get_or_insert(cipher);
                    }
                    true
                }
                None => false,
            }
        }
    }

    /// After a hole in a protected direction: looks for a record that decrypts at one of
    /// the sequence numbers the hole makes likely (under the direction's cipher, or in TLS
    /// 1.3 under its application cipher, for a hole that held its Finished). True when one
    /// did (its plaintext, if application data, is in `out`; the bytes taken past it are
    /// read next).
    fn resync(
        &mut self,
        s: usize,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        keys: &mut dyn KeySource,
    ) -> bool {
        let tls13 = self.version == 0x0304;
        let d = &mut self.dirs[s];
        let room = (2 * (HEADER + MAX_RECORD)).saturating_sub(d.rec.len());
        let take = room.min(input.len());
        d.rec.extend_from_slice(&input[..take]);
        *input = &input[take..];
        // A hole before the keys were in place (its first protected record lost).
        if d.cipher.is_none() && !self.find_keys(s, keys) {
            let d = &mut self.dirs[s];
            d.lost = true;
            d.resync = None;
            d.lost_bytes += d.rec.len() as u64;
            d.rec.clear();
            return false;
        }
        if tls13 && self.dirs[s].want_app && self.dirs[s].next.is_none() {
            self.dirs[s].next = self.app_cipher(s, keys);
            self.dirs[s].want_app = self.dirs[s].next.is_none();
        }
        loop {
            let d = &mut self.dirs[s];
            let avg = d
                .record_bytes
                .checked_div(d.records)
                .unwrap_or(MAX_RECORD as u64);
            let (Some(r), Some(c)) = (d.resync.as_mut(), d.cipher.as_mut()) else {
                d.lost = true;
                return false;
            };
            // The next plausible header.
            let at = d.rec.windows(HEADER).position(|h| {
                let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
                (if tls13 {
                    h[0] == 23
                } else {
                    (21..=23).contains(&h[0])
                }) && h[1] == 3
                    && h[2] <= 4
                    && (17..=MAX_RECORD).contains(&len)
            });
            let Some(at) = at else {
                // Keep the last bytes: a header may start there.
                let drop = d.rec.len().saturating_sub(HEADER - 1);
                r.skipped += drop as u64;
                d.rec.drain(..drop);
                return false;
            };
            r.skipped += at as u64;
            d.rec.drain(..at);
            let len = usize::from(u16::from_be_bytes([d.rec[3], d.rec[4]]));
            if d.rec.len() < HEADER + len {
                return false;
            }
            let header: [u8; HEADER] = [d.rec[0], d.rec[1], d.rec[2], d.rec[3], d.rec[4]];
            let body = &d.rec[HEADER..HEADER + len];
            let rs = *r;
            let mut opened = rs
                .seqs(avg)
                .find_map(|seq| c.open_at(seq, header, body, out).ok());
            if opened.is_none()
                && let Some(n) = d.next.as_mut()
            {
                // The hole held this side's Finished: the application keys, from 0.
                let past = Resync { seq: 0, ..rs };
                opened = past
                    .seqs(avg)
                    .find_map(|seq| n.open_at(seq, header, body, out).ok());
                if opened.is_some() {
                    d.cipher = d.next.take();
                }
            }
            if let Some(inner) = opened {
                let skipped = rs.skipped;
                d.resync = None;
                d.app_only = false;
                d.records += 1;
                d.record_bytes += (HEADER + len) as u64;
                d.rec.drain(..HEADER + len);
                d.carry = std::mem::take(&mut d.rec);
                self.info.encrypted[s] += (HEADER + len) as u64;
                self.info.decrypted = Decrypted::Yes;
                self.notes.push(Note::Resynced {
                    client: s == 0,
                    skipped,
                });
                self.plaintext(s, inner, out);
                return true;
            }
            out.clear();
            d.rec.drain(..1);
            if let Some(r) = d.resync.as_mut() {
                r.skipped += 1;
            }
            d.resync_failures += 1;
            if d.resync_failures >= MAX_RESYNC_FAILURES {
                let failures = d.resync_failures;
                d.lost = true;
                d.resync = None;
                d.lost_bytes += d.rec.len() as u64;
                d.rec.clear();
                self.notes.push(Note::DecryptFailed {
                    client: s == 0,
                    why: format!(
                        "no record after the holes decrypts ({failures} candidates tried); the rest is not read"
                    ),
                });
                return false;
            }
        }
    }
}

/// Whether a record header (read with tls-parser) can start a TLS record: a known content
/// type, major version 3, a length within the RFC's bound.
fn check_header(h: &[u8]) -> Result<(), String> {
    let Ok((_, header)) = tls_parser::parse_tls_record_header(h) else {
        return Err("a cut record header".into());
    };
    let (kind, version, len) = (header.record_type.0, header.version.0, header.len);
    if !(20..=24).contains(&kind) {
        return Err(format!("content type {kind} is not TLS"));
    }
    if version >> 8 != 3 {
        return Err(format!(
            "version {}.{} is not TLS",
            version >> 8,
            version & 0xff
        ));
    }
    if usize::from(len) > MAX_RECORD {
        return Err(format!("a record of {len} bytes is over the TLS bound"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A fixture of `tests/data/tls/` (made by its make.py from real OpenSSL).
    struct Fixture {
        name: String,
        keylog: String,
        client: Vec<u8>,
        server: Vec<u8>,
        client_plain: Vec<u8>,
        server_plain: Vec<u8>,
    }

    fn fixtures() -> Vec<Fixture> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
        let mut all: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        all.sort();
        assert!(all.len() >= 8, "fixtures in {}", dir.display());
        all.iter()
            .map(|p| {
                let v: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                let hex = |k: &str| hex::decode(v[k].as_str().unwrap()).unwrap();
                Fixture {
                    name: v["name"].as_str().unwrap().to_owned(),
                    keylog: v["keylog"].as_str().unwrap().to_owned(),
                    client: hex("client"),
                    server: hex("server"),
                    client_plain: hex("client_plain"),
                    server_plain: hex("server_plain"),
                }
            })
            .collect()
    }

    fn bounds() -> Bounds {
        Bounds {
            max_handshake: 256 << 10,
            max_certificates: 16,
        }
    }

    fn keylog(text: &str) -> KeyLog {
        let mut k = KeyLog::new(100);
        assert!(k.feed(text.as_bytes()).is_empty());
        k
    }

    /// The length of the first record of `bytes` (the ClientHello).
    fn first_record(bytes: &[u8]) -> usize {
        5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]))
    }

    /// Feeds `bytes` of one side in pieces of `cut` bytes; returns the plaintext.
    fn feed(
        c: &mut Conn,
        client: bool,
        bytes: &[u8],
        cut: usize,
        keys: &mut dyn KeySource,
    ) -> Vec<u8> {
        let mut plain = Vec::new();
        let mut out = Vec::new();
        for mut piece in bytes.chunks(cut.max(1)) {
            loop {
                let more = c.next(client, &mut piece, &mut out, keys).unwrap();
                assert!(out.len() <= 1 << 14, "one record at a time");
                plain.extend_from_slice(&out);
                if !more {
                    break;
                }
            }
        }
        plain
    }

    /// The connection as the wire ordered it: the ClientHello, the server's flight (and
    /// everything else it sent), then the rest of the client's bytes.
    fn run(f: &Fixture, cut: usize, keys: &mut dyn KeySource) -> (Conn, Vec<u8>, Vec<u8>) {
        let mut c = Conn::new(bounds());
        let hello = first_record(&f.client);
        let mut client = feed(&mut c, true, &f.client[..hello], cut, keys);
        let server = feed(&mut c, false, &f.server, cut, keys);
        client.extend(feed(&mut c, true, &f.client[hello..], cut, keys));
        (c, client, server)
    }

    #[test]
    fn every_suite_decrypts_to_what_the_endpoints_sent() {
        for f in fixtures() {
            let mut keys = keylog(&f.keylog);
            let (c, client, server) = run(&f, usize::MAX, &mut keys);
            assert_eq!(client, f.client_plain, "{}: client", f.name);
            assert_eq!(server, f.server_plain, "{}: server", f.name);
            let info = c.info();
            assert_eq!(info.decrypted, Decrypted::Yes, "{}", f.name);
            // (openssl s_client, which made the KeyUpdate case, sends no server name.)
            if !f.name.contains("keyupdate") {
                assert_eq!(info.sni.as_deref(), Some("mail.example.test"), "{}", f.name);
            }
            assert!(
                info.cipher
                    .as_deref()
                    .is_some_and(|c| c.starts_with("TLS_")),
                "{}",
                f.name
            );
            // The leaf certificate: in clear in TLS 1.2, decrypted in TLS 1.3.
            assert!(
                info.certificates
                    .first()
                    .is_some_and(|c| c.subject.contains("mail.example.test")),
                "{}: {:?}",
                f.name,
                info.certificates
            );
            assert_eq!(
                info.plaintext,
                [f.client_plain.len() as u64, f.server_plain.len() as u64]
            );
        }
    }

    #[test]
    fn without_the_key_it_says_so_and_counts_the_encrypted_bytes() {
        for f in fixtures() {
            let mut keys = KeyLog::new(10);
            let (mut c, client, server) = run(&f, usize::MAX, &mut keys);
            assert!(client.is_empty() && server.is_empty());
            assert_eq!(
                c.info().decrypted,
                Decrypted::No("no key in the key log for this session".into()),
                "{}",
                f.name
            );
            assert!(c.info().encrypted[0] > 0 && c.info().encrypted[1] > 0);
            let notes = c.take_notes();
            assert_eq!(
                notes
                    .iter()
                    .filter(|n| matches!(n, Note::NoKey { .. }))
                    .count(),
                1,
                "{}: {notes:?}",
                f.name
            );
            assert!(c.info().version.is_some() && c.info().cipher.is_some());
        }
    }

    /// A key log being written while the capture runs: the keys come after some records
    /// (and, with `partial`, the application secrets a few lookups after the handshake's).
    struct Late {
        log: KeyLog,
        misses: u32,
        partial: u32,
    }

    impl KeySource for Late {
        fn keys(&mut self, r: &[u8; 32]) -> Option<Keys> {
            if self.misses > 0 {
                self.misses -= 1;
                return None;
            }
            let mut k = self.log.get(r).cloned()?;
            if self.partial > 0 && k.client_handshake.is_some() {
                // The order OpenSSL writes them in: the server's handshake secret first.
                self.partial -= 1;
                if self.partial > 0 {
                    k.client_handshake = None;
                }
                k.client_traffic = None;
                k.server_traffic = None;
            }
            Some(k)
        }
        fn growing(&self) -> bool {
            true
        }
    }

    #[test]
    fn keys_that_come_late_still_open_the_records_after_them() {
        // (TLS 1.0 is left out: a CBC record's IV is the last block of the one before, so
        // the first record after those missed does not open; the ones after it would.)
        for f in fixtures().iter().filter(|f| !f.name.starts_with("tls10")) {
            for (misses, partial) in [(1, 0), (2, 0), (3, 0), (0, 1), (1, 2), (0, 3)] {
                let mut keys = Late {
                    log: keylog(&f.keylog),
                    misses,
                    partial,
                };
                let (mut c, client, server) = run(f, usize::MAX, &mut keys);
                c.finish();
                let notes = c.take_notes();
                assert!(
                    !notes.iter().any(|n| matches!(n, Note::NoKey { .. })),
                    "{}: {notes:?}",
                    f.name
                );
                assert_eq!(
                    c.info().decrypted,
                    Decrypted::Yes,
                    "{} {misses} {partial}: {notes:?}",
                    f.name
                );
                assert!(
                    !notes
                        .iter()
                        .any(|n| matches!(n, Note::DecryptFailed { .. })),
                    "{} {misses} {partial}: {notes:?}",
                    f.name
                );
                // The client's records come after the server's flight: by then every secret
                // is there, and none of the client's is lost.
                if misses == 0 {
                    assert_eq!(client, f.client_plain, "{} {partial}", f.name);
                }
                // What the missed records held is lost; the rest is read.
                assert!(f.client_plain.ends_with(&client), "{} {misses}", f.name);
                assert!(f.server_plain.ends_with(&server), "{} {misses}", f.name);
                assert!(
                    !client.is_empty() || !server.is_empty(),
                    "{} {misses}",
                    f.name
                );
            }
            // Keys that never come are said at the end, once.
            let mut keys = Late {
                log: KeyLog::new(1),
                misses: 0,
                partial: 0,
            };
            let (mut c, _, _) = run(f, usize::MAX, &mut keys);
            assert!(c.take_notes().is_empty(), "{}", f.name);
            c.finish();
            assert!(
                matches!(c.take_notes()[..], [Note::NoKey { .. }]),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn a_wrong_key_is_a_record_that_does_not_authenticate() {
        for f in fixtures() {
            // Every secret's last hex digit changed.
            let text: String = f
                .keylog
                .lines()
                .map(|l| {
                    let mut l = l.to_owned();
                    let last = l.pop().unwrap();
                    l.push(if last == '0' { '1' } else { '0' });
                    l + "\n"
                })
                .collect();
            let mut keys = keylog(&text);
            let (mut c, client, _) = run(&f, usize::MAX, &mut keys);
            assert!(client.is_empty(), "{}", f.name);
            let notes = c.take_notes();
            assert!(
                notes
                    .iter()
                    .any(|n| matches!(n, Note::DecryptFailed { .. })),
                "{}: {notes:?}",
                f.name
            );
            assert_ne!(c.info().decrypted, Decrypted::Yes);
        }
    }

    #[test]
    fn after_a_hole_reading_goes_on_from_the_next_record_that_decrypts() {
        for f in fixtures().iter().filter(|f| f.client_plain.len() > 30_000) {
            let mut keys = keylog(&f.keylog);
            let mut c = Conn::new(bounds());
            let hello = first_record(&f.client);
            feed(&mut c, true, &f.client[..hello], usize::MAX, &mut keys);
            feed(&mut c, false, &f.server, usize::MAX, &mut keys);
            // A hole in the middle of the big write: its record is lost, and part of the
            // next; what follows comes out.
            let rest = &f.client[hello..];
            let (at, len) = (rest.len() / 3, 20_000);
            let before = feed(&mut c, true, &rest[..at], 999, &mut keys);
            assert_eq!(c.gap(true, len as u64), Ok(Some(len as u64)));
            let after = feed(&mut c, true, &rest[at + len..], 999, &mut keys);
            assert!(f.client_plain.starts_with(&before), "{}", f.name);
            assert!(!after.is_empty(), "{}: nothing after the hole", f.name);
            assert!(f.client_plain.ends_with(&after), "{}", f.name);
            assert!(before.len() + after.len() < f.client_plain.len());
            let notes = c.take_notes();
            assert!(
                notes
                    .iter()
                    .any(|n| matches!(n, Note::Resynced { client: true, .. })),
                "{}: {notes:?}",
                f.name
            );
        }
    }

    #[test]
    fn bytes_that_are_not_tls_stop_the_direction_with_a_reason() {
        let mut c = Conn::new(bounds());
        let mut input: &[u8] = b"EHLO client.example\r\n";
        let mut out = Vec::new();
        let r = c.next(true, &mut input, &mut out, &mut NoKeys);
        assert!(matches!(r, Err(Failure::Corrupt(why)) if why.contains("content type 69")));
        // The rest of the direction is not read.
        let mut input: &[u8] = &[22, 3, 3, 0, 1, 1];
        assert_eq!(c.next(true, &mut input, &mut out, &mut NoKeys), Ok(false));
        assert!(input.is_empty() && out.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn any_segmentation_decrypts_to_the_same_bytes(cut in 1usize..3000, which in 0usize..100) {
            let all = fixtures();
            let f = &all[which % all.len()];
            let mut keys = keylog(&f.keylog);
            let (_, client, server) = run(f, cut, &mut keys);
            prop_assert_eq!(client, f.client_plain.clone());
            prop_assert_eq!(server, f.server_plain.clone());
        }

        #[test]
        fn hostile_bytes_never_panic(
            a in proptest::collection::vec(any::<u8>(), 0..4000),
            b in proptest::collection::vec(any::<u8>(), 0..4000),
            cut in 1usize..700,
        ) {
            // Random bytes behind a plausible record header, both ways, with holes.
            let mut c = Conn::new(bounds());
            let mut keys = KeyLog::new(10);
            for (client, bytes) in [(true, &a), (false, &b), (true, &b), (false, &a)] {
                let mut framed = vec![22, 3, 3];
                framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                framed.extend_from_slice(bytes);
                for piece in framed.chunks(cut) {
                    let mut p = piece;
                    let mut out = Vec::new();
                    while let Ok(true) = c.next(client, &mut p, &mut out, &mut keys) {}
                }
                let _ = c.gap(client, 7);
            }
        }
    }

    // Scenarios from the review of the TLS layer: each failed before its fix.

    /// The records of `bytes`: (start, end) of each.
    fn records(bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        let mut i = 0;
        while i + 5 <= bytes.len() {
            let l = usize::from(u16::from_be_bytes([bytes[i + 3], bytes[i + 4]]));
            v.push((i, i + 5 + l));
            i += 5 + l;
        }
        v
    }

    fn fixture(name: &str) -> Fixture {
        fixtures().into_iter().find(|f| f.name == name).unwrap()
    }

    fn feed_all(c: &mut Conn, client: bool, bytes: &[u8], keys: &mut dyn KeySource) -> Vec<u8> {
        feed(c, client, bytes, usize::MAX, keys)
    }

    /// R1: TLS 1.3, keys known; the capture lost the server's EncryptedExtensions and
    /// Certificate (a gap before any protected record was read): the direction is given up
    /// silently, although the keys are there and the next records open.
    #[test]
    fn a_hole_before_the_first_protected_record_resyncs_with_the_keys() {
        let f = fixture("tls13-aes128gcm");
        let mut keys = keylog(&f.keylog);
        let mut c = Conn::new(bounds());
        let hello = first_record(&f.client);
        feed_all(&mut c, true, &f.client[..hello], &mut keys);
        let r = records(&f.server);
        // SH, CCS in; EE + Cert lost; CV, Fin, NST.. and application data after.
        feed_all(&mut c, false, &f.server[..r[1].1], &mut keys);
        let lost = (r[3].1 - r[2].0) as u64;
        let _ = c.gap(false, lost);
        let server = feed_all(&mut c, false, &f.server[r[3].1..], &mut keys);
        let client = feed_all(&mut c, true, &f.client[hello..], &mut keys);
        c.finish();
        let notes = c.take_notes();
        assert_eq!(client.len(), f.client_plain.len());
        assert!(
            !notes.is_empty(),
            "the server's direction went unread and nothing says so"
        );
        assert_eq!(
            server.len(),
            f.server_plain.len(),
            "the server's records after the hole open with the keys"
        );
    }

    /// R2: TLS 1.3: the hole swallowed the client's Finished record; the records after it
    /// are under the application keys, which resync never tries (only `cipher`, the
    /// handshake one). Nothing is read, and nothing is said.
    #[test]
    fn a_hole_over_a_tls13_finished_resyncs_under_the_application_keys() {
        let f = fixture("tls13-aes128gcm");
        let mut keys = keylog(&f.keylog);
        let mut c = Conn::new(bounds());
        let r = records(&f.client);
        feed_all(&mut c, true, &f.client[..r[0].1], &mut keys);
        feed_all(&mut c, false, &f.server, &mut keys);
        // CH, CCS read; the Finished record (r[2]) lost; then application data.
        feed_all(&mut c, true, &f.client[r[0].1..r[1].1], &mut keys);
        let _ = c.gap(true, (r[2].1 - r[2].0) as u64);
        let client = feed_all(&mut c, true, &f.client[r[2].1..], &mut keys);
        c.finish();
        let notes = c.take_notes();
        assert!(
            !client.is_empty(),
            "nothing read after a lost Finished (notes {notes:?})"
        );
        assert!(f.client_plain.ends_with(&client));
    }

    /// R3: more than MAX_RESYNC_SEQS (16) records lost in one hole: resync never finds
    /// the sequence number, although the gap's length says how many were lost at least.
    #[test]
    fn a_hole_of_more_than_16_records_resyncs_from_its_length() {
        let f = fixture("tls13-aes128gcm");
        let mut log = keylog(&f.keylog);
        let r = records(&f.client);
        // CH, CCS, Finished as captured, then 60 application records of 1000 bytes,
        // sealed with the client's application secret.
        let ch = &f.client[5 + 4 + 2..5 + 4 + 2 + 32];
        let random: [u8; 32] = ch.try_into().unwrap();
        let k = log.keys(&random).unwrap();
        let suite = super::super::crypto::suite(0x1301).unwrap();
        let mut seal = RecordCipher::tls13(suite, k.client_traffic.unwrap().bytes()).unwrap();
        let mut stream = f.client[..r[2].1].to_vec();
        let mut bounds_of = Vec::new();
        let mut plain = Vec::new();
        for i in 0..60u32 {
            let p = vec![b'a' + (i % 26) as u8; 1000];
            let start = stream.len();
            seal.seal(23, &p, &mut stream);
            bounds_of.push((start, stream.len()));
            plain.push(p);
        }
        let mut c = Conn::new(bounds());
        feed_all(&mut c, true, &f.client[..r[0].1], &mut log);
        feed_all(&mut c, false, &f.server, &mut log);
        let before = feed_all(&mut c, true, &stream[r[0].1..bounds_of[2].1], &mut log);
        assert_eq!(before.len(), 3000);
        // Records 3..=22 (20 records) lost, and half of record 23.
        let cut = bounds_of[23].0 + 500;
        let _ = c.gap(true, (cut - bounds_of[3].0) as u64);
        let after = feed(&mut c, true, &stream[cut..], 700, &mut log);
        c.finish();
        c.take_notes();
        assert_eq!(after.len(), plain[24..].concat().len());
    }

    /// R4: a key log with the application secrets alone (no *_HANDSHAKE_TRAFFIC_SECRET):
    /// `install` says the application cipher "is tried on each until one does", but the
    /// first handshake record fails and the direction is given up.
    #[test]
    fn a_tls13_key_log_with_only_application_secrets_reads_the_application_data() {
        let f = fixture("tls13-aes128gcm");
        let text: String = f
            .keylog
            .lines()
            .filter(|l| l.contains("_TRAFFIC_SECRET_0"))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut keys = keylog(&text);
        let (mut c, client, server) = run(&f, usize::MAX, &mut keys);
        c.take_notes();
        assert_eq!(client.len(), f.client_plain.len());
        assert_eq!(server.len(), f.server_plain.len());
    }

    /// R6: TLS 1.3 with 0-RTT (or any client record after the ClientHello that arrives
    /// before the ServerHello is read): the client's CCS marks the direction protected with
    /// version still 0, its next record calls find_keys before the ServerHello, which gives
    /// up for the whole connection ("the ServerHello was not seen").
    #[test]
    fn a_client_record_before_the_server_hello_does_not_give_up() {
        let f = fixture("tls13-aes128gcm");
        let mut keys = keylog(&f.keylog);
        let mut c = Conn::new(bounds());
        let r = records(&f.client);
        // CH, CCS, and one early-data-like record (here: the client's Finished record),
        // all before the server's flight.
        feed_all(&mut c, true, &f.client[..r[1].1], &mut keys);
        let early = [23u8, 3, 3, 0, 20]
            .iter()
            .copied()
            .chain([0u8; 20])
            .collect::<Vec<_>>();
        feed_all(&mut c, true, &early, &mut keys);
        let server = feed_all(&mut c, false, &f.server, &mut keys);
        c.take_notes();
        assert_eq!(server.len(), f.server_plain.len());
    }

    /// R5b: 62 candidates per hole, then another hole: candidates restart at 0, so a
    /// direction never gives up and each ~16.7 KB of input costs ~1000 AEAD opens of 16 KB.
    #[test]
    fn resync_work_is_bounded_per_direction_across_holes() {
        let f = fixture("tls13-aes128gcm");
        let mut keys = keylog(&f.keylog);
        let mut c = Conn::new(bounds());
        let r = records(&f.client);
        feed_all(&mut c, true, &f.client[..r[0].1], &mut keys);
        feed_all(&mut c, false, &f.server, &mut keys);
        feed_all(&mut c, true, &f.client[r[0].1..r[3].1], &mut keys);
        for _ in 0..10 {
            c.gap(true, 10).unwrap();
            let junk: Vec<u8> = [23u8, 3, 3, 0x3f, 0xf0]
                .iter()
                .copied()
                .cycle()
                .take(16_373 + 61 * 5)
                .collect();
            feed(&mut c, true, &junk, usize::MAX, &mut keys);
        }
        assert!(c.dirs[0].lost, "never given up");
    }
}
