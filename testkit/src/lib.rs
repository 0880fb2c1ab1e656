//! upf-lb-testkit: what exercises the product without being part of it. Used by the tests, the
//! benchmarks and the demo; never by the product crate (a test checks it).
//!
//! Network namespaces and veth ([`netns`]); the demo's three-namespace topology with the daemon's
//! or the datapath's programs attached ([`topology`]); a namespace with a known FIB for
//! BPF_PROG_TEST_RUN ([`testbed`]); the fixture tables ([`fixtures`]); an SMF simulator, a PFCP
//! client over real UDP ([`smf`]); a test UE with the kernel's TCP behind a test gNB ([`ue`]);
//! an OTLP receiver for the telemetry tests and benchmarks ([`otlp_receiver`]); the documents'
//! commands and configuration keys, for the tests that hold them to the code ([`docs`]).

pub mod docs;
pub mod fixtures;
pub mod netns;
pub mod otlp_receiver;
pub mod smf;
pub mod testbed;
pub mod topology;
pub mod ue;
