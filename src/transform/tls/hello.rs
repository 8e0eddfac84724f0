//! The hellos of a TLS handshake, read from the body of one handshake message (without its
//! 4-byte header; the record layer reassembles messages and calls these): ClientHello
//! (versions, suites, SNI, ALPN, resumption hints, the JA3 and JA4 fingerprints),
//! ServerHello (what was chosen, HelloRetryRequest, the JA3S fingerprint),
//! EncryptedExtensions (TLS 1.3's ALPN), and the names of versions and alerts. Pure
//! functions over bytes, parsed with `tls-parser`; a malformed message gives `None`, never
//! a panic, and nothing is allocated beyond the input's size.

use md5::Md5;
use sha2::{Digest, Sha256};
use tls_parser::{
    TlsExtension, parse_tls_client_hello_extension, parse_tls_extension_unknown,
    parse_tls_handshake_client_hello, parse_tls_handshake_server_hello,
    parse_tls_server_hello_extension,
};

/// The name of a protocol version: "TLS 1.3" … "SSL 3.0", else its hex ("0x7f1c").
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".into(),
        0x0303 => "TLS 1.2".into(),
        0x0302 => "TLS 1.1".into(),
        0x0301 => "TLS 1.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0002 => "SSL 2.0".into(),
        _ => format!("0x{v:04x}"),
    }
}

/// The name of an alert description (RFC 8446 §6, RFC 5246 §7.2 and the IANA registry);
/// "unknown" for a value without one.
pub fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => "unknown",
    }
}

/// What a ClientHello offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub legacy_version: u16,
    /// supported_versions, in the client's order, GREASE dropped; empty if absent.
    pub versions: Vec<u16>,
    /// Cipher suites in the client's order, GREASE dropped.
    pub suites: Vec<u16>,
    /// The first host_name of server_name, as sent (invalid UTF-8 replaced).
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// A non-empty session_ticket extension (TLS 1.2 resumption by ticket).
    pub session_ticket: bool,
    /// A pre_shared_key extension (TLS 1.3 resumption).
    pub psk: bool,
    pub early_data: bool,
    pub encrypt_then_mac: bool,
    pub extended_master_secret: bool,
    /// The FoxIO JA4 fingerprint (TLS over TCP).
    pub ja4: String,
    /// The JA3 fingerprint (Salesforce): MD5 hex of [`ja3_text`].
    pub ja3: String,
}

impl ClientHello {
    /// The version the client offers at most: the highest of supported_versions, else the
    /// legacy version.
    pub fn max_version(&self) -> u16 {
        self.versions
            .iter()
            .copied()
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// What a ServerHello chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    /// Negotiated: supported_versions if present, else the legacy version.
    pub version: u16,
    pub suite: u16,
    pub alpn: Option<String>,
    pub encrypt_then_mac: bool,
    pub extended_master_secret: bool,
    /// A HelloRetryRequest (the RFC 8446 §4.1.3 magic random), not a real ServerHello.
    pub retry: bool,
    /// The JA3S fingerprint (Salesforce): MD5 hex of [`ja3s_text`].
    pub ja3s: String,
}

/// The random of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3).
const RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;

/// A GREASE value (RFC 8701): 0x0a0a, 0x1a1a, … 0xfafa.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// One extension as it stands in the list: its type, its bytes (type and length included,
/// for tls-parser's typed parsers), and its content.
struct RawExtension<'a> {
    kind: u16,
    whole: &'a [u8],
}

/// The extensions of a list, in order, up to the first one whose length lies.
fn walk(mut list: &[u8]) -> impl Iterator<Item = RawExtension<'_>> {
    std::iter::from_fn(move || {
        let before = list;
        let (rest, ext) = parse_tls_extension_unknown(before).ok()?;
        let TlsExtension::Unknown(kind, _) = ext else {
            return None;
        };
        list = rest;
        let whole = before.get(..before.len() - rest.len())?;
        Some(RawExtension {
            kind: kind.0,
            whole,
        })
    })
}

