//! SCTP common header and a bounded chunk walk (RFC 9260 3).

use crate::Cursor;
use bpf_abi::{Be16, Be32, Reason};

/// Length of the SCTP common header.
pub const SCTP_HLEN: usize = 12;
/// Length of a chunk header.
pub const CHUNK_HLEN: usize = 4;
/// Chunks the walk follows before giving up with [`Reason::SctpTooManyChunks`].
pub const MAX_SCTP_CHUNKS: usize = 16;

/// Chunk types (RFC 9260 3.2).
pub mod chunk {
    /// Payload Data.
    pub const DATA: u8 = 0;
    /// Initiation.
    pub const INIT: u8 = 1;
    /// Initiation Acknowledgement.
    pub const INIT_ACK: u8 = 2;
    /// Selective Acknowledgement.
    pub const SACK: u8 = 3;
    /// Heartbeat Request.
    pub const HEARTBEAT: u8 = 4;
    /// Heartbeat Acknowledgement.
    pub const HEARTBEAT_ACK: u8 = 5;
    /// Abort.
    pub const ABORT: u8 = 6;
    /// Shutdown.
    pub const SHUTDOWN: u8 = 7;
    /// Shutdown Acknowledgement.
    pub const SHUTDOWN_ACK: u8 = 8;
    /// Operation Error.
    pub const ERROR: u8 = 9;
    /// State Cookie.
    pub const COOKIE_ECHO: u8 = 10;
    /// Cookie Acknowledgement.
    pub const COOKIE_ACK: u8 = 11;
    /// Shutdown Complete.
    pub const SHUTDOWN_COMPLETE: u8 = 14;
}

/// The SCTP common header.
#[repr(C)]
pub struct SctpHdr {
    /// Source port.
    pub src: Be16,
    /// Destination port.
    pub dst: Be16,
    /// Verification Tag.
    pub vtag: Be32,
    /// CRC32c checksum.
    pub checksum: [u8; 4],
}

/// A chunk header.
#[repr(C)]
pub struct ChunkHdr {
    /// Chunk Type.
    pub ty: u8,
    /// Chunk Flags.
    pub flags: u8,
    /// Chunk Length: header and value, without padding.
    pub len: Be16,
}

const _: () = assert!(size_of::<SctpHdr>() == SCTP_HLEN && size_of::<ChunkHdr>() == CHUNK_HLEN);

/// What an SCTP packet says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sctp {
    /// Offset of the common header.
    pub off: usize,
    /// Source port.
    pub src: u16,
    /// Destination port.
    pub dst: u16,
    /// Verification Tag.
    pub vtag: u32,
    /// Chunks in the packet.
    pub chunk_count: u8,
    /// Type of the first chunk (meaningful when `chunk_count > 0`).
    pub first_chunk_type: u8,
    /// Bit i set when a chunk of type i (below 32) is present.
    pub chunk_types: u32,
    /// An ASCONF chunk (RFC 5061, type 0xC1) is present.
    pub asconf: bool,
}

/// Chunk type of ASCONF (RFC 5061 3.1.1).
pub const CHUNK_ASCONF: u8 = 0xc1;

/// Parses the SCTP common header at `off` and walks the chunks up to `ip_end`, checking every
/// chunk length (at least 4, inside the packet; padding to 4 bytes may be cut at the end).
#[inline(always)]
pub fn parse_sctp(cur: &Cursor, off: usize, ip_end: usize) -> Result<Sctp, Reason> {
    if off + SCTP_HLEN > ip_end {
        return Err(Reason::SctpTruncated);
    }
    let h: &SctpHdr = cur.get(off, Reason::SctpTruncated)?;
    let mut out = Sctp {
        off,
        src: h.src.get(),
        dst: h.dst.get(),
        vtag: h.vtag.get(),
        chunk_count: 0,
        first_chunk_type: 0,
        chunk_types: 0,
        asconf: false,
    };
    let mut at = off + SCTP_HLEN;
    let mut i = 0;
    while i < MAX_SCTP_CHUNKS {
        if at >= ip_end {
            return Ok(out);
        }
        if at + CHUNK_HLEN > ip_end {
            return Err(Reason::SctpChunkTruncated);
        }
        let c: &ChunkHdr = cur.get(at, Reason::SctpChunkTruncated)?;
        let len = usize::from(c.len.get());
        if len < CHUNK_HLEN {
            return Err(Reason::SctpChunkBadLength);
        }
        if at + len > ip_end {
            return Err(Reason::SctpChunkTruncated);
        }
        if i == 0 {
            out.first_chunk_type = c.ty;
        }
        if c.ty < 32 {
            out.chunk_types |= 1 << c.ty;
        }
        if c.ty == CHUNK_ASCONF {
            out.asconf = true;
        }
        out.chunk_count += 1;
        at += (len + 3) & !3;
        i += 1;
    }
    if at < ip_end {
        return Err(Reason::SctpTooManyChunks);
    }
    Ok(out)
}

/// The CRC32c (Castagnoli) table, reflected polynomial 0x82F63B78 (RFC 9260 Appendix A).
static CRC32C_TABLE: [u32; 256] = crc32c_table();

const fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// One byte into a running CRC32c.
#[inline(always)]
pub fn crc32c_byte(crc: u32, b: u8) -> u32 {
    CRC32C_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
}

/// CRC32c of bytes (the whole computation: initial all ones, final complement).
pub fn crc32c(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0, |c, &b| crc32c_byte(c, b))
}

/// The checksum field of an SCTP packet whose first `words` 4-byte words are in `buf` (the
/// field itself zeroed): RFC 9260 6.8, CRC32c over the whole packet, stored so that the CRC's
/// least significant byte comes first, as Appendix A's reference code leaves it. A packet is
/// a whole number of words (chunks are padded to 4 bytes, 3.2). `N` is a multiple of 4; the
/// loop's exit leaves nothing but the CRC live, so the verifier prunes its exits into one.
#[inline(always)]
pub fn checksum_words<const N: usize>(buf: &[u8; N], words: usize) -> [u8; 4] {
    let mut crc = !0u32;
    let mut i = 0;
    while i < words && i < N / 4 {
        let at = (i * 4) & (N - 4);
        crc = crc32c_byte(crc, buf[at]);
        crc = crc32c_byte(crc, buf[at + 1]);
        crc = crc32c_byte(crc, buf[at + 2]);
        crc = crc32c_byte(crc, buf[at + 3]);
        i += 1;
    }
    (!crc).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// COOKIE-ACK-like common header plus a SACK (16 bytes) and a DATA chunk of 17 bytes
    /// (padded to 20).
    fn packet() -> Vec<u8> {
        let mut v = vec![0x0b, 0x59, 0x0b, 0x59, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0];
        v.extend_from_slice(&[
            chunk::SACK,
            0,
            0,
            16,
            0,
            0,
            0,
            1,
            0,
            0,
            0xff,
            0xff,
            0,
            0,
            0,
            0,
        ]);
        v.extend_from_slice(&[
            chunk::DATA,
            3,
            0,
            17,
            0,
            0,
            0,
            2,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            46,
            0x61,
        ]);
        v.extend_from_slice(&[0, 0, 0]);
        v
    }

    #[test]
    fn chunks_at_every_truncation() {
        let full = packet();
        for n in 0..=full.len() {
            let mut b = full[..n].to_vec();
            let got = parse_sctp(&Cursor::from_slice(&mut b), 0, n);
            let want = match n {
                0..12 => Err(Reason::SctpTruncated),
                12 => Ok((0, 0)),
                13..28 => Err(Reason::SctpChunkTruncated),
                28 => Ok((1, 1 << chunk::SACK)),
                29..45 => Err(Reason::SctpChunkTruncated),
                _ => Ok((2, 1 << chunk::SACK | 1 << chunk::DATA)),
            };
            assert_eq!(
                got.map(|s| (s.chunk_count, s.chunk_types)),
                want,
                "prefix {n}"
            );
        }
        let mut b = full.clone();
        let s = parse_sctp(&Cursor::from_slice(&mut b), 0, full.len()).unwrap();
        assert_eq!(
            (s.src, s.dst, s.vtag, s.first_chunk_type),
            (2905, 2905, 0xdeadbeef, 3)
        );
    }

    #[test]
    fn crc32c_matches_rfc_3720_vectors() {
        // RFC 3720 B.4: 32 bytes of zeros, of ones, and ascending.
        assert_eq!(crc32c(&[0; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xff; 32]), 0x62A8_AB43);
        let asc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&asc), 0x46DD_794E);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn checksum_over_words_is_crc32c_little_endian() {
        let mut p = packet();
        p.resize(48, 0);
        let mut buf = [0u8; 64];
        buf[..48].copy_from_slice(&p);
        assert_eq!(checksum_words(&buf, 12), crc32c(&p).to_le_bytes());
        assert_eq!(checksum_words(&buf, 3), crc32c(&p[..12]).to_le_bytes());
        // More words than the buffer holds: the buffer's.
        assert_eq!(
            checksum_words(&[7u8; 8], 5),
            crc32c(&[7u8; 8]).to_le_bytes()
        );
    }

    #[test]
    fn chunk_length_below_four_is_bad() {
        let mut b = packet();
        b[15] = 3;
        let n = b.len();
        assert_eq!(
            parse_sctp(&Cursor::from_slice(&mut b), 0, n),
            Err(Reason::SctpChunkBadLength)
        );
    }

    #[test]
    fn too_many_chunks() {
        let mut v = vec![0; 12];
        for _ in 0..=MAX_SCTP_CHUNKS {
            v.extend_from_slice(&[chunk::HEARTBEAT_ACK, 0, 0, 4]);
        }
        let n = v.len();
        assert_eq!(
            parse_sctp(&Cursor::from_slice(&mut v), 0, n),
            Err(Reason::SctpTooManyChunks)
        );
        let n = n - 4;
        assert_eq!(
            parse_sctp(&Cursor::from_slice(&mut v), 0, n).map(|s| s.chunk_count),
            Ok(16)
        );
    }
}
