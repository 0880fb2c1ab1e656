//! BUFF and NOCP (TS 29.244 5.2.3): a downlink packet whose FAR buffers or notifies the CP
//! function is handed to the controller over the `EVENTS` ring buffer (the frame, its PDR and
//! session, the QFI and PPI the Downlink Data Notification needs) and not forwarded. At most
//! `BUFF_LIMIT_PER_SEC` packets per session per second per CPU; the rest are dropped and counted.

use crate::maps::{BUFF_LIMIT, EVENTS};
use aya_ebpf::{
    helpers::{bpf_ktime_get_ns, generated::bpf_xdp_load_bytes},
    programs::XdpContext,
};
use bpf_abi::{
    Reason,
    gtp::{BUFF_LIMIT_PER_SEC, EVENT_BUFFERED, EVENT_DATA_LEN, Event, PPI_NONE, Pdr, Qer},
};

#[inline(always)]
fn allowed(session: u32) -> bool {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    match BUFF_LIMIT.get_ptr_mut(session) {
        Some(w) => {
            // SAFETY: this CPU's value of a per-CPU hash entry: [window start ns, count].
            let w = unsafe { &mut *w };
            if now.wrapping_sub(w[0]) >= 1_000_000_000 {
                w[0] = now;
                w[1] = 0;
            }
            if w[1] >= BUFF_LIMIT_PER_SEC {
                return false;
            }
            w[1] += 1;
            true
        }
        None => BUFF_LIMIT.insert(session, [now, 1], 0).is_ok(),
    }
}

/// Hands the frame to the controller; the verdict is a drop either way.
#[inline(always)]
pub fn hand_over(ctx: &XdpContext, pdr: &Pdr, action: u8, q: Option<&Qer>) -> Reason {
    if !allowed(pdr.session) {
        return Reason::FarBufferLimited;
    }
    let Some(mut e) = EVENTS.reserve::<Event>(0) else {
        return Reason::FarBufferLimited;
    };
    let frame_len = ctx.data_end() - ctx.data();
    let capped = if frame_len > EVENT_DATA_LEN {
        EVENT_DATA_LEN
    } else {
        frame_len
    };
    // Verifier workaround (kernel 6.18): the helper's length must be provably non-zero, which a
    // comparison on another register does not show; the mask makes it 1..=2048 by construction
    // (equal to `capped` for every real frame, which is at least 14 bytes).
    const _: () = assert!(EVENT_DATA_LEN == 2048);
    let len = (capped.wrapping_sub(1) & (EVENT_DATA_LEN - 1)) + 1;
    let p = e.as_mut_ptr();
    // SAFETY: `p` is a reserved, exclusively ours ring buffer record of size_of::<Event>(); the
    // helper copies `len` <= EVENT_DATA_LEN bytes of the frame into its data field.
    let copied = unsafe {
        (*p).kind = EVENT_BUFFERED;
        (*p).session = pdr.session;
        (*p).id = u32::from(pdr.pdr_id);
        (*p).action = u32::from(action);
        (*p).value = frame_len as u64;
        (*p).len = len as u32;
        (*p).qfi = q.map_or(0, |q| q.qfi);
        (*p).ppi = q.map_or(PPI_NONE, |q| q.ppi);
        (*p)._pad = [0; 2];
        bpf_xdp_load_bytes(
            ctx.ctx,
            0,
            core::ptr::addr_of_mut!((*p).data) as *mut _,
            len as u32,
        ) == 0
    };
    if copied {
        e.submit(0);
        Reason::FarBuffer
    } else {
        e.discard(0);
        Reason::FarBufferLimited
    }
}
