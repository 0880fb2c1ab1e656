//! PFCP messages: the header (TS 29.244 7.2.2) and every message the UP function sends or
//! receives, decoded whole and encoded exactly.

pub mod node;
pub mod session;

use crate::{
    error::{BufferTooSmall, Error, ErrorKind},
    wire::{Ie, Writer},
};
pub use node::*;
pub use session::*;

/// The PFCP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Message Type.
    pub message_type: u8,
    /// SEID (S flag set): present on session messages.
    pub seid: Option<u64>,
    /// Sequence Number (24 bits).
    pub sequence: u32,
    /// Message Priority (MP flag set), 4 bits.
    pub priority: Option<u8>,
    /// FO: another message follows in the same datagram.
    pub follow_on: bool,
}

/// Length of the header without and with SEID.
pub const NODE_HEADER_LEN: usize = 8;
/// Length of a session-message header.
pub const SESSION_HEADER_LEN: usize = 16;
/// The PFCP version.
pub const VERSION: u8 = 1;

impl Header {
    /// Header length.
    pub fn len(&self) -> usize {
        if self.seid.is_some() {
            SESSION_HEADER_LEN
        } else {
            NODE_HEADER_LEN
        }
    }

    /// Always false: a header is never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Decodes the header at the start of `buf`. Returns it, its length, and the total message
    /// length (4 + Message Length), checked against `buf`.
    pub fn decode(buf: &[u8]) -> Result<(Header, usize, usize), Error> {
        if buf.len() < 4 {
            return Err(Error::new(
                ErrorKind::ShortMessage {
                    need: 4,
                    have: buf.len(),
                },
                0,
            ));
        }
        let flags = buf[0];
        let version = flags >> 5;
        if version != VERSION {
            return Err(Error::new(ErrorKind::UnsupportedVersion(version), 0));
        }
        let s = flags & 0x01 != 0;
        let mp = flags & 0x02 != 0;
        let follow_on = flags & 0x04 != 0;
        let message_type = buf[1];
        let total = 4 + usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        let hlen = if s {
            SESSION_HEADER_LEN
        } else {
            NODE_HEADER_LEN
        };
        if total < hlen {
            return Err(Error::new(
                ErrorKind::ShortMessage {
                    need: hlen,
                    have: total,
                },
                2,
            ));
        }
        if buf.len() < total {
            return Err(Error::new(
                ErrorKind::ShortMessage {
                    need: total,
                    have: buf.len(),
                },
                0,
            ));
        }
        let (seid, rest) = if s {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[4..12]);
            (Some(u64::from_be_bytes(b)), &buf[12..16])
        } else {
            (None, &buf[4..8])
        };
        let sequence = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]);
        let priority = if mp && s { Some(rest[3] >> 4) } else { None };
        Ok((
            Header {
                message_type,
                seid,
                sequence,
                priority,
                follow_on,
            },
            hlen,
            total,
        ))
    }

    fn encode(&self, body_len: usize, w: &mut Writer<'_>) {
        let mut flags = VERSION << 5;
        if self.seid.is_some() {
            flags |= 0x01;
        }
        if self.priority.is_some() && self.seid.is_some() {
            flags |= 0x02;
        }
        if self.follow_on {
            flags |= 0x04;
        }
        w.u8(flags);
        w.u8(self.message_type);
        w.u16((self.len() - 4 + body_len) as u16);
        if let Some(seid) = self.seid {
            w.u64(seid);
        }
        w.u24(self.sequence & 0x00ff_ffff);
        w.u8(self
            .priority
            .filter(|_| self.seid.is_some())
            .map_or(0, |p| (p & 0x0f) << 4));
    }
}

