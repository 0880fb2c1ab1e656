//! Internet checksum helpers (RFC 1071) and incremental updates (RFC 1624).
//!
//! Sums are kept as `u32` accumulators of 16-bit big-endian words and folded at the end. A
//! checksum field's *value* is the ones' complement of the folded sum.

use crate::Cursor;
use bpf_abi::Reason;

/// Folds a 32-bit accumulator into 16 bits with end-around carry (no complement).
#[inline(always)]
pub const fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// Folds a sum of 32-bit words (native-endian loads of the covered bytes) to the 16-bit ones'
/// complement sum in the same byte order (RFC 1071 2(B): `to_ne_bytes` of the result are the
/// wire bytes).
#[inline(always)]
pub fn fold64(s: u64) -> u16 {
    let s = (s & 0xffff_ffff) + (s >> 32);
    let s = (s & 0xffff_ffff) + (s >> 32);
    fold(s as u32)
}

/// The checksum field value for an accumulated sum.
#[inline(always)]
pub const fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// Adds the big-endian 16-bit words of `b` (odd length padded with a zero byte) to `sum`.
///
/// For eBPF, call it on fixed-size arrays so the loop has a constant bound.
#[inline(always)]
pub fn add_bytes(mut sum: u32, b: &[u8]) -> u32 {
    let mut i = 0;
    while i + 1 < b.len() {
        sum += u32::from(u16::from_be_bytes([b[i], b[i + 1]]));
        i += 2;
    }
    if i < b.len() {
        sum += u32::from(b[i]) << 8;
    }
    sum
}

/// The checksum field after one 16-bit word of the covered data changed from `old` to `new`
/// (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')). `check` is the field's current value.
#[inline(always)]
pub const fn replace16(check: u16, old: u16, new: u16) -> u16 {
    let sum = (!check) as u32 + (!old) as u32 + new as u32;
    !fold(sum)
}

/// As [`replace16`] for a 32-bit word (an IPv4 address, a TEID).
#[inline(always)]
pub const fn replace32(check: u16, old: u32, new: u32) -> u16 {
    let c = replace16(check, (old >> 16) as u16, (new >> 16) as u16);
    replace16(c, old as u16, new as u16)
}

/// The checksum field after covered words summing to `old` were replaced by words summing to
/// `new` (RFC 1624 eqn. 3 with multi-word m and m').
#[inline(always)]
pub const fn replace_sum(check: u16, old: u32, new: u32) -> u16 {
    apply(check, delta(old, new))
}

/// What replacing covered words summing to `old` by words summing to `new` adds to a sum
/// (RFC 1624's ~m + m'). Deltas add up: several changes, one [`apply`].
#[inline(always)]
pub const fn delta(old: u32, new: u32) -> u32 {
    (!fold(old)) as u32 + fold(new) as u32
}

/// The checksum field after the changes summed in `delta` (RFC 1624 eqn. 3).
#[inline(always)]
pub const fn apply(check: u16, delta: u32) -> u16 {
    !fold((!check) as u32 + delta)
}

/// The pseudo-header sum of an IPv4 upper-layer checksum (RFC 768, RFC 793).
#[inline(always)]
pub fn pseudo_v4(src: &[u8; 4], dst: &[u8; 4], proto: u8, len: u16) -> u32 {
    let s = add_bytes(add_bytes(0, src), dst);
    s + u32::from(proto) + u32::from(len)
}

/// The pseudo-header sum of an IPv6 upper-layer checksum (RFC 8200 8.1).
#[inline(always)]
pub fn pseudo_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, len: u32) -> u32 {
    let s = add_bytes(add_bytes(0, src), dst);
    s + u32::from(next_header) + (len >> 16) + (len & 0xffff)
}

/// The most bytes [`sum_packet`] sums: a UDP datagram over IPv6 up to a 1500-byte MTU and
/// more.
pub const SUM_MAX: usize = 2048;

/// Adds the `len` bytes of the packet at `off` (at most [`SUM_MAX`]) to `sum`: big-endian 32-bit words 8 bytes at a time into a
/// 64-bit accumulator (the ones'-complement sum of 32-bit words folds to that of 16-bit words),
/// then the tail (a last odd byte padded with zero, as the checksum ends there).
#[inline(always)]
pub fn sum_packet(cur: &Cursor, off: usize, len: usize, sum: u32) -> Result<u32, Reason> {
    let words = len / 8;
    let mut acc = u64::from(sum);
    let mut i = 0;
    while i < SUM_MAX / 8 {
        if i >= words {
            break;
        }
        let w: &[u8; 8] = cur.get(off + i * 8, Reason::AdjustFailed)?;
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
        acc += u64::from(u32::from_be_bytes([w[4], w[5], w[6], w[7]]));
        i += 1;
    }
    let base = words * 8;
    let mut j = 0;
    while j < 8 {
        if base + j >= len {
            break;
        }
        let b = u64::from(cur.u8_at(off + base + j, Reason::AdjustFailed)?);
        acc += if j % 2 == 0 { b << 8 } else { b };
        j += 1;
    }
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    Ok(((acc & 0xffff) + (acc >> 16)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::inet_csum;

    #[test]
    fn full_sum_matches_rfc1071_example() {
        // RFC 1071 1.1 worked example: words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
        let b = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add_bytes(0, &b)), 0xddf2);
        assert_eq!(finish(add_bytes(0, &b)), inet_csum(&b));
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(add_bytes(0, &[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn incremental_update_equals_recomputation() {
        let mut hdr = [
            0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
        ];
        let c = inet_csum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        // TTL 64 -> 63 changes the word (ttl, proto).
        let c2 = replace16(
            c,
            u16::from_be_bytes([64, 17]),
            u16::from_be_bytes([63, 17]),
        );
        hdr[8] = 63;
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(c2, inet_csum(&hdr));
        // Destination address rewrite.
        let old = u32::from_be_bytes([198, 51, 100, 7]);
        let new = u32::from_be_bytes([203, 0, 113, 9]);
        let c3 = replace32(c2, old, new);
        hdr[16..20].copy_from_slice(&new.to_be_bytes());
        assert_eq!(c3, inet_csum(&hdr));
    }

    #[test]
    fn pseudo_headers_sum_their_fields() {
        let s = pseudo_v4(&[192, 0, 2, 1], &[198, 51, 100, 1], 17, 22);
        assert_eq!(s, 0xc000 + 0x0201 + 0xc633 + 0x6401 + 17 + 22);
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        let s6 = pseudo_v6(&a, &a, 17, 0x1_0002);
        assert_eq!(s6, 2 * 0x2001 + 17 + 1 + 2);
    }
}
