//! Downlink on N6 (TS 29.244 5.2.1, TS 29.281 5, TS 38.415): a packet for a UE is matched to its
//! session by destination address (IPv4, or the IPv6 /64), to a PDR by SDF filters, then its
//! FAR, QER and URRs apply: the packet gets the GTP-U/UDP/IPv4 outer header the FAR's Outer
//! Header Creation names, with a DL PDU Session Container carrying the QER's QFI, RQI and PPI,
//! and the Transport Level Marking as the outer DSCP, and is routed by the FIB to the peer.

use crate::{
    buffer,
    encap::{self, Container},
    fib::{self, Fwd, Lookup},
    icmp,
    maps::{FARS, N6_JUMP, N6_SCRATCH, QERS, ue_session},
    pdr,
    qer::{self, Dir},
    urr,
};
use aya_ebpf::programs::XdpContext;
use bpf_abi::{
    Reason,
    counters::Ingress,
    gtp::{
        FAR_BUFF, FAR_DROP, FAR_DUPL, FAR_FORW, FAR_NOCP, Far, N6Scratch, NONE, OHC_GTPU_IPV4,
        OHC_GTPU_IPV6, Pdr, PdrList, ue4_key, ue6_key,
    },
    names::{JUMP_N6_ENCAP4, JUMP_N6_ENCAP6},
};
use bpf_net::{
    Cursor, csum,
    cursor::stored_offset,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, parse_eth},
    flow::{self, Flow, parse_flow},
    launder::{OFFSET, launder_masked},
};

/// The common downlink frame, all in `xdp_n6` (untagged Ethernet; IPv4 without options or
/// IPv6 without extension headers, read at constant offsets a word at a time) for a UE in its
/// first bucket of the UE table. `None` for any other frame or UE: `xdp_n6_general` takes it.
#[inline(always)]
pub fn common(ctx: &XdpContext) -> Option<Reason> {
    let cur = Cursor::from_xdp(ctx);
    let avail = cur.len().wrapping_sub(ETH_HLEN);
    let h = cur.head::<{ ETH_HLEN + 24 }>()?;
    let (flow, list) = if h.ne16::<12>() == ETH_P_IPV4.to_be() {
        let flow = flow::from_head4(&h.sub::<ETH_HLEN, 24>(), avail)?;
        let addr = [flow.dst[0], flow.dst[1], flow.dst[2], flow.dst[3]];
        (flow, ue_session(false, false, ue4_key(addr), addr, [0; 8]))
    } else if h.ne16::<12>() == ETH_P_IPV6.to_be() {
        let h = cur.head::<{ ETH_HLEN + 44 }>()?;
        let flow = flow::from_head6(&h.sub::<ETH_HLEN, 44>(), avail)?;
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&flow.dst[..8]);
        (
            flow,
            ue_session(true, false, ue6_key(prefix), [0; 4], prefix),
        )
    } else {
        return None;
    };
    // Not in the first bucket: `xdp_n6_general` looks further (and counts an unknown UE).
    let list = list?;
    let (pdr, far) = match rules(&list, &flow) {
        Ok(r) => r,
        Err(r) => return Some(r),
    };
    if buffers(&far) {
        return None;
    }
    Some(
        match forward::<false>(ctx, &cur, ETH_HLEN, &flow, &pdr, &far) {
            Ok(r) | Err(r) => r,
        },
    )
}

