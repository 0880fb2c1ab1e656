//! SCTP (RFC 9260) through the load balancer, multi-homed: an association is one backend on
//! every path. A service has one VIP a path; each of its backends one address a path, in the
//! same order. The association is tracked by its two verification tags, not by addresses, so
//! heartbeats and data on any path, from any of the client's addresses (those it announced in
//! its INIT, or added later by ASCONF: they pass unchanged, the backend sees them as they are),
//! reach the same backend:
//!
//! - INIT (to a VIP): no association yet. The backend is the service's Maglev choice by the
//!   INIT's Initiate Tag and ports, so a retransmitted INIT, on any path, goes to the same
//!   backend; the destination becomes the backend's address for the VIP's path, and the path
//!   is remembered by the tag and ports (`LB_SCTP_INIT_PATH`, LRU) for the INIT ACK.
//! - INIT ACK (from a backend's address): the association enters the half-open table under both
//!   tags (the backend's Initiate Tag for the client's packets, the client's tag for the
//!   backend's), the backend's address parameters are replaced by the VIPs of their paths (any
//!   other address parameter becomes RFC 4820 Padding, which receivers skip: the client sees
//!   only VIPs), the CRC32c is recomputed (it is not incremental), and the source becomes the
//!   VIP the INIT was sent to (RFC 9260 5.1: the INIT ACK goes to the INIT's source), whichever
//!   address the backend answered from; the INIT ACK's destination is the client's address on
//!   that path.
//! - COOKIE ACK (from the backend): the association moves to the established table.
//! - Any other packet of a tracked association: the destination (client to VIP) becomes the
//!   backend's address of that VIP's path, and the client's source address is remembered as
//!   its address on that path (`SctpAssoc::clients`); the source (backend to client) becomes
//!   the VIP of the path the client uses from the destination address, whichever of its
//!   addresses the backend sent from (stacks answer a HEARTBEAT on the second path from their
//!   first address; RFC 9260 8.3 wants the answer from where the HEARTBEAT went). A client
//!   address never seen sending is reached from the VIP of the backend address's path.
//!   Above both: what leaves on an interface that is one VIP's link (`LB_SCTP_VIP_LINK`: the
//!   service's `links`, or the one VIP whose clients' INITs came in on it) leaves from that
//!   VIP, so that what a client receives on a link comes from that link's VIP even when it
//!   sends on every link from one address (usrsctp does). Only IP addresses change: SCTP's
//!   checksum covers no pseudo-header.
//! - ABORT and SHUTDOWN COMPLETE (also with the T bit, whose tag is the sender's own) close the
//!   association (10 s, for retransmissions).
//! - ASCONF (RFC 5061): the client's add or delete its own addresses and pass (the association
//!   is its tags: a new client address works at once, and the backend learns it from the
//!   ASCONF itself). A backend's would announce the backend's own addresses, and ASCONF is
//!   always authenticated (AUTH), so it cannot be rewritten: dropped, counted
//!   (`lb_sctp_backend_asconf`); a backend's addresses are the configured ones.
//! - Anything else to a VIP is dropped and counted (`lb_sctp_no_association`); anything from
//!   a backend's address and service port that no association knows (and that answers no
//!   health probe) too (`lb_sctp_untranslatable`): passed on, it would show the client the
//!   backend's own address.

use crate::{
    ip::{self, Ip},
    maps::{
        BACKENDS, LB_JUMP, MAGLEV, SCRATCH, SCTP_ASSOC, SCTP_HALF_OPEN, SCTP_INIT_PATH, SCTP_PEERS,
        SCTP_VIP_LINK, SERVICES,
    },
    nat,
};
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::generated::{
        bpf_ktime_get_coarse_ns, bpf_loop, bpf_xdp_load_bytes, bpf_xdp_store_bytes,
    },
    programs::XdpContext,
};
use bpf_abi::{
    Reason,
    lb::{
        FlowKey, MAX_SCTP_PATHS, MAX_SCTP_REWRITE, PeerKey, SctpAssoc, SctpKey, SctpLinkKey,
        ServiceKey, dir, jump, link, state,
    },
};
use bpf_net::{
    Cursor,
    eth::parse_eth,
    fib::Lookup,
    proto,
    sctp::{self, CHUNK_HLEN, SCTP_HLEN, Sctp, chunk},
};

/// Chunk flag T of ABORT and SHUTDOWN COMPLETE (RFC 9260 3.3.7, 3.3.13): the verification tag
/// is the sender's own, reflected.
const FLAG_T: u8 = 0x01;
/// Parameter types of INIT ACK (RFC 9260 3.3.3): addresses, and the Host Name Address.
const PARAM_IPV4: u16 = 5;
const PARAM_IPV6: u16 = 6;
const PARAM_HOST_NAME: u16 = 11;
/// RFC 4820's Padding Parameter: its type's high bits say "skip it, do not report".
const PARAM_PAD: u16 = 0x8005;
/// Parameters of an INIT ACK walked at most.
const MAX_PARAMS: usize = 24;
/// INIT and INIT ACK: chunk header and fixed part (Initiate Tag, a_rwnd, streams, TSN).
const INIT_LEN: usize = CHUNK_HLEN + 16;

/// Handles an SCTP packet (`V6`: over IPv6) that `xdp_lb` or `xdp_lb6` passed on.
#[inline(always)]
pub fn ingress<const V6: bool>(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    let mut addrs = FlowKey::default();
    let ip = ip::settle(ip::parse_ip::<V6>(&cur, eth.l3_off, &mut addrs)?)?;
    if !V6 && ip.protocol == proto::ICMP {
        return icmp_error(ctx, &cur, &ip);
    }
    if ip.protocol != proto::SCTP {
        return Err(Reason::LbNoService);
    }
    let s = sctp::parse_sctp(&cur, ip.l4_off, ip.off + ip.len)?;
    let first = ip.l4_off + SCTP_HLEN;
    let flags = if s.chunk_count > 0 {
        cur.u8_at(first + 1, Reason::SctpChunkTruncated)?
    } else {
        0
    };
    let t = flags & FLAG_T != 0
        && (s.first_chunk_type == chunk::ABORT || s.first_chunk_type == chunk::SHUTDOWN_COMPLETE);
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let family = if V6 { 6 } else { 4 };
    if s.chunk_count > 0 && s.first_chunk_type == chunk::INIT_ACK {
        let to = if V6 { jump::SCTP_ACK6 } else { jump::SCTP_ACK };
        // SAFETY: a tail call to a program the loader put at `to`; returns only if it fails.
        unsafe { LB_JUMP.tail_call(ctx, to) };
        return Err(Reason::TailCallFailed);
    }
    if let Some(found) = find(&s, family, t, now) {
        if s.asconf && !found.to_backend {
            return Err(Reason::LbSctpBackendAsconf);
        }
        return forward(ctx, &cur, &ip, &mut addrs, &found, &s, now);
    }
    if s.chunk_count > 0 && s.first_chunk_type == chunk::INIT {
        return init(ctx, &cur, &ip, &mut addrs, &s);
    }
    if service(&addrs.dst, s.dst, family).is_some() {
        return Err(Reason::LbSctpNoAssociation);
    }
    let pk = PeerKey {
        addr: addrs.src,
        port: s.src,
        family,
        _pad: 0,
    };
    // SAFETY: only whether the key is there is read.
    if unsafe { SCTP_PEERS.get(pk) }.is_none() {
        return Err(Reason::LbNoService);
    }
    if crate::maps::is_probe_source(&addrs.dst, proto::SCTP, family) {
        // The rest of a health probe's exchange (an ABORT, a retransmitted INIT ACK's kin).
        return Ok(Reason::LbHealthProbe);
    }
    Err(Reason::LbSctpUntranslatable)
}

