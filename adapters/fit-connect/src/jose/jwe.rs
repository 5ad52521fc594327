//! Compact JWE (RFC 7516) as FIT-Connect uses it: `alg: RSA-OAEP-256` wraps a fresh AES-256 key,
//! `enc: A256GCM` encrypts the content, optionally `zip: DEF` (raw DEFLATE, RFC 1951) compresses
//! it first. Metadata, data and every attachment of a submission are each one JWE.
//!
//! Decryption is push-based ([`StreamDecryptor`]): feed the compact serialization in chunks of
//! any size, plaintext comes out chunk by chunk, so a 500 MB attachment needs a few hundred KB of
//! memory. **Plaintext written before [`StreamDecryptor::finish`] returned `Ok` is unauthenticated**:
//! AES-GCM checks its tag only at the end (the tag is the last segment). Write it to a temporary
//! location and commit only on success; on any error, discard everything written.
//!
//! The 5th segment, the authentication tag, is returned as [`JweInfo::authentication_tag`]:
//! `accept-submission` repeats it to prove which exact ciphertexts the subscriber received.

use std::io::{self, Read, Write};

use flate2::{Compress, Compression, Decompress, FlushDecompress};
use openssl::encrypt::{Decrypter, Encrypter};
use openssl::hash::MessageDigest;
use openssl::rand::rand_bytes;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::keys::{PrivateKey, PublicKey};
use super::{JoseError, b64, b64_decode};

/// The only key management algorithm FIT-Connect uses.
pub const ALG_RSA_OAEP_256: &str = "RSA-OAEP-256";
/// The only content encryption algorithm FIT-Connect uses.
pub const ENC_A256GCM: &str = "A256GCM";
/// Raw DEFLATE compression before encryption.
pub const ZIP_DEFLATE: &str = "DEF";
/// Default ceiling for decrypted (and decompressed) output: 2 GiB.
pub const DEFAULT_MAX_PLAINTEXT: u64 = 2 * 1024 * 1024 * 1024;

const MAX_HEADER_CHARS: usize = 16 * 1024;
const MAX_KEY_CHARS: usize = 2048; // RSA-8192 → 1366 chars
const MAX_IV_CHARS: usize = 64;
const MAX_TAG_CHARS: usize = 64;
const CHUNK_CHARS: usize = 64 * 1024; // multiple of 4
const OUT_CHUNK: usize = 64 * 1024;

/// The protected header of a JWE.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JweHeader {
    /// Key management algorithm (`RSA-OAEP-256`).
    pub alg: String,
    /// Content encryption algorithm (`A256GCM`).
    pub enc: String,
    /// Compression (`DEF`) or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    /// Id of the recipient's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Content type of the plaintext (`application/json` for metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    /// Other header parameters, kept for inspection.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl JweHeader {
    fn parse(encoded: &[u8]) -> Result<Self, JoseError> {
        let json = b64_decode(encoded, "JWE header (base64url)")?;
        let header: JweHeader =
            serde_json::from_slice(&json).map_err(|_| JoseError::Malformed("JWE header (JSON)"))?;
        if header.alg != ALG_RSA_OAEP_256 {
            return Err(JoseError::UnsupportedAlgorithm {
                field: "alg",
                value: header.alg,
            });
        }
        if header.enc != ENC_A256GCM {
            return Err(JoseError::UnsupportedAlgorithm {
                field: "enc",
                value: header.enc,
            });
        }
        if let Some(zip) = &header.zip
            && zip != ZIP_DEFLATE
        {
            return Err(JoseError::UnsupportedAlgorithm {
                field: "zip",
                value: zip.clone(),
            });
        }
        if header.other.contains_key("crit") {
            return Err(JoseError::BadHeader(
                "crit names extensions this implementation does not understand".into(),
            ));
        }
        Ok(header)
    }
}

/// What a decryption or encryption learned besides the plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JweInfo {
    /// The protected header.
    pub header: JweHeader,
    /// The authentication tag, base64url exactly as in the 5th segment.
    pub authentication_tag: String,
    /// Bytes of plaintext (after decompression) produced or consumed.
    pub plaintext_len: u64,
}

/// Result of an in-memory decryption.
#[derive(Clone)]
pub struct Decrypted {
    /// The authenticated plaintext.
    pub plaintext: Vec<u8>,
    /// Header and tag.
    pub info: JweInfo,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("info", &self.info)
            .finish()
    }
}

