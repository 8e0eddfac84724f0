//! What dissectors emit: [`Event`]s, the changes to a session's transcript as they happen,
//! and the protocol facts they carry, with the stream position they were seen at. Shared by
//! SMTP, POP3 and IMAP; serialisable so the session model can carry them unchanged.

use super::transcript::{ClientLine, Exchange, Mailbox, Message, Reply};
use super::vocab::AnomalyKind;
use crate::types::Timestamp;
use base64::Engine;
use serde::Serialize;

/// One change to a session's transcript, in the order it happened. A dissector hands them out
/// with `Dissector::take_events` while the session is open; the session builder folds them
/// into the model (file mode), a live view shows them as they come. Every change a
/// dissector makes goes through a `Transcript` method that records one of these.
#[derive(Clone, Debug)]
pub enum Event {
    /// A new exchange, numbered in order from 0: a command, or replies without one (the
    /// greeting).
    Exchange(Exchange),
    /// A complete reply to exchange `exchange`.
    Reply {
        exchange: usize,
        reply: Reply,
    },
    /// Lines added to the last reply of an exchange (a POP3 multi-line body arriving).
    ReplyLines {
        exchange: usize,
        lines: Vec<String>,
        mark: Mark,
    },
    /// A line the client sent inside an exchange (a SASL response, IDLE's DONE).
    ClientLine {
        exchange: usize,
        line: ClientLine,
    },
    /// The exchange was cut short (a gap, the end, or it stopped waiting for its reply).
    Incomplete {
        exchange: usize,
    },
    /// Nothing more comes for the exchange: its final reply came, or it stopped waiting.
    /// (Exchanges without a command, a greeting, are complete with their reply.)
    Complete {
        exchange: usize,
    },
    /// The exchange was (or, on second thought, was not) sent while others were unanswered.
    Pipelined {
        exchange: usize,
        pipelined: bool,
    },
    /// The exchange carries message number `message` (of this session).
    MessageOf {
        exchange: usize,
        message: Option<usize>,
    },
    /// Credentials seen.
    Auth {
        auth: Auth,
        mark: Mark,
    },
    /// What credential record number `index` says now (the outcome came, a username).
    AuthUpdate {
        index: usize,
        auth: Auth,
    },
    /// IMAP: a mailbox selected or examined.
    Mailbox {
        mailbox: Mailbox,
        mark: Mark,
    },
    MailboxUpdate {
        index: usize,
        mailbox: Mailbox,
    },
    /// The capabilities the server offered (all of them, replacing earlier ones).
    Capabilities {
        list: Vec<String>,
        mark: Mark,
    },
    /// TLS took over, or the ClientHello told more about it.
    Tls(Tls),
    /// IMAP COMPRESS=DEFLATE started.
    Compression(Mark),
    /// From these offsets of each direction (in the bytes the dissector reads) on, the
    /// stream is in another encoding: the pipeline puts a stream transform in front of the
    /// dissector there. The dissector reads nothing more of the bytes it was given in the
    /// call that asked for it; what it reads next comes out of the transform.
    Upgrade {
        kind: Upgrade,
        client_offset: u64,
        server_offset: u64,
        /// Client bytes past `client_offset` the dissector had been handed (and held)
        /// before it asked: they go through the transform first.
        client_held: Vec<u8>,
    },
    /// A protocol anomaly.
    Anomaly(Anomaly),
    /// One more thing past a limit; `what` says what the limit caps, the first time.
    Limit {
        name: &'static str,
        mark: Mark,
        what: Option<String>,
    },
    /// A message finished (its bytes go to MIME decoding).
    Message(Message),
    /// Both directions ended: nothing follows.
    End,
}

/// What a stream turns into at an [`Event::Upgrade`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// TLS (STARTTLS accepted).
    Tls,
    /// Raw DEFLATE (IMAP COMPRESS=DEFLATE accepted, RFC 4978).
    Deflate,
}

/// Where in the capture something was seen. Dissectors never read clocks: the caller hands
/// this in with each chunk of bytes and the dissector only carries it along.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Mark {
    pub ts: Timestamp,
    pub frame: u64,
}

