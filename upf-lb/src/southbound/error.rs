//! What the southbound's map writes can fail with.

use aya::maps::MapError;

/// Why installing failed.
#[derive(Debug, thiserror::Error)]
pub enum SouthboundError {
    /// A map has no free slot of the size needed.
    #[error("map {0} is full")]
    Full(&'static str),
    /// A PDR refers to a FAR, QER or URR the session does not define.
    #[error("PDR {pdr_id} refers to {what} {id}, which the session does not define")]
    UnknownRule {
        /// The PDR.
        pdr_id: u16,
        /// "FAR", "QER" or "URR".
        what: &'static str,
        /// The missing ID.
        id: u32,
    },
    /// More PDRs on one key, SDF filters on one PDR, or URRs on one PDR than the datapath holds.
    #[error("{0}")]
    Limit(String),
    /// A map operation failed.
    #[error("map {name}: {source}")]
    Map {
        /// Map.
        name: &'static str,
        /// Cause.
        #[source]
        source: MapError,
    },
}

pub(super) fn map_err(name: &'static str) -> impl FnOnce(MapError) -> SouthboundError {
    move |source| SouthboundError::Map { name, source }
}
