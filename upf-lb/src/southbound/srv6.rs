//! The SRv6 datapath (bpf-srv6): the object loaded and verified, and its local SID table
//! (RFC 8986 3.3) written from typed SIDs.

use super::{
    LoadError,
    loader::{link_tail_call, load_programs, read_counters, xdp_of, xdp_of_mut},
    objects,
};
use aya::{
    Ebpf, EbpfLoader,
    maps::lpm_trie::{Key, LpmTrie},
    programs::Xdp,
};
use bpf_abi::{
    Counter, Reason,
    srv6::{MAP_LOCAL_SIDS, PROG_XDP_SRV6, Sid, behaviour},
};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Programs of bpf-srv6, all XDP.
pub const SRV6_PROGRAMS: &[&str] = &[
    PROG_XDP_SRV6,
    bpf_abi::srv6::PROG_XDP_SRV6_ICMP,
    bpf_abi::srv6::PROG_XDP_SRV6_GTP4E,
    bpf_abi::srv6::PROG_XDP_SRV6_GTP6E,
    bpf_abi::srv6::PROG_XDP_SRV6_GTP6D,
    bpf_abi::srv6::PROG_XDP_SRV6_LIMIT,
    bpf_abi::srv6::PROG_XDP_HEADEND_INSERT,
    bpf_abi::srv6::PROG_XDP_HEADEND,
    bpf_abi::srv6::PROG_XDP_HEADEND_GTP4,
    bpf_abi::names::PROG_XDP_NOOP,
    bpf_abi::srv6::PROG_XDP_SINK,
    bpf_abi::srv6::PROG_XDP_BENCH,
];

/// What a local SID does (RFC 8986 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// End: on to the next segment of the SRH.
    End,
    /// End.X: on to the next segment, sent to `nh`.
    EndX {
        /// The IPv6 next hop (L3 adjacency).
        nh: Ipv6Addr,
    },
    /// End.DX4: decapsulate and send the inner IPv4 packet to `nh`.
    EndDx4 {
        /// The IPv4 next hop (L3 adjacency).
        nh: Ipv4Addr,
    },
    /// End.DX6: decapsulate and send the inner IPv6 packet to `nh`.
    EndDx6 {
        /// The IPv6 next hop (L3 adjacency).
        nh: Ipv6Addr,
    },
    /// End.T: on to the next segment, routed by the kernel routing table `table`.
    EndT {
        /// The table (not 0: that is End).
        table: u32,
    },
    /// End.DT6: decapsulate and route the inner IPv6 packet by `table` (0: the main table,
    /// with the policy rules).
    EndDt6 {
        /// The table.
        table: u32,
    },
    /// End.DT4: decapsulate and route the inner IPv4 packet by `table` (0: the main table).
    EndDt4 {
        /// The table.
        table: u32,
    },
    /// End.DT46: decapsulate and route the inner IPv4 or IPv6 packet by `table` (0: the main
    /// table).
    EndDt46 {
        /// The table.
        table: u32,
    },
    /// End.MAP (RFC 9433 6.2): the destination becomes `mapped`, routed.
    EndMap {
        /// The mapped SID.
        mapped: Ipv6Addr,
    },
    /// End.Limit (RFC 9433 6.8): End within the rate of the packet's rate-limit group; the
    /// group (16 bits) and limit rate (32 bits, kbit/s) in the SID's arguments from byte
    /// `args_at` on (at most 10); `rate_kbps`: the rate when the packet's is 0 (0: none).
    EndLimit {
        /// Bytes of the SID before its arguments.
        args_at: u8,
        /// The SID's own rate, kbit/s.
        rate_kbps: u32,
    },
    /// End.M.GTP6.E (RFC 9433 6.5), the penultimate SID: rebuild GTP-U/UDP/IPv6 to the last
    /// segment from `source` (the SRGW's address), the TEID, QFI and R from the SID's
    /// arguments, which start `args_at` bytes into it (at most 11).
    EndMGtp6E {
        /// Bytes of the SID before its arguments.
        args_at: u8,
        /// The outer source address.
        source: Ipv6Addr,
    },
    /// End.M.GTP4.E (RFC 9433 6.6): rebuild GTP-U/UDP/IPv4 from the SID's arguments, which
    /// start `args_at` bytes into the SID (its locator and function; at most 7), and from the
    /// IPv6 SA, where the IPv4 SA starts `src_at` bytes in (at most 12).
    EndMGtp4E {
        /// Bytes of the SID before its arguments.
        args_at: u8,
        /// Bytes of the IPv6 SA before the IPv4 SA.
        src_at: u8,
    },
}