/// Which side sent something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

/// A named protocol anomaly: which one (its stable name, RFC and explanation come from the
/// [`AnomalyKind`]), where it was seen, and a detail.
///
/// Serialises as `name, rfc, explanation, ts, frame, detail` and, for `limit-reached`,
/// `count`: the order of the session model's anomalies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub ts: Timestamp,
    pub frame: u64,
    pub detail: String,
    /// For `limit-reached`: how many things went uncounted or unkept.
    pub count: Option<u64>,
}

impl Anomaly {
    /// An anomaly of `kind` seen at `mark`.
    pub fn new(kind: impl Into<AnomalyKind>, mark: Mark, detail: impl Into<String>) -> Anomaly {
        Anomaly {
            kind: kind.into(),
            detail: detail.into(),
            ts: mark.ts,
            frame: mark.frame,
            count: None,
        }
    }

    /// The stable kebab-case name.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The RFC (section) it is judged against.
    pub fn rfc(&self) -> &'static str {
        self.kind.rfc()
    }

    /// One line saying what the name means.
    pub fn explanation(&self) -> &'static str {
        self.kind.explanation()
    }
}

impl Serialize for Anomaly {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Anomaly", 6 + usize::from(self.count.is_some()))?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("rfc", self.rfc())?;
        st.serialize_field("explanation", self.explanation())?;
        st.serialize_field("ts", &self.ts)?;
        st.serialize_field("frame", &self.frame)?;
        st.serialize_field("detail", &self.detail)?;
        match self.count {
            Some(count) => st.serialize_field("count", &count)?,
            None => st.skip_field("count")?,
        }
        st.end()
    }
}

/// A secret (password, token) that is only shown when the user asked for it: it serialises
/// as `<redacted>` until [`Secret::reveal`] (`--show-secrets`) was called on it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    revealed: bool,
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret {
            value: s.into(),
            revealed: false,
        }
    }
    /// The value itself, for `--show-secrets`.
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// The value itself, taken out.
    pub fn into_exposed(self) -> String {
        self.value
    }
    /// From now on it serialises and shows as its value.
    pub fn reveal(&mut self) {
        self.revealed = true;
    }
    /// What output shows: the value once revealed, `<redacted>` before.
    pub fn shown(&self) -> &str {
        if self.revealed {
            &self.value
        } else {
            "<redacted>"
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.shown())
    }
}

/// Credentials seen in an authentication exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Auth {
    pub mechanism: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Authorisation identity (SASL PLAIN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authzid: Option<String>,
    /// NTLM: the user's domain and the client's workstation name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workstation: Option<String>,
    /// None while no final answer was seen.
    pub success: Option<bool>,
    /// Index of the exchange that carried it.
    pub exchange: usize,
}

impl Auth {
    /// Credentials of `mechanism` in exchange `exchange`, nothing read of them yet.
    pub fn new(mechanism: impl Into<String>, exchange: usize) -> Auth {
        Auth {
            mechanism: mechanism.into(),
            username: None,
            password: None,
            authzid: None,
            domain: None,
            workstation: None,
            success: None,
            exchange,
        }
    }
}

/// Where TLS took over the connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tls {
    /// `starttls` (upgrade in band) or `implicit` (TLS from the first byte).
    pub mode: &'static str,
    pub at: Timestamp,
    pub frame: u64,
    /// Stream offsets (client, server) where the TLS bytes begin.
    #[serde(skip)]
    pub client_offset: u64,
    #[serde(skip)]
    pub server_offset: u64,
    /// From the ClientHello (the server's name it asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// The version negotiated (the ServerHello's), else the highest the client offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The cipher suite the server chose (IANA name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The application protocol (ALPN) the server chose, else the client's first offer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The client's JA3 fingerprint (MD5 hex of the JA3 string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<String>,
    /// The server's JA3S fingerprint (MD5 hex of the JA3S string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<String>,
    /// The client's JA4 fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    /// The server's certificate chain, leaf first (in clear in TLS 1.2; decrypted in 1.3).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<crate::transform::tls::cert::Certificate>,
    /// An abbreviated handshake (a resumed session).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    /// Whether its records were decrypted (with a key log).
    pub decrypted: bool,
    /// Why not, when they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_decrypted: Option<String>,
    /// Bytes of protected records each way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_bytes: Option<ByteCounts>,
}

