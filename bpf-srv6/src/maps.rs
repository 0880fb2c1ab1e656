//! The maps of bpf-srv6 (layouts in `bpf_abi::srv6`). The size is a placeholder: the
//! controller sets `max_entries` at load time.

use aya_ebpf::{macros::map, maps::LpmTrie};
use bpf_abi::srv6::Sid;

/// The local SID table: SID prefix to behaviour.
#[map(name = "LOCAL_SIDS")]
pub static LOCAL_SIDS: LpmTrie<[u8; 16], Sid> = LpmTrie::with_max_entries(1, 0);
