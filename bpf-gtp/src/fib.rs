//! Forwarding by the kernel's FIB from XDP, with the per-CPU next-hop cache: bpf-net's (the
//! load balancer forwards with it too).

pub use bpf_net::fib::{Fwd, Lookup, forward};