fn utf8(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn random(b: &[u8]) -> Option<[u8; 32]> {
    b.try_into().ok()
}

/// Reads a ClientHello body; `None` when it is not one (truncated, lengths that lie).
pub fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let (rest, ch) = parse_tls_handshake_client_hello(body).ok()?;
    // An extensions block whose length runs past the message is a lie, not "no extensions".
    if ch.ext.is_none() && !rest.is_empty() {
        return None;
    }
    let mut hello = ClientHello {
        random: random(ch.random)?,
        session_id: ch.session_id.unwrap_or_default().to_vec(),
        legacy_version: ch.version.0,
        versions: Vec::new(),
        suites: ch
            .ciphers
            .iter()
            .map(|c| c.0)
            .filter(|&c| !is_grease(c))
            .collect(),
        sni: None,
        alpn: Vec::new(),
        session_ticket: false,
        psk: false,
        early_data: false,
        encrypt_then_mac: false,
        extended_master_secret: false,
        ja4: String::new(),
        ja3: String::new(),
    };
    let mut kinds = Vec::new();
    let mut first_alpn: Option<&[u8]> = None;
    let mut alpn_seen = false;
    let mut sigs = Vec::new();
    let mut has_versions = false;
    let mut groups = Vec::new();
    let mut point_formats: &[u8] = &[];
    for raw in walk(ch.ext.unwrap_or_default()) {
        if is_grease(raw.kind) {
            continue;
        }
        kinds.push(raw.kind);
        let Ok((_, ext)) = parse_tls_client_hello_extension(raw.whole) else {
            continue;
        };
        match ext {
            TlsExtension::SNI(names) if hello.sni.is_none() => {
                hello.sni = names.iter().find(|(t, _)| t.0 == 0).map(|(_, n)| utf8(n));
            }
            TlsExtension::ALPN(protocols) if !alpn_seen => {
                alpn_seen = true;
                first_alpn = protocols.first().copied();
                hello.alpn = protocols.iter().map(|p| utf8(p)).collect();
            }
            TlsExtension::SupportedVersions(versions) => {
                has_versions = true;
                hello.versions = versions
                    .iter()
                    .map(|v| v.0)
                    .filter(|&v| !is_grease(v))
                    .collect();
            }
            TlsExtension::SignatureAlgorithms(algs) => {
                sigs = algs.into_iter().filter(|&a| !is_grease(a)).collect();
            }
            TlsExtension::EllipticCurves(named) => {
                groups = named.iter().map(|g| g.0).collect();
            }
            TlsExtension::EcPointFormats(formats) => point_formats = formats,
            TlsExtension::SessionTicket(ticket) => hello.session_ticket = !ticket.is_empty(),
            TlsExtension::PreSharedKey(_) => hello.psk = true,
            TlsExtension::EarlyData(_) => hello.early_data = true,
            TlsExtension::EncryptThenMac => hello.encrypt_then_mac = true,
            TlsExtension::ExtendedMasterSecret => hello.extended_master_secret = true,
            _ => {}
        }
    }
    let version = if has_versions && !hello.versions.is_empty() {
        hello.max_version()
    } else {
        hello.legacy_version
    };
    hello.ja4 = ja4(&Ja4Input {
        version,
        suites: &hello.suites,
        extensions: &kinds,
        alpn: first_alpn,
        signature_algorithms: &sigs,
    });
    hello.ja3 = md5_hex(&ja3_text(
        hello.legacy_version,
        &hello.suites,
        &kinds,
        &groups,
        point_formats,
    ));
    Some(hello)
}

/// Decimal values joined by dashes, GREASE left out (JA3's list form).
fn ja3_list(values: &[u16]) -> String {
    let kept: Vec<String> = values
        .iter()
        .filter(|&&v| !is_grease(v))
        .map(u16::to_string)
        .collect();
    kept.join("-")
}

