//! TLS seen without keys: nothing comes out, but the ClientHello tells the server name
//! (SNI) and the version the client offers. One reader for implicit TLS (465/993/995) and
//! STARTTLS alike, with one buffer bound (`Limits::max_client_hello`).

use crate::transform::{Failure, Transform};

/// What the ClientHello told.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hello {
    pub sni: Option<String>,
    pub version: Option<String>,
}

/// Reads the first bytes of one direction for a ClientHello; passes nothing on.
#[derive(Clone, Debug, Default)]
pub struct TlsWatch {
    buf: Vec<u8>,
    cap: usize,
    hello: Hello,
    /// Bytes read so far.
    seen: u64,
}

/// Whether `first` (the first bytes of a direction, at least one) can start a TLS record:
/// a content type 20–23 (change cipher spec, alert, handshake, application data) and, when
/// there, major version 3 (SSL 3.0 to TLS 1.3). Anything else is not TLS.
pub fn starts_tls_record(first: &[u8]) -> bool {
    match first {
        [] => true,
        [t] => (20..=23).contains(t),
        [t, major, ..] => (20..=23).contains(t) && *major == 3,
    }
}

impl TlsWatch {
    /// Keeps at most `cap` bytes to find the ClientHello in (0: the server's side, read
    /// for nothing).
    pub fn new(cap: usize) -> TlsWatch {
        TlsWatch {
            cap,
            ..TlsWatch::default()
        }
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Bytes read so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

impl Transform for TlsWatch {
    fn next(&mut self, input: &mut &[u8], out: &mut Vec<u8>) -> Result<bool, Failure> {
        out.clear();
        self.read(std::mem::take(input));
        Ok(false)
    }

    fn gap(&mut self, _len: u64) -> Result<Option<u64>, Failure> {
        // A hole before the hello was read: what follows is no longer its start.
        self.cap = 0;
        Ok(None)
    }
}

impl TlsWatch {
    /// Reads the next bytes of the direction, up to the bound, for the ClientHello.
    pub fn read(&mut self, input: &[u8]) {
        self.seen += input.len() as u64;
        if self.buf.len() < self.cap && self.hello.sni.is_none() {
            let take = (self.cap - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            let (sni, version) = client_hello(&self.buf);
            self.hello.sni = self.hello.sni.take().or(sni);
            self.hello.version = self.hello.version.take().or(version);
            if self.hello.sni.is_some() {
                self.buf = Vec::new();
            }
        }
    }
}

/// Server Name Indication and legacy version from the start of a TLS ClientHello.
pub fn client_hello(bytes: &[u8]) -> (Option<String>, Option<String>) {
    let get = |i: usize| bytes.get(i).copied();
    if get(0) != Some(0x16) || get(5) != Some(0x01) {
        return (None, None);
    }
    let version = match (get(9), get(10)) {
        (Some(3), Some(1)) => Some("TLS 1.0"),
        (Some(3), Some(2)) => Some("TLS 1.1"),
        (Some(3), Some(3)) => Some("TLS 1.2 (or 1.3 via supported_versions)"),
        _ => None,
    }
    .map(str::to_owned);
    let sni = (|| {
        let mut p = 5 + 4 + 2 + 32; // record header, handshake header, version, random
        let sid = usize::from(get(p)?);
        p += 1 + sid;
        let suites = usize::from(u16::from_be_bytes([get(p)?, get(p + 1)?]));
        p += 2 + suites;
        let comp = usize::from(get(p)?);
        p += 1 + comp;
        let ext_len = usize::from(u16::from_be_bytes([get(p)?, get(p + 1)?]));
        p += 2;
        let end = (p + ext_len).min(bytes.len());
        while p + 4 <= end {
            let kind = u16::from_be_bytes([get(p)?, get(p + 1)?]);
            let len = usize::from(u16::from_be_bytes([get(p + 2)?, get(p + 3)?]));
            if kind == 0 {
                // server_name_list: u16 len, type u8, u16 name len, name.
                let n = usize::from(u16::from_be_bytes([get(p + 7)?, get(p + 8)?]));
                let name = bytes.get(p + 9..p + 9 + n)?;
                return Some(String::from_utf8_lossy(name).into_owned());
            }
            p += 4 + len;
        }
        None
    })();
    (sni, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_server_name_in_any_chunking_within_its_bound() {
        let rec = crate::synth::client_hello("mail.example.net");
        for cut in [1, 5, rec.len()] {
            let mut w = TlsWatch::new(4096);
            for piece in rec.chunks(cut) {
                let pieces = crate::transform::deflate::drain(&mut w, piece).unwrap();
                assert!(pieces.is_empty(), "TLS passes nothing on");
            }
            assert_eq!(w.hello().sni.as_deref(), Some("mail.example.net"));
        }
        // Past the bound it is not read.
        let mut w = TlsWatch::new(20);
        crate::transform::deflate::drain(&mut w, &rec).unwrap();
        assert_eq!(w.hello().sni, None);
        // Nor after a hole.
        let mut w = TlsWatch::new(4096);
        crate::transform::deflate::drain(&mut w, &rec[..10]).unwrap();
        w.gap(3).unwrap();
        crate::transform::deflate::drain(&mut w, &rec[10..]).unwrap();
        assert_eq!(w.hello().sni, None);
    }
}
