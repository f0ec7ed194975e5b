//! A 128-bit digest of a file's bytes, computed while the file is written and checked by
//! reading it back: it tells whether the file is still the one whose tallies were kept
//! ([`super::kept`]). Two lanes of 8-byte words, each folded in by the multiply of
//! [`super::fast_hash`]; the digest does not depend on how the bytes were split into writes
//! or reads. It guards against a file changed by someone else, not against an adversary.

use std::io::{self, Read, Write};
use std::path::Path;

use super::fast_hash::fold;

const LANE_A: u64 = 0x9E37_79B9_7F4A_7C15;
const LANE_B: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// What a file's bytes come to: their number and two 64-bit lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Digest {
    pub(super) len: u64,
    lanes: (u64, u64),
}

/// A digest being computed.
#[derive(Clone, Debug)]
pub(super) struct Digester {
    len: u64,
    a: u64,
    b: u64,
    /// The bytes of the last 16-byte block not complete yet.
    pending: [u8; 16],
    pending_len: usize,
}

impl Default for Digester {
    fn default() -> Self {
        Digester {
            len: 0,
            a: LANE_A,
            b: LANE_B,
            pending: [0; 16],
            pending_len: 0,
        }
    }
}

impl Digester {
    pub(super) fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.pending_len > 0 {
            let taken = bytes.len().min(16 - self.pending_len);
            self.pending[self.pending_len..self.pending_len + taken]
                .copy_from_slice(&bytes[..taken]);
            self.pending_len += taken;
            bytes = &bytes[taken..];
            if self.pending_len < 16 {
                return;
            }
            let block = self.pending;
            self.block(&block);
            self.pending_len = 0;
        }
        let mut blocks = bytes.chunks_exact(16);
        for block in &mut blocks {
            self.block(block.try_into().expect("blocks of 16 bytes"));
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    fn block(&mut self, block: &[u8; 16]) {
        let (first, second) = block.split_at(8);
        let word = |half: &[u8]| u64::from_le_bytes(half.try_into().expect("8 bytes"));
        self.a = fold(self.a ^ word(first), LANE_A);
        self.b = fold(self.b ^ word(second), LANE_B);
    }

    pub(super) fn finish(&self) -> Digest {
        let mut tail = [0u8; 16];
        tail[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        let mut last = self.clone();
        last.block(&tail);
        Digest {
            len: self.len,
            lanes: (
                fold(last.a ^ self.len, LANE_B),
                fold(last.b ^ self.len.rotate_left(32), LANE_A),
            ),
        }
    }
}

/// A writer that digests what goes through it.
pub(super) struct DigestingWriter<W> {
    inner: W,
    digester: Digester,
}

impl<W: Write> DigestingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        DigestingWriter {
            inner,
            digester: Digester::default(),
        }
    }

    /// The digest of everything written so far.
    pub(super) fn digest(&self) -> Digest {
        self.digester.finish()
    }
}

impl<W: Write> Write for DigestingWriter<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.digester.update(&buffer[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Whether the file at `path` holds the bytes `digest` is of. It reads no more than one
/// byte past their length, and gives up (answering no) once `keep_going` says to stop.
pub(super) fn file_holds(path: &Path, digest: Digest, keep_going: impl Fn() -> bool) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut file = file.take(digest.len + 1);
    let mut digester = Digester::default();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        if !keep_going() {
            return false;
        }
        match file.read(&mut buffer) {
            Ok(0) => return digester.finish() == digest,
            Ok(read) => digester.update(&buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// The digest of the file at `path` as it is now.
#[cfg(test)]
pub(super) fn digest_file(path: &Path) -> io::Result<Digest> {
    let mut digester = Digester::default();
    digester.update(&std::fs::read(path)?);
    Ok(digester.finish())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{Digester, DigestingWriter, digest_file, file_holds};

    fn digest_of(parts: &[&[u8]]) -> super::Digest {
        let mut digester = Digester::default();
        for part in parts {
            digester.update(part);
        }
        digester.finish()
    }

    #[test]
    fn the_digest_is_of_the_bytes_not_of_how_they_were_split() {
        let bytes: Vec<u8> = (0..100u8).collect();
        let whole = digest_of(&[&bytes]);
        for split in 0..bytes.len() {
            let (left, right) = bytes.split_at(split);
            assert_eq!(digest_of(&[left, right]), whole, "split at {split}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(digest_of(&bytewise), whole);
    }

    #[test]
    fn any_change_of_a_byte_or_the_length_changes_the_digest() {
        let bytes: Vec<u8> = (0..40u8).collect();
        let whole = digest_of(&[&bytes]);
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            assert_ne!(digest_of(&[&changed]), whole, "byte {at}");
        }
        assert_ne!(digest_of(&[&bytes[..39]]), whole);
        assert_ne!(digest_of(&[&bytes, b"\0"]), whole);
        assert_ne!(digest_of(&[b""]), digest_of(&[b"\0"]));
        // Swapped blocks of 16 bytes land in the same lanes in another order.
        let swapped = [&bytes[16..32], &bytes[..16], &bytes[32..]].concat();
        assert_ne!(digest_of(&[&swapped]), whole);
    }

    #[test]
    fn a_written_file_reads_back_to_the_digest_it_was_written_with() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("t.csv");
        let mut writer = DigestingWriter::new(std::fs::File::create(&path).unwrap());
        for line in 0..10_000 {
            writeln!(writer, "{line},row {line}").unwrap();
        }
        writer.flush().unwrap();
        let written = writer.digest();
        assert_eq!(digest_file(&path).unwrap(), written);
        assert!(file_holds(&path, written, || true));
        assert!(!file_holds(&path, written, || false), "told to stop");
        // Grown by a byte: read one past the length, and refused.
        let mut grown = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        grown.write_all(b"x").unwrap();
        assert!(!file_holds(&path, written, || true));
        std::fs::write(&path, "changed").unwrap();
        assert_ne!(digest_file(&path).unwrap(), written);
        assert!(!file_holds(&path, written, || true));
    }
}
