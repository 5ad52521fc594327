//! The at-rest format of a stored part: AES-256-GCM in the STREAM construction (chunked
//! AEAD), so parts of any size are encrypted and decrypted in bounded memory, and truncation,
//! reordering or swapping files between messages is detected.
//!
//! Layout: `b"AMTSB1"`, a 7-byte random nonce prefix, then chunks of up to 64 KiB plaintext,
//! each followed by its 16-byte tag; the last chunk is sealed as last. The message id and part
//! name are the associated data of every chunk.

use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key};
use rand::RngCore;

pub const MAGIC: &[u8; 6] = b"AMTSB1";
pub const NONCE_PREFIX: usize = 7;
pub const CHUNK: usize = 64 * 1024;
pub const TAG: usize = 16;
pub const HEADER: usize = MAGIC.len() + NONCE_PREFIX;

/// The 256-bit payload key.
#[derive(Clone)]
pub struct PayloadKey(Key<Aes256Gcm>);

impl std::fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayloadKey(…)")
    }
}

impl PayloadKey {
    pub fn generate() -> PayloadKey {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        PayloadKey(k.into())
    }

    /// Parses the key file format: 64 hex digits (whitespace around them is ignored).
    pub fn from_hex(text: &str) -> Result<PayloadKey, String> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| "the payload key must be 64 hex digits (32 bytes)".to_string())?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the payload key must be 64 hex digits (32 bytes)".to_string())?;
        Ok(PayloadKey(arr.into()))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

fn aad(id: &str, part: &str) -> Vec<u8> {
    format!("{id}/{part}").into_bytes()
}

/// Encrypts chunk by chunk. Feed full [`CHUNK`]-sized pieces to [`Sealer::seal`] and the
/// remainder (possibly empty) to [`Sealer::finish`].
pub struct Sealer {
    inner: EncryptorBE32<Aes256Gcm>,
    aad: Vec<u8>,
}

impl Sealer {
    /// Returns the sealer and the file header to write first.
    pub fn new(key: &PayloadKey, id: &str, part: &str) -> (Sealer, Vec<u8>) {
        let mut prefix = [0u8; NONCE_PREFIX];
        rand::rng().fill_bytes(&mut prefix);
        let cipher = Aes256Gcm::new(&key.0);
        let inner = EncryptorBE32::from_aead(cipher, (&prefix).into());
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&prefix);
        (
            Sealer {
                inner,
                aad: aad(id, part),
            },
            header,
        )
    }

    pub fn seal(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.inner
            .encrypt_next(Payload {
                msg: chunk,
                aad: &self.aad,
            })
            .expect("AES-GCM encryption of a bounded chunk cannot fail")
    }

    pub fn finish(self, last: &[u8]) -> Vec<u8> {
        self.inner
            .encrypt_last(Payload {
                msg: last,
                aad: &self.aad,
            })
            .expect("AES-GCM encryption of a bounded chunk cannot fail")
    }
}

/// A sealed part failed to open: wrong key, or the file was modified or truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tampered;

/// Decrypts chunk by chunk; any failure means a wrong key or a modified file.
pub struct Opener {
    inner: DecryptorBE32<Aes256Gcm>,
    aad: Vec<u8>,
}

impl Opener {
    pub fn new(key: &PayloadKey, id: &str, part: &str, header: &[u8]) -> Result<Opener, Tampered> {
        if header.len() != HEADER || &header[..MAGIC.len()] != MAGIC {
            return Err(Tampered);
        }
        let prefix: [u8; NONCE_PREFIX] = header[MAGIC.len()..].try_into().map_err(|_| Tampered)?;
        let cipher = Aes256Gcm::new(&key.0);
        let inner = DecryptorBE32::from_aead(cipher, (&prefix).into());
        Ok(Opener {
            inner,
            aad: aad(id, part),
        })
    }

    pub fn open(&mut self, sealed: &[u8]) -> Result<Vec<u8>, Tampered> {
        self.inner
            .decrypt_next(Payload {
                msg: sealed,
                aad: &self.aad,
            })
            .map_err(|_| Tampered)
    }

    pub fn finish(self, sealed: &[u8]) -> Result<Vec<u8>, Tampered> {
        self.inner
            .decrypt_last(Payload {
                msg: sealed,
                aad: &self.aad,
            })
            .map_err(|_| Tampered)
    }
}

/// Seals a whole part held in memory (header included), chunked exactly like the streaming
/// writer, so either reader can open it.
pub fn seal_all(key: &PayloadKey, id: &str, part: &str, data: &[u8]) -> Vec<u8> {
    let (mut sealer, mut out) = Sealer::new(key, id, part);
    out.reserve(data.len() + (data.len() / CHUNK + 1) * TAG);
    let mut rest = data;
    // Full chunks only while more follows, so the last chunk is sealed as last.
    while rest.len() > CHUNK {
        out.extend(sealer.seal(&rest[..CHUNK]));
        rest = &rest[CHUNK..];
    }
    out.extend(sealer.finish(rest));
    out
}

/// Opens a whole sealed part held in memory.
pub fn open_all(key: &PayloadKey, id: &str, part: &str, file: &[u8]) -> Result<Vec<u8>, Tampered> {
    if file.len() < HEADER + TAG {
        return Err(Tampered);
    }
    let mut opener = Opener::new(key, id, part, &file[..HEADER])?;
    let mut rest = &file[HEADER..];
    let mut out = Vec::with_capacity(rest.len());
    while rest.len() > CHUNK + TAG {
        out.extend(opener.open(&rest[..CHUNK + TAG])?);
        rest = &rest[CHUNK + TAG..];
    }
    out.extend(opener.finish(rest)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(key: &PayloadKey, data: &[u8]) -> Vec<u8> {
        seal_all(key, "m", "payload", data)
    }

    fn open(key: &PayloadKey, part: &str, file: &[u8]) -> Result<Vec<u8>, Tampered> {
        open_all(key, "m", part, file)
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = PayloadKey::generate();
        for len in [0, 1, CHUNK - 1, CHUNK + 5, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let file = seal(&key, &data);
            assert!(
                !file.windows(16).any(|w| len > 32 && w == &data[..16]),
                "plaintext visible"
            );
            assert_eq!(open(&key, "payload", &file).unwrap(), data, "len {len}");
            assert!(
                open(&key, "attachment-1", &file).is_err(),
                "bound to its part name"
            );
            assert!(
                open(&PayloadKey::generate(), "payload", &file).is_err(),
                "wrong key"
            );
            let mut flipped = file.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            assert!(open(&key, "payload", &flipped).is_err(), "modified");
            if len > CHUNK {
                assert!(
                    open(&key, "payload", &file[..HEADER + CHUNK + TAG]).is_err(),
                    "truncated"
                );
            }
        }
    }

    #[test]
    fn key_file_format() {
        let k = PayloadKey::generate();
        let again = PayloadKey::from_hex(&format!("  {}\n", k.to_hex())).unwrap();
        assert_eq!(again.to_hex(), k.to_hex());
        assert!(PayloadKey::from_hex("abcd").is_err());
        assert!(!format!("{k:?}").contains(&k.to_hex()[..8]));
    }
}
