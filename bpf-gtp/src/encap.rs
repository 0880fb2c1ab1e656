//! Outer Header Creation GTP-U/UDP/IPv4 (TS 29.244 8.2.56, TS 29.281 5): the downlink towards
//! the gNB, and N9 relaying to another UPF.

use crate::reply::write;
use aya_ebpf::{helpers::generated::bpf_xdp_adjust_head, programs::XdpContext};
use bpf_abi::{
    Reason,
    gtp::{FAR_TLM, Far, PPI_NONE},
};
use bpf_net::{
    Cursor, csum,
    cursor::Head,
    eth::{ETH_HLEN, ETH_P_IPV4, EthHdr},
};

/// Outer IPv4 + UDP + mandatory GTP-U header.
const OUTER_V4: usize = 20 + 8 + 8;

/// The PDU Session Container to put in the new header (TS 38.415 5.5.2).
#[derive(Clone, Copy)]
pub enum Container {
    /// None (no QFI to carry).
    None,
    /// DL PDU SESSION INFORMATION: QFI, RQI, and the PPI when it is not `PPI_NONE`.
    Dl {
        /// QFI.
        qfi: u8,
        /// RQI.
        rqi: u8,
        /// PPI.
        ppi: u8,
    },
    /// UL PDU SESSION INFORMATION with the QFI (N9 uplink).
    Ul {
        /// QFI.
        qfi: u8,
    },
}

/// The outer DSCP: the FAR's Transport Level Marking, else 0.
#[inline(always)]
pub fn outer_tos(far: &Far) -> u8 {
    if far.flags & FAR_TLM != 0 { far.tos } else { 0 }
}

/// Replaces everything in front of the IP packet at `l3` (of `inner_len` bytes) with Ethernet +
/// IPv4 + UDP + GTP-U (+ container) for `far`'s tunnel, keeping the MAC addresses (the FIB
/// rewrites them). Returns the outer IP packet's length. The outer header has DF set (an atomic
/// datagram: ID 0, RFC 6864), TTL 64, UDP from 2152 with checksum 0 (allowed over IPv4).
///
/// The header is written a 32-bit word at a time through a [`Head`] (one bounds check; the
/// words are composed in registers, the IPv4 header checksum summed from them).
#[inline(always)]
pub fn gtpu_v4(
    ctx: &XdpContext,
    l3: usize,
    inner_len: usize,
    far: &Far,
    c: Container,
) -> Result<u16, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let macs = cur.head::<12>().ok_or(Reason::EthTruncated)?;
    let macs = [macs.ne32::<0>(), macs.ne32::<4>(), macs.ne32::<8>()];
    let psc_len = match c {
        Container::None => 0,
        Container::Dl { ppi, .. } if ppi != PPI_NONE => 8,
        _ => 4,
    };
    let gtp_opt = if psc_len == 0 { 0 } else { 4 };
    let gtp_len = gtp_opt + psc_len + inner_len;
    let outer_ip_len = OUTER_V4 + gtp_opt + psc_len + inner_len;
    if outer_ip_len > 0xffff {
        return Err(Reason::MtuExceeded);
    }
    let push = OUTER_V4 + gtp_opt + psc_len;
    let delta = l3 as i32 - ETH_HLEN as i32 - push as i32;
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helper checks the new head.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, delta) } != 0 {
        return Err(Reason::AdjustFailed);
    }
    // The longest header (a container with the PPI) is 62 bytes; the frame is at least 20
    // bytes (the inner IPv4 header) longer than the header it gets.
    let cur = Cursor::from_xdp(ctx);
    let h: Head<{ ETH_HLEN + OUTER_V4 + 12 }> = cur.head().ok_or(Reason::AdjustFailed)?;
    let w = u32::from_ne_bytes;
    let be = |v: usize| (v as u16).to_be_bytes();
    h.set_ne32::<0>(macs[0]);
    h.set_ne32::<4>(macs[1]);
    h.set_ne32::<8>(macs[2]);
    h.set_ne16::<12>(ETH_P_IPV4.to_be());
    // IPv4: version 4, IHL 5, the marking, Total Length; ID 0, DF; TTL 64, UDP, checksum;
    // addresses.
    let l = be(outer_ip_len);
    let ip = [
        w([0x45, outer_tos(far), l[0], l[1]]),
        w([0, 0, 0x40, 0]),
        w([64, bpf_net::proto::UDP, 0, 0]),
        w([far.local[0], far.local[1], far.local[2], far.local[3]]),
        w([far.peer[0], far.peer[1], far.peer[2], far.peer[3]]),
    ];
    let sum = ip.iter().map(|x| u64::from(*x)).sum();
    let check = (!csum::fold64(sum)).to_ne_bytes();
    h.set_ne32::<14>(ip[0]);
    h.set_ne32::<18>(ip[1]);
    h.set_ne32::<22>(w([64, bpf_net::proto::UDP, check[0], check[1]]));
    h.set_ne32::<26>(ip[3]);
    h.set_ne32::<30>(ip[4]);
    // UDP from 2152 to the FAR's port, its length, checksum 0.
    let u = be(8 + 8 + gtp_len);
    h.set_ne32::<34>(w([0x08, 0x68, far.port.0[0], far.port.0[1]]));
    h.set_ne32::<38>(w([u[0], u[1], 0, 0]));
    // GTP-U: version 1, PT 1, E when a container follows; G-PDU; Length; TEID.
    let g = be(gtp_len);
    let flags = if psc_len == 0 { 0x30 } else { 0x34 };
    h.set_ne32::<42>(w([flags, 255, g[0], g[1]]));
    h.set_ne32::<46>(w(far.teid.0));
    if psc_len == 0 {
        return Ok(outer_ip_len as u16);
    }
    // Optional fields: Sequence Number 0, N-PDU 0, Next Extension Header Type PSC.
    h.set_ne32::<50>(w([0, 0, 0, 0x85]));
    match c {
        Container::Dl { qfi, rqi, ppi } if ppi != PPI_NONE => {
            // Length 2; PDU Type 0; PPP, RQI, QFI; the PPI octet; padding; no next header.
            h.set_ne32::<54>(w([
                2,
                0x00,
                0x80 | (rqi & 1) << 6 | (qfi & 0x3f),
                (ppi & 0x07) << 5,
            ]));
            h.set_ne32::<58>(0);
        }
        // Length 1; PDU Type 0; RQI, QFI; no next header.
        Container::Dl { qfi, rqi, .. } => {
            h.set_ne32::<54>(w([1, 0x00, (rqi & 1) << 6 | (qfi & 0x3f), 0]))
        }
        // Length 1; PDU Type 1; QFI.
        Container::Ul { qfi } => h.set_ne32::<54>(w([1, 0x10, qfi & 0x3f, 0])),
        Container::None => {}
    }
    Ok(outer_ip_len as u16)
}

