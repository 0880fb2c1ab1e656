//! upf-lb: the controller of the eBPF user plane and load balancer, what runs in production.
//!
//! The PFCP N4 endpoint ([`n4`]) over the session model ([`state`]) and its store ([`store`]);
//! the southbound loader and installer of the eBPF objects ([`southbound`]); the daemon
//! ([`daemon`]) and its configuration ([`config`]); the gRPC API's types ([`northbound`]);
//! logs, metrics and traces ([`telemetry`], [`otlp_spans`]); the load balancer's health checks
//! ([`lb_health`]); what this kernel can run ([`kernel`]); pcap replay ([`replay`]).
//!
//! Not here: the test kit (crate upf-lb-testkit), the benchmarks (upf-lb-bench), the demo
//! (upf-lb-demo). See ARCHITECTURE.md.

pub mod config;
pub mod daemon;
pub mod kernel;
pub mod lb_health;
pub mod n4;
pub mod northbound;
pub mod otlp_spans;
pub mod replay;
pub mod southbound;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod vec_map;
