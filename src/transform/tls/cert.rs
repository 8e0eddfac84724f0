//! The certificates of a TLS Certificate handshake message, summed up for people: subject,
//! issuer, validity, SHA-256 of the DER and the DNS names, leaf first. The TLS 1.2 form is
//! read with `tls-parser`, the TLS 1.3 form (request context, per-entry extensions) by hand;
//! each certificate with `x509-parser`. Pure functions over bytes: no panic, a bounded
//! count, nothing allocated beyond the input's size.

// Nothing outside this module calls it until the record layer lands (issue 13, the lead's).

use serde::Serialize;
use sha2::{Digest, Sha256};
use tls_parser::{TlsMessageHandshake, parse_tls_handshake_msg_certificate};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{ASN1Time, FromDer, X509Certificate};

/// One certificate as a person checks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Certificate {
    /// The subject's distinguished name in DER order ("C=DE, O=…, CN=…"), as sent.
    pub subject: String,
    pub issuer: String,
    /// RFC 3339 UTC, e.g. 2026-01-01T00:00:00Z.
    pub not_before: String,
    pub not_after: String,
    /// Lower-case hex of the SHA-256 of the DER.
    pub sha256: String,
    /// The subjectAltName dNSNames.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
}

/// What a Certificate message held: the first certificates (at most the `max` asked for)
/// and how many it carried in all, so a caller can say when it kept fewer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    pub certificates: Vec<Certificate>,
    pub total: usize,
}

/// The subject given to a certificate x509-parser cannot read.
pub const UNPARSABLE: &str = "unparsable";

/// The certificates of a Certificate handshake message (TLS 1.2 form, or TLS 1.3 with its
/// request context and per-entry extensions when `tls13`), leaf first; at most `max` kept.
/// A certificate x509-parser cannot read is listed with its sha256 and "unparsable" subject.
pub fn certificates(body: &[u8], tls13: bool, max: usize) -> Vec<Certificate> {
    chain(body, tls13, max).certificates
}

/// As [`certificates`], with the count of all the message carried.
pub fn chain(body: &[u8], tls13: bool, max: usize) -> Chain {
    let mut out = Chain::default();
    let mut add = |der: &[u8]| {
        out.total += 1;
        if out.certificates.len() < max {
            out.certificates.push(summary(der));
        }
    };
    if tls13 {
        for der in entries13(body) {
            add(der);
        }
    } else if let Ok((_, TlsMessageHandshake::Certificate(c))) =
        parse_tls_handshake_msg_certificate(body)
    {
        for raw in &c.cert_chain {
            add(raw.data);
        }
    }
    out
}

/// The DER of each CertificateEntry of a TLS 1.3 Certificate message (RFC 8446 §4.4.2),
/// up to the first whose length lies.
fn entries13(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let list = (|| {
        let (&context, rest) = body.split_first()?;
        let rest = rest.get(usize::from(context)..)?;
        let (len, rest) = rest.split_first_chunk::<3>()?;
        rest.get(..u24(*len))
    })();
    let mut list = list.unwrap_or_default();
    std::iter::from_fn(move || {
        let (len, rest) = list.split_first_chunk::<3>()?;
        let der = rest.get(..u24(*len))?;
        let rest = &rest[der.len()..];
        let (ext_len, rest) = rest.split_first_chunk::<2>()?;
        list = rest.get(usize::from(u16::from_be_bytes(*ext_len))..)?;
        Some(der)
    })
}

fn u24(b: [u8; 3]) -> usize {
    usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2])
}

/// One certificate's summary; "unparsable" when x509-parser cannot read it.
fn summary(der: &[u8]) -> Certificate {
    let sha256 = hex::encode(Sha256::digest(der));
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Certificate {
            subject: UNPARSABLE.into(),
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            sha256,
            dns_names: Vec::new(),
        };
    };
    let validity = cert.validity();
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(s) => Some((*s).to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Certificate {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: rfc3339(&validity.not_before),
        not_after: rfc3339(&validity.not_after),
        sha256,
        dns_names,
    }
}