/// A byte count per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ByteCounts {
    pub client: u64,
    pub server: u64,
}

impl Tls {
    /// TLS at `mark`, from the stream offsets (client, server) on.
    pub fn new(mode: &'static str, mark: Mark, client_offset: u64, server_offset: u64) -> Tls {
        Tls {
            mode,
            at: mark.ts,
            frame: mark.frame,
            client_offset,
            server_offset,
            sni: None,
            version: None,
            cipher: None,
            alpn: None,
            ja3: None,
            ja3s: None,
            ja4: None,
            certificates: Vec::new(),
            resumed: false,
            decrypted: false,
            not_decrypted: None,
            encrypted_bytes: None,
        }
    }

    /// What the pipeline read of the connection's TLS.
    pub fn learn(&mut self, info: &crate::transform::tls::conn::Info) {
        use crate::transform::tls::conn::Decrypted;
        self.sni = info.sni.clone().or(self.sni.take());
        self.version = info.version.clone().or(self.version.take());
        self.cipher = info.cipher.clone();
        self.alpn = info.alpn.clone();
        self.ja3 = info.ja3.clone();
        self.ja3s = info.ja3s.clone();
        self.ja4 = info.ja4.clone();
        self.certificates = info.certificates.clone();
        self.resumed = info.resumed;
        self.decrypted = info.decrypted == Decrypted::Yes;
        self.not_decrypted = match &info.decrypted {
            Decrypted::No(why) => Some(why.clone()),
            _ => None,
        };
        self.encrypted_bytes = (info.encrypted != [0, 0]).then_some(ByteCounts {
            client: info.encrypted[0],
            server: info.encrypted[1],
        });
    }
}

