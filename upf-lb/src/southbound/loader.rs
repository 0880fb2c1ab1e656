//! Loads an eBPF object, has the kernel verify every program in it, and reads its counters.

use crate::southbound::{
    mapped::GtpArrays,
    objects,
    slots::{Allocators, MapSizes},
};
use aya::{
    Ebpf, EbpfLoader,
    maps::{PerCpuArray, ProgramArray},
    programs::{ProgramError, Xdp},
};
use bpf_abi::{
    Counter, Reason,
    counters::{Ingress, qfi_slot},
    names,
};

/// Why loading failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The object could not be parsed or its maps created.
    #[error("loading eBPF object {object}: {source}")]
    Object {
        /// Object name.
        object: &'static str,
        /// Cause.
        #[source]
        source: aya::EbpfError,
    },
    /// A program the object must have is missing or of another type.
    #[error("program {0} missing from the object or not an XDP program")]
    MissingProgram(&'static str),
    /// The kernel refused a program (the verifier log is in the source).
    #[error("kernel refused program {name}: {source}")]
    Verifier {
        /// Program name.
        name: &'static str,
        /// Cause, with the verifier log.
        #[source]
        source: ProgramError,
    },
    /// A pinned map has another size than the configuration asks for.
    #[error(
        "pinned map {name} has {have} entries, the configuration asks for {want}: limits.max_sessions or fteid changed since it was pinned; remove the pins (upf-lb cleanup) to start afresh"
    )]
    PinnedSize {
        /// Map name.
        name: &'static str,
        /// Entries it has.
        have: u32,
        /// Entries the configuration asks for.
        want: u32,
    },
    /// The pinned maps could not be read.
    #[error("reading the pinned maps: {0}")]
    Pinned(String),
    /// A map the object must have is missing or of another type.
    #[error("map {name}: {source}")]
    Map {
        /// Map name.
        name: &'static str,
        /// Cause.
        #[source]
        source: aya::maps::MapError,
    },
}

/// The GTP-U datapath object, loaded and verified, with the allocators of its rule slots: the
/// one owner of its maps.
pub struct GtpDatapath {
    /// The rule and lookup arrays, mapped (dropped before the object that owns their maps).
    pub(super) arrays: GtpArrays,
    ebpf: Ebpf,
    pub(crate) alloc: Allocators,
    /// The keys in the overflow hash maps (`UL_TEID`, `DL_UE4`, `DL_UE6`), so that a key set
    /// in its table looks there only when a copy is there to remove.
    pub(super) overflowed: std::collections::HashSet<crate::southbound::Key>,
    /// The maps were created by this controller (not taken over from pins): a slot its
    /// allocators never handed out holds the kernel's zeros.
    pub(super) fresh_maps: bool,
}

/// Every map of bpf-gtp: what a controller pins to survive its own restart (a test checks
/// the object has no other).
pub const PINNED_MAPS: &[&str] = &[
    names::MAP_COUNTERS,
    names::MAP_QFI_COUNTERS,
    names::MAP_N3_JUMP,
    names::MAP_N6_JUMP,
    names::MAP_GTP_SRV6,
    names::MAP_N3_SCRATCH,
    names::MAP_N6_SCRATCH,
    bpf_abi::gtp::MAP_UL_TEID,
    bpf_abi::gtp::MAP_UL_TEID_DIRECT,
    bpf_abi::gtp::MAP_UL_TEID_TABLE,
    bpf_abi::gtp::MAP_DL_UE4,
    bpf_abi::gtp::MAP_DL_UE6,
    bpf_abi::gtp::MAP_DL_UE4_TABLE,
    bpf_abi::gtp::MAP_DL_UE6_TABLE,
    bpf_abi::gtp::MAP_PDRS,
    bpf_abi::gtp::MAP_SDFS,
    bpf_abi::gtp::MAP_FARS,
    bpf_abi::gtp::MAP_QERS,
    bpf_abi::gtp::MAP_QER_STATE,
    bpf_abi::gtp::MAP_URR_COUNTERS,
    bpf_abi::gtp::MAP_URR_PCPU,
    bpf_abi::gtp::MAP_EVENTS,
    bpf_abi::gtp::MAP_BUFF_LIMIT,
    bpf_abi::gtp::MAP_URR_THRESHOLDS,
    bpf_abi::gtp::MAP_NH_CACHE,
    bpf_abi::gtp::MAP_GTP_CONFIG,
    "REPLY_LIMIT",
    "N6_FLOW",
    "LAUNDER",
];