/// N6 ingress of every other frame (`xdp_n6_general`): the general parsers.
#[inline(always)]
pub fn ingress(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    let list = match eth.ethertype {
        ETH_P_IPV4 => {
            let dst: &[u8; 4] = cur.get(eth.l3_off + 16, Reason::Ipv4Truncated)?;
            ue_session(false, true, ue4_key(*dst), *dst, [0; 8])
        }
        ETH_P_IPV6 => {
            let dst: &[u8; 8] = cur.get(eth.l3_off + 24, Reason::Ipv6Truncated)?;
            ue_session(true, true, ue6_key(*dst), [0; 4], *dst)
        }
        _ => return Err(Reason::NotIp),
    };
    let Some(list) = list else {
        return Err(Reason::DlNoSession);
    };
    let parsed = parse_flow(&cur, eth.l3_off)?;
    // Stage boundary: forget which VLAN tags, IPv4 options or IPv6 extension headers led
    // here (see bpf_net::launder): the flow through map memory, the offset laundered.
    let slot = crate::maps::N6_FLOW
        .get_ptr_mut(0)
        .ok_or(Reason::AdjustFailed)?;
    // SAFETY: this CPU's slot of a per-CPU array, valid for this program run; nothing else
    // refers to it while the program runs.
    let flow = unsafe {
        core::ptr::write_volatile(slot, parsed);
        &*slot
    };
    let [l3_off, _, _, _] = launder_masked([eth.l3_off as u64, 0, 0, 0], [OFFSET, 0, 0, 0])
        .ok_or(Reason::AdjustFailed)?;
    let l3_off = l3_off as usize;
    let (pdr, far) = rules(&list, flow)?;
    if buffers(&far) {
        return Err(buffer(ctx, &pdr, &far));
    }
    forward::<true>(ctx, &cur, l3_off, flow, &pdr, &far)
}

/// PDR detection and the FAR of a packet (whose flow is `flow`) of a session whose downlink
/// PDRs are `list`; a FAR that drops is the error it is.
#[inline(always)]
fn rules(list: &PdrList, flow: &Flow) -> Result<(Pdr, Far), Reason> {
    let pdr = pdr::find(list, flow, 0)?;
    let Some(far) = FARS.get(pdr.far) else {
        return Err(Reason::RuleMissing);
    };
    if far.action & FAR_DROP != 0 {
        return Err(Reason::FarDrop);
    }
    Ok((pdr, *far))
}

/// True when `far` buffers or notifies (BUFF, NOCP): the packet goes to the controller.
#[inline(always)]
fn buffers(far: &Far) -> bool {
    far.action & (FAR_BUFF | FAR_NOCP) != 0
}

/// Hands a packet whose FAR buffers to the controller. Buffering is a downlink matter
/// (TS 29.244 5.2.3). The QER tells the controller the QFI and PPI for the notification; its
/// MBR and the URRs apply when the controller sends the packet on, not now (no double
/// charging). Only `xdp_n6_general` does this: with the ring buffer hand-over inlined in
/// `xdp_n6` too, LLVM spilled the PDR pointer of the PDR loop into the stack slot it later read
/// the PDR's fields from, and the verifier refused the program ("invalid size of register
/// fill"); `xdp_n6` leaves such packets to `xdp_n6_general`.
#[inline(always)]
fn buffer(ctx: &XdpContext, pdr: &Pdr, far: &Far) -> Reason {
    let q = if pdr.qer == NONE {
        None
    } else {
        QERS.get(pdr.qer).copied()
    };
    buffer::hand_over(ctx, pdr, far.action, q.as_ref())
}

