//! upf-lb: the controller of the eBPF user plane and load balancer.
//!
//! Today: the southbound loader of the eBPF objects, the packet builder and pcap I/O shared by
//! tests, benchmarks and the demo, network-namespace helpers, and the benchmark harness. The
//! PFCP N4 daemon arrives with its issue.

pub mod bench;
pub mod demo;
pub mod fixtures;
pub mod netns;
pub mod packet;
pub mod pcap;
pub mod southbound;
pub mod testbed;
