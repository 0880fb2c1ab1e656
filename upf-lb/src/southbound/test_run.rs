//! BPF_PROG_TEST_RUN of the XDP programs outside a network: `upf-lb replay` runs captured
//! packets through them, and the buffered-packet release sends held packets through `xdp_n6`.

/// The `struct xdp_md` given as BPF_PROG_TEST_RUN context: the packet's length and the
/// interface it "arrived" on (data, data_meta, rx queue and egress must be 0).
pub fn xdp_md(len: usize, ingress_ifindex: u32) -> [u8; 24] {
    let mut c = [0u8; 24];
    c[4..8].copy_from_slice(&(len as u32).to_ne_bytes());
    c[12..16].copy_from_slice(&ingress_ifindex.to_ne_bytes());
    c
}