/// Programs of bpf-gtp, all XDP.
pub const GTP_PROGRAMS: &[&str] = &[
    names::PROG_XDP_N3,
    names::PROG_XDP_N6,
    names::PROG_XDP_N3_GENERAL,
    names::PROG_XDP_N6_GENERAL,
    names::PROG_XDP_N3_GPDU,
    names::PROG_XDP_N6_ENCAP6,
    names::PROG_XDP_N6_ENCAP4,
    names::PROG_XDP_NOOP,
];

impl GtpDatapath {
    /// Loads bpf-gtp with maps for a few thousand sessions (tests, benchmarks, the demo).
    pub fn load() -> Result<Self, LoadError> {
        Self::load_with(&MapSizes::for_sessions(4096))
    }

    /// Loads bpf-gtp with maps of `sizes` and every program in it (the kernel verifier runs
    /// here), and links the tail calls.
    pub fn load_with(sizes: &MapSizes) -> Result<Self, LoadError> {
        Self::load_pinned(sizes, None).map(|(d, _)| d)
    }

    /// As [`GtpDatapath::load_with`], with every map pinned under `pin_dir` (a directory on a
    /// bpf filesystem): maps already pinned there are reused, with their contents, so a
    /// restarted controller finds the datapath's state as the old one left it (and programs
    /// still attached from before keep using the same maps). Returns whether the maps were
    /// new (nothing was pinned).
    pub fn load_pinned(
        sizes: &MapSizes,
        pin_dir: Option<&std::path::Path>,
    ) -> Result<(Self, bool), LoadError> {
        let (mut ebpf, fresh) = Self::open(sizes, pin_dir)?;
        load_programs(&mut ebpf, GTP_PROGRAMS)?;
        // Link the tail calls: (its program array, its index, program).
        for (jump, index, prog) in [
            (
                names::MAP_N3_JUMP,
                names::JUMP_N3_GENERAL,
                names::PROG_XDP_N3_GENERAL,
            ),
            (
                names::MAP_N3_JUMP,
                names::JUMP_N3_GPDU,
                names::PROG_XDP_N3_GPDU,
            ),
            (
                names::MAP_N6_JUMP,
                names::JUMP_N6_GENERAL,
                names::PROG_XDP_N6_GENERAL,
            ),
            (
                names::MAP_N6_JUMP,
                names::JUMP_N6_ENCAP6,
                names::PROG_XDP_N6_ENCAP6,
            ),
            (
                names::MAP_N6_JUMP,
                names::JUMP_N6_ENCAP4,
                names::PROG_XDP_N6_ENCAP4,
            ),
        ] {
            link_tail_call(&mut ebpf, jump, index, prog)?;
        }
        let arrays =
            GtpArrays::new(&ebpf).map_err(|(name, source)| LoadError::Map { name, source })?;
        let mut dp = GtpDatapath {
            arrays,
            ebpf,
            alloc: Allocators::new(sizes),
            overflowed: Default::default(),
            fresh_maps: fresh,
        };
        if !fresh {
            dp.check_sizes(sizes)?;
            dp.overflowed = dp
                .overflow_keys()
                .map_err(|e| LoadError::Pinned(e.to_string()))?
                .into_iter()
                .collect();
        }
        Ok((dp, fresh))
    }

