//! The southbound side: the eBPF objects, loading them into the kernel, and reading their maps.

pub mod gtp;
pub mod lb;
pub mod loader;
pub mod objects;
pub mod signalling;
pub mod srv6;
pub mod verifier;

pub use gtp::{Installed, InstalledParts, Key, MapSizes, PdrSpec, SessionSpec, SouthboundError};
pub use lb::LbDatapath;
pub use loader::{GtpDatapath, LoadError};
pub use srv6::Srv6Datapath;
