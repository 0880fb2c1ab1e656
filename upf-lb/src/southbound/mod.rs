//! The southbound side: the eBPF objects, loading them into the kernel, and reading their maps.

pub mod loader;
pub mod objects;

pub use loader::{GtpDatapath, LoadError};
