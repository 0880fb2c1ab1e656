//! The eBPF objects, built by build.rs (aya-build) and embedded in the binary.

/// The bpf-gtp object: XDP programs of the GTP-U user plane.
pub static BPF_GTP: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/bpf-gtp"));
/// The SRv6 endpoint object (bpf-srv6).
pub static BPF_SRV6: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/bpf-srv6"));
/// The L4 load balancer object (bpf-lb).
pub static BPF_LB: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/bpf-lb"));
