//! TLS record protection, as pure functions: the cipher suites we know (names for all the
//! common ones, decryption for the AEAD and AES-CBC ones), the TLS 1.2 key block (RFC 5246
//! §6.3; the MD5/SHA-1 PRF of TLS 1.0/1.1, RFC 2246/4346), the TLS 1.3 traffic keys and
//! KeyUpdate (RFC 8446 §7), and one direction's [`RecordCipher`] that opens (and, for tests
//! and the bench generator, seals) records at a sequence number.
//!
//! No I/O, no record framing, no handshake: the caller cuts records, reads the hellos and
//! the key log, and hands each record's header and fragment to [`RecordCipher::open`].
//!
//! ```text
//!  key log ─▶ tls12(master, randoms) ─▶ (client, server) RecordCipher
//!             tls13(traffic secret)  ─▶ RecordCipher ─key_update()─▶ RecordCipher (seq 0)
//!  record (header, fragment) ─open─▶ (content type, plaintext), seq += 1
//! ```
//!
//! Hostile bytes reach `open`: it never panics, allocates at most the fragment's size (into
//! the caller's buffer), and leaves the sequence number alone when a record does not open.
//! Key material never appears in `Debug`.

// The record layer (the lead's, beside this file) is the user; until it lands only the
// tests call in.

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadCore, AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::{Array, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use std::fmt;

/// The bulk cipher of a suite we can decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Cbc,
    Aes256Cbc,
}

/// A hash: the TLS 1.2 PRF's or TLS 1.3 HKDF's, or a CBC suite's HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha384,
}

impl Hash {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

impl Bulk {
    fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Cbc => 16,
            Bulk::Aes256Gcm | Bulk::Aes256Cbc | Bulk::ChaCha20Poly1305 => 32,
        }
    }

    fn is_cbc(self) -> bool {
        matches!(self, Bulk::Aes128Cbc | Bulk::Aes256Cbc)
    }
}

/// A cipher suite we can decrypt.
#[derive(Debug)]
pub struct Suite {
    pub id: u16,
    /// The IANA name.
    pub name: &'static str,
    pub bulk: Bulk,
    /// The TLS 1.2 PRF hash, or the TLS 1.3 HKDF hash.
    pub prf: Hash,
    /// The record MAC of a CBC suite.
    pub mac: Option<Hash>,
    pub tls13: bool,
}

macro_rules! suites {
    ($( $id:literal $name:literal $bulk:ident $prf:ident $mac:expr, $tls13:literal; )*) => {
        &[$( Suite { id: $id, name: $name, bulk: Bulk::$bulk, prf: Hash::$prf, mac: $mac, tls13: $tls13 }, )*]
    };
}

const SHA1: Option<Hash> = Some(Hash::Sha1);
const SHA256: Option<Hash> = Some(Hash::Sha256);
const SHA384: Option<Hash> = Some(Hash::Sha384);

/// Every suite we decrypt. The key exchange does not matter: the key log gives the master
/// secret (TLS 1.2) or the traffic secrets (TLS 1.3) whatever it was.
static SUITES: &[Suite] = suites! {
    0x1301 "TLS_AES_128_GCM_SHA256" Aes128Gcm Sha256 None, true;
    0x1302 "TLS_AES_256_GCM_SHA384" Aes256Gcm Sha384 None, true;
    0x1303 "TLS_CHACHA20_POLY1305_SHA256" ChaCha20Poly1305 Sha256 None, true;
    // TLS 1.2 AES-GCM (RFC 5288, 5289, 5487, 8442)
    0x009c "TLS_RSA_WITH_AES_128_GCM_SHA256" Aes128Gcm Sha256 None, false;
    0x009d "TLS_RSA_WITH_AES_256_GCM_SHA384" Aes256Gcm Sha384 None, false;
    0x009e "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" Aes128Gcm Sha256 None, false;
    0x009f "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" Aes256Gcm Sha384 None, false;
    0x00a2 "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256" Aes128Gcm Sha256 None, false;
    0x00a3 "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384" Aes256Gcm Sha384 None, false;
    0x00a8 "TLS_PSK_WITH_AES_128_GCM_SHA256" Aes128Gcm Sha256 None, false;
    0x00a9 "TLS_PSK_WITH_AES_256_GCM_SHA384" Aes256Gcm Sha384 None, false;
    0xc02b "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" Aes128Gcm Sha256 None, false;
    0xc02c "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" Aes256Gcm Sha384 None, false;
    0xc02f "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" Aes128Gcm Sha256 None, false;
    0xc030 "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" Aes256Gcm Sha384 None, false;
    0xd001 "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256" Aes128Gcm Sha256 None, false;
    0xd002 "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384" Aes256Gcm Sha384 None, false;
    // TLS 1.2 ChaCha20-Poly1305 (RFC 7905)
    0xcca8 "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" ChaCha20Poly1305 Sha256 None, false;
    0xcca9 "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" ChaCha20Poly1305 Sha256 None, false;
    0xccaa "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256" ChaCha20Poly1305 Sha256 None, false;
    0xccab "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256" ChaCha20Poly1305 Sha256 None, false;
    0xccac "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256" ChaCha20Poly1305 Sha256 None, false;
    0xccad "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256" ChaCha20Poly1305 Sha256 None, false;
    // AES-CBC with HMAC-SHA1 (RFC 3268, 4492, 4279, 5489): TLS 1.0 to 1.2
    0x002f "TLS_RSA_WITH_AES_128_CBC_SHA" Aes128Cbc Sha256 SHA1, false;
    0x0032 "TLS_DHE_DSS_WITH_AES_128_CBC_SHA" Aes128Cbc Sha256 SHA1, false;
    0x0033 "TLS_DHE_RSA_WITH_AES_128_CBC_SHA" Aes128Cbc Sha256 SHA1, false;
    0x0035 "TLS_RSA_WITH_AES_256_CBC_SHA" Aes256Cbc Sha256 SHA1, false;
    0x0038 "TLS_DHE_DSS_WITH_AES_256_CBC_SHA" Aes256Cbc Sha256 SHA1, false;
    0x0039 "TLS_DHE_RSA_WITH_AES_256_CBC_SHA" Aes256Cbc Sha256 SHA1, false;
    0x008c "TLS_PSK_WITH_AES_128_CBC_SHA" Aes128Cbc Sha256 SHA1, false;
    0x008d "TLS_PSK_WITH_AES_256_CBC_SHA" Aes256Cbc Sha256 SHA1, false;
    0xc009 "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" Aes128Cbc Sha256 SHA1, false;
    0xc00a "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA" Aes256Cbc Sha256 SHA1, false;
    0xc013 "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" Aes128Cbc Sha256 SHA1, false;
    0xc014 "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" Aes256Cbc Sha256 SHA1, false;
    0xc035 "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA" Aes128Cbc Sha256 SHA1, false;
    0xc036 "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA" Aes256Cbc Sha256 SHA1, false;
    // AES-CBC with HMAC-SHA256/384 (RFC 5246, 5289): TLS 1.2 only
    0x003c "TLS_RSA_WITH_AES_128_CBC_SHA256" Aes128Cbc Sha256 SHA256, false;
    0x003d "TLS_RSA_WITH_AES_256_CBC_SHA256" Aes256Cbc Sha256 SHA256, false;
    0x0040 "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256" Aes128Cbc Sha256 SHA256, false;
    0x0067 "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256" Aes128Cbc Sha256 SHA256, false;
    0x006a "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256" Aes256Cbc Sha256 SHA256, false;
    0x006b "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256" Aes256Cbc Sha256 SHA256, false;
    0xc023 "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256" Aes128Cbc Sha256 SHA256, false;
    0xc024 "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384" Aes256Cbc Sha384 SHA384, false;
    0xc027 "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" Aes128Cbc Sha256 SHA256, false;
    0xc028 "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384" Aes256Cbc Sha384 SHA384, false;
};

