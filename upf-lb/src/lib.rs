//! upf-lb: the controller of the eBPF user plane and load balancer.
//!
//! The PFCP N4 endpoint ([`n4`]) over the session model ([`state`]) and the southbound loader
//! and installer of the eBPF objects ([`southbound`]); the daemon ([`daemon`]) and its
//! configuration ([`config`]); pcap replay ([`replay`]); an SMF-side PFCP client ([`smf`]) for the
//! demo and tests; the packet builder and pcap I/O shared by tests, benchmarks and the demo;
//! network-namespace helpers; the benchmark harness.

pub mod bench;
pub mod bench_lb;
pub mod bench_n4;
pub mod bench_srv6;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod fixtures;
pub mod kernel;
pub mod lb_health;
pub mod n4;
pub mod netns;
pub mod northbound;
pub mod otlp_receiver;
pub mod otlp_spans;
pub mod packet;
pub mod pcap;
pub mod replay;
pub mod smf;
pub mod southbound;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod testbed;
pub mod ue;
