//! Uplink on N3/N9 (TS 29.244 5.2.1, TS 29.281): a G-PDU is matched to its session by local
//! TEID, to a PDR by QFI and SDF filters, then its FAR, QER and URRs apply: the outer
//! Ethernet/IP/UDP/GTP-U headers (and any VLAN tags) are removed and the T-PDU is routed by the
//! FIB.

use crate::{
    encap::{self, Container},
    fib::{self, Fwd, Lookup},
    maps::{FARS, N3_JUMP, N3_SCRATCH, UL_TEID, UL_TEID_DIRECT, UL_TEID_TABLE, teid_bucket_mask},
    pdr,
    qer::{self, Dir},
    urr,
};
use aya_ebpf::{helpers::generated::bpf_xdp_adjust_head, programs::XdpContext};
use bpf_abi::{
    Be32, Reason,
    counters::Ingress,
    gtp::{
        FAR_BUFF, FAR_DROP, FAR_DUPL, FAR_FORW, FAR_NOCP, FAR_SRV6, OHC_GTPU_IPV4, OHC_GTPU_IPV6,
        OHC_NONE, OHR_NONE, PdrList, TEID_BUCKET_SLOTS, TEID_DIRECT, TeidKey, teid_buckets,
    },
    names::JUMP_N3_GPDU,
};
use bpf_net::{
    Cursor, common_gpdu, csum,
    cursor::stored_offset,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6},
    flow::{Flow, parse_flow},
    gtpu::Gtpu,
};

/// The session (its uplink PDRs) of local TEID `teid`: by array index for a TEID the UP
/// function allocated (`TEID_DIRECT` and an index inside the array), else in its two buckets
/// of the TEID table, else in the hash map (the table's overflow; a TEID_DIRECT one whose
/// slot holds another TEID, i.e. an unknown one, ends there too). TEID 0 is never in the
/// table: free slots hold it.
#[inline(always)]
fn session(teid: u32) -> Option<*const PdrList> {
    if teid & TEID_DIRECT != 0
        && let Some(slot) = UL_TEID_DIRECT.get(teid & !TEID_DIRECT)
        && slot.teid == teid
    {
        return Some(&slot.list as *const PdrList);
    }
    if teid != 0 {
        for b in teid_buckets(teid, teid_bucket_mask()) {
            if let Some(bucket) = UL_TEID_TABLE.get(b) {
                let mut i = 0;
                while i < TEID_BUCKET_SLOTS {
                    if bucket.slots[i].teid == teid {
                        return Some(&bucket.slots[i].list as *const PdrList);
                    }
                    i += 1;
                }
            }
        }
    }
    UL_TEID.get_ptr(TeidKey {
        teid: Be32::new(teid),
    })
}

/// The uplink of a frame of the common layout (`bpf_net::common_gpdu`: untagged Ethernet,
/// IPv4 or IPv6, UDP, GTP-U with one UL PDU Session Container), all in `xdp_n3`: no tail
/// call, and headers read at constant offsets. `None` for any other frame, and for an unknown
/// TEID: the general parser then takes it (and answers an unknown TEID with an Error
/// Indication).
#[inline(always)]
pub fn common(ctx: &XdpContext) -> Option<Reason> {
    let cur = Cursor::from_xdp(ctx);
    let (g, payload_off, flow) = if let Some((h, g)) = common_gpdu::parse(&cur) {
        (
            g,
            common_gpdu::PAYLOAD_OFF,
            common_gpdu::flow4(&h, cur.len()),
        )
    } else {
        let (h, g) = common_gpdu::parse6(&cur)?;
        (
            g,
            common_gpdu::PAYLOAD_OFF6,
            common_gpdu::flow4_6(&h, cur.len()),
        )
    };
    // A T-PDU that is not the common one (IPv4 options, IPv6 extension headers, too short
    // for its ports) goes to `xdp_n3_general` with the rest: with the general flow parser here
    // too, this program needed more than half the verifier's limit (530 970 instructions on
    // 6.18.44).
    let flow = flow?;
    let list = session(g.teid)?;
    // SAFETY: a map value, valid for this program run.
    let list = unsafe { *list };
    Some(match pdus(ctx, &cur, &list, payload_off, g.qfi, &flow) {
        Ok(r) | Err(r) => r,
    })
}

