//! Outer Header Creation and Outer Header Removal.

use crate::{
    error::Error,
    wire::{Ie, Reader, Writer},
};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Outer Header Creation Description bits (octet 5 is the high byte of the 16-bit field).
pub mod creation {
    /// GTP-U/UDP/IPv4.
    pub const GTPU_UDP_IPV4: u16 = 0x0100;
    /// GTP-U/UDP/IPv6.
    pub const GTPU_UDP_IPV6: u16 = 0x0200;
    /// UDP/IPv4.
    pub const UDP_IPV4: u16 = 0x0400;
    /// UDP/IPv6.
    pub const UDP_IPV6: u16 = 0x0800;
    /// IPv4.
    pub const IPV4: u16 = 0x1000;
    /// IPv6.
    pub const IPV6: u16 = 0x2000;
    /// C-TAG.
    pub const C_TAG: u16 = 0x4000;
    /// S-TAG.
    pub const S_TAG: u16 = 0x8000;
    /// N19 Indication (octet 6).
    pub const N19: u16 = 0x0001;
    /// N6 Indication (octet 6).
    pub const N6: u16 = 0x0002;
}

/// Outer Header Creation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OuterHeaderCreation {
    /// The 16-bit Outer Header Creation Description ([`creation`] bits).
    pub description: u16,
    /// TEID (GTP-U descriptions).
    pub teid: Option<u32>,
    /// IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Port Number (UDP descriptions).
    pub port: Option<u16>,
    /// C-TAG (3 octets).
    pub c_tag: Option<[u8; 3]>,
    /// S-TAG (3 octets).
    pub s_tag: Option<[u8; 3]>,
    /// Octets after the fields above (later releases), kept as received.
    pub extra: Vec<u8>,
}

impl Ie for OuterHeaderCreation {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let d = r.u16()?;
        let has = |b: u16| d & b != 0;
        if d & 0xff00 == 0 {
            return Err(Error::invalid(
                "Outer Header Creation Description without a header",
                at,
            ));
        }
        let teid = if has(creation::GTPU_UDP_IPV4 | creation::GTPU_UDP_IPV6) {
            Some(r.u32()?)
        } else {
            None
        };
        let ipv4 = if has(creation::GTPU_UDP_IPV4 | creation::UDP_IPV4 | creation::IPV4) {
            Some(Ipv4Addr::from(r.array::<4>()?))
        } else {
            None
        };
        let ipv6 = if has(creation::GTPU_UDP_IPV6 | creation::UDP_IPV6 | creation::IPV6) {
            Some(Ipv6Addr::from(r.array::<16>()?))
        } else {
            None
        };
        let port = if has(creation::UDP_IPV4 | creation::UDP_IPV6) {
            Some(r.u16()?)
        } else {
            None
        };
        let c_tag = if has(creation::C_TAG) {
            Some(r.array()?)
        } else {
            None
        };
        let s_tag = if has(creation::S_TAG) {
            Some(r.array()?)
        } else {
            None
        };
        Ok(OuterHeaderCreation {
            description: d,
            teid,
            ipv4,
            ipv6,
            port,
            c_tag,
            s_tag,
            extra: r.rest().to_vec(),
        })
    }
    fn value_len(&self) -> usize {
        2 + self.teid.map_or(0, |_| 4)
            + self.ipv4.map_or(0, |_| 4)
            + self.ipv6.map_or(0, |_| 16)
            + self.port.map_or(0, |_| 2)
            + self.c_tag.map_or(0, |_| 3)
            + self.s_tag.map_or(0, |_| 3)
            + self.extra.len()
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u16(self.description);
        if let Some(v) = self.teid {
            w.u32(v);
        }
        if let Some(a) = self.ipv4 {
            w.put(&a.octets());
        }
        if let Some(a) = self.ipv6 {
            w.put(&a.octets());
        }
        if let Some(p) = self.port {
            w.u16(p);
        }
        if let Some(t) = self.c_tag {
            w.put(&t);
        }
        if let Some(t) = self.s_tag {
            w.put(&t);
        }
        w.put(&self.extra);
    }
}

/// Outer Header Removal description values.
pub mod removal {
    /// GTP-U/UDP/IPv4.
    pub const GTPU_UDP_IPV4: u8 = 0;
    /// GTP-U/UDP/IPv6.
    pub const GTPU_UDP_IPV6: u8 = 1;
    /// UDP/IPv4.
    pub const UDP_IPV4: u8 = 2;
    /// UDP/IPv6.
    pub const UDP_IPV6: u8 = 3;
    /// IPv4.
    pub const IPV4: u8 = 4;
    /// IPv6.
    pub const IPV6: u8 = 5;
    /// GTP-U/UDP/IP (either version).
    pub const GTPU_UDP_IP: u8 = 6;
    /// VLAN S-TAG.
    pub const VLAN_S_TAG: u8 = 7;
    /// S-TAG and C-TAG.
    pub const S_TAG_AND_C_TAG: u8 = 8;
}

/// Outer Header Removal, with the optional GTP-U Extension Header Deletion octet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OuterHeaderRemoval {
    /// Outer Header Removal Description ([`removal`]).
    pub description: u8,
    /// GTP-U Extension Header Deletion (bit 1: PDU Session Container to be deleted).
    pub ext_header_deletion: Option<u8>,
}

impl Ie for OuterHeaderRemoval {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let description = r.u8()?;
        let ext_header_deletion = if r.remaining() > 0 {
            Some(r.u8()?)
        } else {
            None
        };
        Ok(OuterHeaderRemoval {
            description,
            ext_header_deletion,
        })
    }
    fn value_len(&self) -> usize {
        1 + usize::from(self.ext_header_deletion.is_some())
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u8(self.description);
        if let Some(e) = self.ext_header_deletion {
            w.u8(e);
        }
    }
}