/// Outer IPv6 + UDP + mandatory GTP-U header.
const OUTER_V6: usize = 40 + 8 + 8;
/// Longest UDP datagram whose bytes the IPv6 outer UDP checksum sums (longer: MTU exceeded).
const MAX_SUMMED: usize = csum::SUM_MAX;

/// As [`gtpu_v4`] with an IPv6 outer header (Hop Limit 64, Traffic Class from the Transport Level
/// Marking, Flow Label 0). UDP over IPv6 needs its checksum (RFC 8200 8.1): the datagram is
/// summed 8 bytes at a time, at most [`MAX_SUMMED`]. Runs in its own program
/// (`xdp_n6_encap6`, a tail call) for the verifier's budget; headers are written straight into
/// the packet to keep the stack small.
#[inline(always)]
pub fn gtpu_v6(
    ctx: &XdpContext,
    l3: usize,
    inner_len: usize,
    far: &Far,
    c: Container,
) -> Result<u16, Reason> {
    let psc_len = match c {
        Container::None => 0,
        Container::Dl { ppi, .. } if ppi != PPI_NONE => 8,
        _ => 4,
    };
    let gtp_opt = if psc_len == 0 { 0 } else { 4 };
    let gtp_len = gtp_opt + psc_len + inner_len;
    let udp_len = 8 + 8 + gtp_len;
    if udp_len > MAX_SUMMED {
        return Err(Reason::MtuExceeded);
    }
    let cur = Cursor::from_xdp(ctx);
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.dst, eth.src);
    let push = OUTER_V6 + gtp_opt + psc_len;
    let delta = l3 as i32 - ETH_HLEN as i32 - push as i32;
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helper checks the new head.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, delta) } != 0 {
        return Err(Reason::AdjustFailed);
    }
    let cur = Cursor::from_xdp(ctx);
    let p = cur.get_mut::<[u8; ETH_HLEN + OUTER_V6]>(0, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved these bytes at offset 0; nothing else refers to them.
    let h = unsafe { &mut *p };
    h[0..6].copy_from_slice(&dmac);
    h[6..12].copy_from_slice(&smac);
    h[12..14].copy_from_slice(&bpf_net::eth::ETH_P_IPV6.to_be_bytes());
    let ip = ETH_HLEN;
    let vtc = (6u32 << 28) | (u32::from(outer_tos(far)) << 20);
    h[ip..ip + 4].copy_from_slice(&vtc.to_be_bytes());
    h[ip + 4..ip + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    h[ip + 6] = bpf_net::proto::UDP;
    h[ip + 7] = 64;
    h[ip + 8..ip + 24].copy_from_slice(&far.local);
    h[ip + 24..ip + 40].copy_from_slice(&far.peer);
    let udp = ip + 40;
    h[udp..udp + 2].copy_from_slice(&2152u16.to_be_bytes());
    h[udp + 2..udp + 4].copy_from_slice(&far.port.0);
    h[udp + 4..udp + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    h[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
    let g = udp + 8;
    h[g] = if psc_len == 0 { 0x30 } else { 0x34 };
    h[g + 1] = 255;
    h[g + 2..g + 4].copy_from_slice(&(gtp_len as u16).to_be_bytes());
    h[g + 4..g + 8].copy_from_slice(&far.teid.0);
    let at = ETH_HLEN + OUTER_V6;
    match c {
        Container::Dl { qfi, rqi, ppi } if ppi != PPI_NONE => write(
            &cur,
            at,
            &[
                0,
                0,
                0,
                0x85,
                2,
                0x00,
                0x80 | (rqi & 1) << 6 | (qfi & 0x3f),
                (ppi & 0x07) << 5,
                0,
                0,
                0,
                0,
            ],
        )?,
        Container::Dl { qfi, rqi, .. } => write(
            &cur,
            at,
            &[0, 0, 0, 0x85, 1, 0x00, (rqi & 1) << 6 | (qfi & 0x3f), 0],
        )?,
        Container::Ul { qfi } => write(&cur, at, &[0, 0, 0, 0x85, 1, 0x10, qfi & 0x3f, 0])?,
        Container::None => {}
    }
    let pseudo = csum::pseudo_v6(&far.local, &far.peer, bpf_net::proto::UDP, udp_len as u32);
    let sum = csum::sum_packet(&cur, ETH_HLEN + 40, udp_len, pseudo)?;
    let c = match csum::finish(sum) {
        0 => 0xffff,
        c => c,
    };
    write(&cur, ETH_HLEN + 40 + 6, &c.to_be_bytes())?;
    Ok((40 + udp_len) as u16)
}