/// Decryption limits.
#[derive(Debug, Clone, Copy)]
pub struct DecryptOptions {
    /// Ceiling for the plaintext after decompression; exceeded → [`JoseError::TooLarge`].
    pub max_plaintext_bytes: u64,
}

impl Default for DecryptOptions {
    fn default() -> Self {
        DecryptOptions {
            max_plaintext_bytes: DEFAULT_MAX_PLAINTEXT,
        }
    }
}

/// Encryption choices.
#[derive(Debug, Clone, Default)]
pub struct EncryptOptions {
    /// `cty` header (FIT-Connect: `application/json` for metadata and JSON data).
    pub cty: Option<String>,
    /// Compress with raw DEFLATE and set `zip: DEF`.
    pub compress: bool,
    /// Put this `kid` in the header instead of the key's own (for tests of wrong keys).
    pub kid_override: Option<String>,
    /// Leave `kid` out of the header altogether, as some senders do.
    pub omit_kid: bool,
}

/// Returns the authentication tag (5th segment) of a compact JWE without decrypting it.
pub fn authentication_tag(compact: &str) -> Result<&str, JoseError> {
    let parts: Vec<&str> = compact.trim_end().split('.').collect();
    if parts.len() != 5 {
        return Err(JoseError::Malformed(
            "JWE compact serialization needs 5 segments",
        ));
    }
    Ok(parts[4])
}

/// Checks the structure of a compact JWE (5 segments, an acceptable header) without a key, as a
/// Zustelldienst does before storing it. Reads only the header fully.
pub fn inspect(compact: &[u8]) -> Result<JweHeader, JoseError> {
    let text = trim_ascii_end(compact);
    let dots = text.iter().filter(|&&b| b == b'.').count();
    if dots != 4 {
        return Err(JoseError::Malformed(
            "JWE compact serialization needs 5 segments",
        ));
    }
    let end = text.iter().position(|&b| b == b'.').unwrap_or(text.len());
    if end > MAX_HEADER_CHARS {
        return Err(JoseError::InvalidLength { what: "JWE header" });
    }
    JweHeader::parse(&text[..end])
}