/// Names of suites we show but cannot decrypt (RC4, 3DES, CCM, Camellia, NULL, signalling).
static OTHER_NAMES: &[(u16, &str)] = &[
    (0x0000, "TLS_NULL_WITH_NULL_NULL"),
    (0x0001, "TLS_RSA_WITH_NULL_MD5"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x003b, "TLS_RSA_WITH_NULL_SHA256"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
    (0x1304, "TLS_AES_128_CCM_SHA256"),
    (0x1305, "TLS_AES_128_CCM_8_SHA256"),
    (0x5600, "TLS_FALLBACK_SCSV"),
    (0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc09c, "TLS_RSA_WITH_AES_128_CCM"),
    (0xc09d, "TLS_RSA_WITH_AES_256_CCM"),
    (0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM"),
    (0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM"),
    (0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"),
    (0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
    (0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"),
    (0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"),
];

/// The suite `id` if we can decrypt it.
pub fn suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// The IANA name of `id`, for display: every suite we decrypt and the common others.
pub fn suite_name(id: u16) -> Option<&'static str> {
    suite(id).map(|s| s.name).or_else(|| {
        OTHER_NAMES
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, name)| *name)
    })
}

/// Why a record did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Tag, MAC or padding wrong: wrong key or damaged data.
    Authentication,
    /// Fragment shorter than the suite's overhead, or not a multiple of the block.
    Malformed,
    /// Plaintext over 2^14 bytes (or a fragment over the RFC's ciphertext limit).
    TooLong,
}

/// Largest plaintext of a record (RFC 8446 §5.1, RFC 5246 §6.2.1).
const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest protected fragment: TLS 1.2 (RFC 5246 §6.2.3) and TLS 1.3 (RFC 8446 §5.2).
const MAX_FRAGMENT_12: usize = MAX_PLAINTEXT + 2048;
const MAX_FRAGMENT_13: usize = MAX_PLAINTEXT + 256;
const TAG: usize = 16;
const BLOCK: usize = 16;

const TLS10: u16 = 0x0301;
const TLS11: u16 = 0x0302;
const TLS12: u16 = 0x0303;

/// A hash for HMAC, the PRF and HKDF, including MD5 (half of the TLS 1.0/1.1 PRF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
}

impl From<Hash> for Alg {
    fn from(h: Hash) -> Alg {
        match h {
            Hash::Sha1 => Alg::Sha1,
            Hash::Sha256 => Alg::Sha256,
            Hash::Sha384 => Alg::Sha384,
        }
    }
}

/// HMAC(`key`, the concatenation of `parts`) into `out`; returns the output length.
fn hmac(alg: Alg, key: &[u8], parts: &[&[u8]], out: &mut [u8; 48]) -> usize {
    macro_rules! run {
        ($d:ty) => {{
            // HMAC takes a key of any length: this never fails.
            let Ok(mut m) = <Hmac<$d> as KeyInit>::new_from_slice(key) else {
                return 0;
            };
            for p in parts {
                m.update(p);
            }
            let tag = m.finalize().into_bytes();
            out[..tag.len()].copy_from_slice(&tag);
            tag.len()
        }};
    }
    match alg {
        Alg::Md5 => run!(md5::Md5),
        Alg::Sha1 => run!(sha1::Sha1),
        Alg::Sha256 => run!(sha2::Sha256),
        Alg::Sha384 => run!(sha2::Sha384),
    }
}

/// P_hash (RFC 5246 §5): `out` filled from HMAC(secret, A(i) ‖ seed), A(i) = HMAC(secret, A(i-1)).
fn p_hash(alg: Alg, secret: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let mut a = [0u8; 48];
    let mut n = hmac(alg, secret, seed, &mut a);
    let mut pos = 0;
    while pos < out.len() && n > 0 {
        let mut block = [0u8; 48];
        let mut parts: [&[u8]; 4] = [&a[..n], &[], &[], &[]];
        for (slot, s) in parts[1..].iter_mut().zip(seed) {
            *slot = s;
        }
        let m = hmac(alg, secret, &parts, &mut block);
        let take = m.min(out.len() - pos);
        out[pos..pos + take].copy_from_slice(&block[..take]);
        pos += take;
        let prev = a;
        n = hmac(alg, secret, &[&prev[..n]], &mut a);
    }
}

/// The TLS PRF: P_<prf>(secret, label ‖ seed) for TLS 1.2; for TLS 1.0/1.1
/// P_MD5(S1, …) XOR P_SHA1(S2, …) over the secret's two halves (RFC 2246 §5).
fn prf(version: u16, hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    if version >= TLS12 {
        p_hash(hash.into(), secret, &[label, seed], out);
    } else {
        let half = secret.len().div_ceil(2);
        let s1 = &secret[..half];
        let s2 = &secret[secret.len() - half..];
        p_hash(Alg::Md5, s1, &[label, seed], out);
        let mut sha = [0u8; 256];
        let Some(sha) = sha.get_mut(..out.len()) else {
            return;
        };
        p_hash(Alg::Sha1, s2, &[label, seed], sha);
        for (o, s) in out.iter_mut().zip(sha.iter()) {
            *o ^= s;
        }
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) (RFC 8446 §7.1).
fn expand_label(hash: Hash, secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    let mut info = [0u8; 2 + 1 + 6 + 32 + 1];
    let len = u16::try_from(out.len()).ok()?;
    let label_len = 6 + label.len();
    if label_len > 32 + 6 {
        return None;
    }
    info[..2].copy_from_slice(&len.to_be_bytes());
    info[2] = label_len as u8;
    info[3..9].copy_from_slice(b"tls13 ");
    info[9..9 + label.len()].copy_from_slice(label);
    info[9 + label.len()] = 0; // empty context
    let info = &info[..10 + label.len()];
    match hash {
        Hash::Sha256 => hkdf::Hkdf::<sha2::Sha256>::from_prk(secret)
            .ok()?
            .expand(info, out)
            .ok(),
        Hash::Sha384 => hkdf::Hkdf::<sha2::Sha384>::from_prk(secret)
            .ok()?
            .expand(info, out)
            .ok(),
        Hash::Sha1 => None,
    }
}

/// The keyed bulk cipher. Boxed: the AES key schedules are a few hundred bytes each.
#[derive(Clone)]
enum Engine {
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Cbc128(Box<aes::Aes128>),
    Cbc256(Box<aes::Aes256>),
}

impl Engine {
    fn new(bulk: Bulk, key: &[u8]) -> Option<Engine> {
        Some(match bulk {
            Bulk::Aes128Gcm => Engine::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Bulk::Aes256Gcm => Engine::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            Bulk::ChaCha20Poly1305 => {
                Engine::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
            Bulk::Aes128Cbc => Engine::Cbc128(Box::new(aes::Aes128::new_from_slice(key).ok()?)),
            Bulk::Aes256Cbc => Engine::Cbc256(Box::new(aes::Aes256::new_from_slice(key).ok()?)),
        })
    }

    /// AEAD open of `sealed` (ciphertext ‖ tag) into `out`.
    fn aead_open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), OpenError> {
        fn run<A: AeadInOut + AeadCore<NonceSize = U12, TagSize = U16>>(
            a: &A,
            nonce: &[u8; 12],
            aad: &[u8],
            sealed: &[u8],
            out: &mut Vec<u8>,
        ) -> Result<(), OpenError> {
            let split = sealed.len().checked_sub(TAG).ok_or(OpenError::Malformed)?;
            let (ct, tag) = sealed.split_at(split);
            let tag = Array::<u8, U16>::try_from(tag).map_err(|_| OpenError::Malformed)?;
            out.extend_from_slice(ct);
            a.decrypt_inout_detached(&Array::from(*nonce), aad, out.as_mut_slice().into(), &tag)
                .map_err(|_| OpenError::Authentication)
        }
        match self {
            Engine::Gcm128(a) => run(a.as_ref(), nonce, aad, sealed, out),
            Engine::Gcm256(a) => run(a.as_ref(), nonce, aad, sealed, out),
            Engine::ChaCha(a) => run(a.as_ref(), nonce, aad, sealed, out),
            Engine::Cbc128(_) | Engine::Cbc256(_) => Err(OpenError::Malformed),
        }
    }

    /// AEAD seal of `out[from..]` in place, appending the tag.
    fn aead_seal(&self, nonce: &[u8; 12], aad: &[u8], out: &mut Vec<u8>, from: usize) {
        fn run<A: AeadInOut + AeadCore<NonceSize = U12, TagSize = U16>>(
            a: &A,
            nonce: &[u8; 12],
            aad: &[u8],
            out: &mut Vec<u8>,
            from: usize,
        ) {
            let Some(buf) = out.get_mut(from..) else {
                return;
            };
            // Fails only for inputs over the AEAD's limit (GiB), far above a record.
            if let Ok(tag) = a.encrypt_inout_detached(&Array::from(*nonce), aad, buf.into()) {
                out.extend_from_slice(&tag);
            }
        }
        match self {
            Engine::Gcm128(a) => run(a.as_ref(), nonce, aad, out, from),
            Engine::Gcm256(a) => run(a.as_ref(), nonce, aad, out, from),
            Engine::ChaCha(a) => run(a.as_ref(), nonce, aad, out, from),
            Engine::Cbc128(_) | Engine::Cbc256(_) => {}
        }
    }

    /// AES-CBC decryption of `buf` (whole blocks) in place.
    fn cbc_decrypt(&self, iv: &[u8; 16], buf: &mut [u8]) {
        let (blocks, _) = Array::slice_as_chunks_mut(buf);
        match self {
            Engine::Cbc128(k) => {
                cbc::Decryptor::<aes::Aes128>::inner_iv_init((**k).clone(), &Array::from(*iv))
                    .decrypt_blocks(blocks)
            }
            Engine::Cbc256(k) => {
                cbc::Decryptor::<aes::Aes256>::inner_iv_init((**k).clone(), &Array::from(*iv))
                    .decrypt_blocks(blocks)
            }
            _ => {}
        }
    }

    /// AES-CBC encryption of `buf` (whole blocks) in place.
    fn cbc_encrypt(&self, iv: &[u8; 16], buf: &mut [u8]) {
        let (blocks, _) = Array::slice_as_chunks_mut(buf);
        match self {
            Engine::Cbc128(k) => {
                cbc::Encryptor::<aes::Aes128>::inner_iv_init((**k).clone(), &Array::from(*iv))
                    .encrypt_blocks(blocks)
            }
            Engine::Cbc256(k) => {
                cbc::Encryptor::<aes::Aes256>::inner_iv_init((**k).clone(), &Array::from(*iv))
                    .encrypt_blocks(blocks)
            }
            _ => {}
        }
    }

    /// One raw AES block encryption (a deterministic explicit IV for `seal`).
    fn encrypt_block(&self, block: &mut [u8; 16]) {
        let mut b = Array::from(*block);
        match self {
            Engine::Cbc128(k) => k.encrypt_block(&mut b),
            Engine::Cbc256(k) => k.encrypt_block(&mut b),
            _ => {}
        }
        block.copy_from_slice(&b);
    }
}

/// One direction's record protection, with its sequence number.
#[derive(Clone)]
pub struct RecordCipher {
    suite: &'static Suite,
    /// The negotiated version (TLS 1.3: 0x0303, the record layer's).
    version: u16,
    engine: Engine,
    /// TLS 1.3 and ChaCha20: the 12-byte IV; TLS 1.2 GCM: the 4-byte salt; TLS 1.0 CBC: the
    /// last ciphertext block (the next record's IV).
    iv: [u8; 16],
    mac_key: [u8; 48],
    encrypt_then_mac: bool,
    /// TLS 1.3: the traffic secret (for KeyUpdate).
    secret: [u8; 48],
    seq: u64,
}

impl fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordCipher")
            .field("suite", &self.suite.name)
            .field("version", &format_args!("{:#06x}", self.version))
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl RecordCipher {
    /// TLS 1.3 from a traffic secret (handshake or application; HKDF-Expand-Label "key" and
    /// "iv", RFC 8446 §7.3). None: a secret of the wrong length or not a TLS 1.3 suite.
    pub fn tls13(suite: &'static Suite, secret: &[u8]) -> Option<RecordCipher> {
        if !suite.tls13 || secret.len() != suite.prf.output_len() || suite.bulk.is_cbc() {
            return None;
        }
        let mut key = [0u8; 32];
        let key = &mut key[..suite.bulk.key_len()];
        expand_label(suite.prf, secret, b"key", key)?;
        let mut iv = [0u8; 16];
        expand_label(suite.prf, secret, b"iv", &mut iv[..12])?;
        let mut kept = [0u8; 48];
        kept[..secret.len()].copy_from_slice(secret);
        Some(RecordCipher {
            suite,
            version: TLS12,
            engine: Engine::new(suite.bulk, key)?,
            iv,
            mac_key: [0; 48],
            encrypt_then_mac: false,
            secret: kept,
            seq: 0,
        })
    }

    /// TLS 1.3 KeyUpdate (RFC 8446 §7.2, "traffic upd"): the next generation, at seq 0.
    pub fn key_update(&self) -> Option<RecordCipher> {
        if !self.suite.tls13 {
            return None;
        }
        let n = self.suite.prf.output_len();
        let mut next = [0u8; 48];
        expand_label(
            self.suite.prf,
            &self.secret[..n],
            b"traffic upd",
            &mut next[..n],
        )?;
        RecordCipher::tls13(self.suite, &next[..n])
    }

    /// TLS 1.2 (and 1.0/1.1 for the CBC-SHA suites): (client, server) from the 48-byte
    /// master secret (RFC 5246 §6.3 key block). `encrypt_then_mac`: RFC 7366 (CBC only).
    pub fn tls12(
        suite: &'static Suite,
        version: u16,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        encrypt_then_mac: bool,
    ) -> Option<(RecordCipher, RecordCipher)> {
        let supported = match suite.bulk {
            _ if suite.tls13 || master.len() != 48 => false,
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => {
                version == TLS12 || ((TLS10..TLS12).contains(&version) && suite.mac == SHA1)
            }
            _ => version == TLS12,
        };
        if !supported {
            return None;
        }
        let mac_len = suite.mac.map_or(0, Hash::output_len);
        let key_len = suite.bulk.key_len();
        let iv_len = match suite.bulk {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 4,
            Bulk::ChaCha20Poly1305 => 12,
            _ if version == TLS10 => BLOCK,
            _ => 0,
        };
        let mut block = [0u8; 2 * (48 + 32 + 16)];
        let block = &mut block[..2 * (mac_len + key_len + iv_len)];
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(server_random);
        seed[32..].copy_from_slice(client_random);
        prf(version, suite.prf, master, b"key expansion", &seed, block);
        let (client_mac, rest) = block.split_at(mac_len);
        let (server_mac, rest) = rest.split_at(mac_len);
        let (client_key, rest) = rest.split_at(key_len);
        let (server_key, rest) = rest.split_at(key_len);
        let (client_iv, server_iv) = rest.split_at(iv_len);
        let one = |mac: &[u8], key: &[u8], iv: &[u8]| -> Option<RecordCipher> {
            let mut mac_key = [0u8; 48];
            mac_key[..mac.len()].copy_from_slice(mac);
            let mut fixed = [0u8; 16];
            fixed[..iv.len()].copy_from_slice(iv);
            Some(RecordCipher {
                suite,
                version,
                engine: Engine::new(suite.bulk, key)?,
                iv: fixed,
                mac_key,
                encrypt_then_mac: encrypt_then_mac && suite.bulk.is_cbc(),
                secret: [0; 48],
                seq: 0,
            })
        };
        Some((
            one(client_mac, client_key, client_iv)?,
            one(server_mac, server_key, server_iv)?,
        ))
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn suite(&self) -> &'static Suite {
        self.suite
    }

    /// Opens one record at the current seq: `header` is the record's 5 header bytes,
    /// `fragment` its body. On success: the plaintext in `out` (cleared first), seq += 1, and
    /// the content type (TLS 1.3: the inner type, zero padding stripped). On failure `out` is
    /// empty and seq unchanged.
    pub fn open(
        &mut self,
        header: [u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, OpenError> {
        self.open_at(self.seq, header, fragment, out)
    }

    /// [`RecordCipher::open`] at sequence number `at` (a resync after a gap); on success
    /// seq = at + 1.
    pub fn open_at(
        &mut self,
        at: u64,
        header: [u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, OpenError> {
        out.clear();
        let opened = if self.suite.tls13 {
            self.open13(at, header, fragment, out)
        } else if self.suite.bulk.is_cbc() {
            self.open_cbc(at, header, fragment, out)
        } else {
            self.open12(at, header, fragment, out)
        };
        match opened {
            Ok(t) if out.len() > MAX_PLAINTEXT => {
                let _ = t;
                out.clear();
                Err(OpenError::TooLong)
            }
            Ok(t) => {
                self.seq = at.wrapping_add(1);
                Ok(t)
            }
            Err(e) => {
                out.clear();
                Err(e)
            }
        }
    }

    /// IV XOR the big-endian sequence number in its last 8 bytes (RFC 8446 §5.3, RFC 7905).
    fn xor_nonce(&self, seq: u64) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&self.iv[..12]);
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// TLS 1.2 AEAD additional data: seq ‖ type ‖ version ‖ plaintext length.
    fn aad12(seq: u64, header: [u8; 5], len: usize) -> [u8; 13] {
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&seq.to_be_bytes());
        aad[8..11].copy_from_slice(&header[..3]);
        aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
        aad
    }

    fn open13(
        &self,
        at: u64,
        header: [u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, OpenError> {
        if fragment.len() > MAX_FRAGMENT_13 {
            return Err(OpenError::TooLong);
        }
        if fragment.len() < TAG + 1 {
            return Err(OpenError::Malformed);
        }
        self.engine
            .aead_open(&self.xor_nonce(at), &header, fragment, out)?;
        // TLSInnerPlaintext: content ‖ type ‖ zeros (RFC 8446 §5.4).
        let end = out
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(OpenError::Malformed)?;
        let content_type = out[end];
        out.truncate(end);
        Ok(content_type)
    }

    fn open12(
        &self,
        at: u64,
        header: [u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, OpenError> {
        if fragment.len() > MAX_FRAGMENT_12 {
            return Err(OpenError::TooLong);
        }
        let (nonce, sealed) = if self.suite.bulk == Bulk::ChaCha20Poly1305 {
            (self.xor_nonce(at), fragment)
        } else {
            // GCM: salt(4) ‖ explicit nonce (the fragment's first 8 bytes), RFC 5288 §3.
            if fragment.len() < 8 + TAG {
                return Err(OpenError::Malformed);
            }
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&self.iv[..4]);
            nonce[4..].copy_from_slice(&fragment[..8]);
            (nonce, &fragment[8..])
        };
        let len = sealed.len().checked_sub(TAG).ok_or(OpenError::Malformed)?;
        let aad = Self::aad12(at, header, len);
        self.engine.aead_open(&nonce, &aad, sealed, out)?;
        Ok(header[0])
    }

    /// HMAC over seq ‖ type ‖ version ‖ length ‖ data (RFC 5246 §6.2.3.1).
    fn record_mac(&self, seq: u64, header: [u8; 5], data: &[u8], tag: &mut [u8; 48]) -> usize {
        let Some(hash) = self.suite.mac else {
            return 0;
        };
        let key = &self.mac_key[..hash.output_len()];
        let len = (data.len() as u16).to_be_bytes();
        hmac(
            hash.into(),
            key,
            &[&seq.to_be_bytes(), &header[..3], &len, data],
            tag,
        )
    }

    fn mac_matches(&self, seq: u64, header: [u8; 5], data: &[u8], expected: &[u8]) -> bool {
        let mut tag = [0u8; 48];
        let n = self.record_mac(seq, header, data, &mut tag);
        n > 0 && n == expected.len() && tag[..n] == *expected
    }

    /// The TLS CBC padding at the end of `out`: every pad byte equals the pad length. Strips
    /// it; false if it is wrong or leaves less than `keep` bytes.
    fn strip_padding(out: &mut Vec<u8>, keep: usize) -> bool {
        let Some(&pad) = out.last() else {
            return false;
        };
        let pad = usize::from(pad) + 1;
        if out.len() < pad + keep {
            return false;
        }
        let start = out.len() - pad;
        if out[start..].iter().any(|&b| usize::from(b) != pad - 1) {
            return false;
        }
        out.truncate(start);
        true
    }

    fn open_cbc(
        &mut self,
        at: u64,
        header: [u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, OpenError> {
        if fragment.len() > MAX_FRAGMENT_12 {
            return Err(OpenError::TooLong);
        }
        let mac_len = self.suite.mac.map_or(0, Hash::output_len);
        let explicit = if self.version >= TLS11 { BLOCK } else { 0 };
        let chained = self.version < TLS11;
        let (body, tag) = if self.encrypt_then_mac {
            let split = fragment
                .len()
                .checked_sub(mac_len)
                .ok_or(OpenError::Malformed)?;
            fragment.split_at(split)
        } else {
            (fragment, &[][..])
        };
        let ct_len = body
            .len()
            .checked_sub(explicit)
            .ok_or(OpenError::Malformed)?;
        let min = if self.encrypt_then_mac {
            BLOCK
        } else {
            (mac_len + 1).div_ceil(BLOCK) * BLOCK
        };
        if ct_len < min || ct_len % BLOCK != 0 {
            return Err(OpenError::Malformed);
        }
        if self.encrypt_then_mac && !self.mac_matches(at, header, body, tag) {
            return Err(OpenError::Authentication);
        }
        let mut iv = [0u8; 16];
        if chained {
            iv = self.iv;
        } else {
            iv.copy_from_slice(&body[..BLOCK]);
        }
        let ct = &body[explicit..];
        out.extend_from_slice(ct);
        self.engine.cbc_decrypt(&iv, out);
        let keep = if self.encrypt_then_mac { 0 } else { mac_len };
        if !Self::strip_padding(out, keep) {
            return Err(OpenError::Authentication);
        }
        if !self.encrypt_then_mac {
            let content = out.len() - mac_len;
            if !self.mac_matches(at, header, &out[..content], &out[content..]) {
                return Err(OpenError::Authentication);
            }
            out.truncate(content);
        }
        if chained {
            self.iv.copy_from_slice(&ct[ct.len() - BLOCK..]);
        }
        Ok(header[0])
    }

    /// Appends one whole record (header and protected fragment) to `out`; seq += 1. For
    /// tests, the bench generator and fuzz seeds. `plaintext` is cut to 2^14 bytes.
    pub fn seal(&mut self, content_type: u8, plaintext: &[u8], out: &mut Vec<u8>) {
        let plaintext = &plaintext[..plaintext.len().min(MAX_PLAINTEXT)];
        let seq = self.seq;
        let start = out.len();
        let [v0, v1] = self.version.to_be_bytes();
        let mut header = [content_type, v0, v1, 0, 0];
        if self.suite.tls13 {
            header[0] = 23;
            let len = plaintext.len() + 1 + TAG;
            header[3..].copy_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&header);
            out.extend_from_slice(plaintext);
            out.push(content_type);
            self.engine
                .aead_seal(&self.xor_nonce(seq), &header, out, start + 5);
        } else if self.suite.bulk == Bulk::ChaCha20Poly1305 {
            let len = plaintext.len() + TAG;
            header[3..].copy_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&header);
            out.extend_from_slice(plaintext);
            let aad = Self::aad12(seq, header, plaintext.len());
            self.engine
                .aead_seal(&self.xor_nonce(seq), &aad, out, start + 5);
        } else if !self.suite.bulk.is_cbc() {
            let len = 8 + plaintext.len() + TAG;
            header[3..].copy_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&header);
            out.extend_from_slice(&seq.to_be_bytes());
            out.extend_from_slice(plaintext);
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&self.iv[..4]);
            nonce[4..].copy_from_slice(&seq.to_be_bytes());
            let aad = Self::aad12(seq, header, plaintext.len());
            self.engine.aead_seal(&nonce, &aad, out, start + 13);
        } else {
            self.seal_cbc(seq, header, plaintext, out);
        }
        self.seq = seq.wrapping_add(1);
    }

    fn seal_cbc(&mut self, seq: u64, mut header: [u8; 5], plaintext: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let mac_len = self.suite.mac.map_or(0, Hash::output_len);
        let chained = self.version < TLS11;
        // A deterministic explicit IV: AES_k(seq). (A real sender uses a random one.)
        let mut iv = [0u8; 16];
        if chained {
            iv = self.iv;
        } else {
            iv[8..].copy_from_slice(&seq.to_be_bytes());
            self.engine.encrypt_block(&mut iv);
        }
        let explicit = if chained { 0 } else { BLOCK };
        let mut tag = [0u8; 48];
        let padded = |n: usize| (n + 1).div_ceil(BLOCK) * BLOCK;
        let ct_len = if self.encrypt_then_mac {
            padded(plaintext.len())
        } else {
            padded(plaintext.len() + mac_len)
        };
        let total = explicit + ct_len + if self.encrypt_then_mac { mac_len } else { 0 };
        header[3..].copy_from_slice(&(total as u16).to_be_bytes());
        out.extend_from_slice(&header);
        if !chained {
            out.extend_from_slice(&iv);
        }
        let ct_start = out.len();
        out.extend_from_slice(plaintext);
        if !self.encrypt_then_mac {
            let n = self.record_mac(seq, header, plaintext, &mut tag);
            out.extend_from_slice(&tag[..n]);
        }
        let pad = ct_len - (out.len() - ct_start);
        out.resize(ct_start + ct_len, (pad - 1) as u8);
        self.engine.cbc_encrypt(&iv, &mut out[ct_start..]);
        if chained {
            self.iv.copy_from_slice(&out[out.len() - BLOCK..]);
        }
        if self.encrypt_then_mac {
            let n = self.record_mac(seq, header, &out[start + 5..], &mut tag);
            out.extend_from_slice(&tag[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn unhex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        assert_eq!(digits.len() % 2, 0, "odd hex");
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// `name = hex` entries of rfc8448.txt, continued on indented lines.
    fn rfc8448() -> HashMap<String, Vec<u8>> {
        let text = include_str!("../../../tests/data/tls/rfc8448.txt");
        let mut out: HashMap<String, String> = HashMap::new();
        let mut current = String::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some((name, rest)) = line.split_once('=') {
                current = name.trim().to_string();
                out.insert(current.clone(), rest.to_string());
            } else if let Some(v) = out.get_mut(&current) {
                v.push_str(line);
            }
        }
        out.into_iter().map(|(k, v)| (k, unhex(&v))).collect()
    }

    fn split_record(record: &[u8]) -> ([u8; 5], &[u8]) {
        let header: [u8; 5] = record[..5].try_into().unwrap();
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        assert_eq!(record.len(), 5 + len);
        (header, &record[5..])
    }

    #[test]
    fn rfc8448_records_open_from_their_traffic_secrets() {
        let v = rfc8448();
        let suite = suite(0x1301).unwrap();
        let payload: Vec<u8> = (0u8..=0x31).collect();
        let cases = [
            (
                "server_hs_secret",
                "server_hs_record",
                0,
                22,
                v["server_hs_plain"].clone(),
            ),
            (
                "client_hs_secret",
                "client_finished_record",
                0,
                22,
                v["client_finished_plain"].clone(),
            ),
            (
                "client_ap_secret",
                "client_ap_record",
                0,
                23,
                payload.clone(),
            ),
            ("server_ap_secret", "server_ap_record", 1, 23, payload),
        ];
        for (secret, record, seq, content_type, plain) in cases {
            let mut cipher = RecordCipher::tls13(suite, &v[secret]).unwrap();
            let (header, fragment) = split_record(&v[record]);
            let mut out = Vec::new();
            // At the wrong seq the nonce differs: it must not open.
            assert_eq!(
                cipher.open_at(seq + 1, header, fragment, &mut out),
                Err(OpenError::Authentication),
                "{record}"
            );
            assert!(out.is_empty());
            assert_eq!(
                cipher.open_at(seq, header, fragment, &mut out),
                Ok(content_type),
                "{record}"
            );
            assert_eq!(out, plain, "{record}");
            assert_eq!(cipher.seq(), seq + 1);
            // And sealing gives the RFC's bytes back.
            let mut sealer = RecordCipher::tls13(suite, &v[secret]).unwrap();
            let mut sealed = Vec::new();
            for _ in 0..seq {
                sealer.seal(22, b"", &mut Vec::new());
            }
            sealer.seal(content_type, &plain, &mut sealed);
            assert_eq!(sealed, v[record], "{record}");
        }
        // The wrong direction's secret does not open it.
        let mut wrong = RecordCipher::tls13(suite, &v["server_ap_secret"]).unwrap();
        let (header, fragment) = split_record(&v["client_ap_record"]);
        assert_eq!(
            wrong.open(header, fragment, &mut Vec::new()),
            Err(OpenError::Authentication)
        );
        assert_eq!(wrong.seq(), 0);
    }

    #[test]
    fn tls13_rejects_secrets_of_the_wrong_length_and_tls12_suites() {
        assert!(RecordCipher::tls13(suite(0x1301).unwrap(), &[0; 48]).is_none());
        assert!(RecordCipher::tls13(suite(0x1302).unwrap(), &[0; 32]).is_none());
        assert!(RecordCipher::tls13(suite(0xc02f).unwrap(), &[0; 32]).is_none());
        assert!(RecordCipher::tls13(suite(0x1302).unwrap(), &[0; 48]).is_some());
        let r = [0u8; 32];
        assert!(
            RecordCipher::tls12(suite(0x1301).unwrap(), TLS12, &[0; 48], &r, &r, false).is_none()
        );
        assert!(
            RecordCipher::tls12(suite(0xc02f).unwrap(), TLS12, &[0; 47], &r, &r, false).is_none()
        );
        // AEAD and SHA-256 MACs are TLS 1.2 only; SSL 3.0 is not supported.
        assert!(
            RecordCipher::tls12(suite(0xc02f).unwrap(), TLS11, &[0; 48], &r, &r, false).is_none()
        );
        assert!(
            RecordCipher::tls12(suite(0x003c).unwrap(), TLS10, &[0; 48], &r, &r, false).is_none()
        );
        assert!(
            RecordCipher::tls12(suite(0x002f).unwrap(), 0x0300, &[0; 48], &r, &r, false).is_none()
        );
        assert!(
            RecordCipher::tls12(suite(0x002f).unwrap(), TLS10, &[0; 48], &r, &r, false).is_some()
        );
    }

    #[test]
    fn names_cover_the_common_suites_and_debug_shows_no_key() {
        assert_eq!(
            suite_name(0xc02f),
            Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        );
        assert_eq!(suite_name(0x000a), Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA"));
        assert_eq!(suite_name(0x1304), Some("TLS_AES_128_CCM_SHA256"));
        assert!(suite(0x000a).is_none() && suite_name(0x1234).is_none());
        let mut ids: Vec<u16> = SUITES.iter().map(|s| s.id).collect();
        ids.extend(OTHER_NAMES.iter().map(|(id, _)| *id));
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "a suite listed twice");
        for s in SUITES {
            assert_eq!(s.tls13, s.id >> 8 == 0x13, "{}", s.name);
            assert_eq!(s.mac.is_some(), s.bulk.is_cbc(), "{}", s.name);
            assert!(
                s.name.contains(if s.bulk.is_cbc() { "_CBC_" } else { "_" }),
                "{}",
                s.name
            );
        }
        let secret = [0x5au8; 32];
        let c = RecordCipher::tls13(suite(0x1301).unwrap(), &secret).unwrap();
        let debug = format!("{c:?}");
        assert!(
            debug.contains("TLS_AES_128_GCM_SHA256") && debug.contains("seq: 0"),
            "{debug}"
        );
        assert!(!debug.contains("90") && !debug.contains("5a"), "{debug}");
    }

    /// Sender and receiver of every suite, every version and MAC order it allows.
    fn pairs() -> Vec<(String, RecordCipher, RecordCipher)> {
        let mut out = Vec::new();
        let (cr, sr) = ([1u8; 32], [2u8; 32]);
        let master: Vec<u8> = (0..48).collect();
        for s in SUITES {
            if s.tls13 {
                let secret: Vec<u8> = (0..s.prf.output_len() as u8).collect();
                let c = RecordCipher::tls13(s, &secret).unwrap();
                out.push((s.name.to_string(), c.clone(), c));
                continue;
            }
            for version in [TLS10, TLS11, TLS12] {
                for etm in [false, true] {
                    if etm && !s.bulk.is_cbc() {
                        continue;
                    }
                    if let Some((c, _)) = RecordCipher::tls12(s, version, &master, &cr, &sr, etm) {
                        let label = format!("{} {version:#x} etm={etm}", s.name);
                        out.push((label, c.clone(), c));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_suite_seals_and_opens_every_size() {
        let pairs = pairs();
        assert!(pairs.len() > SUITES.len());
        for (label, mut tx, mut rx) in pairs {
            for (i, len) in [0usize, 1, 15, 16, 17, 100, 16383, 16384]
                .into_iter()
                .enumerate()
            {
                let plain: Vec<u8> = (0..len).map(|j| (j * 31 + i) as u8).collect();
                let mut record = Vec::new();
                tx.seal(23, &plain, &mut record);
                let (header, fragment) = split_record(&record);
                let mut out = vec![9; 3];
                assert_eq!(rx.open(header, fragment, &mut out), Ok(23), "{label} {len}");
                assert_eq!(out, plain, "{label} {len}");
                assert_eq!(
                    (tx.seq(), rx.seq()),
                    (i as u64 + 1, i as u64 + 1),
                    "{label}"
                );
            }
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_fails_authentication_and_keeps_seq() {
        for (label, mut tx, rx) in pairs() {
            let mut record = Vec::new();
            tx.seal(
                23,
                b"MAIL FROM:<a@example.test>\r\n and a bit more",
                &mut record,
            );
            // The length bytes are authenticated only in TLS 1.3 (they are the AAD).
            let from_header: Vec<usize> = if rx.suite().tls13 {
                vec![0, 1, 2, 3, 4]
            } else {
                vec![0, 1, 2]
            };
            for pos in from_header.into_iter().chain(5..record.len()) {
                for bit in 0..8 {
                    let mut bad = record.clone();
                    bad[pos] ^= 1 << bit;
                    let header: [u8; 5] = bad[..5].try_into().unwrap();
                    let mut rx = rx.clone();
                    let mut out = Vec::new();
                    assert_eq!(
                        rx.open(header, &bad[5..], &mut out),
                        Err(OpenError::Authentication),
                        "{label}: byte {pos} bit {bit}"
                    );
                    assert!(out.is_empty() && rx.seq() == 0, "{label}");
                }
            }
        }
    }

    #[test]
    fn truncated_and_oversized_fragments_are_rejected() {
        for (label, mut tx, rx) in pairs() {
            let mut record = Vec::new();
            tx.seal(22, &[7; 40], &mut record);
            let (header, fragment) = split_record(&record);
            for len in 0..fragment.len() {
                let mut rx = rx.clone();
                let got = rx.open(header, &fragment[..len], &mut Vec::new());
                assert!(
                    matches!(got, Err(OpenError::Malformed | OpenError::Authentication)),
                    "{label} {len}: {got:?}"
                );
                if len < 16 {
                    assert_eq!(got, Err(OpenError::Malformed), "{label} {len}");
                }
            }
            let huge = vec![0u8; MAX_PLAINTEXT + 2049];
            assert_eq!(
                rx.clone().open(header, &huge, &mut Vec::new()),
                Err(OpenError::TooLong)
            );
        }
    }

    #[test]
    fn tls13_inner_type_padding_and_limits() {
        let s = suite(0x1303).unwrap();
        let c = RecordCipher::tls13(s, &[3; 32]).unwrap();
        let seal_raw = |inner: &[u8]| {
            let mut record = vec![23, 3, 3, 0, 0];
            record[3..].copy_from_slice(&((inner.len() + TAG) as u16).to_be_bytes());
            record.extend_from_slice(inner);
            let header: [u8; 5] = record[..5].try_into().unwrap();
            c.engine.aead_seal(&c.xor_nonce(0), &header, &mut record, 5);
            record
        };
        let mut out = Vec::new();
        // Padded: content ‖ type ‖ zeros.
        let record = seal_raw(b"hello\x17\0\0\0\0");
        let (h, f) = split_record(&record);
        assert_eq!(c.clone().open(h, f, &mut out), Ok(23));
        assert_eq!(out, b"hello");
        // All zeros: no content type.
        let record = seal_raw(&[0; 8]);
        let (h, f) = split_record(&record);
        assert_eq!(c.clone().open(h, f, &mut out), Err(OpenError::Malformed));
        // 2^14 + 1 bytes of content: too long, though authentic.
        let mut inner = vec![b'x'; MAX_PLAINTEXT + 1];
        inner.push(23);
        let record = seal_raw(&inner);
        let (h, f) = split_record(&record);
        let mut rx = c.clone();
        assert_eq!(rx.open(h, f, &mut out), Err(OpenError::TooLong));
        assert!(out.is_empty() && rx.seq() == 0);
    }

    #[test]
    fn key_update_is_a_new_generation_at_seq_zero() {
        for id in [0x1301, 0x1302, 0x1303] {
            let s = suite(id).unwrap();
            let mut tx = RecordCipher::tls13(s, &vec![9; s.prf.output_len()]).unwrap();
            tx.seal(23, b"one", &mut Vec::new());
            let mut next = tx.key_update().unwrap();
            assert_eq!(next.seq(), 0);
            let mut record = Vec::new();
            next.seal(23, b"after", &mut record);
            let (h, f) = split_record(&record);
            let mut old = tx.clone();
            assert_eq!(
                old.open_at(0, h, f, &mut Vec::new()),
                Err(OpenError::Authentication)
            );
            let mut rx = RecordCipher::tls13(s, &vec![9; s.prf.output_len()])
                .unwrap()
                .key_update()
                .unwrap();
            let mut out = Vec::new();
            assert_eq!(rx.open(h, f, &mut out), Ok(23));
            assert_eq!(out, b"after");
            // "traffic upd" (RFC 8446 §7.2), not the same secret again.
            assert_ne!(next.secret, tx.secret);
        }
        let r = [0u8; 32];
        let (c, _) =
            RecordCipher::tls12(suite(0xc02f).unwrap(), TLS12, &[0; 48], &r, &r, false).unwrap();
        assert!(c.key_update().is_none());
    }

    /// The records of one direction's bytes (test only: whole records, no gaps).
    fn records(wire: &[u8]) -> Vec<([u8; 5], &[u8])> {
        let mut out = Vec::new();
        let mut rest = wire;
        while !rest.is_empty() {
            let header: [u8; 5] = rest[..5].try_into().unwrap();
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            out.push((header, &rest[5..5 + len]));
            rest = &rest[5 + len..];
        }
        out
    }

    /// What the test needs of a plaintext hello: random, and for a ServerHello the suite,
    /// the version (supported_versions wins) and encrypt_then_mac.
    struct HelloFields {
        random: [u8; 32],
        suite: u16,
        version: u16,
        etm: bool,
    }

    fn hello(wire: &[u8]) -> HelloFields {
        let (header, body) = records(wire)[0];
        assert_eq!(header[0], 22);
        assert!(body[0] == 1 || body[0] == 2, "not a hello");
        let server = body[0] == 2;
        let m = &body[4..];
        let mut version = u16::from_be_bytes([m[0], m[1]]);
        let random: [u8; 32] = m[2..34].try_into().unwrap();
        let sid = usize::from(m[34]);
        let mut p = 35 + sid;
        let (mut suite, mut etm) = (0, false);
        if server {
            suite = u16::from_be_bytes([m[p], m[p + 1]]);
            p += 3;
            if p < m.len() {
                let end = p + 2 + usize::from(u16::from_be_bytes([m[p], m[p + 1]]));
                p += 2;
                while p < end {
                    let kind = u16::from_be_bytes([m[p], m[p + 1]]);
                    let len = usize::from(u16::from_be_bytes([m[p + 2], m[p + 3]]));
                    let data = &m[p + 4..p + 4 + len];
                    match kind {
                        0x002b => version = u16::from_be_bytes([data[0], data[1]]),
                        0x0016 => etm = true,
                        _ => {}
                    }
                    p += 4 + len;
                }
            }
        }
        HelloFields {
            random,
            suite,
            version,
            etm,
        }
    }

    /// Opens every protected record of one direction with the generations in `ciphers`
    /// (TLS 1.3: handshake, then application after Finished, a new one after each
    /// KeyUpdate; TLS 1.2: one, from ChangeCipherSpec on) and returns the application data.
    fn decrypt_direction(
        wire: &[u8],
        mut cipher: RecordCipher,
        mut app: Option<RecordCipher>,
        tls13: bool,
        label: &str,
    ) -> (Vec<u8>, usize, Vec<Vec<u8>>) {
        let mut data = Vec::new();
        let mut protected = false;
        let mut opened = 0;
        let mut out = Vec::new();
        let mut updates = Vec::new();
        for (header, fragment) in records(wire) {
            if tls13 {
                // The hello and the compatibility ChangeCipherSpec are in clear.
                if header[0] != 23 {
                    continue;
                }
            } else if !protected {
                protected = header[0] == 20;
                continue;
            }
            let content_type = cipher
                .open(header, fragment, &mut out)
                .unwrap_or_else(|e| panic!("{label}: record {opened}: {e:?}"));
            opened += 1;
            match content_type {
                23 => data.extend_from_slice(&out),
                22 if tls13 => {
                    let mut msgs = &out[..];
                    while msgs.len() >= 4 {
                        let len = usize::from(u16::from_be_bytes([msgs[2], msgs[3]]))
                            + (usize::from(msgs[1]) << 16);
                        match msgs[0] {
                            20 => cipher = app.take().expect("one Finished"),
                            24 => {
                                cipher = cipher.key_update().unwrap();
                                updates
                                    .push(cipher.secret[..cipher.suite.prf.output_len()].to_vec());
                            }
                            _ => {}
                        }
                        msgs = &msgs[4 + len..];
                    }
                }
                _ => {}
            }
        }
        (data, opened, updates)
    }

    #[test]
    fn openssl_sessions_decrypt_with_their_key_logs() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls");
        let mut names: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        assert!(names.len() >= 9, "{names:?}");
        for path in names {
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let field = |k: &str| {
                json[k]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path:?}: {k}"))
                    .to_string()
            };
            let label = field("name");
            let (client, server) = (unhex(&field("client")), unhex(&field("server")));
            let keylog: HashMap<String, Vec<u8>> = field("keylog")
                .lines()
                .map(|l| {
                    let parts: Vec<&str> = l.split_whitespace().collect();
                    (parts[0].to_string(), unhex(parts[2]))
                })
                .collect();
            let ch = hello(&client);
            let sh = hello(&server);
            let s = suite(sh.suite).unwrap_or_else(|| panic!("{label}: suite {:#x}", sh.suite));
            let tls13 = sh.version == 0x0304;
            assert_eq!(s.tls13, tls13, "{label}");
            let ((c, c_app), (sv, s_app)) = if tls13 {
                let keys = |k: &str| RecordCipher::tls13(s, &keylog[k]).unwrap();
                (
                    (
                        keys("CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
                        Some(keys("CLIENT_TRAFFIC_SECRET_0")),
                    ),
                    (
                        keys("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
                        Some(keys("SERVER_TRAFFIC_SECRET_0")),
                    ),
                )
            } else {
                let (c, sv) = RecordCipher::tls12(
                    s,
                    sh.version,
                    &keylog["CLIENT_RANDOM"],
                    &ch.random,
                    &sh.random,
                    sh.etm,
                )
                .unwrap_or_else(|| panic!("{label}"));
                ((c, None), (sv, None))
            };
            let (client_data, n, client_updates) =
                decrypt_direction(&client, c, c_app, tls13, &label);
            assert!(n >= 3, "{label}: {n} client records");
            assert_eq!(
                client_data,
                unhex(&field("client_plain")),
                "{label}: client"
            );
            let (server_data, n, server_updates) =
                decrypt_direction(&server, sv, s_app, tls13, &label);
            assert!(n >= 3, "{label}: {n} server records");
            assert_eq!(
                server_data,
                unhex(&field("server_plain")),
                "{label}: server"
            );
            // KeyUpdate: the fixture made for it has updates both ways, and where OpenSSL
            // logged the updated secrets ours are the same, in order.
            let logged = |side: &str| -> Vec<Vec<u8>> {
                json["keylog_updates"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .filter(|l| l.starts_with(side))
                    .map(|l| unhex(l.split_whitespace().nth(2).unwrap()))
                    .collect()
            };
            assert_eq!(
                client_updates,
                logged("CLIENT_TRAFFIC_SECRET_N "),
                "{label}"
            );
            assert_eq!(
                server_updates,
                logged("SERVER_TRAFFIC_SECRET_N "),
                "{label}"
            );
            if label.contains("keyupdate") {
                assert!(
                    !client_updates.is_empty() && !server_updates.is_empty(),
                    "{label}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Hostile bytes: any header and fragment, any suite, any seq: an error, no panic,
        /// nothing in `out`, seq unchanged.
        #[test]
        fn random_records_never_open(
            which in 0usize..64,
            header in proptest::array::uniform5(any::<u8>()),
            fragment in proptest::collection::vec(any::<u8>(), 0..300),
            at in any::<u64>(),
        ) {
            let pairs = pairs();
            let (label, _, mut rx) = pairs[which % pairs.len()].clone();
            let mut out = vec![1, 2, 3];
            let got = rx.open_at(at, header, &fragment, &mut out);
            prop_assert!(got.is_err(), "{}", label);
            prop_assert!(out.is_empty());
            prop_assert_eq!(rx.seq(), 0);
        }
    }
}
