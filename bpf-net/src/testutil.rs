//! Byte builders and the truncation check shared by the host tests of this crate.
//!
//! Deliberately independent of the parsers: packets are laid out by hand from the RFC/TS field
//! tables, so a parser bug cannot hide in a builder that shares its code.

use crate::Cursor;
use bpf_abi::Reason;

/// An Ethernet header (dst 02:00:00:00:00:02, src 02:00:00:00:00:01) with `tags` as
/// (TPID, TCI) pairs, ending with `ethertype`.
pub fn eth(ethertype: u16, tags: &[(u16, u16)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    for (tpid, tci) in tags {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&tci.to_be_bytes());
    }
    v.extend_from_slice(&ethertype.to_be_bytes());
    v
}

/// Runs `parse` on every prefix of `full` (lengths 0 to full.len()), checking that a prefix of
/// length n fails with exactly `expect_err(n)` or, where that is `None`, parses to the same
/// value as the full packet. Returns the value parsed from the full packet.
pub fn parse_each_prefix<T, F, E>(full: &[u8], parse: F, expect_err: E) -> T
where
    T: PartialEq + core::fmt::Debug,
    F: Fn(&Cursor) -> Result<T, Reason>,
    E: Fn(usize) -> Option<Reason>,
{
    let mut whole = full.to_vec();
    let want = parse(&Cursor::from_slice(&mut whole)).expect("full packet parses");
    for n in 0..=full.len() {
        let mut buf = full[..n].to_vec();
        let got = parse(&Cursor::from_slice(&mut buf));
        match expect_err(n) {
            Some(r) => assert_eq!(got, Err(r), "prefix of {n} bytes"),
            None => assert_eq!(got.as_ref(), Ok(&want), "prefix of {n} bytes"),
        }
    }
    want
}

/// Internet checksum of `b` (RFC 1071), as the value to put on the wire.
pub fn inet_csum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        s += u32::from(w);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An IPv4 header with `opts` (a multiple of 4 bytes), total length covering `payload_len`.
pub fn ipv4(proto: u8, opts: &[u8], payload_len: usize) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let hl = 20 + opts.len();
    let tot = (hl + payload_len) as u16;
    let mut v = Vec::new();
    v.push(0x40 | (hl / 4) as u8);
    v.push(0);
    v.extend_from_slice(&tot.to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
    v.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 1]);
    v.extend_from_slice(opts);
    let c = inet_csum(&v);
    v[10..12].copy_from_slice(&c.to_be_bytes());
    v
}

/// A fixed IPv6 header (2001:db8::1 -> 2001:db8::2).
pub fn ipv6(next: u8, payload_len: usize) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload_len as u16).to_be_bytes());
    v.push(next);
    v.push(64);
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[15] = 1;
    v.extend_from_slice(&a);
    a[15] = 2;
    v.extend_from_slice(&a);
    v
}

/// A UDP header with length covering `payload_len` and a zero checksum.
pub fn udp(sport: u16, dport: u16, payload_len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}
