//! The maps of bpf-lb (layouts in `bpf_abi::lb`). Sizes are placeholders: the controller sets
//! `max_entries` at load time.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, ProgramArray},
};
use bpf_abi::lb::{Backend, Ct, FlowKey, Service, ServiceKey};

/// Services by VIP, protocol and port.
#[map(name = "LB_SERVICES")]
pub static SERVICES: HashMap<ServiceKey, Service> = HashMap::with_max_entries(1, 0);

/// Backends by ID.
#[map(name = "LB_BACKENDS")]
pub static BACKENDS: Array<Backend> = Array::with_max_entries(1, 0);

/// The Maglev tables of the services, `MAGLEV_SIZE` backend IDs each.
#[map(name = "LB_MAGLEV")]
pub static MAGLEV: Array<u32> = Array::with_max_entries(1, 0);

/// Connection tracking, both directions of each connection.
#[map(name = "LB_CONNTRACK")]
pub static CONNTRACK: LruHashMap<FlowKey, Ct> = LruHashMap::with_max_entries(1, 0);

/// Tail call of `xdp_lb` to `xdp_lb6` (index 0; filled by the loader).
#[map(name = "LB_JUMP")]
pub static LB_JUMP: ProgramArray = ProgramArray::with_max_entries(1, 0);