/// Handles a G-PDU in `xdp_n3_general`: finds the session by TEID, hands what it found to
/// `xdp_n3_gpdu` and tail-calls it. Returns only if the tail call fails.
#[inline(always)]
pub fn gpdu(ctx: &XdpContext, g: &Gtpu) -> Result<Reason, Reason> {
    let Some(list) = session(g.teid) else {
        return Err(Reason::GtpuUnknownTeid);
    };
    let Some(s) = N3_SCRATCH.get_ptr_mut(0) else {
        return Err(Reason::TailCallFailed);
    };
    let qfi = match g.psc {
        Some(p) => p.qfi,
        None => 0,
    };
    // SAFETY: both pointers are map values valid for this program run; the scratch is this
    // CPU's slot.
    unsafe {
        (*s).list = *list;
        (*s).payload_off = g.payload_off as u32;
        (*s).qfi = qfi;
        N3_JUMP.tail_call(ctx, JUMP_N3_GPDU);
    }
    Err(Reason::TailCallFailed)
}

/// The G-PDU stage (`xdp_n3_gpdu`): PDR detection, FAR, QER, URR, decapsulation, forwarding.
#[inline(always)]
pub fn gpdu_stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let Some(s) = N3_SCRATCH.get(0) else {
        return Err(Reason::TailCallFailed);
    };
    let (list, payload_off, qfi) = (s.list, stored_offset(s.payload_off), s.qfi);
    let cur = Cursor::from_xdp(ctx);
    let flow = parse_flow(&cur, payload_off)?;
    pdus(ctx, &cur, &list, payload_off, qfi, &flow)
}

/// The T-PDU at `payload_off` (whose flow is `flow`, with `qfi` from its PDU Session
/// Container) of a session whose uplink PDRs are `list`: PDR detection, FAR, QER, URR,
/// decapsulation, forwarding.
#[inline(always)]
fn pdus(
    ctx: &XdpContext,
    cur: &Cursor,
    list: &PdrList,
    payload_off: usize,
    qfi: u8,
    flow: &Flow,
) -> Result<Reason, Reason> {
    let pdr = pdr::find(list, flow, qfi)?;
    let Some(far) = FARS.get(pdr.far) else {
        return Err(Reason::RuleMissing);
    };
    let action = far.action;
    if action & FAR_DROP != 0 {
        return Err(Reason::FarDrop);
    }
    if action & (FAR_BUFF | FAR_NOCP) != 0 {
        return Err(Reason::FarBuffer);
    }
    if action & FAR_DUPL != 0 {
        return Err(Reason::FarDuplicateNotSupported);
    }
    if action & FAR_FORW == 0 || pdr.ohr == OHR_NONE {
        // A G-PDU that arrived here always has its GTP-U header removed.
        return Err(Reason::FarInvalid);
    }
    let len = flow.len as u64;
    let q = qer::enforce(pdr.qer, Dir::Ul, len)?;
    urr::count(&pdr, Dir::Ul, len);
    crate::counters::count_qfi(Ingress::N3, qfi, len);
    if far.ohc == OHC_GTPU_IPV4 {
        // N9 relaying (an intermediate UPF): the T-PDU goes on in a new tunnel, with a UL PDU
        // Session Container of the QER's QFI, or of the one it arrived with. Not an IP hop for
        // the T-PDU: its TTL is left alone.
        let qfi = match q {
            Some(q) if q.qfi != 0 => q.qfi,
            _ => qfi,
        };
        let c = if qfi == 0 {
            Container::None
        } else {
            Container::Ul { qfi }
        };
        let far = *far;
        let outer_len = encap::gtpu_v4(ctx, payload_off, flow.len, &far, c)?;
        if far.flags & FAR_SRV6 != 0 {
            // N9 over SRv6: bpf-srv6's H.M.GTP4.D turns the GTP-U packet into SRv6 by the
            // policy for the peer, and forwards it.
            // SAFETY: a tail call with this program's own context; returns only if it fails
            // (nothing linked: the daemon runs no [srv6]).
            unsafe { crate::maps::GTP_SRV6.tail_call(ctx, 0) };
            return Err(Reason::TailCallFailed);
        }
        let l = Lookup {
            v6: false,
            src: &far.local,
            dst: &far.peer,
            tos: encap::outer_tos(&far),
            len: outer_len,
        };
        return match fib::forward(ctx, &l)? {
            Fwd::Redirected(_) => Ok(Reason::UplinkRedirect),
            Fwd::Kernel(_) => Ok(Reason::UplinkToKernel),
            Fwd::TooBig(_) => Err(Reason::MtuExceeded),
        };
    }
    if far.ohc == OHC_GTPU_IPV6 {
        let qfi = match q {
            Some(q) if q.qfi != 0 => q.qfi,
            _ => qfi,
        };
        let c = if qfi == 0 {
            Container::None
        } else {
            Container::Ul { qfi }
        };
        return crate::downlink::encap_tail_call(
            ctx,
            bpf_abi::names::JUMP_N6_ENCAP6,
            payload_off,
            flow.len,
            pdr.far,
            c,
            true,
        );
    }
    if far.ohc != OHC_NONE {
        return Err(Reason::FarInvalid);
    }
    decap(ctx, cur, payload_off, flow)?;
    if ttl(ctx, flow, false)? {
        // About to expire: the kernel answers with ICMP Time Exceeded.
        return Ok(Reason::UplinkToKernel);
    }
    let l = Lookup {
        v6: flow.v6,
        src: &flow.src,
        dst: &flow.dst,
        tos: flow.tos,
        len: flow.len as u16,
    };
    match fib::forward(ctx, &l)? {
        Fwd::Redirected(_) => {
            // Forwarded here, so decremented here, as a router does; the kernel decrements
            // what it forwards itself.
            ttl(ctx, flow, true)?;
            Ok(Reason::UplinkRedirect)
        }
        // Too big for the egress: the kernel fragments or answers with ICMP.
        Fwd::Kernel(_) | Fwd::TooBig(_) => Ok(Reason::UplinkToKernel),
    }
}

