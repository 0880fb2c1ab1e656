//! Answers a GTP-U message to its sender in place (Echo Response, Error Indication): the frame
//! is resized to exactly the reply and rewritten with
//! - MAC addresses swapped, VLAN tags kept;
//! - a fresh outer IP header (IHL 5 or no extension headers, TTL/Hop Limit 64, DSCP or Traffic
//!   Class and Flow Label kept, ECN cleared; IPv4 ID 0 with DF), addresses swapped;
//! - UDP from the request's destination port to its source port (TS 29.281 4.4.2.2), with a
//!   correct checksum;
//! - the GTP-U message the caller built.

use crate::outer::OuterIp;
use aya_ebpf::{helpers::generated::bpf_xdp_adjust_tail, programs::XdpContext};
use bpf_abi::Reason;
use bpf_net::{Cursor, csum, eth::EthHdr, ipv4::IP_DF, proto, udp::Udp};

/// Hop limit of replies.
const REPLY_TTL: u8 = 64;

/// Rewrites the frame into the reply carrying `gtp`.
#[inline(always)]
pub fn send<const N: usize>(
    ctx: &XdpContext,
    l3_off: usize,
    ip: &OuterIp,
    udp: &Udp,
    gtp: &[u8; N],
) -> Result<(), Reason> {
    let ip_len = match ip {
        OuterIp::V4 { .. } => 20,
        OuterIp::V6 { .. } => 40,
    };
    let udp_len = 8 + N;
    let old_len = ctx.data_end() - ctx.data();
    let new_len = l3_off + ip_len + udp_len;
    let delta = new_len as i32 - old_len as i32;
    if delta != 0 {
        // SAFETY: ctx.ctx is the xdp_md of this invocation; the helper checks the new size.
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta) } != 0 {
            return Err(Reason::AdjustFailed);
        }
    }
    // The frame moved or changed size: every pointer is re-derived from a new cursor.
    let cur = Cursor::from_xdp(ctx);
    let eth = cur.get_mut::<EthHdr>(0, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved 14 bytes at offset 0; EthHdr has alignment 1.
    unsafe { core::mem::swap(&mut (*eth).src, &mut (*eth).dst) };

    let mut u = [0u8; 8];
    u[0..2].copy_from_slice(&udp.dst.to_be_bytes());
    u[2..4].copy_from_slice(&udp.src.to_be_bytes());
    u[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    let pseudo = match *ip {
        OuterIp::V4 { src, dst, tos } => {
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[1] = tos & 0xfc;
            h[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
            h[6..8].copy_from_slice(&IP_DF.to_be_bytes());
            h[8] = REPLY_TTL;
            h[9] = proto::UDP;
            h[12..16].copy_from_slice(&dst);
            h[16..20].copy_from_slice(&src);
            let c = csum::finish(csum::add_bytes(0, &h));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            write(&cur, l3_off, &h)?;
            csum::pseudo_v4(&dst, &src, proto::UDP, udp_len as u16)
        }
        OuterIp::V6 {
            src,
            dst,
            traffic_class,
            flow_label,
        } => {
            let mut h = [0u8; 40];
            let vtc = (6u32 << 28) | (u32::from(traffic_class & 0xfc) << 20) | flow_label;
            h[0..4].copy_from_slice(&vtc.to_be_bytes());
            h[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
            h[6] = proto::UDP;
            h[7] = REPLY_TTL;
            h[8..24].copy_from_slice(&dst);
            h[24..40].copy_from_slice(&src);
            write(&cur, l3_off, &h)?;
            csum::pseudo_v6(&dst, &src, proto::UDP, udp_len as u32)
        }
    };
    // The UDP header is 8 bytes, so an odd-length message pads at the very end, as it must.
    let c = match csum::finish(csum::add_bytes(csum::add_bytes(pseudo, &u), gtp)) {
        0 => 0xffff, // RFC 768: a computed 0 is sent as all ones
        c => c,
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    write(&cur, l3_off + ip_len, &u)?;
    write(&cur, l3_off + ip_len + 8, gtp)
}

/// Copies `bytes` into the packet at `off`, one store per byte: a plain copy lets LLVM turn
/// runs of known zeros into calls to a byte-loop `memset` (the eBPF target has no inline
/// expansion for it here), which cost more than the stores.
#[inline(always)]
pub fn write<const N: usize>(cur: &Cursor, off: usize, bytes: &[u8; N]) -> Result<(), Reason> {
    let p = cur.get_mut::<[u8; N]>(off, Reason::AdjustFailed)?;
    let p = p as *mut u8;
    let mut i = 0;
    while i < N {
        // SAFETY: the cursor proved N bytes at `off` inside the packet; i < N.
        unsafe { core::ptr::write_volatile(p.add(i), bytes[i]) };
        i += 1;
    }
    Ok(())
}
