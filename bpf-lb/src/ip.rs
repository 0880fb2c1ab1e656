//! The IP header as the translations see it (NAT, NAT64, DSR, SCTP, ICMP): its offsets, protocol,
//! traffic class and length, and the flow key's addresses, parsed once after Ethernet.

use bpf_abi::{Reason, lb::FlowKey};
use bpf_net::{Cursor, ipv4, ipv6};

/// What the translation needs of the IP header.
pub(crate) struct Ip {
    pub(crate) v6: bool,
    pub(crate) off: usize,
    pub(crate) l4_off: usize,
    pub(crate) protocol: u8,
    pub(crate) tos: u8,
    /// Header and payload: the packet's IP length.
    pub(crate) len: usize,
}

/// Parses the IP header after Ethernet (`V6`: IPv6, else IPv4) into `ip` and the addresses
/// (IPv4 in their first 4 bytes) into `key`. Fragments are the kernel's.
#[inline(always)]
pub(crate) fn parse_ip<const V6: bool>(
    cur: &Cursor,
    l3_off: usize,
    key: &mut FlowKey,
) -> Result<Ip, Reason> {
    if V6 {
        let h = ipv6::parse_ipv6(cur, l3_off)?;
        if h.fragment {
            return Err(Reason::LbNoService);
        }
        key.src = h.src;
        key.dst = h.dst;
        key.family = 6;
        Ok(Ip {
            v6: true,
            off: h.off,
            l4_off: h.l4_off,
            protocol: h.protocol,
            tos: h.traffic_class,
            len: ipv6::IPV6_HLEN + h.payload_len,
        })
    } else {
        let h = ipv4::parse_ipv4(cur, l3_off)?;
        if h.fragment {
            return Err(Reason::LbNoService);
        }
        key.src[..4].copy_from_slice(&h.src);
        key.dst[..4].copy_from_slice(&h.dst);
        key.family = 4;
        Ok(Ip {
            v6: false,
            off: h.off,
            l4_off: h.l4_off,
            protocol: h.protocol,
            tos: h.tos,
            len: h.total_len,
        })
    }
}

impl Ip {
    /// This header with its offsets masked to [`bpf_net::cursor::MAX_OFFSET`] (which they
    /// are within, as the cursor proved them): for a BPF function that gets `ip` by
    /// reference, where the verifier (Linux 6.1) may know them only as unknown words.
    #[inline(always)]
    pub(crate) fn bounded(&self) -> Ip {
        use bpf_net::cursor::MAX_OFFSET;
        Ip {
            off: self.off & MAX_OFFSET,
            l4_off: self.l4_off & MAX_OFFSET,
            ..*self
        }
    }
}

/// `ip` passed through [`bpf_net::launder`]: a stage boundary after which the verifier no
/// longer tells apart the paths (IPv4 options, IPv6 extension headers) that led to it.
#[inline(always)]
pub(crate) fn settle(ip: Ip) -> Result<Ip, Reason> {
    use bpf_net::launder::{LEN16, OFFSET, launder_masked};
    let [off, l4_off, len, rest] = launder_masked(
        [
            ip.off as u64,
            ip.l4_off as u64,
            ip.len as u64,
            u64::from(ip.protocol) | (u64::from(ip.tos) << 8),
        ],
        [OFFSET, OFFSET, LEN16, LEN16],
    )
    .ok_or(Reason::LbNoService)?;
    let (off, l4_off, len) = (off as usize, l4_off as usize, len as usize);
    Ok(Ip {
        v6: ip.v6,
        off,
        l4_off,
        protocol: rest as u8,
        tos: (rest >> 8) as u8,
        len,
    })
}