/// The packet at `l3` (whose flow is `flow`) matched to `pdr` and its forwarding `far`: QER,
/// URR, encapsulation, forwarding. `STAGED` (`xdp_n6_general`): the GTP-U/UDP/IPv4
/// encapsulation and the next hop in `xdp_n6_encap4` (tail call), as the IPv6 outer header
/// always is in `xdp_n6_encap6`.
#[inline(always)]
fn forward<const STAGED: bool>(
    ctx: &XdpContext,
    cur: &Cursor,
    l3: usize,
    flow: &Flow,
    pdr: &Pdr,
    far: &Far,
) -> Result<Reason, Reason> {
    if far.action & FAR_DUPL != 0 {
        return Err(Reason::FarDuplicateNotSupported);
    }
    if far.action & FAR_FORW == 0 || (far.ohc != OHC_GTPU_IPV4 && far.ohc != OHC_GTPU_IPV6) {
        return Err(Reason::FarInvalid);
    }
    let len = flow.len as u64;
    let q = qer::enforce(pdr.qer, Dir::Dl, len)?;
    // The QER's marks as one word, the Option gone at once. Verifier workaround (Linux 6.1):
    // with the Option kept across the URR call, LLVM tested its niche in a stack slot the
    // verifier had not linked to the register that `enforce` tested, and read the payload
    // from a slot that on that (impossible) path held a pointer ("invalid size of register
    // fill").
    let marks = match q {
        Some(q) => u32::from(q.qfi) | u32::from(q.rqi) << 8 | u32::from(q.ppi) << 16,
        None => u32::from(bpf_abi::gtp::PPI_NONE) << 16,
    };
    let qfi = marks as u8;
    if inner_ttl_expiring(cur, l3, flow)? {
        return Ok(Reason::DownlinkToKernel);
    }
    urr::count_call(pdr, Dir::Dl, len);
    crate::counters::count_qfi(Ingress::N6, qfi, len);
    let psc = if qfi != 0 {
        Container::Dl {
            qfi,
            rqi: (marks >> 8) as u8,
            ppi: (marks >> 16) as u8,
        }
    } else {
        Container::None
    };
    if far.ohc == OHC_GTPU_IPV6 {
        return encap_tail_call(ctx, JUMP_N6_ENCAP6, l3, flow.len, pdr.far, psc, false);
    }
    if STAGED {
        return encap_tail_call(ctx, JUMP_N6_ENCAP4, l3, flow.len, pdr.far, psc, false);
    }
    encap4_forward(ctx, l3, flow.len, flow.v6, far, psc)
}

/// GTP-U/UDP/IPv4 Outer Header Creation on the downlink packet at `l3` (`inner_len` bytes of
/// IP; `inner_v6`: IPv6) for `far`, then the next hop: redirect, the kernel, or ICMP too-big
/// to the sender.
#[inline(always)]
fn encap4_forward(
    ctx: &XdpContext,
    l3: usize,
    inner_len: usize,
    inner_v6: bool,
    far: &Far,
    psc: Container,
) -> Result<Reason, Reason> {
    let outer_len = encap::gtpu_v4(ctx, l3, inner_len, far, psc)?;
    if far.flags & bpf_abi::gtp::FAR_SRV6 != 0 {
        // Downlink N9 over SRv6 (an anchor UPF towards an intermediate one): bpf-srv6's
        // H.M.GTP4.D carries the GTP-U packet in SRv6 by the policy for the peer.
        // SAFETY: a tail call with this program's own context; returns only if it fails.
        unsafe { crate::maps::GTP_SRV6.tail_call(ctx, 0) };
        return Err(Reason::TailCallFailed);
    }
    let overhead = outer_len.saturating_sub(inner_len as u16);
    let l = Lookup {
        v6: false,
        src: &far.local,
        dst: &far.peer,
        tos: encap::outer_tos(far),
        len: outer_len,
    };
    match fib::forward(ctx, &l)? {
        Fwd::Redirected(_) => Ok(Reason::DownlinkRedirect),
        Fwd::Kernel(_) => Ok(Reason::DownlinkToKernel),
        Fwd::TooBig(mtu) => icmp::too_big(
            ctx,
            ETH_HLEN + usize::from(overhead),
            inner_v6,
            mtu.saturating_sub(overhead),
        ),
    }
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

/// Hands the packet to an encapsulation stage (tail call to `to` in N6_JUMP: `xdp_n6_encap6`
/// for a GTP-U/UDP/IPv6 outer header, downlink or N9 relaying from the uplink;
/// `xdp_n6_encap4` for GTP-U/UDP/IPv4, downlink from `xdp_n6_general`). Returns only if the
/// call fails.
#[inline(always)]
pub fn encap_tail_call(
    ctx: &XdpContext,
    to: u32,
    l3_off: usize,
    inner_len: usize,
    far: u32,
    c: Container,
    uplink: bool,
) -> Result<Reason, Reason> {
    let Some(s) = N6_SCRATCH.get_ptr_mut(0) else {
        return Err(Reason::TailCallFailed);
    };
    let (container, qfi, rqi, ppi) = match c {
        Container::Dl { qfi, rqi, ppi } => (1, qfi, rqi, ppi),
        Container::Ul { qfi } => (2, qfi, 0, bpf_abi::gtp::PPI_NONE),
        Container::None => (0, 0, 0, bpf_abi::gtp::PPI_NONE),
    };
    // SAFETY: this CPU's scratch slot, valid for this program run.
    unsafe {
        *s = N6Scratch {
            l3_off: l3_off as u32,
            inner_len: inner_len as u32,
            far,
            container,
            qfi,
            rqi,
            ppi,
            uplink: u8::from(uplink),
            _pad0: 0,
            _pad: 0,
        };
        N6_JUMP.tail_call(ctx, to);
    }
    Err(Reason::TailCallFailed)
}

/// The IPv4-outer stage of `xdp_n6_general` (`xdp_n6_encap4`): GTP-U/UDP/IPv4 creation, then
/// the next hop, as `xdp_n6` does inline for the common frame.
#[inline(always)]
pub fn encap4_stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let Some(s) = N6_SCRATCH.get(0) else {
        return Err(Reason::TailCallFailed);
    };
    let s = *s;
    let Some(far) = FARS.get(s.far) else {
        return Err(Reason::RuleMissing);
    };
    let far = *far;
    let psc = match s.container {
        1 => Container::Dl {
            qfi: s.qfi,
            rqi: s.rqi,
            ppi: s.ppi,
        },
        _ => Container::None,
    };
    let cur = Cursor::from_xdp(ctx);
    let l3_off = stored_offset(s.l3_off);
    let version: &[u8; 1] = cur.get(l3_off, Reason::Ipv4Truncated)?;
    let inner_v6 = version[0] >> 4 == 6;
    encap4_forward(ctx, l3_off, s.inner_len as usize, inner_v6, &far, psc)
}