    /// The bpf-gtp object with its maps created (pinned under `pin_dir` when given) and its
    /// programs not yet loaded; whether the maps were new.
    pub(crate) fn open(
        sizes: &MapSizes,
        pin_dir: Option<&std::path::Path>,
    ) -> Result<(Ebpf, bool), LoadError> {
        let masks = super::slots::Allocators::new(sizes);
        let mut loader = EbpfLoader::new();
        for (name, n) in sizes.entries() {
            loader.map_max_entries(name, n);
        }
        for (global, mask) in [
            (
                bpf_abi::gtp::GLOBAL_UL_TEID_BUCKET_MASK,
                &masks.ul_bucket_mask,
            ),
            (
                bpf_abi::gtp::GLOBAL_DL_UE4_BUCKET_MASK,
                &masks.dl4_bucket_mask,
            ),
            (
                bpf_abi::gtp::GLOBAL_DL_UE6_BUCKET_MASK,
                &masks.dl6_bucket_mask,
            ),
        ] {
            loader.override_global(global, mask, true);
        }
        let mut fresh = true;
        let paths: Vec<(&str, std::path::PathBuf)> = pin_dir
            .map(|d| PINNED_MAPS.iter().map(|m| (*m, d.join(m))).collect())
            .unwrap_or_default();
        for (name, path) in &paths {
            if path.exists() {
                fresh = false;
            }
            loader.map_pin_path(name, path.as_path());
        }
        let ebpf = loader
            .load(objects::BPF_GTP)
            .map_err(|source| LoadError::Object {
                object: "bpf-gtp",
                source,
            })?;
        Ok((ebpf, fresh))
    }

    /// Pinned maps are reused as they are: their sizes must be the configured ones.
    fn check_sizes(&self, sizes: &MapSizes) -> Result<(), LoadError> {
        for (name, want) in sizes.entries() {
            let Some(map) = self.ebpf.map(name) else {
                continue;
            };
            let data: &aya::maps::MapData = match map {
                aya::maps::Map::Array(d)
                | aya::maps::Map::HashMap(d)
                | aya::maps::Map::PerCpuHashMap(d)
                | aya::maps::Map::PerCpuArray(d)
                | aya::maps::Map::RingBuf(d) => d,
                _ => continue,
            };
            let have = data
                .info()
                .map(|i| i.max_entries())
                .map_err(|source| LoadError::Map { name, source })?;
            if have != want {
                return Err(LoadError::PinnedSize { name, have, want });
            }
        }
        Ok(())
    }

    pub(crate) fn ebpf(&self) -> &Ebpf {
        &self.ebpf
    }

    pub(crate) fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    /// A loaded XDP program by name.
    pub fn xdp(&self, name: &'static str) -> Result<&Xdp, LoadError> {
        xdp_of(&self.ebpf, name)
    }

    /// A loaded XDP program by name, for attaching.
    pub fn xdp_mut(&mut self, name: &'static str) -> Result<&mut Xdp, LoadError> {
        xdp_of_mut(&mut self.ebpf, name)
    }

    /// Links bpf-srv6's H.M.GTP4.D stage (`xdp_headend_gtp4` of a loaded `Srv6Datapath`) as
    /// where N9 FARs realised as SRv6 (`FAR_SRV6`) go after their GTP-U encapsulation.
    pub fn link_srv6(&mut self, gtp4d: &Xdp) -> Result<(), LoadError> {
        use aya::maps::ProgramArray;
        let err = |source| LoadError::Map {
            name: names::MAP_GTP_SRV6,
            source,
        };
        let fd = gtp4d.fd().map_err(|source| LoadError::Verifier {
            name: "xdp_headend_gtp4",
            source,
        })?;
        let m = self
            .ebpf
            .map_mut(names::MAP_GTP_SRV6)
            .ok_or(aya::maps::MapError::InvalidName {
                name: names::MAP_GTP_SRV6.into(),
            })
            .map_err(err)?;
        let mut a = ProgramArray::try_from(m).map_err(err)?;
        a.set(0, fd, 0).map_err(err)
    }

    /// The outcome counters, summed over CPUs, one per reason in index order.
    pub fn counters(&self) -> Result<Vec<(Reason, Counter)>, LoadError> {
        read_counters(&self.ebpf)
    }