/// A certificate time in RFC 3339 UTC; x509-parser's own text if jiff cannot hold it.
fn rfc3339(t: &ASN1Time) -> String {
    jiff::Timestamp::from_second(t.timestamp())
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tls12_message() -> Vec<u8> {
        let text = include_str!("../../../tests/data/tls-hello/tls12-certificate.hex");
        hex::decode(text.trim()).expect("fixture is hex")
    }

    const DER: &[u8] = include_bytes!("../../../tests/data/tls-hello/cert.der");

    fn u24(n: usize) -> [u8; 3] {
        let b = (n as u32).to_be_bytes();
        [b[1], b[2], b[3]]
    }

    /// A TLS 1.3 Certificate body: `context`, then each DER with its entry's extensions.
    fn tls13_message(context: &[u8], entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut list = Vec::new();
        for (der, exts) in entries {
            list.extend_from_slice(&u24(der.len()));
            list.extend_from_slice(der);
            list.extend_from_slice(&(exts.len() as u16).to_be_bytes());
            list.extend_from_slice(exts);
        }
        let mut body = vec![context.len() as u8];
        body.extend_from_slice(context);
        body.extend_from_slice(&u24(list.len()));
        body.extend_from_slice(&list);
        body
    }

    /// What `openssl x509` said of the fixture (tests/data/tls-hello/make.py), in our form.
    fn openssl_says() -> Certificate {
        let text = include_str!("../../../tests/data/tls-hello/cert.openssl.txt");
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .expect(name)
                .to_string()
        };
        Certificate {
            subject: field("subject="),
            issuer: field("issuer="),
            not_before: field("notBefore=").replace(' ', "T"),
            not_after: field("notAfter=").replace(' ', "T"),
            sha256: field("sha256 Fingerprint=")
                .replace(':', "")
                .to_ascii_lowercase(),
            dns_names: vec!["mail.example.test".into(), "imap.example.test".into()],
        }
    }

    #[test]
    fn tls12_certificate_matches_openssl() {
        let certs = certificates(&tls12_message(), false, 8);
        assert_eq!(certs, [openssl_says()]);
        assert_eq!(
            certs[0].subject,
            "C=DE, O=Mailscope Test, CN=mail.example.test"
        );
        assert!(certs[0].not_after.ends_with('Z') && certs[0].not_after.contains('T'));
    }

    #[test]
    fn tls13_certificate_with_context_and_extensions() {
        let body = tls13_message(&[], &[(DER, &[]), (DER, &[0, 5, 0, 2, 0, 0])]);
        assert_eq!(
            certificates(&body, true, 8),
            [openssl_says(), openssl_says()]
        );
        let body = tls13_message(&[1, 2, 3], &[(DER, &[])]);
        assert_eq!(certificates(&body, true, 8), [openssl_says()]);
        // The TLS 1.3 form read as TLS 1.2 is not a chain of certificates.
        assert!(
            certificates(&body, false, 8)
                .iter()
                .all(|c| c.subject == UNPARSABLE)
        );
    }

    #[test]
    fn at_most_max_kept_and_all_counted() {
        let body = tls13_message(&[], &[(DER, &[]), (b"not a certificate", &[]), (DER, &[])]);
        let all = chain(&body, true, 8);
        assert_eq!(all.total, 3);
        assert_eq!(all.certificates.len(), 3);
        let kept = chain(&body, true, 1);
        assert_eq!(kept.total, 3);
        assert_eq!(kept.certificates, [openssl_says()]);
        assert!(certificates(&body, true, 0).is_empty());
    }

    #[test]
    fn unparsable_certificate_keeps_its_hash() {
        let body = tls13_message(&[], &[(b"not a certificate", &[])]);
        let certs = certificates(&body, true, 8);
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].subject, UNPARSABLE);
        assert_eq!(
            certs[0].sha256,
            hex::encode(Sha256::digest(b"not a certificate"))
        );
        // Serialised without empty dns_names.
        let json = serde_json::to_string(&certs[0]).expect("serialises");
        assert!(!json.contains("dns_names"), "{json}");
    }

    #[test]
    fn truncated_and_lying_messages() {
        let full12 = tls12_message();
        let full13 = tls13_message(&[7], &[(DER, &[]), (DER, &[])]);
        for (body, tls13) in [(&full12, false), (&full13, true)] {
            for n in 0..body.len() {
                // A cut message never yields a certificate that was not whole.
                let certs = certificates(&body[..n], tls13, 8);
                assert!(
                    certs.iter().all(|c| *c == openssl_says()),
                    "cut at {n}: {certs:?}"
                );
            }
        }
        assert!(certificates(&[], false, 8).is_empty());
        assert!(certificates(&[], true, 8).is_empty());
        // A list length of 16 MiB over a short message: nothing, and nothing allocated.
        let mut lying = full13.clone();
        lying[2..5].copy_from_slice(&[0xff, 0xff, 0xff]);
        assert!(certificates(&lying, true, 8).is_empty());
        let mut lying = full12.clone();
        lying[0..3].copy_from_slice(&[0xff, 0xff, 0xff]);
        assert!(certificates(&lying, false, 8).is_empty());
        // An entry whose extensions run past the list is not taken, nor any after it.
        let mut lying = tls13_message(&[], &[(DER, &[]), (DER, &[])]);
        let at = 1 + 3 + 3 + DER.len();
        lying[at..at + 2].copy_from_slice(&[0xff, 0xff]);
        assert!(certificates(&lying, true, 8).is_empty());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
            let _ = chain(&bytes, false, 4);
            let _ = chain(&bytes, true, 4);
        }

        #[test]
        fn damaged_certificates_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut body = tls12_message();
            for (at, byte) in flips {
                let i = at.index(body.len());
                body[i] = byte;
            }
            let c = chain(&body, false, 4);
            prop_assert!(c.certificates.len() <= c.total);
        }
    }
}
