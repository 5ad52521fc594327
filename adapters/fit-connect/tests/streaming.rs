//! A 50 MB attachment goes through the streaming encrypt and decrypt with bounded memory: the
//! peak resident set grows by far less than the attachment size. (Its own test binary, so that
//! no other test's allocations disturb the measurement.)

mod common;

use std::io::{Read, Seek, SeekFrom};

use amtsbote_fit_connect::jose::{
    DecryptOptions, EncryptOptions, JoseError, decrypt_stream, encrypt_stream,
};
use amtsbote_fit_connect::verification::{HashingWriter, decrypt_attachment, sha512_hex};
use common::*;

const SIZE: u64 = 50 * 1024 * 1024;

/// Deterministic pseudo-random bytes (xorshift), generated on the fly.
struct Noise {
    state: u64,
    left: u64,
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for b in &mut buf[..n] {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *b = self.state as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn fifty_megabytes_stream_through_with_bounded_memory() {
    let expected_hash = {
        let mut w = HashingWriter::new(std::io::sink());
        std::io::copy(
            &mut Noise {
                state: 42,
                left: SIZE,
            },
            &mut w,
        )
        .unwrap();
        w.finish().1
    };
    let before = peak_rss_kb();

    let mut file = tempfile::tempfile().unwrap();
    let info = encrypt_stream(
        Noise {
            state: 42,
            left: SIZE,
        },
        &mut file,
        &public(ENC),
        &EncryptOptions::default(),
    )
    .unwrap();
    assert_eq!(info.plaintext_len, SIZE);
    let jwe_len = file.seek(SeekFrom::End(0)).unwrap();
    assert!(jwe_len > SIZE * 4 / 3);

    file.seek(SeekFrom::Start(0)).unwrap();
    let key = private(ENC);
    let result = decrypt_attachment(
        "a",
        &mut file,
        std::io::sink(),
        std::slice::from_ref(&key),
        &DecryptOptions::default(),
    );
    let received = result.outcome.unwrap();
    assert_eq!(received.sha512_hex, expected_hash);
    assert_eq!(received.size, SIZE);
    assert_eq!(received.authentication_tag, info.authentication_tag);

    let grown_mb = (peak_rss_kb().saturating_sub(before)) / 1024;
    assert!(
        grown_mb < 16,
        "peak memory grew by {grown_mb} MB for a {} MB attachment",
        SIZE >> 20
    );

    // The limit applies to streams too.
    file.seek(SeekFrom::Start(0)).unwrap();
    let e = decrypt_stream(
        &mut file,
        std::io::sink(),
        &[key],
        &DecryptOptions {
            max_plaintext_bytes: 1024 * 1024,
        },
    )
    .unwrap_err();
    assert!(matches!(e, JoseError::TooLarge { .. }));
    // Sanity: the hash helper agrees with itself.
    assert_eq!(sha512_hex(b""), HashingWriter::new(Vec::new()).finish().1);
}
