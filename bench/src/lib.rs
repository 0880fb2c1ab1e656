//! upf-lb-bench: the benchmark drivers behind the `upf-lb-bench` binary. Figures are ns per packet
//! (BPF_PROG_TEST_RUN with the kernel's run-time statistics, net of a no-op program), frames per
//! second through veth, and PFCP sessions per second; every run's output is checked.
//!
//! [`gtp`]: the user plane per fixture and with up to a million sessions; [`lb`]: the L4 load
//! balancer and multi-homed SCTP; [`srv6`]: the SRv6 behaviours beside the kernel's seg6local;
//! [`sessions`]: the N4 daemon's session rate.

pub mod gtp;
pub mod lb;
pub mod sessions;
pub mod srv6;