/// Removes everything between the Ethernet header and the T-PDU, keeping the MAC addresses and
/// setting the EtherType of the inner packet.
#[inline(always)]
fn decap(ctx: &XdpContext, cur: &Cursor, payload_off: usize, flow: &Flow) -> Result<(), Reason> {
    let macs = cur.head::<12>().ok_or(Reason::EthTruncated)?;
    let macs = [macs.ne32::<0>(), macs.ne32::<4>(), macs.ne32::<8>()];
    let delta = payload_off.wrapping_sub(ETH_HLEN) as i32;
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helper checks the new head.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, delta) } != 0 {
        return Err(Reason::AdjustFailed);
    }
    let cur = Cursor::from_xdp(ctx);
    let h = cur.head::<ETH_HLEN>().ok_or(Reason::AdjustFailed)?;
    h.set_ne32::<0>(macs[0]);
    h.set_ne32::<4>(macs[1]);
    h.set_ne32::<8>(macs[2]);
    let et = if flow.v6 { ETH_P_IPV6 } else { ETH_P_IPV4 };
    h.set_ne16::<12>(et.to_be());
    Ok(())
}

/// True when the TTL / Hop Limit of the packet at offset 14 is 1 or 0; with `decrement`,
/// decrements it (and the IPv4 header checksum) otherwise.
#[inline(always)]
fn ttl(ctx: &XdpContext, flow: &Flow, decrement: bool) -> Result<bool, Reason> {
    let cur = Cursor::from_xdp(ctx);
    // TTL at 8 and the header checksum at 10 of IPv4; Hop Limit at 7 of IPv6.
    let h = cur.head::<{ ETH_HLEN + 12 }>().ok_or(if flow.v6 {
        Reason::Ipv6Truncated
    } else {
        Reason::Ipv4Truncated
    })?;
    if flow.v6 {
        let hop = h.u8::<{ ETH_HLEN + 7 }>();
        if hop <= 1 {
            return Ok(true);
        }
        if decrement {
            h.set_u8::<{ ETH_HLEN + 7 }>(hop - 1);
        }
        return Ok(false);
    }
    let ttl = h.u8::<{ ETH_HLEN + 8 }>();
    if ttl <= 1 {
        return Ok(true);
    }
    if decrement {
        let proto = h.u8::<{ ETH_HLEN + 9 }>();
        let old = u16::from_be_bytes([ttl, proto]);
        let new = u16::from_be_bytes([ttl - 1, proto]);
        let c = csum::replace16(h.be16::<{ ETH_HLEN + 10 }>(), old, new);
        h.set_u8::<{ ETH_HLEN + 8 }>(ttl - 1);
        h.set_ne16::<{ ETH_HLEN + 10 }>(c.to_be());
    }
    Ok(false)
}