/// Decodes one SASL response (base64) into `auth` for the mechanisms whose credentials can be
/// read off the wire (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER); true when the response
/// carried a secret. Shared by SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE.
pub fn sasl_response(auth: &mut Auth, response: &str) -> bool {
    if response == "*" {
        return false;
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(response.as_bytes()) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match auth.mechanism.as_str() {
        "PLAIN" => {
            let mut parts = bytes.split(|b| *b == 0);
            let authzid = parts
                .next()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            let user = parts
                .next()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            let pass = parts
                .next()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            auth.authzid = authzid.filter(|a| !a.is_empty());
            auth.username = user;
            auth.password = pass.map(Secret::new);
            true
        }
        "LOGIN" => {
            if auth.username.is_none() {
                auth.username = Some(text);
                false
            } else {
                auth.password = Some(Secret::new(text));
                true
            }
        }
        "CRAM-MD5" => {
            let (user, digest) = text.rsplit_once(' ').unwrap_or((&text, ""));
            auth.username = Some(user.to_string());
            auth.password = Some(Secret::new(digest));
            true
        }
        "XOAUTH2" | "OAUTHBEARER" => {
            for field in text.split('\x01') {
                if let Some(u) = field.strip_prefix("user=") {
                    auth.username = Some(u.to_string());
                } else if let Some(rest) = field.strip_prefix("n,") {
                    if let Some(u) = rest.split(',').find_map(|f| f.strip_prefix("a=")) {
                        auth.username = Some(u.to_string());
                    }
                } else if let Some(tok) = field.strip_prefix("auth=") {
                    auth.password = Some(Secret::new(tok));
                }
            }
            true
        }
        "NTLM" => ntlm_authenticate(auth, &bytes),
        // SCRAM and others: the exchange is noted, nothing is decoded.
        _ => false,
    }
}

/// An NTLMSSP AUTHENTICATE message (type 3, MS-NLMP 2.2.1.3): the user, domain and
/// workstation are read into `auth`, the NT response kept as the secret (hex). True when it
/// was one. NEGOTIATE (1) and CHALLENGE (2) carry no credentials.
fn ntlm_authenticate(auth: &mut Auth, msg: &[u8]) -> bool {
    if msg.len() < 64 || &msg[..8] != b"NTLMSSP\0" || msg[8..12] != [3, 0, 0, 0] {
        return false;
    }
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([msg[i], msg[i + 1]]));
    let u32_at = |i: usize| u32::from_le_bytes([msg[i], msg[i + 1], msg[i + 2], msg[i + 3]]);
    // A security buffer: length (u16), allocated (u16), offset (u32); out of range: none.
    let field = |at: usize| -> Option<&[u8]> {
        let (len, off) = (u16_at(at), usize::try_from(u32_at(at + 4)).ok()?);
        msg.get(off..off.checked_add(len)?)
    };
    let unicode = u32_at(60) & 1 != 0;
    let text = |b: &[u8]| -> Option<String> {
        if b.is_empty() {
            return None;
        }
        Some(match unicode {
            true => {
                let units: Vec<u16> = b
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16_lossy(&units)
            }
            false => String::from_utf8_lossy(b).into_owned(),
        })
    };
    auth.domain = field(28).and_then(text);
    auth.username = field(36).and_then(text);
    auth.workstation = field(44).and_then(text);
    auth.password = field(20)
        .filter(|r| !r.is_empty())
        .map(|r| Secret::new(hex::encode(r)));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::vocab::{common, imap};

    /// An anomaly serialises byte for byte as the session model's anomaly does today (field
    /// order name, rfc, explanation, ts, frame, detail, count), with and without a count.
    #[test]
    fn serialises_as_the_session_model_does() {
        let mark = Mark {
            ts: Timestamp::from_nanos(1_700_000_000_123_456_000),
            frame: 42,
        };
        let mut limit = Anomaly::new(common::Anomaly::LimitReached, mark, "max-exchanges: x");
        limit.count = Some(7);
        let plain = Anomaly::new(
            imap::Anomaly::DecompressionFailed,
            mark,
            "a \"quoted\" detail",
        );
        for a in [limit, plain] {
            let ours = serde_json::to_string(&a).unwrap();
            let q = |s: &str| serde_json::to_string(s).unwrap();
            let count = a.count.map_or(String::new(), |n| format!(",\"count\":{n}"));
            let model = format!(
                "{{\"name\":{},\"rfc\":{},\"explanation\":{},\"ts\":\"2023-11-14T22:13:20.123456Z\",\"frame\":42,\"detail\":{}{count}}}",
                q(a.name()),
                q(a.rfc()),
                q(a.explanation()),
                q(&a.detail)
            );
            assert_eq!(ours, model);
            assert!(ours.starts_with(&format!("{{\"name\":\"{}\",\"rfc\":", a.name())));
            assert!(!a.rfc().is_empty() && !a.explanation().is_empty());
        }
    }

    #[test]
    fn ntlm_fields_out_of_range_are_none_never_a_panic() {
        let good = crate::synth::ntlm_authenticate("CORP", "alice", "WS01");
        let mut auth = Auth::new("NTLM", 0);
        assert!(ntlm_authenticate(&mut auth, &good));
        assert_eq!(auth.username.as_deref(), Some("alice"));
        // Every prefix, and offsets and lengths pointing anywhere.
        for n in 0..good.len() {
            ntlm_authenticate(&mut Auth::new("NTLM", 0), &good[..n]);
        }
        for at in [28, 36, 44] {
            for v in [0u8, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[at..at + 8].fill(v);
                let mut a = Auth::new("NTLM", 0);
                ntlm_authenticate(&mut a, &bad);
            }
        }
        // Not an AUTHENTICATE message: nothing read.
        assert!(!ntlm_authenticate(
            &mut Auth::new("NTLM", 0),
            b"NTLMSSP\0\x01\0\0\0"
        ));
    }
}