macro_rules! messages {
    ($( $(#[$m:meta])* $variant:ident / $konst:ident = $code:literal, $seid:literal; )*) => {
        /// Message Type values (TS 29.244 Table 7.3-1).
        pub mod message_type {
            $( $(#[$m])* pub const $konst: u8 = $code; )*
        }

        /// A message body, by type.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant, reason = "messages are decoded one at a time")]
        pub enum Body {
            $( $(#[$m])* $variant($variant), )*
        }

        impl Body {
            /// The Message Type of this body.
            pub fn message_type(&self) -> u8 {
                match self { $( Body::$variant(_) => $code, )* }
            }

            /// Whether messages of this type carry a SEID (S flag).
            pub fn has_seid(message_type: u8) -> Option<bool> {
                match message_type { $( $code => Some($seid), )* _ => None }
            }

            /// The top-level IEs kept as received because this message does not define them
            /// (unknown, vendor-specific, or a surplus instance of a single IE).
            pub fn unknown(&self) -> &[crate::wire::RawIe] {
                match self { $( Body::$variant(b) => &b.unknown, )* }
            }

            fn decode(message_type: u8, value: &[u8], at: usize) -> Result<Body, Error> {
                Ok(match message_type {
                    $( $code => Body::$variant($variant::decode(value, at)?), )*
                    t => return Err(Error::new(ErrorKind::UnknownMessageType(t), 1)),
                })
            }

            fn value_len(&self) -> usize {
                match self { $( Body::$variant(b) => b.value_len(), )* }
            }

            fn encode_value(&self, w: &mut Writer<'_>) {
                match self { $( Body::$variant(b) => b.encode_value(w), )* }
            }
        }
    };
}

messages! {
    /// Heartbeat Request.
    HeartbeatRequest / HEARTBEAT_REQUEST = 1, false;
    /// Heartbeat Response.
    HeartbeatResponse / HEARTBEAT_RESPONSE = 2, false;
    /// PFCP Association Setup Request.
    AssociationSetupRequest / ASSOCIATION_SETUP_REQUEST = 5, false;
    /// PFCP Association Setup Response.
    AssociationSetupResponse / ASSOCIATION_SETUP_RESPONSE = 6, false;
    /// PFCP Association Update Request.
    AssociationUpdateRequest / ASSOCIATION_UPDATE_REQUEST = 7, false;
    /// PFCP Association Update Response.
    AssociationUpdateResponse / ASSOCIATION_UPDATE_RESPONSE = 8, false;
    /// PFCP Association Release Request.
    AssociationReleaseRequest / ASSOCIATION_RELEASE_REQUEST = 9, false;
    /// PFCP Association Release Response.
    AssociationReleaseResponse / ASSOCIATION_RELEASE_RESPONSE = 10, false;
    /// PFCP Version Not Supported Response.
    VersionNotSupportedResponse / VERSION_NOT_SUPPORTED_RESPONSE = 11, false;
    /// PFCP Node Report Request.
    NodeReportRequest / NODE_REPORT_REQUEST = 12, false;
    /// PFCP Node Report Response.
    NodeReportResponse / NODE_REPORT_RESPONSE = 13, false;
    /// PFCP Session Set Deletion Request.
    SessionSetDeletionRequest / SESSION_SET_DELETION_REQUEST = 14, false;
    /// PFCP Session Set Deletion Response.
    SessionSetDeletionResponse / SESSION_SET_DELETION_RESPONSE = 15, false;
    /// PFCP Session Establishment Request.
    SessionEstablishmentRequest / SESSION_ESTABLISHMENT_REQUEST = 50, true;
    /// PFCP Session Establishment Response.
    SessionEstablishmentResponse / SESSION_ESTABLISHMENT_RESPONSE = 51, true;
    /// PFCP Session Modification Request.
    SessionModificationRequest / SESSION_MODIFICATION_REQUEST = 52, true;
    /// PFCP Session Modification Response.
    SessionModificationResponse / SESSION_MODIFICATION_RESPONSE = 53, true;
    /// PFCP Session Deletion Request.
    SessionDeletionRequest / SESSION_DELETION_REQUEST = 54, true;
    /// PFCP Session Deletion Response.
    SessionDeletionResponse / SESSION_DELETION_RESPONSE = 55, true;
    /// PFCP Session Report Request.
    SessionReportRequest / SESSION_REPORT_REQUEST = 56, true;
    /// PFCP Session Report Response.
    SessionReportResponse / SESSION_REPORT_RESPONSE = 57, true;
}

/// A whole PFCP message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The header (its Message Type is the body's).
    pub header: Header,
    /// The body.
    pub body: Body,
}

impl Message {
    /// A message with a header for `body`: SEID present for session messages.
    pub fn new(body: Body, seid: Option<u64>, sequence: u32) -> Message {
        let header = Header {
            message_type: body.message_type(),
            seid,
            sequence,
            priority: None,
            follow_on: false,
        };
        Message { header, body }
    }

    /// Decodes the message at the start of `buf`; returns it and the bytes it used (more may
    /// follow when FO is set). Never panics; every error names the IE and offset.
    pub fn decode(buf: &[u8]) -> Result<(Message, usize), Error> {
        let (header, hlen, total) = Header::decode(buf)?;
        match Body::has_seid(header.message_type) {
            None => {
                return Err(Error::new(
                    ErrorKind::UnknownMessageType(header.message_type),
                    1,
                ));
            }
            Some(s) if s != header.seid.is_some() => {
                return Err(Error::new(ErrorKind::SeidFlagMismatch, 0));
            }
            Some(_) => {}
        }
        let body = Body::decode(header.message_type, &buf[hlen..total], hlen)?;
        Ok((Message { header, body }, total))
    }

    /// Exact encoded length.
    pub fn buffer_len(&self) -> usize {
        self.header.len() + self.body.value_len()
    }

    /// Encodes into `buf`; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let need = self.buffer_len();
        if buf.len() < need {
            return Err(BufferTooSmall {
                need,
                have: buf.len(),
            });
        }
        let mut w = Writer::new(buf);
        let mut h = self.header;
        h.message_type = self.body.message_type();
        h.encode(self.body.value_len(), &mut w);
        self.body.encode_value(&mut w);
        debug_assert!(!w.overrun() && w.position() == need);
        Ok(need)
    }

    /// Encodes into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        let n = self.encode(&mut v).unwrap_or(0);
        v.truncate(n);
        v
    }
}