/// A tracked association's entry for a packet.
struct Found {
    entry: *mut SctpAssoc,
    /// Its key.
    key: SctpKey,
    /// In the half-open table.
    half: bool,
    /// The packet goes from the client to the backend.
    to_backend: bool,
}

/// The entry of `k` that has not expired, established or half-open.
#[inline(always)]
fn entry(k: &SctpKey, now: u64) -> Option<(*mut SctpAssoc, bool)> {
    if let Some(p) = SCTP_ASSOC.get_ptr_mut(k) {
        // SAFETY: a value of the map, valid for this program run.
        if unsafe { (*p).expires_ns } > now {
            return Some((p, false));
        }
    }
    if let Some(p) = SCTP_HALF_OPEN.get_ptr_mut(k) {
        // SAFETY: as above.
        if unsafe { (*p).expires_ns } > now {
            return Some((p, true));
        }
    }
    None
}

/// The association of a packet by its tag and ports: the client's direction or the backend's,
/// and with the T bit (the sender's own tag) the other direction's entry, ports swapped.
#[inline(always)]
fn find(s: &Sctp, family: u8, t: bool, now: u64) -> Option<Found> {
    let mut key = SctpKey {
        vtag: s.vtag,
        sport: s.src,
        dport: s.dst,
        dir: dir::ORIGINAL,
        family,
        _pad: [0; 2],
    };
    let mut i = 0;
    while i < 4 {
        if i == 2 {
            if !t {
                return None;
            }
            key.sport = s.dst;
            key.dport = s.src;
        }
        key.dir = if i % 2 == 0 {
            dir::ORIGINAL
        } else {
            dir::REPLY
        };
        if let Some((entry, half)) = entry(&key, now) {
            return Some(Found {
                entry,
                key,
                half,
                // Plain: an ORIGINAL entry's packets go to the backend; swapped (the sender's
                // own tag): a REPLY entry's tag is the client's.
                to_backend: (key.dir == dir::ORIGINAL) == (i < 2),
            });
        }
        i += 1;
    }
    None
}