/// The JA3 string of a ClientHello (salesforce/ja3 README): its version field, cipher
/// suites, extension types in the order sent, supported groups and EC point formats, in
/// decimal, lists joined by `-` and fields by `,`, with GREASE values (RFC 8701) left out.
fn ja3_text(
    version: u16,
    suites: &[u16],
    extensions: &[u16],
    groups: &[u16],
    point_formats: &[u8],
) -> String {
    let formats: Vec<String> = point_formats.iter().map(u8::to_string).collect();
    format!(
        "{version},{},{},{},{}",
        ja3_list(suites),
        ja3_list(extensions),
        ja3_list(groups),
        formats.join("-")
    )
}

/// The JA3S string of a ServerHello: its version field (not supported_versions), the chosen
/// suite and the extension types in the order sent, GREASE left out as in JA3.
fn ja3s_text(version: u16, suite: u16, extensions: &[u16]) -> String {
    format!("{version},{suite},{}", ja3_list(extensions))
}

/// MD5 in lower-case hex, as JA3 and JA3S print it.
fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// What JA4 reads of a ClientHello, GREASE already dropped.
struct Ja4Input<'a> {
    version: u16,
    suites: &'a [u16],
    /// Extension types in the order sent.
    extensions: &'a [u16],
    /// The first ALPN protocol, as sent.
    alpn: Option<&'a [u8]>,
    signature_algorithms: &'a [u16],
}

