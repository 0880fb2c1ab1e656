//! Downlink on N6 (TS 29.244 5.2.1, TS 29.281 5, TS 38.415): a packet for a UE is matched to its
//! session by destination address (IPv4, or the IPv6 /64), to a PDR by SDF filters, then its
//! FAR, QER and URRs apply: the packet gets the GTP-U/UDP/IPv4 outer header the FAR's Outer
//! Header Creation names, with a DL PDU Session Container carrying the QER's QFI, RQI and PPI,
//! and the Transport Level Marking as the outer DSCP, and is routed by the FIB to the peer.

use crate::{
    buffer,
    fib::{self, Fwd, Lookup},
    maps::{DL_UE4, DL_UE6, FARS, QERS},
    pdr,
    qer::{self, Dir},
    urr,
};
use aya_ebpf::{helpers::generated::bpf_xdp_adjust_head, programs::XdpContext};
use bpf_abi::{
    Reason,
    gtp::{
        FAR_BUFF, FAR_DROP, FAR_DUPL, FAR_FORW, FAR_NOCP, FAR_TLM, Far, NONE, OHC_GTPU_IPV4,
        PPI_NONE, PdrList, Qer, Ue4Key, Ue6Key,
    },
};
use bpf_net::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, EthHdr, parse_eth},
    flow::{Flow, parse_flow},
};

/// Outer IPv4 + UDP + mandatory GTP-U header.
const OUTER_V4: usize = 20 + 8 + 8;

/// N6 ingress.
#[inline(always)]
pub fn ingress(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    let list = match eth.ethertype {
        ETH_P_IPV4 => {
            let dst: &[u8; 4] = cur.get(eth.l3_off + 16, Reason::Ipv4Truncated)?;
            DL_UE4.get_ptr(Ue4Key { addr: *dst })
        }
        ETH_P_IPV6 => {
            let dst: &[u8; 8] = cur.get(eth.l3_off + 24, Reason::Ipv6Truncated)?;
            DL_UE6.get_ptr(Ue6Key { prefix: *dst })
        }
        _ => return Err(Reason::NotIp),
    };
    let Some(list) = list else {
        return Err(Reason::DlNoSession);
    };
    // SAFETY: a hash map value pointer is valid for the rest of this program run.
    let list: PdrList = unsafe { *list };
    let flow = parse_flow(&cur, eth.l3_off)?;
    let pdr = pdr::find(&list, &flow, 0)?;
    let Some(far) = FARS.get(pdr.far) else {
        return Err(Reason::RuleMissing);
    };
    let far = *far;
    if far.action & FAR_DROP != 0 {
        return Err(Reason::FarDrop);
    }
    if far.action & (FAR_BUFF | FAR_NOCP) != 0 {
        // Buffering is a downlink matter (TS 29.244 5.2.3). The QER tells the controller the
        // QFI and PPI for the notification; its MBR and the URRs apply when the controller
        // sends the packet on, not now (no double charging).
        let q = if pdr.qer == NONE {
            None
        } else {
            QERS.get(pdr.qer).copied()
        };
        return Err(buffer::hand_over(ctx, &pdr, far.action, q.as_ref()));
    }
    if far.action & FAR_DUPL != 0 {
        return Err(Reason::FarDuplicateNotSupported);
    }
    if far.action & FAR_FORW == 0 || far.ohc != OHC_GTPU_IPV4 {
        // GTP-U/UDP/IPv6 outer headers are not built yet.
        return Err(Reason::FarInvalid);
    }
    let len = flow.len as u64;
    let q = qer::enforce(pdr.qer, Dir::Dl, len)?;
    if inner_ttl_expiring(&cur, eth.l3_off, &flow)? {
        return Ok(Reason::DownlinkToKernel);
    }
    urr::count(&pdr, Dir::Dl, len);
    let outer_len = encap_v4(ctx, eth.l3_off, &flow, &far, q.as_ref())?;
    let l = Lookup {
        v6: false,
        src: &far.local,
        dst: &far.peer,
        tos: outer_tos(&far),
        len: outer_len,
    };
    match fib::forward(ctx, &l)? {
        Fwd::Redirected => Ok(Reason::DownlinkRedirect),
        Fwd::Kernel => Ok(Reason::DownlinkToKernel),
        Fwd::TooBig => Err(Reason::MtuExceeded),
    }
}

#[inline(always)]
fn outer_tos(far: &Far) -> u8 {
    if far.flags & FAR_TLM != 0 { far.tos } else { 0 }
}

/// True when the UE-bound packet's TTL / Hop Limit would expire here; else decrements it (the
/// UPF is the IP hop between the data network and the UE).
#[inline(always)]
fn inner_ttl_expiring(cur: &Cursor, l3: usize, flow: &Flow) -> Result<bool, Reason> {
    if flow.v6 {
        let p = cur.get_mut::<[u8; 8]>(l3, Reason::Ipv6Truncated)?;
        // SAFETY: the cursor proved 8 bytes at `l3`; nothing else refers to them.
        let h = unsafe { &mut *p };
        if h[7] <= 1 {
            return Ok(true);
        }
        h[7] -= 1;
    } else {
        let p = cur.get_mut::<[u8; 12]>(l3, Reason::Ipv4Truncated)?;
        // SAFETY: the cursor proved 12 bytes at `l3`; nothing else refers to them.
        let h = unsafe { &mut *p };
        let ttl = h[8];
        if ttl <= 1 {
            return Ok(true);
        }
        let old = u16::from_be_bytes([ttl, h[9]]);
        let new = u16::from_be_bytes([ttl - 1, h[9]]);
        let c = csum::replace16(u16::from_be_bytes([h[10], h[11]]), old, new);
        h[8] = ttl - 1;
        h[10..12].copy_from_slice(&c.to_be_bytes());
    }
    Ok(false)
}