fn trim_ascii_end(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && b[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    &b[..end]
}

/// Encrypts `plaintext` for `key` into a compact JWE.
pub fn encrypt(
    plaintext: &[u8],
    key: &PublicKey,
    opts: &EncryptOptions,
) -> Result<String, JoseError> {
    let mut out = Vec::with_capacity(plaintext.len() * 4 / 3 + 1024);
    encrypt_stream(plaintext, &mut out, key, opts)?;
    Ok(String::from_utf8(out).expect("a compact JWE is ASCII"))
}

/// Encrypts everything read from `reader` for `key`, writing the compact JWE to `writer` as it
/// goes (memory stays bounded). Returns header and tag.
pub fn encrypt_stream<R: Read, W: Write>(
    mut reader: R,
    writer: W,
    key: &PublicKey,
    opts: &EncryptOptions,
) -> Result<JweInfo, JoseError> {
    let mut cek = [0u8; 32];
    rand_bytes(&mut cek)?;
    let mut iv = [0u8; 12];
    rand_bytes(&mut iv)?;

    let mut enc = Encrypter::new(&key.pkey)?;
    enc.set_rsa_padding(Padding::PKCS1_OAEP)?;
    enc.set_rsa_oaep_md(MessageDigest::sha256())?;
    enc.set_rsa_mgf1_md(MessageDigest::sha256())?;
    let mut wrapped = vec![0u8; enc.encrypt_len(&cek)?];
    let n = enc.encrypt(&cek, &mut wrapped)?;
    wrapped.truncate(n);

    let header = JweHeader {
        alg: ALG_RSA_OAEP_256.into(),
        enc: ENC_A256GCM.into(),
        zip: opts.compress.then(|| ZIP_DEFLATE.to_string()),
        kid: if opts.omit_kid {
            None
        } else {
            opts.kid_override
                .clone()
                .or_else(|| key.kid().map(str::to_string))
        },
        cty: opts.cty.clone(),
        other: Map::new(),
    };
    let header_b64 = b64(serde_json::to_vec(&header).expect("header serializes"));

    let mut crypter = Crypter::new(Cipher::aes_256_gcm(), Mode::Encrypt, &cek, Some(&iv))?;
    cek.fill(0);
    crypter.aad_update(header_b64.as_bytes())?;

    let mut writer = writer;
    write!(writer, "{header_b64}.{}.{}.", b64(&wrapped), b64(iv))?;
    let mut seal = SealWriter {
        crypter,
        carry: Vec::with_capacity(3),
        out: writer,
    };
    let mut buf = vec![0u8; OUT_CHUNK];
    let mut plaintext_len = 0u64;
    if opts.compress {
        let mut deflate = Compress::new(Compression::default(), false);
        let mut cbuf = vec![0u8; OUT_CHUNK];
        loop {
            let n = read_full(&mut reader, &mut buf)?;
            plaintext_len += n as u64;
            let flush = if n == 0 {
                flate2::FlushCompress::Finish
            } else {
                flate2::FlushCompress::None
            };
            let mut input = &buf[..n];
            loop {
                let (bi, bo) = (deflate.total_in(), deflate.total_out());
                let status = deflate
                    .compress(input, &mut cbuf, flush)
                    .map_err(|_| JoseError::Io(io::Error::other("deflate failed")))?;
                let consumed = (deflate.total_in() - bi) as usize;
                let produced = (deflate.total_out() - bo) as usize;
                input = &input[consumed..];
                seal.write_all(&cbuf[..produced])?;
                if status == flate2::Status::StreamEnd {
                    break;
                }
                if input.is_empty() && n != 0 && produced < cbuf.len() {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
    } else {
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            plaintext_len += n as u64;
            seal.write_all(&buf[..n])?;
        }
    }
    let tag = seal.finish()?;
    Ok(JweInfo {
        header,
        authentication_tag: tag,
        plaintext_len,
    })
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Encrypts what is written to it and writes base64url ciphertext to `out`.
struct SealWriter<W: Write> {
    crypter: Crypter,
    carry: Vec<u8>,
    out: W,
}

impl<W: Write> SealWriter<W> {
    fn push_cipher(&mut self, ct: &[u8]) -> io::Result<()> {
        self.carry.extend_from_slice(ct);
        let whole = self.carry.len() - self.carry.len() % 3;
        if whole > 0 {
            self.out.write_all(b64(&self.carry[..whole]).as_bytes())?;
            self.carry.drain(..whole);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<String, JoseError> {
        let mut tail = vec![0u8; 32];
        let n = self.crypter.finalize(&mut tail)?;
        self.push_cipher(&tail[..n])?;
        if !self.carry.is_empty() {
            self.out.write_all(b64(&self.carry).as_bytes())?;
        }
        let mut tag = [0u8; 16];
        self.crypter.get_tag(&mut tag)?;
        let tag = b64(tag);
        write!(self.out, ".{tag}")?;
        self.out.flush()?;
        Ok(tag)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut ct = vec![0u8; data.len() + 16];
        let n = self
            .crypter
            .update(data, &mut ct)
            .map_err(io::Error::other)?;
        self.push_cipher(&ct[..n])?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Decrypts a compact JWE in memory with one of `keys` (chosen by `kid`, see [`select_keys`]).
pub fn decrypt(
    compact: &[u8],
    keys: &[PrivateKey],
    opts: &DecryptOptions,
) -> Result<Decrypted, JoseError> {
    let mut plaintext = Vec::new();
    let mut d = StreamDecryptor::new(keys, *opts);
    d.update(compact, &mut plaintext)?;
    let info = d.finish(&mut plaintext)?;
    Ok(Decrypted { plaintext, info })
}

/// Decrypts a compact JWE read from `reader`, writing plaintext to `writer` chunk by chunk.
/// On `Err`, whatever reached `writer` must be discarded (see module docs).
pub fn decrypt_stream<R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    keys: &[PrivateKey],
    opts: &DecryptOptions,
) -> Result<JweInfo, JoseError> {
    let mut d = StreamDecryptor::new(keys, *opts);
    let mut buf = vec![0u8; CHUNK_CHARS];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        d.update(&buf[..n], &mut writer)?;
    }
    let info = d.finish(&mut writer)?;
    writer.flush()?;
    Ok(info)
}

/// Keys tried for one JWE, at most this many when the header names none of them.
const MAX_BLIND_TRIES: usize = 16;

/// The keys to try for a JWE, in order, and whether the header's `kid` named one of them.
struct KeySelection<'k> {
    keys: Vec<&'k PrivateKey>,
    matched: bool,
}

/// Chooses the decryption keys for a JWE header's `kid`. Senders differ in what they put there:
/// FIT-Connect's own SDKs copy the destination key's `kid`, while general JOSE libraries
/// (jwcrypto, panva `jose`) often use the key's RFC 7638 thumbprint, and some send none. So:
/// the key with that `kid`; else the key whose thumbprint it is; else every held key in the
/// configured order (bounded). Trying keys is safe: an RSA-OAEP failure says nothing about the
/// key (no padding oracle), and AES-GCM authenticates whatever key unwrapped.
fn select_keys<'k>(keys: &'k [PrivateKey], kid: Option<&str>) -> KeySelection<'k> {
    if let Some(kid) = kid {
        let by_kid: Vec<&PrivateKey> = keys.iter().filter(|k| k.kid() == Some(kid)).collect();
        if !by_kid.is_empty() {
            return KeySelection {
                keys: by_kid,
                matched: true,
            };
        }
        let by_thumbprint: Vec<&PrivateKey> = keys
            .iter()
            .filter(|k| k.public_jwk().thumbprint() == kid)
            .collect();
        if !by_thumbprint.is_empty() {
            return KeySelection {
                keys: by_thumbprint,
                matched: true,
            };
        }
    }
    KeySelection {
        keys: keys.iter().take(MAX_BLIND_TRIES).collect(),
        matched: false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    EncryptedKey,
    Iv,
    Ciphertext,
    Tag,
}

/// Push-based JWE decryption: call [`update`](Self::update) with successive pieces of the compact
/// serialization (any split), then [`finish`](Self::finish). Plaintext goes to the writer passed
/// to each call; it is authenticated only once `finish` returns `Ok`.
pub struct StreamDecryptor<'k> {
    keys: &'k [PrivateKey],
    opts: DecryptOptions,
    stage: Stage,
    segment: Vec<u8>,
    header_b64: Vec<u8>,
    header: Option<JweHeader>,
    cek: Option<[u8; 32]>,
    crypter: Option<Crypter>,
    carry: Vec<u8>,
    inflate: Option<Decompress>,
    inflate_done: bool,
    written: u64,
    failed: bool,
}

impl Drop for StreamDecryptor<'_> {
    fn drop(&mut self) {
        if let Some(cek) = self.cek.as_mut() {
            cek.fill(0);
        }
    }
}

impl<'k> StreamDecryptor<'k> {
    /// A decryptor that will pick from `keys` by the header's `kid`.
    pub fn new(keys: &'k [PrivateKey], opts: DecryptOptions) -> Self {
        StreamDecryptor {
            keys,
            opts,
            stage: Stage::Header,
            segment: Vec::new(),
            header_b64: Vec::new(),
            header: None,
            cek: None,
            crypter: None,
            carry: Vec::with_capacity(4),
            inflate: None,
            inflate_done: false,
            written: 0,
            failed: false,
        }
    }

    /// The header, once the first segment has been read.
    pub fn header(&self) -> Option<&JweHeader> {
        self.header.as_ref()
    }

    /// Feeds the next piece of the compact serialization.
    pub fn update<W: Write + ?Sized>(
        &mut self,
        input: &[u8],
        out: &mut W,
    ) -> Result<(), JoseError> {
        if self.failed {
            return Err(JoseError::Malformed("decryptor already failed"));
        }
        let r = self.update_inner(input, out);
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn update_inner<W: Write + ?Sized>(
        &mut self,
        mut input: &[u8],
        out: &mut W,
    ) -> Result<(), JoseError> {
        while !input.is_empty() {
            let dot = input.iter().position(|&b| b == b'.');
            let (piece, rest, ends) = match dot {
                Some(i) => (&input[..i], &input[i + 1..], true),
                None => (input, &input[input.len()..], false),
            };
            match self.stage {
                Stage::Ciphertext => {
                    for chunk in piece.chunks(CHUNK_CHARS) {
                        self.ciphertext_chars(chunk, out)?;
                    }
                    if ends {
                        self.ciphertext_end(out)?;
                        self.stage = Stage::Tag;
                    }
                }
                Stage::Tag => {
                    if ends {
                        return Err(JoseError::Malformed(
                            "JWE compact serialization has more than 5 segments",
                        ));
                    }
                    self.push_small(piece, MAX_TAG_CHARS, "JWE authentication tag")?;
                }
                stage => {
                    let (limit, what) = match stage {
                        Stage::Header => (MAX_HEADER_CHARS, "JWE header"),
                        Stage::EncryptedKey => (MAX_KEY_CHARS, "JWE encrypted key"),
                        _ => (MAX_IV_CHARS, "JWE initialization vector"),
                    };
                    self.push_small(piece, limit, what)?;
                    if ends {
                        let seg = std::mem::take(&mut self.segment);
                        match stage {
                            Stage::Header => {
                                self.header = Some(JweHeader::parse(&seg)?);
                                self.header_b64 = seg;
                                self.stage = Stage::EncryptedKey;
                            }
                            Stage::EncryptedKey => {
                                self.unwrap_key(&seg)?;
                                self.stage = Stage::Iv;
                            }
                            _ => {
                                self.start_cipher(&seg)?;
                                self.stage = Stage::Ciphertext;
                            }
                        }
                    }
                }
            }
            input = rest;
        }
        Ok(())
    }

    fn push_small(
        &mut self,
        piece: &[u8],
        limit: usize,
        what: &'static str,
    ) -> Result<(), JoseError> {
        if self.segment.len() + piece.len() > limit {
            return Err(JoseError::InvalidLength { what });
        }
        self.segment.extend_from_slice(piece);
        Ok(())
    }

    fn unwrap_key(&mut self, seg: &[u8]) -> Result<(), JoseError> {
        let wrapped = b64_decode(seg, "JWE encrypted key (base64url)")?;
        let header = self.header.as_ref().expect("header parsed before key");
        let selection = select_keys(self.keys, header.kid.as_deref());
        for key in &selection.keys {
            if let Some(cek) = rsa_oaep_256_unwrap(key, &wrapped) {
                self.cek = Some(cek);
                return Ok(());
            }
        }
        match (selection.matched, &header.kid) {
            // The kid named no key we hold and none of them could unwrap it: say which kid.
            (false, Some(kid)) => Err(JoseError::UnknownKid {
                kid: kid.clone(),
                held: self
                    .keys
                    .iter()
                    .filter_map(|k| k.kid().map(str::to_string))
                    .collect(),
            }),
            _ => Err(JoseError::KeyUnwrap),
        }
    }

    fn start_cipher(&mut self, seg: &[u8]) -> Result<(), JoseError> {
        let iv = b64_decode(seg, "JWE initialization vector (base64url)")?;
        if iv.len() != 12 {
            return Err(JoseError::InvalidLength {
                what: "JWE initialization vector",
            });
        }
        let cek = self.cek.as_ref().expect("key unwrapped before IV");
        let mut crypter = Crypter::new(Cipher::aes_256_gcm(), Mode::Decrypt, cek, Some(&iv))?;
        crypter.aad_update(&self.header_b64)?;
        self.crypter = Some(crypter);
        if self.header.as_ref().is_some_and(|h| h.zip.is_some()) {
            self.inflate = Some(Decompress::new(false));
        }
        Ok(())
    }

    fn ciphertext_chars<W: Write + ?Sized>(
        &mut self,
        chars: &[u8],
        out: &mut W,
    ) -> Result<(), JoseError> {
        let decoded = if self.carry.is_empty() {
            let whole = chars.len() - chars.len() % 4;
            let d = b64_decode(&chars[..whole], "JWE ciphertext (base64url)")?;
            self.carry.extend_from_slice(&chars[whole..]);
            d
        } else {
            self.carry.extend_from_slice(chars);
            let whole = self.carry.len() - self.carry.len() % 4;
            let d = b64_decode(&self.carry[..whole], "JWE ciphertext (base64url)")?;
            self.carry.drain(..whole);
            d
        };
        self.decrypt_bytes(&decoded, out)
    }

    fn ciphertext_end<W: Write + ?Sized>(&mut self, out: &mut W) -> Result<(), JoseError> {
        if !self.carry.is_empty() {
            let rest = std::mem::take(&mut self.carry);
            let decoded = b64_decode(&rest, "JWE ciphertext (base64url)")?;
            self.decrypt_bytes(&decoded, out)?;
        }
        Ok(())
    }

    fn decrypt_bytes<W: Write + ?Sized>(
        &mut self,
        ct: &[u8],
        out: &mut W,
    ) -> Result<(), JoseError> {
        if ct.is_empty() {
            return Ok(());
        }
        let crypter = self.crypter.as_mut().expect("cipher started");
        let mut plain = vec![0u8; ct.len() + 16];
        let n = crypter.update(ct, &mut plain)?;
        self.emit(&plain[..n], out)
    }

    fn emit<W: Write + ?Sized>(&mut self, mut plain: &[u8], out: &mut W) -> Result<(), JoseError> {
        let limit = self.opts.max_plaintext_bytes;
        let Some(inflate) = self.inflate.as_mut() else {
            self.written += plain.len() as u64;
            if self.written > limit {
                return Err(JoseError::TooLarge { limit });
            }
            out.write_all(plain)?;
            return Ok(());
        };
        if plain.is_empty() {
            return Ok(());
        }
        if self.inflate_done {
            return Err(JoseError::Decompression);
        }
        let mut buf = vec![0u8; OUT_CHUNK];
        loop {
            let (bi, bo) = (inflate.total_in(), inflate.total_out());
            let status = inflate
                .decompress(plain, &mut buf, FlushDecompress::None)
                .map_err(|_| JoseError::Decompression)?;
            let consumed = (inflate.total_in() - bi) as usize;
            let produced = (inflate.total_out() - bo) as usize;
            plain = &plain[consumed..];
            self.written += produced as u64;
            if self.written > limit {
                return Err(JoseError::TooLarge { limit });
            }
            out.write_all(&buf[..produced])?;
            if status == flate2::Status::StreamEnd {
                self.inflate_done = true;
                if !plain.is_empty() {
                    return Err(JoseError::Decompression);
                }
                return Ok(());
            }
            if (plain.is_empty() && produced < buf.len()) || (consumed == 0 && produced == 0) {
                return Ok(());
            }
        }
    }

    /// Ends the input: checks the authentication tag and completes decompression. Only after
    /// this returns `Ok` is the plaintext written so far authentic.
    pub fn finish<W: Write + ?Sized>(mut self, out: &mut W) -> Result<JweInfo, JoseError> {
        if self.failed {
            return Err(JoseError::Malformed("decryptor already failed"));
        }
        if self.stage != Stage::Tag {
            return Err(JoseError::Malformed(
                "JWE compact serialization needs 5 segments",
            ));
        }
        let tag_text = String::from_utf8(trim_ascii_end(&self.segment).to_vec())
            .map_err(|_| JoseError::Malformed("JWE authentication tag"))?;
        let tag = b64_decode(&tag_text, "JWE authentication tag (base64url)")?;
        if tag.len() != 16 {
            return Err(JoseError::InvalidLength {
                what: "JWE authentication tag",
            });
        }
        let mut crypter = self.crypter.take().expect("cipher started");
        crypter.set_tag(&tag)?;
        let mut tail = [0u8; 32];
        let n = crypter
            .finalize(&mut tail)
            .map_err(|_| JoseError::TagMismatch)?;
        self.emit(&tail[..n], out)?;
        if let Some(mut inflate) = self.inflate.take()
            && !self.inflate_done
        {
            let mut buf = vec![0u8; OUT_CHUNK];
            loop {
                let bo = inflate.total_out();
                let status = inflate
                    .decompress(&[], &mut buf, FlushDecompress::Finish)
                    .map_err(|_| JoseError::Decompression)?;
                let produced = (inflate.total_out() - bo) as usize;
                self.written += produced as u64;
                if self.written > self.opts.max_plaintext_bytes {
                    return Err(JoseError::TooLarge {
                        limit: self.opts.max_plaintext_bytes,
                    });
                }
                out.write_all(&buf[..produced])?;
                if status == flate2::Status::StreamEnd {
                    break;
                }
                if produced == 0 {
                    return Err(JoseError::Decompression);
                }
            }
        }
        Ok(JweInfo {
            header: self.header.take().expect("header parsed"),
            authentication_tag: tag_text,
            plaintext_len: self.written,
        })
    }
}

fn rsa_oaep_256_unwrap(key: &PrivateKey, wrapped: &[u8]) -> Option<[u8; 32]> {
    let mut d = Decrypter::new(&key.pkey).ok()?;
    d.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
    d.set_rsa_oaep_md(MessageDigest::sha256()).ok()?;
    d.set_rsa_mgf1_md(MessageDigest::sha256()).ok()?;
    let mut out = vec![0u8; d.decrypt_len(wrapped).ok()?];
    let n = d.decrypt(wrapped, &mut out).ok()?;
    let cek: Option<[u8; 32]> = (n == 32).then(|| out[..32].try_into().expect("32 bytes"));
    out.fill(0);
    cek
}