impl Behaviour {
    fn to_abi(self) -> Sid {
        match self {
            Behaviour::End => Sid {
                behaviour: behaviour::END,
                ..Sid::default()
            },
            Behaviour::EndX { nh } => Sid {
                behaviour: behaviour::END_X,
                nh6: nh.octets(),
                ..Sid::default()
            },
            Behaviour::EndDx4 { nh } => Sid {
                behaviour: behaviour::END_DX4,
                nh4: nh.octets(),
                ..Sid::default()
            },
            Behaviour::EndDx6 { nh } => Sid {
                behaviour: behaviour::END_DX6,
                nh6: nh.octets(),
                ..Sid::default()
            },
            Behaviour::EndT { table } => Sid {
                behaviour: behaviour::END_T,
                table,
                ..Sid::default()
            },
            Behaviour::EndDt6 { table } => Sid {
                behaviour: behaviour::END_DT6,
                table,
                ..Sid::default()
            },
            Behaviour::EndDt4 { table } => Sid {
                behaviour: behaviour::END_DT4,
                table,
                ..Sid::default()
            },
            Behaviour::EndDt46 { table } => Sid {
                behaviour: behaviour::END_DT46,
                table,
                ..Sid::default()
            },
            Behaviour::EndMap { mapped } => Sid {
                behaviour: behaviour::END_MAP,
                nh6: mapped.octets(),
                ..Sid::default()
            },
            Behaviour::EndLimit { args_at, rate_kbps } => Sid {
                behaviour: behaviour::END_LIMIT,
                args: u32::from(args_at.min(10)),
                table: rate_kbps,
                ..Sid::default()
            },
            Behaviour::EndMGtp6E { args_at, source } => Sid {
                behaviour: behaviour::END_M_GTP6_E,
                args: u32::from(args_at.min(11)),
                nh6: source.octets(),
                ..Sid::default()
            },
            Behaviour::EndMGtp4E { args_at, src_at } => Sid {
                behaviour: behaviour::END_M_GTP4_E,
                args: u32::from(args_at & 7) | (u32::from(src_at.min(12)) << 8),
                ..Sid::default()
            },
        }
    }
}

/// Flavours of End, End.X and End.T (RFC 8986 4.16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flavours {
    /// PSP: the SRH popped at the penultimate segment.
    pub psp: bool,
    /// USP: the SRH popped at the last segment, the packet to this node's upper layer.
    pub usp: bool,
    /// USD: at the last segment (or without an SRH), an IPv4 or IPv6 inner packet
    /// decapsulated and routed.
    pub usd: bool,
}

impl Flavours {
    /// `bpf_abi::srv6::flavour` bits.
    pub fn bits(self) -> u32 {
        use bpf_abi::srv6::flavour::{PSP, USD, USP};
        (if self.psp { PSP } else { 0 })
            | (if self.usp { USP } else { 0 })
            | (if self.usd { USD } else { 0 })
    }
}

/// An SR policy of the headend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncapPolicy {
    /// Outer source address.
    pub src: Ipv6Addr,
    /// The segments, in the order the packet visits them (1 to 8).
    pub segments: Vec<Ipv6Addr>,
    /// H.Encaps.Red (the first segment left out of the SRH) instead of H.Encaps.
    pub reduced: bool,
}