/// The IPv6-outer stage (`xdp_n6_encap6`): GTP-U/UDP/IPv6 creation, then the FIB.
#[inline(always)]
pub fn encap6_stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let Some(s) = N6_SCRATCH.get(0) else {
        return Err(Reason::TailCallFailed);
    };
    let s = *s;
    let Some(far) = FARS.get(s.far) else {
        return Err(Reason::RuleMissing);
    };
    let far = *far;
    let c = match s.container {
        1 => Container::Dl {
            qfi: s.qfi,
            rqi: s.rqi,
            ppi: s.ppi,
        },
        2 => Container::Ul { qfi: s.qfi },
        _ => Container::None,
    };
    let outer_len = encap::gtpu_v6(ctx, stored_offset(s.l3_off), s.inner_len as usize, &far, c)?;
    let l = Lookup {
        v6: true,
        src: &far.local,
        dst: &far.peer,
        tos: encap::outer_tos(&far),
        len: outer_len,
    };
    let up = s.uplink != 0;
    match fib::forward(ctx, &l)? {
        Fwd::Redirected(_) if up => Ok(Reason::UplinkRedirect),
        Fwd::Redirected(_) => Ok(Reason::DownlinkRedirect),
        Fwd::Kernel(_) if up => Ok(Reason::UplinkToKernel),
        Fwd::Kernel(_) => Ok(Reason::DownlinkToKernel),
        Fwd::TooBig(_) if up => Err(Reason::MtuExceeded),
        Fwd::TooBig(mtu) => {
            let overhead = outer_len.saturating_sub(s.inner_len as u16);
            let inner = ETH_HLEN + usize::from(overhead);
            let cur = Cursor::from_xdp(ctx);
            let v: &[u8; 1] = cur.get(inner & 0x1ff, Reason::Ipv4Truncated)?;
            icmp::too_big(ctx, inner, v[0] >> 4 == 6, mtu.saturating_sub(overhead))
        }
    }
}