/// The FoxIO JA4 fingerprint of a ClientHello over TCP (technical_details/JA4.md):
/// `t` version sni count(suites) count(extensions) alpn `_` hash(sorted suites) `_`
/// hash(sorted extensions without SNI and ALPN `_` signature algorithms in order).
fn ja4(input: &Ja4Input) -> String {
    let version = match input.version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        _ => "00",
    };
    let sni = if input.extensions.contains(&EXT_SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let alpn = ja4_alpn(input.alpn.unwrap_or_default());
    let hexes = |v: &[u16]| {
        v.iter()
            .map(|x| format!("{x:04x}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut suites = input.suites.to_vec();
    suites.sort_unstable();
    let mut extensions: Vec<u16> = input
        .extensions
        .iter()
        .copied()
        .filter(|&e| e != EXT_SERVER_NAME && e != EXT_ALPN)
        .collect();
    extensions.sort_unstable();
    let extensions_part = if extensions.is_empty() {
        String::new()
    } else if input.signature_algorithms.is_empty() {
        hexes(&extensions)
    } else {
        format!(
            "{}_{}",
            hexes(&extensions),
            hexes(input.signature_algorithms)
        )
    };
    format!(
        "t{version}{sni}{:02}{:02}{alpn}_{}_{}",
        input.suites.len().min(99),
        input.extensions.len().min(99),
        hash12(&hexes(&suites)),
        hash12(&extensions_part),
    )
}

/// JA4's two characters for the first ALPN protocol: its first and last bytes when both are
/// ASCII alphanumerics, else the first and last digits of its hex; "00" when empty.
fn ja4_alpn(p: &[u8]) -> String {
    let (Some(&first), Some(&last)) = (p.first(), p.last()) else {
        return "00".into();
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        return [first as char, last as char].iter().collect();
    }
    let digit = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    [digit(first >> 4), digit(last & 0x0f)].iter().collect()
}

/// The first 12 hex digits of SHA-256, or twelve zeros for an empty list.
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".into();
    }
    let mut h = hex::encode(Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

/// Reads a ServerHello (or HelloRetryRequest) body; `None` when it is not one.
pub fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let (rest, sh) = parse_tls_handshake_server_hello(body).ok()?;
    if sh.ext.is_none() && !rest.is_empty() {
        return None;
    }
    let random = random(sh.random)?;
    let legacy_version = sh.version.0;
    let mut kinds = Vec::new();
    let mut hello = ServerHello {
        random,
        session_id: sh.session_id.unwrap_or_default().to_vec(),
        version: sh.version.0,
        suite: sh.cipher.0,
        alpn: None,
        encrypt_then_mac: false,
        extended_master_secret: false,
        retry: random == RETRY_RANDOM,
        ja3s: String::new(),
    };
    for raw in walk(sh.ext.unwrap_or_default()) {
        kinds.push(raw.kind);
        // tls-parser's ServerHello extension reader does not know these two (RFC 7366,
        // RFC 7627): empty extensions, told by their number.
        match raw.kind {
            22 => hello.encrypt_then_mac = true,
            23 => hello.extended_master_secret = true,
            _ => {}
        }
        let Ok((_, ext)) = parse_tls_server_hello_extension(raw.whole) else {
            continue;
        };
        match ext {
            TlsExtension::SupportedVersions(v) => {
                if let Some(v) = v.first() {
                    hello.version = v.0;
                }
            }
            TlsExtension::ALPN(protocols) => hello.alpn = protocols.first().map(|p| utf8(p)),
            TlsExtension::EncryptThenMac => hello.encrypt_then_mac = true,
            TlsExtension::ExtendedMasterSecret => hello.extended_master_secret = true,
            _ => {}
        }
    }
    hello.ja3s = md5_hex(&ja3s_text(legacy_version, hello.suite, &kinds));
    Some(hello)
}

/// The protocol ALPN chose, from an EncryptedExtensions body (where TLS 1.3 puts it).
pub fn encrypted_extensions_alpn(body: &[u8]) -> Option<String> {
    let (len, list) = body.split_first_chunk::<2>()?;
    let list = list.get(..usize::from(u16::from_be_bytes(*len)))?;
    walk(list)
        .filter(|raw| raw.kind == EXT_ALPN)
        .find_map(|raw| match parse_tls_server_hello_extension(raw.whole) {
            Ok((_, TlsExtension::ALPN(protocols))) => protocols.first().map(|p| utf8(p)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(hex_text: &str) -> Vec<u8> {
        hex::decode(hex_text.trim()).expect("fixture is hex")
    }

    fn tls12_ch() -> Vec<u8> {
        fixture(include_str!(
            "../../../tests/data/tls-hello/tls12-client-hello.hex"
        ))
    }
    fn tls13_ch() -> Vec<u8> {
        fixture(include_str!(
            "../../../tests/data/tls-hello/tls13-client-hello.hex"
        ))
    }
    fn tls13_nosni_ch() -> Vec<u8> {
        fixture(include_str!(
            "../../../tests/data/tls-hello/tls13-nosni-client-hello.hex"
        ))
    }
    fn tls12_nosni_ch() -> Vec<u8> {
        fixture(include_str!(
            "../../../tests/data/tls-hello/tls12-nosni-client-hello.hex"
        ))
    }
    fn tls12_sh() -> Vec<u8> {
        fixture(include_str!(
            "../../../tests/data/tls-hello/tls12-server-hello.hex"
        ))
    }
    fn tls13_sh() -> Vec<u8> {
        fixture(include_str!(
            "../../../tests/data/tls-hello/tls13-server-hello.hex"
        ))
    }

    fn ext(kind: u16, content: &[u8]) -> Vec<u8> {
        let mut v = kind.to_be_bytes().to_vec();
        v.extend_from_slice(&(content.len() as u16).to_be_bytes());
        v.extend_from_slice(content);
        v
    }

    fn list16(items: &[u8]) -> Vec<u8> {
        let mut v = (items.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(items);
        v
    }

    fn u16s(values: &[u16]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// A ClientHello body with the suites, extensions and signature algorithms of the JA4
    /// specification's example (technical_details/JA4.md), with GREASE added; `sigalgs` is
    /// the content of its signature_algorithms extension.
    fn spec_hello(sigalgs: &[u8]) -> Vec<u8> {
        let suites = [
            0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let mut sni = vec![0, 14, 0, 0, 11];
        sni.extend_from_slice(b"example.com");
        let alpn = list16(b"\x02h2\x08http/1.1");
        let exts: Vec<(u16, Vec<u8>)> = vec![
            (0x0a0a, vec![]),
            (0x001b, vec![2, 0, 2]),
            (0x0000, sni),
            (0x0033, list16(&[0x00, 0x1d, 0x00, 0x01, 0x42])),
            (0x0010, alpn),
            (0x4469, list16(&[0x02, b'h', b'2'])),
            (0x0017, vec![]),
            (0x002d, vec![1, 1]),
            (0x000d, sigalgs.to_vec()),
            (0x0005, vec![1, 0, 0, 0, 0]),
            (0x0023, vec![]),
            (0x0012, vec![]),
            (0x002b, [vec![6], u16s(&[0x9a9a, 0x0304, 0x0303])].concat()),
            (0xff01, vec![0]),
            (0x000b, vec![1, 0]),
            (0x000a, list16(&u16s(&[0x1a1a, 0x001d, 0x0017]))),
            (0x0015, vec![0; 7]),
            (0xfafa, vec![0]),
        ];
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(32);
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&list16(&u16s(&suites)));
        body.extend_from_slice(&[1, 0]);
        let exts: Vec<u8> = exts.iter().flat_map(|(k, c)| ext(*k, c)).collect();
        body.extend_from_slice(&list16(&exts));
        body
    }

    fn spec_sigalgs() -> Vec<u8> {
        list16(&u16s(&[
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ]))
    }

    #[test]
    fn names() {
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x0302), "TLS 1.1");
        assert_eq!(version_name(0x0301), "TLS 1.0");
        assert_eq!(version_name(0x0300), "SSL 3.0");
        assert_eq!(version_name(0x7f1c), "0x7f1c");
        assert_eq!(version_name(0x0a0a), "0x0a0a");
        assert_eq!(alert_name(0), "close_notify");
        assert_eq!(alert_name(20), "bad_record_mac");
        assert_eq!(alert_name(40), "handshake_failure");
        assert_eq!(alert_name(46), "certificate_unknown");
        assert_eq!(alert_name(48), "unknown_ca");
        assert_eq!(alert_name(51), "decrypt_error");
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(80), "internal_error");
        assert_eq!(alert_name(116), "certificate_required");
        assert_eq!(alert_name(120), "no_application_protocol");
        assert_eq!(alert_name(255), "unknown");
    }

    #[test]
    fn grease_is_the_sixteen_values() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|&v| is_grease(v)).collect();
        let expected: Vec<u16> = (0..16).map(|n| 0x0a0a + n * 0x1010).collect();
        assert_eq!(all, expected);
        assert!(!is_grease(0x1a2a));
    }

    #[test]
    fn ja4_of_the_specification_example() {
        let hello = client_hello(&spec_hello(&spec_sigalgs())).expect("parses");
        assert_eq!(hello.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(hello.sni.as_deref(), Some("example.com"));
        assert_eq!(hello.alpn, ["h2", "http/1.1"]);
        assert_eq!(hello.versions, [0x0304, 0x0303]);
        assert_eq!(hello.suites.len(), 15, "GREASE dropped");
        assert!(hello.extended_master_secret && !hello.encrypt_then_mac);
        assert!(!hello.session_ticket, "an empty ticket is no resumption");
        assert_eq!(hello.session_id, [9; 32]);
    }

    #[test]
    fn ja4_without_signature_algorithms_ends_without_underscore() {
        // JA4.md: "0005,…,ff01 = 6d807ffa2a79" when the hello has no signature algorithms.
        let hello = client_hello(&spec_hello(&[0, 0])).expect("parses");
        assert_eq!(hello.ja4, "t13d1516h2_8daaf6152771_6d807ffa2a79");
    }

    #[test]
    fn ja4_alpn_characters() {
        // The examples of JA4.md's "ALPN Extension Value".
        assert_eq!(ja4_alpn(b"h2"), "h2");
        assert_eq!(ja4_alpn(b"http/1.1"), "h1");
        assert_eq!(ja4_alpn(b"imap"), "ip");
        assert_eq!(ja4_alpn(b"x"), "xx");
        assert_eq!(ja4_alpn(b""), "00");
        assert_eq!(ja4_alpn(&[0xab]), "ab");
        assert_eq!(ja4_alpn(&[0xab, 0xcd]), "ad");
        assert_eq!(ja4_alpn(&[0x30, 0xab]), "3b");
        assert_eq!(ja4_alpn(&[0x30, 0x31, 0xab, 0xcd]), "3d");
        assert_eq!(ja4_alpn(&[0x30, 0xab, 0xcd, 0x31]), "01");
    }

    #[test]
    fn ja4_empty_lists_are_zeros() {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(&[0, 0, 0, 1, 0]);
        let hello = client_hello(&body).expect("a hello without suites or extensions");
        assert_eq!(hello.ja4, "t12i000000_000000000000_000000000000");
        assert!(hello.versions.is_empty() && hello.sni.is_none());
    }

    #[test]
    fn real_tls12_client_hello() {
        let hello = client_hello(&tls12_ch()).expect("parses");
        assert_eq!(hello.legacy_version, 0x0303);
        assert!(
            hello.versions.is_empty(),
            "a 1.2-only OpenSSL sends no supported_versions"
        );
        assert_eq!(hello.sni.as_deref(), Some("mail.example.test"));
        assert_eq!(hello.alpn, ["imap", "smtp"]);
        assert!(hello.extended_master_secret && hello.encrypt_then_mac);
        assert!(!hello.psk && !hello.early_data && !hello.session_ticket);
        assert!(hello.suites.contains(&0xc02f) && !hello.suites.contains(&0x1301));
        assert!(hello.ja4.starts_with("t12d"), "{}", hello.ja4);
        assert_eq!(&hello.ja4[4..6], format!("{:02}", hello.suites.len()));
        assert_eq!(&hello.ja4[8..10], "ip");
        let nosni = client_hello(&tls12_nosni_ch()).expect("parses");
        assert!(nosni.sni.is_none());
        assert!(nosni.ja4.starts_with("t12i"), "{}", nosni.ja4);
        // The same client to an address: only the SNI flag and the extension count move.
        assert_eq!(nosni.ja4[10..], hello.ja4[10..]);
    }

    #[test]
    fn real_tls13_client_hello() {
        let hello = client_hello(&tls13_ch()).expect("parses");
        assert_eq!(hello.legacy_version, 0x0303);
        assert_eq!(hello.versions, [0x0304, 0x0303]);
        assert_eq!(hello.max_version(), 0x0304);
        assert_eq!(hello.sni.as_deref(), Some("mail.example.test"));
        assert_eq!(hello.alpn, ["imap", "smtp"]);
        assert!(hello.suites.starts_with(&[0x1302, 0x1303, 0x1301]));
        assert_eq!(hello.session_id.len(), 32, "middlebox compatibility mode");
        assert!(hello.ja4.starts_with("t13d"), "{}", hello.ja4);
        let nosni = client_hello(&tls13_nosni_ch()).expect("parses");
        assert!(nosni.sni.is_none());
        assert!(nosni.ja4.starts_with("t13i"), "{}", nosni.ja4);
    }

    /// The ClientHello and ServerHello of nDPI 4.2's tests/pcap/imaps.pcap (frames 4 and
    /// 6), whose expected output (tests/result/imaps.pcap.out) states
    /// `JA3C: 4923a265be4d81c68ecda45bb89cdf6a` and `JA3S: b653c251b0ee54c3088fe7bb997cf59d`.
    const NDPI_IMAPS_CH: &str = "03035ed29010a14c5d6ea344987a80093628132ed16c2dae342e296e764f9263e4332024501c6e28d8a5e5b52182bea81e87e3edef4cb72b8857ea2b44a9e37c8ed1e7004200ffc02cc02bc024c023c00ac009c008c030c02fc028c027c014c013c012009f009e006b0067003900330016009d009c003d003c0035002f000ac007c011000500040100004f00000012001000000d6d61696c2e6e746f702e6f7267000a00080006001700180019000b00020100000d00120010040102010501060104030203050306030005000501000000000012000000170000";
    const NDPI_IMAPS_SH: &str = "03039f82b480e968d7d3fddb8317bda4551c9c5c86fd07a7a6c8444f574e4752440120391bddd7de51c5717af9d8fbe8c0b8f7170603f5938811eb468514d766c64438c030000015ff0100010000000000000b00040300010200170000";

    #[test]
    fn ja3_and_ja3s_of_ndpis_imaps_capture() {
        let ch = client_hello(&fixture(NDPI_IMAPS_CH)).expect("parses");
        assert_eq!(ch.ja3, "4923a265be4d81c68ecda45bb89cdf6a");
        let sh = server_hello(&fixture(NDPI_IMAPS_SH)).expect("parses");
        assert_eq!(sh.ja3s, "b653c251b0ee54c3088fe7bb997cf59d");
    }

    #[test]
    fn ja3_text_is_decimal_and_drops_grease() {
        // The JA3 string: version, suites, extensions, groups, point formats; decimal,
        // dash-separated, GREASE (RFC 8701) left out of the first four lists.
        assert_eq!(
            ja3_text(
                0x0303,
                &[0x2a2a, 0xc02f, 0x0035],
                &[0xfafa, 0x0000, 0x000a, 0x000b, 0x1a1a],
                &[0x3a3a, 0x001d, 0x0017],
                &[0, 1],
            ),
            "771,49199-53,0-10-11,29-23,0-1"
        );
        assert_eq!(ja3_text(0x0301, &[], &[], &[], &[]), "769,,,,");
        assert_eq!(
            ja3s_text(0x0303, 0xc030, &[0xff01, 0x0a0a, 0x0000]),
            "771,49200,65281-0"
        );
        // The spec example hello carries GREASE in suites, extensions and groups: its JA3
        // is that of the same hello without them.
        let hello = client_hello(&spec_hello(&spec_sigalgs())).expect("parses");
        assert_eq!(hello.ja3.len(), 32);
        assert!(
            hello
                .ja3
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn ja3_of_openssl_hellos() {
        // Cross-checked with a Python reimplementation of the JA3 reference code.
        let ch = client_hello(&tls13_ch()).expect("parses");
        assert_eq!(ch.ja3, "304734bb1c086c3453b387400cf83f11");
        let sh = server_hello(&tls12_sh()).expect("parses");
        assert_eq!(sh.ja3s, "e195432758194ce2d482396b82e0d48e");
        // JA3S names the ServerHello's version field, 771 ("771,4866,43-51") for TLS 1.3 too,
        // not the version supported_versions chose.
        let sh = server_hello(&tls13_sh()).expect("parses");
        assert_eq!(sh.version, 0x0304);
        assert_eq!(sh.ja3s, "15af977ce25de452b96affa2addb1036");
    }

    #[test]
    fn real_server_hellos() {
        let sh = server_hello(&tls12_sh()).expect("parses");
        assert_eq!(sh.version, 0x0303);
        assert_eq!(
            sh.suite, 0xc02c,
            "ECDHE-ECDSA-AES256-GCM-SHA384 for an EC key"
        );
        assert_eq!(sh.alpn.as_deref(), Some("imap"));
        assert!(sh.extended_master_secret);
        assert!(!sh.encrypt_then_mac, "ETM is for CBC suites only");
        assert!(!sh.retry);
        let sh = server_hello(&tls13_sh()).expect("parses");
        assert_eq!(
            sh.version, 0x0304,
            "from supported_versions, not the legacy 0x0303"
        );
        assert_eq!(sh.suite, 0x1302);
        assert_eq!(sh.alpn, None, "TLS 1.3 sends ALPN in EncryptedExtensions");
        assert_eq!(sh.session_id.len(), 32);
        assert!(!sh.retry);
    }

    #[test]
    fn hello_retry_request() {
        let mut body = tls13_sh();
        body[2..34].copy_from_slice(&RETRY_RANDOM);
        let sh = server_hello(&body).expect("parses");
        assert!(sh.retry);
        assert_eq!(sh.version, 0x0304);
    }

    #[test]
    fn alpn_of_encrypted_extensions() {
        let alpn = ext(0x0010, &list16(b"\x04imap"));
        let body = list16(&[ext(0x000a, &[0, 2, 0, 0x1d]), alpn.clone()].concat());
        assert_eq!(encrypted_extensions_alpn(&body).as_deref(), Some("imap"));
        assert_eq!(encrypted_extensions_alpn(&list16(&[])), None);
        assert_eq!(encrypted_extensions_alpn(&[]), None);
        // A list length that says more than there is.
        let mut lying = body.clone();
        lying[1] += 1;
        assert_eq!(encrypted_extensions_alpn(&lying), None);
        for n in 0..body.len() {
            assert_eq!(encrypted_extensions_alpn(&body[..n]), None, "cut at {n}");
        }
    }

    #[test]
    fn truncated_hellos_never_name_a_server() {
        for body in [tls12_ch(), tls13_ch(), spec_hello(&spec_sigalgs())] {
            assert!(client_hello(&body).is_some());
            for n in 0..body.len() {
                if let Some(h) = client_hello(&body[..n]) {
                    assert!(h.sni.is_none() && h.alpn.is_empty(), "cut at {n}: {h:?}");
                }
            }
        }
        for body in [tls12_sh(), tls13_sh()] {
            for n in 0..body.len() {
                if let Some(h) = server_hello(&body[..n]) {
                    assert!(h.alpn.is_none() && h.version == 0x0303, "cut at {n}: {h:?}");
                }
            }
        }
    }

    #[test]
    fn lying_lengths() {
        let body = spec_hello(&spec_sigalgs());
        let ext_len_at = 2 + 32 + 1 + 32 + 2 + 32 + 2;
        assert_eq!(
            u16::from_be_bytes([body[ext_len_at], body[ext_len_at + 1]]) as usize,
            body.len() - ext_len_at - 2
        );
        let mut lying = body.clone();
        lying[ext_len_at..ext_len_at + 2].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(
            client_hello(&lying),
            None,
            "extensions longer than the message"
        );
        let mut lying = body.clone();
        lying[2 + 32] = 33;
        assert_eq!(client_hello(&lying), None, "a session id over 32 bytes");
        let mut lying = body.clone();
        lying[2 + 32 + 1 + 32..2 + 32 + 1 + 32 + 2].copy_from_slice(&[0xff, 0xfe]);
        assert_eq!(client_hello(&lying), None, "suites longer than the message");
        // The SNI extension's own length says more than the list holds: it and all after it
        // are dropped, the hello still parses.
        let sni_at = ext_len_at + 2 + 4 + 4 + 3;
        assert_eq!(body[sni_at + 1], 0x00);
        let mut lying = body.clone();
        lying[sni_at + 2..sni_at + 4].copy_from_slice(&[0xff, 0xff]);
        let h = client_hello(&lying).expect("the fixed part is sound");
        assert_eq!(h.sni, None);
        assert!(h.alpn.is_empty());
        assert_eq!(server_hello(&[]), None);
        assert_eq!(client_hello(&[]), None);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = client_hello(&bytes);
            let _ = server_hello(&bytes);
            let _ = encrypted_extensions_alpn(&bytes);
        }

        #[test]
        fn damaged_real_hellos_never_panic(
            which in 0usize..4,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut body = [tls12_ch(), tls13_ch(), tls12_sh(), tls13_sh()][which].clone();
            for (at, byte) in flips {
                let i = at.index(body.len());
                body[i] = byte;
            }
            let _ = client_hello(&body);
            let _ = server_hello(&body);
            let _ = encrypted_extensions_alpn(&body);
        }
    }
}