/// A headend policy refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Prefix length beyond the address family's.
    #[error("policy for {prefix}/{len}: the prefix length must be 0 to {max}")]
    PrefixLength {
        /// Prefix.
        prefix: std::net::IpAddr,
        /// Length asked for.
        len: u8,
        /// The family's maximum.
        max: u8,
    },
    /// No segment, or more than the datapath holds.
    #[error("policy for {prefix}/{len}: {n} segments, 1 to {max} are possible")]
    Segments {
        /// Prefix.
        prefix: std::net::IpAddr,
        /// Length.
        len: u8,
        /// Segments given.
        n: usize,
        /// Most the datapath holds.
        max: usize,
    },
    /// The table refused the entry.
    #[error("policy for {prefix}/{len}: {source}")]
    Map {
        /// Prefix.
        prefix: std::net::IpAddr,
        /// Length.
        len: u8,
        /// Cause.
        #[source]
        source: aya::maps::MapError,
    },
}

/// A local SID refused.
#[derive(Debug, thiserror::Error)]
pub enum SidError {
    /// The prefix length is above 128.
    #[error("SID {addr}/{len}: the prefix length must be 0 to 128")]
    PrefixLength {
        /// Address.
        addr: Ipv6Addr,
        /// Length asked for.
        len: u8,
    },
    /// End.T without a table.
    #[error("SID {addr}/{len}: End.T needs a table other than 0 (End routes by the main one)")]
    NoTable {
        /// Address.
        addr: Ipv6Addr,
        /// Length.
        len: u8,
    },
    /// A flavour the behaviour does not take.
    #[error("SID {addr}/{len}: PSP, USP and USD are flavours of End, End.X and End.T only")]
    Flavour {
        /// Address.
        addr: Ipv6Addr,
        /// Length.
        len: u8,
    },
    /// The table refused the entry (full, ...).
    #[error("SID {addr}/{len}: {source}")]
    Map {
        /// Address.
        addr: Ipv6Addr,
        /// Length.
        len: u8,
        /// Cause.
        #[source]
        source: aya::maps::MapError,
    },
}

/// The loaded bpf-srv6 object.
pub struct Srv6Datapath {
    ebpf: Ebpf,
}

impl Srv6Datapath {
    /// The bpf-srv6 object with its maps created for `max_sids` and its programs not yet
    /// loaded.
    pub(crate) fn open(max_sids: u32) -> Result<aya::Ebpf, LoadError> {
        EbpfLoader::new()
            .map_max_entries(MAP_LOCAL_SIDS, max_sids.max(1))
            .map_max_entries(bpf_abi::srv6::MAP_ENCAP4, max_sids.max(1))
            .map_max_entries(bpf_abi::srv6::MAP_ENCAP6, max_sids.max(1))
            .map_max_entries(bpf_abi::srv6::MAP_GTP6D, max_sids.max(1))
            .map_max_entries(bpf_abi::srv6::MAP_SRV6_LIMIT, 65536)
            .load(objects::BPF_SRV6)
            .map_err(|source| LoadError::Object {
                object: "bpf-srv6",
                source,
            })
    }

    /// Loads bpf-srv6 with room for `max_sids` local SIDs (and as many headend policies per
    /// family) and verifies its programs.
    pub fn load(max_sids: u32) -> Result<Self, LoadError> {
        let mut ebpf = Self::open(max_sids)?;
        load_programs(&mut ebpf, SRV6_PROGRAMS)?;
        let mut dp = Srv6Datapath { ebpf };
        use bpf_abi::srv6::{
            MAP_HEADEND_JUMP, MAP_SRV6_JUMP, PROG_XDP_HEADEND_GTP4, PROG_XDP_HEADEND_INSERT,
            PROG_XDP_SRV6_GTP4E, PROG_XDP_SRV6_GTP6D, PROG_XDP_SRV6_GTP6E, PROG_XDP_SRV6_ICMP,
            PROG_XDP_SRV6_LIMIT,
        };
        // The stages the programs tail-call, by program array and index.
        for (jump, index, prog) in [
            (MAP_SRV6_JUMP, 0, PROG_XDP_SRV6_ICMP),
            (MAP_SRV6_JUMP, 1, PROG_XDP_SRV6_GTP4E),
            (MAP_SRV6_JUMP, 2, PROG_XDP_SRV6_GTP6E),
            (MAP_SRV6_JUMP, 3, PROG_XDP_SRV6_GTP6D),
            (MAP_SRV6_JUMP, 4, PROG_XDP_SRV6_LIMIT),
            (MAP_HEADEND_JUMP, 0, PROG_XDP_HEADEND_GTP4),
            (MAP_HEADEND_JUMP, 1, PROG_XDP_HEADEND_INSERT),
        ] {
            dp.link(jump, index, prog)?;
        }
        Ok(dp)
    }

