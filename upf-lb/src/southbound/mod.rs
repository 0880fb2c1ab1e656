//! The southbound side: the eBPF objects, loading them into the kernel, and reading their maps.

pub mod error;
pub mod gtp;
pub mod lb;
pub mod loader;
pub mod mapped;
pub mod objects;
pub mod signalling;
pub mod slots;
pub mod srv6;
pub mod test_run;
pub mod verifier;

pub use error::SouthboundError;
pub use gtp::{Installed, InstalledParts, Key, PdrSpec, SessionSpec};
pub use lb::LbDatapath;
pub use loader::{GtpDatapath, LoadError};
pub use slots::MapSizes;
pub use srv6::Srv6Datapath;

/// The free entries a CPU may keep to itself in an LRU hash map (`LOCAL_FREE_TARGET` in the
/// kernel's kernel/bpf/bpf_lru_list.c): when its list runs dry it takes this many from the
/// shared list and, before Linux 6.16, evicts live entries to make up any shortfall, even
/// though free ones sit in other CPUs' lists.
const LRU_LOCAL_FREE: u32 = 128;

/// The size of an LRU hash map that must hold `live` entries without evicting one: `live`, and
/// room for every possible CPU's free list and the shared list's refill
/// ([`LRU_LOCAL_FREE`] each). A map sized `live` alone evicts early on a machine with
/// several CPUs: on Linux 6.1 a 72-entry map lost an entry inserted from another CPU at once.
pub fn lru_entries(live: u32) -> u32 {
    // Possible CPUs; unknown (no /sys): as many as a large server has.
    let cpus = aya::util::nr_cpus().map_or(256, |n| n as u32);
    live.saturating_add(cpus.saturating_add(1).saturating_mul(LRU_LOCAL_FREE))
}