/// Pushes Ethernet + IPv4 + UDP + GTP-U (+ DL PDU Session Container) in front of the IP packet
/// at `l3` (dropping any VLAN tags). Returns the outer IP packet's length.
#[inline(always)]
fn encap_v4(
    ctx: &XdpContext,
    l3: usize,
    flow: &Flow,
    far: &Far,
    q: Option<&Qer>,
) -> Result<u16, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.dst, eth.src);
    // PDU Session Container: present when the QER gives a QFI (TS 38.415 5.5.2.1); 8 bytes with
    // a PPI octet, else 4.
    let (qfi, rqi, ppi) = match q {
        Some(q) => (q.qfi, q.rqi, q.ppi),
        None => (0, 0, PPI_NONE),
    };
    let psc_len = if qfi == 0 {
        0
    } else if ppi == PPI_NONE {
        4
    } else {
        8
    };
    let gtp_opt = if psc_len == 0 { 0 } else { 4 };
    let inner_len = flow.len;
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
    let cur = Cursor::from_xdp(ctx);

    let mut h = [0u8; ETH_HLEN + OUTER_V4 + 4];
    h[0..6].copy_from_slice(&dmac);
    h[6..12].copy_from_slice(&smac);
    h[12..14].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
    // IPv4: no options, DF (an atomic datagram, RFC 6864: ID 0), TTL 64, UDP.
    let ip = ETH_HLEN;
    h[ip] = 0x45;
    h[ip + 1] = outer_tos(far);
    h[ip + 2..ip + 4].copy_from_slice(&(outer_ip_len as u16).to_be_bytes());
    h[ip + 6] = 0x40;
    h[ip + 8] = 64;
    h[ip + 9] = bpf_net::proto::UDP;
    h[ip + 12..ip + 16].copy_from_slice(&far.local[..4]);
    h[ip + 16..ip + 20].copy_from_slice(&far.peer[..4]);
    let mut ip_hdr = [0u8; 20];
    ip_hdr.copy_from_slice(&h[ip..ip + 20]);
    let c = csum::finish(csum::add_bytes(0, &ip_hdr));
    h[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
    // UDP from 2152 to the FAR's port; checksum 0 (allowed over IPv4, TS 29.281 4.4.2.3 leaves
    // it to the transport).
    let udp = ip + 20;
    h[udp..udp + 2].copy_from_slice(&2152u16.to_be_bytes());
    h[udp + 2..udp + 4].copy_from_slice(&far.port.0);
    h[udp + 4..udp + 6].copy_from_slice(&((8 + 8 + gtp_len) as u16).to_be_bytes());
    // GTP-U: version 1, PT 1, E when a container follows; G-PDU; TEID.
    let g = udp + 8;
    h[g] = if psc_len == 0 { 0x30 } else { 0x34 };
    h[g + 1] = 255;
    h[g + 2..g + 4].copy_from_slice(&(gtp_len as u16).to_be_bytes());
    h[g + 4..g + 8].copy_from_slice(&far.teid.0);
    if psc_len == 0 {
        let mut short = [0u8; ETH_HLEN + OUTER_V4];
        short.copy_from_slice(&h[..ETH_HLEN + OUTER_V4]);
        write(&cur, 0, &short)?;
        return Ok(outer_ip_len as u16);
    }
    // Optional fields: Sequence Number 0, N-PDU 0, Next Extension Header Type PSC.
    h[g + 11] = 0x85;
    write(&cur, 0, &h)?;
    if psc_len == 4 {
        // Length 1; PDU Type 0 (DL); RQI and QFI; no next header.
        let psc = [1u8, 0x00, (rqi & 1) << 6 | (qfi & 0x3f), 0];
        write(&cur, ETH_HLEN + OUTER_V4 + 4, &psc)?;
    } else if psc_len == 8 {
        // Length 2; PPP set and the PPI octet.
        let psc = [
            2u8,
            0x00,
            0x80 | (rqi & 1) << 6 | (qfi & 0x3f),
            (ppi & 0x07) << 5,
            0,
            0,
            0,
            0,
        ];
        write(&cur, ETH_HLEN + OUTER_V4 + 4, &psc)?;
    }
    Ok(outer_ip_len as u16)
}

/// Copies `bytes` into the packet at `off`.
#[inline(always)]
fn write<const N: usize>(cur: &Cursor, off: usize, bytes: &[u8; N]) -> Result<(), Reason> {
    let p = cur.get_mut::<[u8; N]>(off, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved N bytes at `off` inside the packet; [u8; N] has alignment 1.
    unsafe { *p = *bytes };
    Ok(())
}
