//! Decoding errors as data, and their PFCP Cause and Offending IE (TS 29.244 7.6, 8.2.1).

use core::fmt;

/// Cause values (TS 29.244 Table 8.2.1-1) the codec and the N4 endpoint use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cause {
    /// Request accepted (success).
    RequestAccepted = 1,
    /// More Usage Report to send.
    MoreUsageReportToSend = 2,
    /// Request rejected (reason not specified).
    RequestRejected = 64,
    /// Session context not found.
    SessionContextNotFound = 65,
    /// Mandatory IE missing.
    MandatoryIeMissing = 66,
    /// Conditional IE missing.
    ConditionalIeMissing = 67,
    /// Invalid length.
    InvalidLength = 68,
    /// Mandatory IE incorrect.
    MandatoryIeIncorrect = 69,
    /// Invalid Forwarding Policy.
    InvalidForwardingPolicy = 70,
    /// Invalid F-TEID allocation option.
    InvalidFTeidAllocationOption = 71,
    /// No established PFCP Association.
    NoEstablishedPfcpAssociation = 72,
    /// Rule creation/modification Failure.
    RuleCreationModificationFailure = 73,
    /// PFCP entity in congestion.
    PfcpEntityInCongestion = 74,
    /// No resources available.
    NoResourcesAvailable = 75,
    /// Service not supported.
    ServiceNotSupported = 76,
    /// System failure.
    SystemFailure = 77,
    /// Redirection Requested.
    RedirectionRequested = 78,
    /// All dynamic addresses are occupied.
    AllDynamicAddressesAreOccupied = 79,
}

impl Cause {
    /// The Cause with this value, if the codec knows it.
    pub fn from_u8(v: u8) -> Option<Cause> {
        use Cause::*;
        Some(match v {
            1 => RequestAccepted,
            2 => MoreUsageReportToSend,
            64 => RequestRejected,
            65 => SessionContextNotFound,
            66 => MandatoryIeMissing,
            67 => ConditionalIeMissing,
            68 => InvalidLength,
            69 => MandatoryIeIncorrect,
            70 => InvalidForwardingPolicy,
            71 => InvalidFTeidAllocationOption,
            72 => NoEstablishedPfcpAssociation,
            73 => RuleCreationModificationFailure,
            74 => PfcpEntityInCongestion,
            75 => NoResourcesAvailable,
            76 => ServiceNotSupported,
            77 => SystemFailure,
            78 => RedirectionRequested,
            79 => AllDynamicAddressesAreOccupied,
            _ => return None,
        })
    }
}

/// What was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The datagram is shorter than the PFCP header, or than the Message Length says, or the
    /// Message Length is shorter than the header.
    ShortMessage {
        /// Bytes needed.
        need: usize,
        /// Bytes there.
        have: usize,
    },
    /// Fewer bytes than an IE header or an IE's declared length needs.
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes there.
        have: usize,
    },
    /// An IE's value is too short (or of an impossible length) for the fields its flags announce.
    InvalidLength {
        /// Bytes needed.
        need: usize,
        /// Bytes there.
        have: usize,
    },
    /// A field holds a value the spec does not allow.
    InvalidValue(&'static str),
    /// A mandatory IE is missing from `parent` (None: from the message).
    MissingMandatory {
        /// The grouped IE type it is missing from, if any.
        parent: Option<u16>,
    },
    /// A conditional IE is missing where the rule named requires it.
    MissingConditional {
        /// The grouped IE type it is missing from, if any.
        parent: Option<u16>,
        /// The condition.
        rule: &'static str,
    },
    /// A rule ID appears twice in one message (two Create PDR with one PDR ID, ...).
    DuplicateId {
        /// The ID.
        id: u32,
    },
    /// The PFCP version is not 1.
    UnsupportedVersion(u8),
    /// A message type this codec does not know.
    UnknownMessageType(u8),
    /// The message has the S flag where it must not, or lacks it where it must.
    SeidFlagMismatch,
}

/// A decoding error: what, in which IE (the innermost), and where (byte offset in the message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What was wrong.
    pub kind: ErrorKind,
    /// The IE type at fault (the missing one, for a missing IE).
    pub ie_type: Option<u16>,
    /// Offset in the message where the fault was found.
    pub offset: usize,
}