/// The index of `a` among the first `paths` of `list` (IPv4: the first 4 bytes).
#[inline(always)]
fn path_of(list: &[[u8; 16]; MAX_SCTP_PATHS], paths: u8, a: &[u8; 16], v6: bool) -> Option<usize> {
    let mut i = 0;
    while i < MAX_SCTP_PATHS {
        if i >= paths as usize {
            return None;
        }
        let same = if v6 {
            list[i] == *a
        } else {
            list[i][..4] == a[..4]
        };
        if same {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The entry of the association's other direction.
#[inline(always)]
fn twin(key: &SctpKey, vtag: u32) -> SctpKey {
    SctpKey {
        vtag,
        sport: key.dport,
        dport: key.sport,
        dir: if key.dir == dir::ORIGINAL {
            dir::REPLY
        } else {
            dir::ORIGINAL
        },
        family: key.family,
        _pad: [0; 2],
    }
}

/// Sets an entry's state and expiry.
#[inline(always)]
fn set_state(a: *mut SctpAssoc, st: u8, now: u64) {
    // SAFETY: a value of an SCTP map, valid for this program run; racing writers on other
    // CPUs write the same kind of values.
    unsafe {
        (*a).state = st;
        (*a).expires_ns = now + state::timeout_s(st) * 1_000_000_000;
    }
}

/// A packet of a tracked association: its address rewritten by its path, the association's
/// state advanced, and the packet routed.
#[inline(always)]
fn forward(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ip,
    addrs: &mut FlowKey,
    f: &Found,
    s: &Sctp,
    now: u64,
) -> Result<Reason, Reason> {
    // SAFETY: a value of an SCTP map, valid for this program run (read in place).
    let a = unsafe { &*f.entry };
    let (from, to, old) = if f.to_backend {
        (&a.vips, &a.addrs, &addrs.dst)
    } else {
        (&a.addrs, &a.vips, &addrs.src)
    };
    let j = path_of(from, a.paths, old, ip.v6).ok_or(Reason::LbSctpUnknownPath)?;
    let (twin_vtag, st_now, backend) = (a.twin_vtag, a.state, a.backend);
    let other = twin(&f.key, twin_vtag);
    let j = if f.to_backend {
        if !same16(&a.clients[j & (MAX_SCTP_PATHS - 1)], &addrs.src) {
            // The client's address on this path changed (or is new): remembered in both
            // entries. `a` is not read after this.
            learn_client(f.entry, &other, f.half, j as u64, &addrs.src);
        }
        j
    } else {
        reply_path(&a.clients, a.paths, j, &addrs.dst, ip.v6)
    };
    // Verifier workaround: each way to the path's index above (its own path or a client's
    // address, each match its own state) went on alone through the rewrite and the route
    // (xdp_lb_sctp6 from 17 % to 29 % of the limit); through map memory they are one.
    let [j, _, _, _] =
        bpf_net::launder::launder_masked([j as u64, 0, 0, 0], [MAX_SCTP_PATHS as u64 - 1, 0, 0, 0])
            .ok_or(Reason::LbSctpUnknownPath)?;
    readdress(
        cur,
        ip,
        addrs,
        f.to_backend,
        &to[j as usize & (MAX_SCTP_PATHS - 1)],
    )?;
    crate::maps::count_backend(backend, f.to_backend, ip.len);
    // SAFETY: as above; the counter is atomic.
    unsafe { bpf_net::atomic::fetch_add(core::ptr::addr_of_mut!((*f.entry).packets), 1) };
    let closing = s.chunk_types & (1 << chunk::ABORT | 1 << chunk::SHUTDOWN_COMPLETE) != 0;
    if closing {
        set_state(f.entry, state::CLOSING, now);
        let t = if f.half {
            SCTP_HALF_OPEN.get_ptr_mut(other)
        } else {
            SCTP_ASSOC.get_ptr_mut(other)
        };
        if let Some(t) = t {
            set_state(t, state::CLOSING, now);
        }
    } else if f.half && !f.to_backend && s.chunk_types & (1 << chunk::COOKIE_ACK) != 0 {
        // The backend accepted the cookie: established. Both entries are copied into the
        // established table from the half-open one's values in place, then removed there.
        promote(&f.key, now);
        promote(&other, now);
    } else {
        let st = if f.half {
            state::HALF_OPEN
        } else if st_now == state::CLOSING {
            state::CLOSING
        } else {
            state::ESTABLISHED
        };
        set_state(f.entry, st, now);
    }
    if f.to_backend {
        route_as(ctx, cur, ip, addrs)
    } else {
        route_reply(ctx, cur, ip, addrs, f.entry, j)
    }
}

/// Routes a packet to the client whose source is VIP `j` of the association (or template)
/// `e`, then, when it leaves on the link of one of the VIPs (`LB_SCTP_VIP_LINK`: configured,
/// or the one whose clients' INITs came in on it), makes that VIP its source: what a client
/// receives on a link comes from that link's VIP, whichever of its addresses the client sent
/// from (usrsctp sends on every path from one address) and whichever the backend did.
/// (Learnt from INITs only: learning from every packet of an association took xdp_lb_sctp6
/// from 38 % to 53 % of the verifier's limit on Linux 6.1.)
#[inline(always)]
fn route_reply(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ip,
    addrs: &mut FlowKey,
    e: *const SctpAssoc,
    j: u64,
) -> Result<Reason, Reason> {
    let l = Lookup {
        v6: ip.v6,
        src: &addrs.src,
        dst: &addrs.dst,
        tos: ip.tos,
        len: ip.len as u16,
    };
    let (r, egress) = nat::route_egress(ctx, cur, ip, &l)?;
    if egress != 0 {
        // SAFETY: a value of an SCTP map, valid for this program run (its VIPs and paths are
        // the controller's and never change in an entry).
        let a = unsafe { &*e };
        let k = path_of_link(&a.vips[0], addrs.family, egress);
        if k != j && k < u64::from(a.paths) {
            readdress(
                cur,
                ip,
                addrs,
                false,
                &a.vips[k as usize & (MAX_SCTP_PATHS - 1)],
            )?;
        }
    }
    Ok(r)
}

/// Records that the clients of path `j` of the service whose first VIP is `vip` come in on
/// `ifindex` (when new, and the interface's paths are not configured). A function of its own
/// (a BPF-to-BPF call): its key's stack is its own.
#[inline(never)]
fn learn_link(vip: &[u8; 16], family: u8, ifindex: u32, j: u32) {
    let j = j & (MAX_SCTP_PATHS as u32 - 1);
    let k = link_key(vip, family, ifindex);
    match SCTP_VIP_LINK.get_ptr_mut(&k) {
        // SAFETY: a value of the map, valid for this program run; writers race only with the
        // same kind of value (a lost bit is set again by the path's next packet).
        Some(v) => unsafe {
            if *v & (1 << j) == 0 && *v & link::PINNED == 0 {
                *v = (*v & 0xff) | link::only(j);
            }
        },
        None => {
            // Only when still absent (BPF_NOEXIST: a configured entry written meanwhile
            // stays). Refused (full): replies leave from the VIP the other rules choose.
            let _ = SCTP_VIP_LINK.insert(&k, &link::only(j), BPF_NOEXIST as u64);
        }
    }
}

/// The path whose clients, alone among the service's (its first VIP `vip`), come in on
/// `ifindex`; `u64::MAX` when none or several do. A function of its own, as `learn_link`.
#[inline(never)]
fn path_of_link(vip: &[u8; 16], family: u8, ifindex: u32) -> u64 {
    // SAFETY: the value is read at once.
    match unsafe { SCTP_VIP_LINK.get(link_key(vip, family, ifindex)) }.and_then(|v| link::path(*v))
    {
        Some(j) => u64::from(j),
        None => u64::MAX,
    }
}

/// The key of `LB_SCTP_VIP_LINK`.
#[inline(always)]
fn link_key(vip: &[u8; 16], family: u8, ifindex: u32) -> SctpLinkKey {
    SctpLinkKey {
        vip: bpf_net::mem::copy16(vip),
        ifindex,
        family,
        _pad: [0; 3],
    }
}

/// Whether two addresses are the same (all 16 bytes: an IPv4 one is zero after its 4).
#[inline(always)]
fn same16(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let ((al, ah), (bl, bh)) = (words(a), words(b));
    (al ^ bl) | (ah ^ bh) == 0
}

/// The path of a backend's packet to client address `dst`: the backend address's path `jb`
/// when the client uses `dst` on it, else the path on which the client last sent from `dst`,
/// else `jb` (an address the client has not sent from yet).
#[inline(always)]
fn reply_path(
    clients: &[[u8; 16]; MAX_SCTP_PATHS],
    paths: u8,
    jb: usize,
    dst: &[u8; 16],
    v6: bool,
) -> usize {
    if same16(&clients[jb & (MAX_SCTP_PATHS - 1)], dst) {
        return jb;
    }
    path_of(clients, paths, dst, v6).unwrap_or(jb)
}

/// Records `client` as the client's address on path `j` of the entry `e` and of its twin
/// `other` (in the half-open table when `half`). A function of its own (a BPF-to-BPF call):
/// inlined, its stack and the caller's did not fit the 512 bytes in `xdp_lb_sctp6`.
#[inline(never)]
fn learn_client(e: *mut SctpAssoc, other: &SctpKey, half: bool, j: u64, client: &[u8; 16]) {
    let j = j as usize;
    set_client(e, j, client);
    let t = if half {
        SCTP_HALF_OPEN.get_ptr_mut(other)
    } else {
        SCTP_ASSOC.get_ptr_mut(other)
    };
    if let Some(t) = t {
        set_client(t, j, client);
    }
}

/// Records `client` as the client's address on path `j` of both half-open entries of a new
/// association. A function of its own (a BPF-to-BPF call): inlined, it did not fit the
/// 512 bytes of stack in `xdp_lb_sctp_ack6`.
#[inline(never)]
fn seed_client(reply: &SctpKey, original: &SctpKey, j: u64, client: &[u8; 16]) {
    if let Some(e) = SCTP_HALF_OPEN.get_ptr_mut(reply) {
        set_client(e, j as usize, client);
    }
    if let Some(e) = SCTP_HALF_OPEN.get_ptr_mut(original) {
        set_client(e, j as usize, client);
    }
}

/// Records `client` as the client's address on path `j` of the entry `e`, by two 8-byte
/// stores (a 16-byte copy took stack `xdp_lb_sctp_ack6` does not have).
#[inline(always)]
fn set_client(e: *mut SctpAssoc, j: usize, client: &[u8; 16]) {
    const _: () = assert!(
        core::mem::align_of::<SctpAssoc>() == 8
            && core::mem::offset_of!(SctpAssoc, clients) % 8 == 0
    );
    let (lo, hi) = words(client);
    // SAFETY: a value of an SCTP map, valid for this program run, 8-aligned (map values are,
    // and so is `clients` in it, above); a racing writer on another CPU writes the same kind
    // of value (a reader between the two stores sees a stale path once).
    unsafe {
        let w = core::ptr::addr_of_mut!((*e).clients[j & (MAX_SCTP_PATHS - 1)]).cast::<u64>();
        core::ptr::write_volatile(w, lo);
        core::ptr::write_volatile(w.add(1), hi);
    }
}

/// Writes `new` over the packet's destination (`to_dst`) or source address, and into `addrs`.
#[inline(always)]
fn readdress(
    cur: &Cursor,
    ip: &Ip,
    addrs: &mut FlowKey,
    to_dst: bool,
    new: &[u8; 16],
) -> Result<(), Reason> {
    let old = if to_dst { &addrs.dst } else { &addrs.src };
    nat::set_addr(cur, ip, to_dst, old, new)?;
    if to_dst {
        addrs.dst = *new;
    } else {
        addrs.src = *new;
    }
    Ok(())
}

/// Routes the packet by its (rewritten) addresses `addrs`.
#[inline(always)]
fn route_as(ctx: &XdpContext, cur: &Cursor, ip: &Ip, addrs: &FlowKey) -> Result<Reason, Reason> {
    let l = Lookup {
        v6: ip.v6,
        src: &addrs.src,
        dst: &addrs.dst,
        tos: ip.tos,
        len: ip.len as u16,
    };
    nat::route(ctx, cur, ip, &l)
}

/// Moves a half-open entry to the established table.
#[inline(always)]
fn promote(key: &SctpKey, now: u64) {
    if let Some(p) = SCTP_HALF_OPEN.get_ptr(key) {
        // SAFETY: a value of the half-open map, valid for this program run; the helper copies
        // it (a reference: a copy would not fit the stack).
        let v: &SctpAssoc = unsafe { &*p };
        if SCTP_ASSOC.insert(key, v, 0).is_ok() {
            if let Some(n) = SCTP_ASSOC.get_ptr_mut(key) {
                set_state(n, state::ESTABLISHED, now);
            }
            let _ = SCTP_HALF_OPEN.remove(key);
        }
    }
}

/// The SCTP service of `vip:port` (or of every port of `vip`).
#[inline(always)]
fn service(vip: &[u8; 16], port: u16, family: u8) -> Option<bpf_abi::lb::Service> {
    let mut sk = ServiceKey {
        vip: *vip,
        port,
        proto: proto::SCTP,
        family,
    };
    // SAFETY: the value is read at once; entries are only replaced whole by the controller.
    if let Some(s) = unsafe { SERVICES.get(sk) } {
        return Some(*s);
    }
    sk.port = 0;
    // SAFETY: as above.
    unsafe { SERVICES.get(sk) }.copied()
}

/// The hash of an INIT: its Initiate Tag and ports (not its addresses: the same on every path
/// and every retransmission), mixed as murmur3's finaliser does.
#[inline(always)]
fn init_hash(tag: u32, sport: u16, dport: u16) -> u32 {
    let mut h = tag.wrapping_mul(0xcc9e_2d51) ^ ((u32::from(sport) << 16) | u32::from(dport));
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Checks an INIT or INIT ACK chunk (alone in its packet, RFC 9260 6.10; its fixed part
/// there; a non-zero Initiate Tag, 5.1) and returns its length and Initiate Tag.
#[inline(always)]
fn handshake_chunk(cur: &Cursor, ip: &Ip, s: &Sctp) -> Result<(usize, u32), Reason> {
    let c = ip.l4_off + SCTP_HLEN;
    let len = usize::from(cur.be16_at(c + 2, Reason::LbSctpBadHandshake)?);
    if s.chunk_count != 1 || len < INIT_LEN {
        return Err(Reason::LbSctpBadHandshake);
    }
    let t: &[u8; 4] = cur.get(c + CHUNK_HLEN, Reason::LbSctpBadHandshake)?;
    let tag = u32::from_be_bytes(*t);
    if tag == 0 {
        return Err(Reason::LbSctpBadHandshake);
    }
    Ok((len, tag))
}

/// An INIT to a VIP: to the backend Maglev picks by its tag and ports, at that backend's
/// address of the VIP's path. No state.
#[inline(always)]
fn init(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ip,
    addrs: &mut FlowKey,
    s: &Sctp,
) -> Result<Reason, Reason> {
    let svc = service(&addrs.dst, s.dst, addrs.family).ok_or(Reason::LbNoService)?;
    if s.vtag != 0 {
        // RFC 9260 8.5.1: an INIT carries tag 0.
        return Err(Reason::LbSctpBadHandshake);
    }
    let (_, tag) = handshake_chunk(cur, ip, s)?;
    if svc.backends == 0 {
        return Err(Reason::LbNoBackend);
    }
    let slot = nat::slot_of(&svc, &addrs.src, init_hash(tag, s.src, s.dst));
    let id = *MAGLEV.get(slot).ok_or(Reason::LbNoBackend)?;
    let be = BACKENDS.get(id).ok_or(Reason::LbNoBackend)?;
    if be.used == 0 || be.family != addrs.family {
        return Err(Reason::LbNoBackend);
    }
    let pk = PeerKey {
        // By two words: a copy out of the map value is a `memmove` call (see bpf_net::mem).
        addr: bpf_net::mem::copy16(&be.addr),
        port: s.dst,
        family: addrs.family,
        _pad: 0,
    };
    // SAFETY: read in place; entries are only replaced whole by the controller.
    let peer = unsafe { SCTP_PEERS.get(pk) }.ok_or(Reason::LbNoBackend)?;
    let j = path_of(&peer.vips, peer.paths, &addrs.dst, ip.v6).ok_or(Reason::LbSctpUnknownPath)?;
    learn_link(
        &peer.vips[0],
        addrs.family,
        ctx.ingress_ifindex() as u32,
        j as u32,
    );
    // For the INIT ACK's source: this path added to the paths the INIT came on, and made the
    // latest. Should the LRU refuse a new entry (no memory), the INIT ACK leaves from the VIP
    // of the backend address it came from, as it would without this map.
    let key = init_key(tag, s.src, s.dst, addrs.family);
    let j32 = (j & (MAX_SCTP_PATHS - 1)) as u32;
    match SCTP_INIT_PATH.get_ptr_mut(&key) {
        // SAFETY: a value of the map, valid for this program run; a retransmission on another
        // CPU at once may lose one path's bit (the INIT ACK then takes the latest path).
        Some(v) => unsafe { *v = (*v & 0xff) | (1 << j32) | (j32 << 8) },
        None => {
            let _ = SCTP_INIT_PATH.insert(&key, &((1 << j32) | (j32 << 8)), 0);
        }
    }
    crate::maps::count_backend(id, true, ip.len);
    readdress(cur, ip, addrs, true, &peer.addrs[j & (MAX_SCTP_PATHS - 1)])?;
    route_as(ctx, cur, ip, addrs)
}

/// The key of `LB_SCTP_INIT_PATH`, whose value holds the paths an INIT came on (bit `j` for
/// path `j`) and the latest one (bits 8..16): the client's Initiate Tag and ports, as the INIT
/// ACK's
/// entry of the backend's direction will be keyed (`dir::REPLY`, the service's port first), so
/// that the INIT ACK looks the path up by that key.
#[inline(always)]
fn init_key(tag: u32, client_port: u16, service_port: u16, family: u8) -> SctpKey {
    SctpKey {
        vtag: tag,
        sport: service_port,
        dport: client_port,
        dir: dir::REPLY,
        family,
        _pad: [0; 2],
    }
}

/// An INIT ACK (`xdp_lb_sctp_ack`, `V6`: `xdp_lb_sctp_ack6`, by tail call from
/// `xdp_lb_sctp`: a program of its own for its stack and the verifier's paths): from a
/// backend, the association half-open under both tags, the backend's addresses hidden behind
/// the VIPs, the checksum recomputed, the source made the VIP; to one of the daemon's
/// health-probe sources (`LB_PROBE_SRC`) or from anyone else, the kernel's.
#[inline(always)]
pub fn init_ack<const V6: bool>(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    let mut addrs = FlowKey::default();
    let ip = ip::settle(ip::parse_ip::<V6>(&cur, eth.l3_off, &mut addrs)?)?;
    let s = sctp::parse_sctp(&cur, ip.l4_off, ip.off + ip.len)?;
    if ip.protocol != proto::SCTP || s.chunk_count == 0 || s.first_chunk_type != chunk::INIT_ACK {
        return Err(Reason::LbNoService);
    }
    if crate::maps::is_probe_source(&addrs.dst, proto::SCTP, addrs.family) {
        // A backend's answer to the daemon's health probe (lb_health): an INIT ACK like a
        // client's, but to the daemon's own address.
        return Ok(Reason::LbHealthProbe);
    }
    let (cur, ip, s) = (&cur, &ip, &s);
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let pk = PeerKey {
        addr: addrs.src,
        port: s.src,
        family: addrs.family,
        _pad: 0,
    };
    let Some(peer) = SCTP_PEERS.get_ptr(pk) else {
        // Not from a backend of a service: the kernel's.
        return Err(Reason::LbNoService);
    };
    // SAFETY: read in place; entries are only replaced whole by the controller.
    let p = unsafe { &*peer };
    if s.vtag == 0 {
        return Err(Reason::LbSctpBadHandshake);
    }
    let (len, backend_tag) = handshake_chunk(cur, ip, s)?;
    // The rewrite first: nothing of the path lives across its two bpf_loop calls (stack), and
    // the verifier walks them before `path_of` splits its states.
    rewrite_init_ack(ctx, ip.l4_off, ip.off + ip.len, len, &pk, ip.v6)?;
    let jb = path_of(&p.addrs, p.paths, &addrs.src, ip.v6).ok_or(Reason::LbSctpUnknownPath)?;
    // Both directions, half-open: the client's packets carry the backend's tag, the
    // backend's the client's.
    let reply = SctpKey {
        vtag: s.vtag,
        sport: s.src,
        dport: s.dst,
        dir: dir::REPLY,
        family: addrs.family,
        _pad: [0; 2],
    };
    // The path of the INIT this answers: its Initiate Tag is this packet's verification tag,
    // its key `reply` (init_key). The backend address's own path when the INIT came on it (a
    // stack that answers from where the INIT went), else the path of the latest INIT (a stack
    // that answers every path from its first address).
    // SAFETY: the value is read at once.
    let j = match unsafe { SCTP_INIT_PATH.get(reply) } {
        Some(&v) if v & (1 << (jb & (MAX_SCTP_PATHS - 1))) != 0 => jb,
        Some(&v) if (v >> 8) & 0xff < u32::from(p.paths) => ((v >> 8) & 0xff) as usize,
        _ => jb,
    };
    // Verifier workaround (Linux 6.1): `path_of` ends in one state per path it may match, each
    // of which went on alone through the rest (xdp_lb_sctp_ack6: 72 % of the limit when the
    // rewrite came after it); the path's index through map memory (bpf_net::launder) makes
    // them one.
    let [j, _, _, _] =
        bpf_net::launder::launder_masked([j as u64, 0, 0, 0], [MAX_SCTP_PATHS as u64 - 1, 0, 0, 0])
            .ok_or(Reason::LbSctpUnknownPath)?;
    let vip = &p.vips[j as usize & (MAX_SCTP_PATHS - 1)];
    let original = twin(&reply, backend_tag);
    crate::maps::count_backend(p.backend, false, ip.len);
    half_open(&reply, p, backend_tag, now)?;
    half_open(&original, p, s.vtag, now)?;
    // The INIT ACK goes to the INIT's source: the client's address on path `j`.
    seed_client(&reply, &original, j, &addrs.dst);
    readdress(cur, ip, &mut addrs, false, vip)?;
    route_reply(ctx, cur, ip, &mut addrs, peer, j)
}

/// Enters one direction of an association into the half-open table, from the backend's
/// template `p` (copied by the helper from its map in place).
#[inline(always)]
fn half_open(key: &SctpKey, p: &SctpAssoc, twin_vtag: u32, now: u64) -> Result<(), Reason> {
    SCTP_HALF_OPEN
        .insert(key, p, 0)
        .map_err(|_| Reason::LbNoBackend)?;
    let e = SCTP_HALF_OPEN.get_ptr_mut(key).ok_or(Reason::LbNoBackend)?;
    // SAFETY: a value of the half-open map, valid for this program run.
    unsafe {
        (*e).dir = key.dir;
        (*e).twin_vtag = twin_vtag;
        (*e).packets = 0;
    }
    set_state(e, state::HALF_OPEN, now);
    Ok(())
}

/// The path of the backend address at `at` in `b` (`W` bytes: 4 or 16): the address read once
/// as two 64-bit words, each path's compared whole (no branch a byte: a byte loop's branches
/// multiply the verifier's paths over the parameter walk).
#[inline(always)]
fn path_in<const W: usize>(b: &[u8; MAX_SCTP_REWRITE], at: usize, p: &SctpAssoc) -> Option<usize> {
    // The parameter lies inside the packet, itself inside the buffer: `min` changes nothing
    // but proves the reads in bounds.
    let at = at.min(MAX_SCTP_REWRITE - 16);
    let mut x = [0u8; 16];
    x[..W].copy_from_slice(&b[at..at + W]);
    let (lo, hi) = words(&x);
    let mut j = 0;
    while j < MAX_SCTP_PATHS {
        if j >= usize::from(p.paths) {
            return None;
        }
        let (l, h) = words(&p.addrs[j]);
        if (l ^ lo) | (h ^ hi) == 0 {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// An address as two 64-bit words.
#[inline(always)]
fn words(a: &[u8; 16]) -> (u64, u64) {
    let mut l = [0u8; 8];
    let mut h = [0u8; 8];
    l.copy_from_slice(&a[..8]);
    h.copy_from_slice(&a[8..]);
    (u64::from_ne_bytes(l), u64::from_ne_bytes(h))
}

/// bpf_loop's context for the CRC32c of the scratch buffer.
#[repr(C)]
struct CrcLoop {
    crc: u32,
    _pad: u32,
}

/// bpf_loop callback: block `i` (16 bytes) of this CPU's scratch buffer into the CRC.
extern "C" fn crc_block(i: u64, ctx: *mut core::ffi::c_void) -> i64 {
    let Some(buf) = SCRATCH.get_ptr(0) else {
        return 1;
    };
    // SAFETY: bpf_loop passes the CrcLoop its caller gave, on the caller's stack; `buf` is
    // this CPU's scratch value.
    let (st, b) = unsafe { (&mut *ctx.cast::<CrcLoop>(), &*buf) };
    let at = (i as usize * 16) & (MAX_SCTP_REWRITE - 16);
    let mut crc = st.crc;
    let mut k = 0;
    while k < 16 {
        crc = sctp::crc32c_byte(crc, b[at + k]);
        k += 1;
    }
    st.crc = crc;
    0
}

/// bpf_loop's context for the walk over an INIT ACK's parameters (in this CPU's scratch
/// buffer).
#[repr(C)]
#[derive(Default)]
struct ParamLoop {
    /// The backend address the INIT ACK came from (its template: looked up in the callback,
    /// which gets no map value from its caller).
    peer: PeerKey,
    /// The next parameter's offset, and the chunk's end.
    at: u32,
    stop: u32,
    v6: u8,
    /// Set on a bad parameter length.
    bad: u8,
    /// Padding, in words: a zeroed byte array is a `memset` call (see bpf_net::mem).
    _pad0: u16,
    _pad1: u32,
}

/// bpf_loop callback: the parameter at `at`: a backend address becomes the VIP of its path;
/// any other address (of either family) or a Host Name Address becomes RFC 4820 Padding.
/// Returns 1 (stop) at the chunk's end or on a bad length.
extern "C" fn hide_param(_i: u64, ctx: *mut core::ffi::c_void) -> i64 {
    const N: usize = MAX_SCTP_REWRITE;
    // SAFETY: bpf_loop passes the ParamLoop its caller gave, on the caller's stack.
    let w = unsafe { &mut *ctx.cast::<ParamLoop>() };
    let (Some(buf), Some(p)) = (SCRATCH.get_ptr_mut(0), SCTP_PEERS.get_ptr(&w.peer)) else {
        w.bad = 1;
        return 1;
    };
    // SAFETY: this CPU's scratch value and a value of the peers map, valid for this run.
    let (b, p) = unsafe { (&mut *buf, &*p) };
    let at = w.at as usize & (N - 1);
    let stop = w.stop as usize;
    if at + 4 > stop {
        return 1;
    }
    let ty = u16::from_be_bytes([b[at & (N - 1)], b[(at + 1) & (N - 1)]]);
    let plen = usize::from(u16::from_be_bytes([
        b[(at + 2) & (N - 1)],
        b[(at + 3) & (N - 1)],
    ]));
    if plen < 4 || at + plen > stop {
        w.bad = 1;
        return 1;
    }
    w.at = (at + ((plen + 3) & !3)) as u32;
    if ty != PARAM_IPV4 && ty != PARAM_IPV6 && ty != PARAM_HOST_NAME {
        return 0;
    }
    let v6 = w.v6 != 0;
    let fits = (ty == PARAM_IPV4 && !v6 && plen == 8) || (ty == PARAM_IPV6 && v6 && plen == 20);
    let path = match (fits, v6) {
        (false, _) => None,
        (true, false) => path_in::<4>(b, at + 4, p),
        (true, true) => path_in::<16>(b, at + 4, p),
    };
    match path {
        Some(j) => {
            let vip = &p.vips[j & (MAX_SCTP_PATHS - 1)];
            // As in `path_in`: `min` proves the bounds.
            if v6 {
                let a = (at + 4).min(N - 16);
                b[a..a + 16].copy_from_slice(vip);
            } else {
                let a = (at + 4).min(N - 4);
                b[a..a + 4].copy_from_slice(&vip[..4]);
            }
        }
        None => {
            let pad = PARAM_PAD.to_be_bytes();
            b[at & (N - 1)] = pad[0];
            b[(at + 1) & (N - 1)] = pad[1];
        }
    }
    0
}

/// Rewrites an INIT ACK (the SCTP packet from `off` to `end`, its one chunk `chunk_len` bytes)
/// for the client: copied into this CPU's scratch buffer (one helper call), each address
/// parameter of the backend made the VIP of its path and any other address (of either family)
/// or Host Name Address made Padding (RFC 4820, which the client skips), the CRC32c computed
/// there (it is not incremental), and the whole stored back (one helper call). Working in the
/// scratch buffer keeps the verifier's paths few: its indices are masked, not bounds-checked.
#[inline(always)]
fn rewrite_init_ack(
    ctx: &XdpContext,
    off: usize,
    end: usize,
    chunk_len: usize,
    peer: &PeerKey,
    v6: bool,
) -> Result<(), Reason> {
    const N: usize = MAX_SCTP_REWRITE;
    let len = end.saturating_sub(off);
    if len > N {
        return Err(Reason::LbSctpTooLong);
    }
    if len < SCTP_HLEN || !len.is_multiple_of(4) || SCTP_HLEN + chunk_len > len {
        // RFC 9260 3.2: chunks are padded to 4 bytes, so is the packet.
        return Err(Reason::LbSctpBadHandshake);
    }
    let buf = SCRATCH.get_ptr_mut(0).ok_or(Reason::LbSctpTooLong)?;
    // 1..=N (len is 12..=N), masked where the helper's argument is made (bpf_net::launder::mask).
    let n = (bpf_net::launder::mask::<{ N as u64 - 1 }>(len as u64 - 1) + 1) as u32;
    // SAFETY: `buf` is this CPU's scratch value, N bytes, and `n` is at most N; the helper
    // checks the packet's bounds itself.
    if unsafe { bpf_xdp_load_bytes(ctx.ctx, off as u32, buf.cast(), n) } < 0 {
        return Err(Reason::SctpTruncated);
    }
    // SAFETY: as above; nothing else refers to this CPU's scratch during the run.
    let b = unsafe { &mut *buf };
    let at8 = |i: usize| i & (N - 1);
    // The parameters, by bpf_loop (one callback a parameter, verified once).
    let mut walk = ParamLoop {
        peer: *peer,
        at: (SCTP_HLEN + INIT_LEN) as u32,
        stop: (SCTP_HLEN + chunk_len) as u32,
        v6: u8::from(v6),
        bad: 0,
        _pad0: 0,
        _pad1: 0,
    };
    // SAFETY: `hide_param` is a callback of bpf_loop's signature; `walk` outlives the call.
    unsafe {
        bpf_loop(
            MAX_PARAMS as u32,
            hide_param as *mut core::ffi::c_void,
            (&raw mut walk).cast(),
            0,
        )
    };
    let bad = walk.bad != 0 || walk.at + 4 <= walk.stop;
    // The walk's state forgotten: the verifier ends the loop in one state per iteration it
    // explored, and would carry each through the rest of the program.
    // SAFETY: `walk` is a local; a volatile write of a valid value.
    unsafe { core::ptr::write_volatile(&raw mut walk, ParamLoop::default()) };
    if bad {
        // A bad length, or more parameters than walked.
        return Err(Reason::LbSctpBadHandshake);
    }
    b[8..12].fill(0);
    // CRC32c by bpf_loop, 16 bytes a callback (verified once, not once a word), then the
    // last 0-3 words here.
    let mut st = CrcLoop { crc: !0, _pad: 0 };
    let blocks = (len / 16) as u32;
    if blocks > 0 {
        // SAFETY: `crc_block` is a callback of bpf_loop's signature; `st` outlives the call.
        let r = unsafe {
            bpf_loop(
                blocks,
                crc_block as *mut core::ffi::c_void,
                (&raw mut st).cast(),
                0,
            )
        };
        if r != i64::from(blocks) {
            return Err(Reason::LbSctpTooLong);
        }
    }
    let mut crc = st.crc;
    let mut w = 0;
    while w < 3 {
        let at = (len / 16) * 16 + w * 4;
        if at + 4 <= len {
            crc = sctp::crc32c_byte(crc, b[at8(at)]);
            crc = sctp::crc32c_byte(crc, b[at8(at + 1)]);
            crc = sctp::crc32c_byte(crc, b[at8(at + 2)]);
            crc = sctp::crc32c_byte(crc, b[at8(at + 3)]);
        }
        w += 1;
    }
    b[8..12].copy_from_slice(&(!crc).to_le_bytes());
    // SAFETY: as above: `n` bytes of the scratch value back where they came from.
    if unsafe { bpf_xdp_store_bytes(ctx.ctx, off as u32, buf.cast(), n) } < 0 {
        return Err(Reason::SctpTruncated);
    }
    Ok(())
}

/// An ICMP error (IPv4: Destination Unreachable, Time Exceeded, Parameter Problem) about a
/// packet of a tracked association, `xdp_lb` having seen that it quotes SCTP. RFC 792 quotes
/// the IP header and 8 bytes: SCTP's ports and verification tag (the checksum is not among
/// them), which find the association. The quoted packet was either the client's, sent on to
/// the backend's address of a path (the error comes from the backend's side: the quoted
/// destination becomes that path's VIP again, and the error's source too when the backend
/// sent it), or the backend's, sent on from a VIP (the error comes from the client's side to
/// the VIP: the quoted source becomes the backend's address of that path, and so does the
/// error's destination). The quoted IPv4 header checksum, the ICMP checksum and the outer
/// header's are updated (RFC 1624); the error is routed like the association's packets.
#[inline(always)]
fn icmp_error(ctx: &XdpContext, cur: &Cursor, ip: &Ip) -> Result<Reason, Reason> {
    use bpf_net::csum;
    let icmp_off = ip.l4_off;
    let ty = cur.u8_at(icmp_off, Reason::IcmpTruncated)?;
    if !crate::icmp::quoting::<false>(ty) {
        return Err(Reason::LbNoService);
    }
    let q = cur.get_mut::<[u8; 28]>(icmp_off + 8, Reason::IcmpTruncated)?;
    // SAFETY: the cursor proved the 28 bytes; nothing else refers to them.
    let q = unsafe { &mut *q };
    if q[0] != 0x45 || q[9] != proto::SCTP {
        return Err(Reason::LbNoService);
    }
    let sport = u16::from_be_bytes([q[20], q[21]]);
    let dport = u16::from_be_bytes([q[22], q[23]]);
    let vtag = u32::from_be_bytes([q[24], q[25], q[26], q[27]]);
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let mut key = SctpKey {
        vtag,
        sport,
        dport,
        dir: dir::ORIGINAL,
        family: 4,
        _pad: [0; 2],
    };
    // The client's packet (to a backend) or the backend's (from a VIP).
    let (a, to_client) = match entry(&key, now) {
        Some((a, _)) => (a, true),
        None => {
            key.dir = dir::REPLY;
            (entry(&key, now).ok_or(Reason::LbNoService)?.0, false)
        }
    };
    // SAFETY: a value of an SCTP map, valid for this program run (read in place).
    let a = unsafe { &*a };
    // The quoted address to restore: the destination (a backend's) or the source (a VIP).
    let q_at = if to_client { 16 } else { 12 };
    let mut old16 = [0u8; 16];
    old16[..4].copy_from_slice(&q[q_at..q_at + 4]);
    let (from, to) = if to_client {
        (&a.addrs, &a.vips)
    } else {
        (&a.vips, &a.addrs)
    };
    let j = path_of(from, a.paths, &old16, false).ok_or(Reason::LbSctpUnknownPath)?;
    let new16 = &to[j & (MAX_SCTP_PATHS - 1)];
    let old_addr = nat::word(&old16, 0);
    let new_addr = nat::word(new16, 0);
    let old_qcheck = u16::from_be_bytes([q[10], q[11]]);
    let new_qcheck = csum::replace32(old_qcheck, old_addr, new_addr);
    q[10..12].copy_from_slice(&new_qcheck.to_be_bytes());
    q[q_at..q_at + 4].copy_from_slice(&new16[..4]);
    let h = cur.get_mut::<[u8; 4]>(icmp_off, Reason::IcmpTruncated)?;
    // SAFETY: the cursor proved the ICMP header's first 4 bytes.
    let h = unsafe { &mut *h };
    let mut c = u16::from_be_bytes([h[2], h[3]]);
    c = csum::replace32(c, old_addr, new_addr);
    c = csum::replace16(c, old_qcheck, new_qcheck);
    h[2..4].copy_from_slice(&c.to_be_bytes());
    // The outer header: from the backend itself -> from the VIP; to the VIP -> to the backend.
    let outer_at = if to_client { 12 } else { 16 };
    let o = cur.get_mut::<[u8; 20]>(ip.off, Reason::Ipv4Truncated)?;
    // SAFETY: the cursor proved the 20 bytes of the outer header.
    let o = unsafe { &mut *o };
    let outer = u32::from_be_bytes([
        o[outer_at],
        o[outer_at + 1],
        o[outer_at + 2],
        o[outer_at + 3],
    ]);
    if !to_client || outer == old_addr {
        let oc = u16::from_be_bytes([o[10], o[11]]);
        o[10..12].copy_from_slice(&csum::replace32(oc, outer, new_addr).to_be_bytes());
        o[outer_at..outer_at + 4].copy_from_slice(&new16[..4]);
    }
    let (mut src, mut dst) = ([0u8; 16], [0u8; 16]);
    src[..4].copy_from_slice(&o[12..16]);
    dst[..4].copy_from_slice(&o[16..20]);
    let l = Lookup {
        v6: false,
        src: &src,
        dst: &dst,
        tos: ip.tos,
        len: ip.len as u16,
    };
    match nat::route(ctx, cur, ip, &l)? {
        Reason::LbRedirect => Ok(Reason::LbIcmpRedirect),
        r => Ok(r),
    }
}

/// `xdp_lb_sctp_icmp6`: an ICMPv6 error (RFC 4443: Destination Unreachable, Packet Too Big,
/// Time Exceeded, Parameter Problem) quoting an association's packet over IPv6, reached by
/// tail call from `xdp_lb_icmp6`. As [`icmp_error`] for IPv4: the quoted packet's backend
/// address becomes its path's VIP again (an error from the backend's side, to the client) or
/// its VIP the path's backend address (from the client's side, to the backend), and the
/// error's own address likewise; the ICMPv6 checksum follows both (its pseudo-header holds
/// the outer addresses). The quoted CRC32c covers no address and stays right. A program of
/// its own: `xdp_lb_sctp6` has no stack left for it.
#[inline(always)]
pub fn icmp6(ctx: &XdpContext) -> Result<Reason, Reason> {
    use bpf_net::csum;
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    let mut addrs = FlowKey::default();
    let ip = ip::parse_ip::<true>(&cur, eth.l3_off, &mut addrs)?;
    if ip.protocol != proto::ICMPV6 || ip.l4_off != ip.off + 40 {
        return Err(Reason::LbNoService);
    }
    let icmp_off = ip.l4_off;
    if !crate::icmp::quoting::<true>(cur.u8_at(icmp_off, Reason::IcmpTruncated)?) {
        return Err(Reason::LbNoService);
    }
    // The quoted IPv6 header and the SCTP common header's ports and tag.
    let q = icmp_off + 8;
    let hdr = *cur.get::<[u8; 8]>(q, Reason::IcmpTruncated)?;
    if hdr[0] >> 4 != 6 || hdr[6] != proto::SCTP {
        return Err(Reason::LbNoService);
    }
    let c = *cur.get::<[u8; 8]>(q + 40, Reason::IcmpTruncated)?;
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let mut key = SctpKey {
        vtag: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
        sport: u16::from_be_bytes([c[0], c[1]]),
        dport: u16::from_be_bytes([c[2], c[3]]),
        dir: dir::ORIGINAL,
        family: 6,
        _pad: [0; 2],
    };
    // The client's packet (to a backend) or the backend's (from a VIP).
    let (a, to_client) = match entry(&key, now) {
        Some((a, _)) => (a, true),
        None => {
            key.dir = dir::REPLY;
            (entry(&key, now).ok_or(Reason::LbNoService)?.0, false)
        }
    };
    // SAFETY: a value of an SCTP map, valid for this program run (read in place).
    let a = unsafe { &*a };
    // The quoted address to restore: the destination (a backend's) or the source (a VIP).
    let q_at = q + if to_client { 24 } else { 8 };
    let old = *cur.get::<[u8; 16]>(q_at, Reason::IcmpTruncated)?;
    let (from, to) = if to_client {
        (&a.addrs, &a.vips)
    } else {
        (&a.vips, &a.addrs)
    };
    let j = path_of(from, a.paths, &old, true).ok_or(Reason::LbSctpUnknownPath)?;
    let new = &to[j & (MAX_SCTP_PATHS - 1)];
    let (s_old, s_new) = (csum::add_bytes(0, &old), csum::add_bytes(0, new));
    let mut d = csum::delta(s_old, s_new);
    // The outer address: from the backend itself -> from the VIP; to the VIP -> to the
    // backend.
    let o_at = ip.off + if to_client { 8 } else { 24 };
    let outer = *cur.get::<[u8; 16]>(o_at, Reason::Ipv6Truncated)?;
    let rewrite_outer = !to_client || outer == old;
    if rewrite_outer {
        d += csum::delta(csum::add_bytes(0, &outer), s_new);
    }
    let h = cur.get_mut::<[u8; 4]>(icmp_off, Reason::IcmpTruncated)?;
    // SAFETY: the cursor proved the ICMPv6 header's first 4 bytes.
    let h = unsafe { &mut *h };
    let ck = csum::apply(u16::from_be_bytes([h[2], h[3]]), d);
    h[2..4].copy_from_slice(&ck.to_be_bytes());
    let p = cur.get_mut::<[u8; 16]>(q_at, Reason::IcmpTruncated)?;
    // SAFETY: the cursor proved the quoted address's 16 bytes.
    unsafe { *p = *new };
    if rewrite_outer {
        let p = cur.get_mut::<[u8; 16]>(o_at, Reason::Ipv6Truncated)?;
        // SAFETY: the cursor proved the outer address's 16 bytes.
        unsafe { *p = *new };
    }
    let src = *cur.get::<[u8; 16]>(ip.off + 8, Reason::Ipv6Truncated)?;
    let dst = *cur.get::<[u8; 16]>(ip.off + 24, Reason::Ipv6Truncated)?;
    let l = Lookup {
        v6: true,
        src: &src,
        dst: &dst,
        tos: ip.tos,
        len: ip.len as u16,
    };
    match nat::route(ctx, &cur, &ip, &l)? {
        Reason::LbRedirect => Ok(Reason::LbIcmpRedirect),
        r => Ok(r),
    }
}
