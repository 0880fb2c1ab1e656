//! A TS 29.244 (PFCP) codec for the user-plane side.
//!
//! Contract: no I/O, no unsafe; decoding never panics and allocates only in proportion to its
//! input. Two layers as in smoltcp: a zero-copy TLV layer ([`wire::IeIter`], [`wire::IeRef`])
//! and owned structs that `decode` from a value, know their exact `value_len`/`buffer_len`,
//! and `encode` into the caller's buffer. Errors are data: which IE (the innermost), at which
//! offset, what was wrong, and the PFCP Cause and Offending IE that answer it
//! ([`Error::cause`], [`Error::offending_ie`]). Unknown and vendor-specific IEs are kept and
//! re-emitted. [`validate`] adds the message-level rules the UP function relies on.
#![forbid(unsafe_code)]

pub mod error;
pub mod ie;
pub mod message;
pub mod validate;
pub mod wire;

pub use error::{BufferTooSmall, Cause, Error, ErrorKind};
pub use message::{Body, Header, Message, message_type};