    /// Packets forwarded per ingress interface and QFI, summed over CPUs; only the QoS Flows
    /// that carried something.
    pub fn qfi_counters(&self) -> Result<Vec<(Ingress, u8, Counter)>, LoadError> {
        let name = names::MAP_QFI_COUNTERS;
        let map = self.ebpf.map(name).ok_or(LoadError::Map {
            name,
            source: aya::maps::MapError::InvalidName {
                name: name.to_string(),
            },
        })?;
        let arr: PerCpuArray<_, Counter> =
            PerCpuArray::try_from(map).map_err(|source| LoadError::Map { name, source })?;
        let mut out = Vec::new();
        for ingress in [Ingress::N3, Ingress::N6] {
            for qfi in 0..64u8 {
                let per_cpu = arr
                    .get(&qfi_slot(ingress, qfi), 0)
                    .map_err(|source| LoadError::Map { name, source })?;
                let sum = per_cpu.iter().fold(Counter::default(), |a, c| a.plus(*c));
                if sum.packets != 0 {
                    out.push((ingress, qfi, sum));
                }
            }
        }
        Ok(out)
    }
}

/// The outcome counters (`COUNTERS`) of a loaded object, summed over CPUs, one per reason in
/// index order.
pub(crate) fn read_counters(ebpf: &Ebpf) -> Result<Vec<(Reason, Counter)>, LoadError> {
    let name = names::MAP_COUNTERS;
    let map = ebpf.map(name).ok_or(LoadError::Map {
        name,
        source: aya::maps::MapError::InvalidName {
            name: name.to_string(),
        },
    })?;
    let arr: PerCpuArray<_, Counter> =
        PerCpuArray::try_from(map).map_err(|source| LoadError::Map { name, source })?;
    let mut out = Vec::with_capacity(Reason::ALL.len());
    for &r in Reason::ALL {
        let per_cpu = arr
            .get(&(r as u32), 0)
            .map_err(|source| LoadError::Map { name, source })?;
        let sum = per_cpu.iter().fold(Counter::default(), |a, c| a.plus(*c));
        out.push((r, sum));
    }
    Ok(out)
}

/// The XDP program `name` of a loaded object.
pub(crate) fn xdp_of<'a>(ebpf: &'a Ebpf, name: &'static str) -> Result<&'a Xdp, LoadError> {
    ebpf.program(name)
        .and_then(|p| p.try_into().ok())
        .ok_or(LoadError::MissingProgram(name))
}

/// The XDP program `name` of a loaded object, for loading and attaching.
pub(crate) fn xdp_of_mut<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut Xdp, LoadError> {
    ebpf.program_mut(name)
        .and_then(|p| p.try_into().ok())
        .ok_or(LoadError::MissingProgram(name))
}

/// Loads (the kernel verifier runs here) every XDP program in `names`.
pub(crate) fn load_programs(ebpf: &mut Ebpf, names: &[&'static str]) -> Result<(), LoadError> {
    for &name in names {
        xdp_of_mut(ebpf, name)?
            .load()
            .map_err(|source| LoadError::Verifier { name, source })?;
    }
    Ok(())
}

/// Puts the loaded program `prog` at `index` of the program array `jump` (a tail call).
pub(crate) fn link_tail_call(
    ebpf: &mut Ebpf,
    jump: &'static str,
    index: u32,
    prog: &'static str,
) -> Result<(), LoadError> {
    let fd = {
        let fd = xdp_of(ebpf, prog)?
            .fd()
            .map_err(|source| LoadError::Verifier { name: prog, source })?;
        fd.try_clone().map_err(|e| LoadError::Verifier {
            name: prog,
            source: ProgramError::IOError(e),
        })?
    };
    let map = ebpf.map_mut(jump).ok_or(LoadError::Map {
        name: jump,
        source: aya::maps::MapError::InvalidName {
            name: jump.to_string(),
        },
    })?;
    let mut arr =
        ProgramArray::try_from(map).map_err(|source| LoadError::Map { name: jump, source })?;
    arr.set(index, &fd, 0)
        .map_err(|source| LoadError::Map { name: jump, source })
}
