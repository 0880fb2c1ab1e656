//! Information Elements (TS 29.244 8).

pub mod addr;
pub mod grouped;
pub mod ohc;
pub mod sdf;
pub mod simple;
pub mod types;
pub mod usage;