    /// Puts `prog` at `index` of the program array `jump` (a tail call).
    fn link(
        &mut self,
        jump: &'static str,
        index: u32,
        prog: &'static str,
    ) -> Result<(), LoadError> {
        link_tail_call(&mut self.ebpf, jump, index, prog)
    }

    fn sids(
        &mut self,
    ) -> Result<LpmTrie<&mut aya::maps::MapData, [u8; 16], Sid>, aya::maps::MapError> {
        let map = self
            .ebpf
            .map_mut(MAP_LOCAL_SIDS)
            .ok_or(aya::maps::MapError::InvalidName {
                name: MAP_LOCAL_SIDS.into(),
            })?;
        LpmTrie::try_from(map)
    }

    /// Binds `addr/len` to `b` (replacing what it was bound to).
    pub fn add_sid(&mut self, addr: Ipv6Addr, len: u8, b: Behaviour) -> Result<(), SidError> {
        self.add_sid_flavours(addr, len, b, Flavours::default())
    }

    /// Encapsulates packets to `prefix/len` by `p` (replacing the policy it had).
    pub fn add_policy(
        &mut self,
        prefix: std::net::IpAddr,
        len: u8,
        p: &EncapPolicy,
    ) -> Result<(), PolicyError> {
        self.add_policy_mode(prefix, len, p, bpf_abi::srv6::policy_mode::ENCAPS)
    }

    /// Inserts an SRH into IPv6 packets to `prefix/len` by `p` (H.Insert, or H.Insert.Red
    /// when `p.reduced`; `p.src` unused: the packet keeps its source), replacing the policy
    /// the prefix had. IPv6 prefixes only.
    pub fn add_insert_policy(
        &mut self,
        prefix: Ipv6Addr,
        len: u8,
        p: &EncapPolicy,
    ) -> Result<(), PolicyError> {
        self.add_policy_mode(prefix.into(), len, p, bpf_abi::srv6::policy_mode::INSERT)
    }