impl Error {
    /// An error of `kind` at `offset`, in no IE yet.
    pub fn new(kind: ErrorKind, offset: usize) -> Error {
        Error {
            kind,
            ie_type: None,
            offset,
        }
    }

    /// A value shorter than needed.
    pub fn short(need: usize, have: usize, offset: usize) -> Error {
        Error::new(ErrorKind::InvalidLength { need, have }, offset)
    }

    /// An invalid field value.
    pub fn invalid(what: &'static str, offset: usize) -> Error {
        Error::new(ErrorKind::InvalidValue(what), offset)
    }

    /// Names the IE type the error happened in, unless an inner IE was already named.
    pub fn in_ie(mut self, ie_type: u16) -> Error {
        if self.ie_type.is_none() {
            self.ie_type = Some(ie_type);
        }
        self
    }

    /// The Cause to answer a request that failed with this error (TS 29.244 7.6).
    pub fn cause(&self) -> Cause {
        match self.kind {
            ErrorKind::ShortMessage { .. }
            | ErrorKind::Truncated { .. }
            | ErrorKind::InvalidLength { .. } => Cause::InvalidLength,
            ErrorKind::InvalidValue(_) | ErrorKind::DuplicateId { .. } => {
                Cause::MandatoryIeIncorrect
            }
            ErrorKind::MissingMandatory { .. } => Cause::MandatoryIeMissing,
            ErrorKind::MissingConditional { .. } => Cause::ConditionalIeMissing,
            ErrorKind::UnsupportedVersion(_)
            | ErrorKind::UnknownMessageType(_)
            | ErrorKind::SeidFlagMismatch => Cause::RequestRejected,
        }
    }

    /// The type to put in the Offending IE, when there is one.
    pub fn offending_ie(&self) -> Option<u16> {
        self.ie_type
    }

    /// True when the message header itself is unusable: such a message cannot be answered with
    /// a Cause (the sequence number or message type may be garbage) and is discarded, except
    /// for a version mismatch, which is answered with Version Not Supported Response.
    pub fn is_header_error(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::ShortMessage { .. }
                | ErrorKind::UnsupportedVersion(_)
                | ErrorKind::UnknownMessageType(_)
                | ErrorKind::SeidFlagMismatch
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::ShortMessage { need, have } => {
                write!(f, "message too short: need {need} bytes, have {have}")?
            }
            ErrorKind::Truncated { need, have } => {
                write!(f, "truncated: need {need} bytes, have {have}")?
            }
            ErrorKind::InvalidLength { need, have } => {
                write!(f, "invalid length: need {need} bytes, have {have}")?
            }
            ErrorKind::InvalidValue(w) => write!(f, "invalid value: {w}")?,
            ErrorKind::MissingMandatory { parent: Some(p) } => {
                write!(f, "mandatory IE missing from IE type {p}")?
            }
            ErrorKind::MissingMandatory { parent: None } => write!(f, "mandatory IE missing")?,
            ErrorKind::MissingConditional { rule, .. } => {
                write!(f, "conditional IE missing: {rule}")?
            }
            ErrorKind::DuplicateId { id } => write!(f, "duplicate rule ID {id}")?,
            ErrorKind::UnsupportedVersion(v) => write!(f, "PFCP version {v} not supported")?,
            ErrorKind::UnknownMessageType(t) => write!(f, "unknown message type {t}")?,
            ErrorKind::SeidFlagMismatch => write!(f, "S flag does not match the message type")?,
        }
        if let Some(t) = self.ie_type {
            write!(f, " (IE type {t}")?;
            if let Some(n) = crate::ie::types::name(t) {
                write!(f, " {n}")?;
            }
            write!(f, ")")?;
        }
        write!(f, " at offset {}", self.offset)
    }
}

impl std::error::Error for Error {}

/// Encoding failed: the caller's buffer is shorter than `buffer_len()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes needed.
    pub need: usize,
    /// Bytes given.
    pub have: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buffer of {} bytes, need {}", self.have, self.need)
    }
}

impl std::error::Error for BufferTooSmall {}