    fn add_policy_mode(
        &mut self,
        prefix: std::net::IpAddr,
        len: u8,
        p: &EncapPolicy,
        mode: u8,
    ) -> Result<(), PolicyError> {
        use bpf_abi::srv6::{MAP_ENCAP4, MAP_ENCAP6, MAX_SEGMENTS, Policy};
        let max = if prefix.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(PolicyError::PrefixLength { prefix, len, max });
        }
        let n = p.segments.len();
        if n == 0 || n > MAX_SEGMENTS {
            return Err(PolicyError::Segments {
                prefix,
                len,
                n,
                max: MAX_SEGMENTS,
            });
        }
        let mut v = Policy {
            src: p.src.octets(),
            segments: [[0; 16]; MAX_SEGMENTS],
            count: n as u8,
            reduced: u8::from(p.reduced),
            mode,
            args_off: 0,
            src_off: 0,
            _pad: [0; 3],
        };
        for (d, s) in v.segments.iter_mut().zip(&p.segments) {
            *d = s.octets();
        }
        let map_err = |source| PolicyError::Map {
            prefix,
            len,
            source,
        };
        let name = if prefix.is_ipv4() {
            MAP_ENCAP4
        } else {
            MAP_ENCAP6
        };
        let map = self
            .ebpf
            .map_mut(name)
            .ok_or(aya::maps::MapError::InvalidName { name: name.into() })
            .map_err(map_err)?;
        match prefix {
            std::net::IpAddr::V4(a) => {
                let mut t: LpmTrie<_, [u8; 4], Policy> = LpmTrie::try_from(map).map_err(map_err)?;
                t.insert(&Key::new(u32::from(len), a.octets()), v, 0)
                    .map_err(map_err)
            }
            std::net::IpAddr::V6(a) => {
                let mut t: LpmTrie<_, [u8; 16], Policy> =
                    LpmTrie::try_from(map).map_err(map_err)?;
                t.insert(&Key::new(u32::from(len), a.octets()), v, 0)
                    .map_err(map_err)
            }
        }
    }

    /// H.M.GTP4.D (RFC 9433 6.7) for GTP-U G-PDUs to an IPv4 address in `prefix/len`: the
    /// T-PDU goes on in SRv6 from `src` (the IPv4 SA written `src_at` bytes in) along
    /// `segments`, whose last, B, gets the arguments (IPv4 DA, QFI/R/U, TEID) `args_at` bytes
    /// in (its locator and function; at most 7 bytes, so that the 9 bytes of arguments fit).
    pub fn add_gtp4d_policy(
        &mut self,
        prefix: std::net::Ipv4Addr,
        len: u8,
        src: Ipv6Addr,
        src_at: u8,
        segments: &[Ipv6Addr],
        args_at: u8,
    ) -> Result<(), PolicyError> {
        use bpf_abi::srv6::{GTP4_ARGS_LEN, MAP_ENCAP4, MAX_SEGMENTS, Policy, policy_mode};
        let at = std::net::IpAddr::V4(prefix);
        if len > 32 {
            return Err(PolicyError::PrefixLength {
                prefix: at,
                len,
                max: 32,
            });
        }
        let n = segments.len();
        if n == 0 || n > MAX_SEGMENTS || usize::from(args_at) + GTP4_ARGS_LEN > 16 || src_at > 12 {
            return Err(PolicyError::Segments {
                prefix: at,
                len,
                n,
                max: MAX_SEGMENTS,
            });
        }
        let mut v = Policy {
            src: src.octets(),
            segments: [[0; 16]; MAX_SEGMENTS],
            count: n as u8,
            reduced: 1,
            mode: policy_mode::GTP4_D,
            args_off: args_at,
            src_off: src_at,
            _pad: [0; 3],
        };
        for (d, s) in v.segments.iter_mut().zip(segments) {
            *d = s.octets();
        }
        let map_err = |source| PolicyError::Map {
            prefix: at,
            len,
            source,
        };
        let map = self
            .ebpf
            .map_mut(MAP_ENCAP4)
            .ok_or(aya::maps::MapError::InvalidName {
                name: MAP_ENCAP4.into(),
            })
            .map_err(map_err)?;
        let mut t: LpmTrie<_, [u8; 4], Policy> = LpmTrie::try_from(map).map_err(map_err)?;
        t.insert(&Key::new(u32::from(len), prefix.octets()), v, 0)
            .map_err(map_err)
    }

    /// Binds `addr/len` to End.M.GTP6.D (RFC 9433 6.3) with its SR policy: a GTP-U G-PDU over
    /// IPv6 to the SID leaves as its T-PDU in SRv6 from `src` (A) along `segments` (H.Encaps,
    /// or H.Encaps.Red when `reduced`), the G-PDU's QFI, RQI and TEID (Args.Mob.Session) in the
    /// last segment from its byte `args_at` on (at most 11).
    pub fn add_sid_gtp6d(
        &mut self,
        addr: Ipv6Addr,
        len: u8,
        policy: &EncapPolicy,
        args_at: u8,
    ) -> Result<(), PolicyError> {
        self.add_sid_gtp6d_mode(addr, len, policy, args_at, false)
    }

    /// As [`Srv6Datapath::add_sid_gtp6d`], End.M.GTP6.D.Di (RFC 9433 6.4, drop-in mode): the
    /// G-PDU's own destination goes on as the last segment, Args.Mob.Session into the policy's
    /// last segment (an End.M.GTP6.E SID); at most 7 segments (the destination makes 8).
    pub fn add_sid_gtp6d_di(
        &mut self,
        addr: Ipv6Addr,
        len: u8,
        policy: &EncapPolicy,
        args_at: u8,
    ) -> Result<(), PolicyError> {
        self.add_sid_gtp6d_mode(addr, len, policy, args_at, true)
    }

    fn add_sid_gtp6d_mode(
        &mut self,
        addr: Ipv6Addr,
        len: u8,
        policy: &EncapPolicy,
        args_at: u8,
        di: bool,
    ) -> Result<(), PolicyError> {
        use bpf_abi::srv6::{MAP_GTP6D, MAX_SEGMENTS, Policy, policy_mode};
        let at = std::net::IpAddr::V6(addr);
        if len > 128 {
            return Err(PolicyError::PrefixLength {
                prefix: at,
                len,
                max: 128,
            });
        }
        let n = policy.segments.len();
        let max = if di { MAX_SEGMENTS - 1 } else { MAX_SEGMENTS };
        if n == 0 || n > max || args_at > 11 {
            return Err(PolicyError::Segments {
                prefix: at,
                len,
                n,
                max,
            });
        }
        let mut v = Policy {
            src: policy.src.octets(),
            segments: [[0; 16]; MAX_SEGMENTS],
            count: n as u8,
            reduced: u8::from(policy.reduced && !di),
            mode: if di {
                policy_mode::GTP6_D_DI
            } else {
                policy_mode::GTP6_D
            },
            args_off: args_at,
            src_off: 0,
            _pad: [0; 3],
        };
        for (d, s) in v.segments.iter_mut().zip(&policy.segments) {
            *d = s.octets();
        }
        let map_err = |source| PolicyError::Map {
            prefix: at,
            len,
            source,
        };
        let map = self
            .ebpf
            .map_mut(MAP_GTP6D)
            .ok_or(aya::maps::MapError::InvalidName {
                name: MAP_GTP6D.into(),
            })
            .map_err(map_err)?;
        let mut t: LpmTrie<_, [u8; 16], Policy> = LpmTrie::try_from(map).map_err(map_err)?;
        t.insert(&Key::new(u32::from(len), addr.octets()), v, 0)
            .map_err(map_err)?;
        let sid = Sid {
            behaviour: behaviour::END_M_GTP6_D,
            ..Sid::default()
        };
        let mut t = self.sids().map_err(map_err)?;
        t.insert(&Key::new(u32::from(len), addr.octets()), sid, 0)
            .map_err(map_err)
    }

    /// As [`Srv6Datapath::add_sid`], with the PSP flavour (RFC 8986 4.16.1: the SRH is popped
    /// at the penultimate segment) when `psp`; End, End.X and End.T only.
    pub fn add_sid_psp(
        &mut self,
        addr: Ipv6Addr,
        len: u8,
        b: Behaviour,
        psp: bool,
    ) -> Result<(), SidError> {
        let f = Flavours {
            psp,
            ..Flavours::default()
        };
        self.add_sid_flavours(addr, len, b, f)
    }

    /// As [`Srv6Datapath::add_sid`], with the flavours `f` (RFC 8986 4.16): End, End.X and
    /// End.T only.
    pub fn add_sid_flavours(
        &mut self,
        addr: Ipv6Addr,
        len: u8,
        b: Behaviour,
        f: Flavours,
    ) -> Result<(), SidError> {
        if len > 128 {
            return Err(SidError::PrefixLength { addr, len });
        }
        if f != Flavours::default()
            && !matches!(
                b,
                Behaviour::End | Behaviour::EndX { .. } | Behaviour::EndT { .. }
            )
        {
            return Err(SidError::Flavour { addr, len });
        }
        if b == (Behaviour::EndT { table: 0 }) {
            return Err(SidError::NoTable { addr, len });
        }
        let mut v = b.to_abi();
        v.flavours = f.bits();
        let map_err = |source| SidError::Map { addr, len, source };
        let mut t = self.sids().map_err(map_err)?;
        t.insert(&Key::new(u32::from(len), addr.octets()), v, 0)
            .map_err(map_err)
    }

    /// Unbinds `addr/len`.
    pub fn remove_sid(&mut self, addr: Ipv6Addr, len: u8) -> Result<(), SidError> {
        if len > 128 {
            return Err(SidError::PrefixLength { addr, len });
        }
        let map_err = |source| SidError::Map { addr, len, source };
        let mut t = self.sids().map_err(map_err)?;
        t.remove(&Key::new(u32::from(len), addr.octets()))
            .map_err(map_err)
    }

    /// A loaded XDP program by name.
    pub fn xdp(&self, name: &'static str) -> Result<&Xdp, LoadError> {
        xdp_of(&self.ebpf, name)
    }

    /// A loaded XDP program by name, for attaching.
    pub fn xdp_mut(&mut self, name: &'static str) -> Result<&mut Xdp, LoadError> {
        xdp_of_mut(&mut self.ebpf, name)
    }

    /// Prepares the live-frames benchmark: `xdp_bench` will restore the first bytes of `frame`
    /// and tail-call `target`.
    pub fn bench_target(&mut self, frame: &[u8], target: &'static str) -> Result<(), LoadError> {
        self.bench_frame(frame, 0, 0)?;
        self.link(bpf_abi::srv6::MAP_BENCH_JUMP, 0, target)
    }

    /// As [`Srv6Datapath::bench_target`], the program under test another object's
    /// (`prog`, e.g. the load balancer's `xdp_lb`), `flows` flows cycled through the 16-bit
    /// port at `port_at` of `frame` (see `bpf_abi::srv6::BenchFrame`).
    pub fn bench_other(
        &mut self,
        frame: &[u8],
        flows: u32,
        port_at: u32,
        prog: &aya::programs::Xdp,
    ) -> Result<(), LoadError> {
        use aya::maps::ProgramArray;
        use bpf_abi::srv6::MAP_BENCH_JUMP;
        self.bench_frame(frame, flows, port_at)?;
        let fd = prog.fd().map_err(|source| LoadError::Verifier {
            name: "bench target",
            source,
        })?;
        let m = self.ebpf.map_mut(MAP_BENCH_JUMP).ok_or(LoadError::Map {
            name: MAP_BENCH_JUMP,
            source: aya::maps::MapError::InvalidName {
                name: MAP_BENCH_JUMP.into(),
            },
        })?;
        let mut a = ProgramArray::try_from(m).map_err(|source| LoadError::Map {
            name: MAP_BENCH_JUMP,
            source,
        })?;
        a.set(0, fd, 0).map_err(|source| LoadError::Map {
            name: MAP_BENCH_JUMP,
            source,
        })
    }

    /// Writes the frame `xdp_bench` restores, `flows` flows cycled through the 16-bit port at
    /// `port_at` (see `bpf_abi::srv6::BenchFrame`).
    pub fn bench_frame(&mut self, frame: &[u8], flows: u32, port_at: u32) -> Result<(), LoadError> {
        use aya::maps::Array;
        use bpf_abi::srv6::{BENCH_RESTORE_LEN, BenchFrame, MAP_BENCH_FRAME};
        let map_err = |name: &'static str| move |source| LoadError::Map { name, source };
        let mut f = BenchFrame {
            bytes: [0; BENCH_RESTORE_LEN],
            flows,
            port_at,
        };
        let n = frame.len().min(BENCH_RESTORE_LEN);
        f.bytes[..n].copy_from_slice(&frame[..n]);
        let missing = |name: &'static str| LoadError::Map {
            name,
            source: aya::maps::MapError::InvalidName { name: name.into() },
        };
        let m = self
            .ebpf
            .map_mut(MAP_BENCH_FRAME)
            .ok_or(missing(MAP_BENCH_FRAME))?;
        let mut a: Array<_, BenchFrame> = Array::try_from(m).map_err(map_err(MAP_BENCH_FRAME))?;
        a.set(0, f, 0).map_err(map_err(MAP_BENCH_FRAME))
    }

    /// The outcome counters, summed over CPUs, one per reason in index order.
    pub fn counters(&self) -> Result<Vec<(Reason, Counter)>, LoadError> {
        read_counters(&self.ebpf)
    }
}
