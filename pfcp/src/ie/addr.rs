//! IEs that carry node and tunnel addresses: Node ID, F-SEID, F-TEID, UE IP Address, User Plane
//! IP Resource Information, Remote GTP-U Peer, FQ-CSID.

use crate::{
    error::Error,
    wire::{Ie, Reader, Writer},
};
use std::net::{Ipv4Addr, Ipv6Addr};

fn v4(r: &mut Reader<'_>) -> Result<Ipv4Addr, Error> {
    Ok(Ipv4Addr::from(r.array::<4>()?))
}

fn v6(r: &mut Reader<'_>) -> Result<Ipv6Addr, Error> {
    Ok(Ipv6Addr::from(r.array::<16>()?))
}

/// Node ID: an IPv4 or IPv6 address or an FQDN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeId {
    /// Type 0.
    Ipv4(Ipv4Addr),
    /// Type 1.
    Ipv6(Ipv6Addr),
    /// Type 2: an FQDN, encoded as DNS labels (RFC 1035 3.1) without the root label.
    Fqdn(String),
}

/// Longest FQDN (RFC 1035 2.3.4).
const MAX_FQDN: usize = 255;

/// Decodes DNS labels into a dotted name: each label 1 to 63 letters, digits or hyphens.
pub fn decode_labels(b: &[u8], at: usize) -> Result<String, Error> {
    if b.is_empty() || b.len() > MAX_FQDN {
        return Err(Error::invalid("FQDN length outside 1..=255", at));
    }
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let n = usize::from(b[i]);
        if n == 0 {
            // A root label is tolerated only at the very end.
            if i + 1 == b.len() {
                break;
            }
            return Err(Error::invalid("empty DNS label inside an FQDN", at + i));
        }
        if n > 63 || i + 1 + n > b.len() {
            return Err(Error::invalid(
                "DNS label length beyond 63 or beyond the IE",
                at + i,
            ));
        }
        let label = &b[i + 1..i + 1 + n];
        if !label
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        {
            return Err(Error::invalid(
                "FQDN label with a character outside LDH",
                at + i + 1,
            ));
        }
        if !out.is_empty() {
            out.push('.');
        }
        // The check above made every byte ASCII.
        out.extend(label.iter().map(|c| char::from(*c)));
        i += 1 + n;
    }
    Ok(out)
}

/// Encodes a dotted name as DNS labels (no root label).
pub fn encode_labels(name: &str, w: &mut Writer<'_>) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        w.u8(label.len().min(63) as u8);
        w.put(&label.as_bytes()[..label.len().min(63)]);
    }
}

/// Encoded length of [`encode_labels`].
pub fn labels_len(name: &str) -> usize {
    name.split('.')
        .filter(|l| !l.is_empty())
        .map(|l| 1 + l.len().min(63))
        .sum()
}

impl Ie for NodeId {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        match r.u8()? & 0x0f {
            0 => Ok(NodeId::Ipv4(v4(&mut r)?)),
            1 => Ok(NodeId::Ipv6(v6(&mut r)?)),
            2 => {
                let at = r.offset();
                Ok(NodeId::Fqdn(decode_labels(r.rest(), at)?))
            }
            _ => Err(Error::invalid("Node ID Type not 0, 1 or 2", at)),
        }
    }
    fn value_len(&self) -> usize {
        1 + match self {
            NodeId::Ipv4(_) => 4,
            NodeId::Ipv6(_) => 16,
            NodeId::Fqdn(n) => labels_len(n),
        }
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        match self {
            NodeId::Ipv4(a) => {
                w.u8(0);
                w.put(&a.octets());
            }
            NodeId::Ipv6(a) => {
                w.u8(1);
                w.put(&a.octets());
            }
            NodeId::Fqdn(n) => {
                w.u8(2);
                encode_labels(n, w);
            }
        }
    }
}

/// F-SEID: a SEID and the address(es) of the node that allocated it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FSeid {
    /// Session Endpoint Identifier.
    pub seid: u64,
    /// IPv4 address (V4).
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address (V6).
    pub ipv6: Option<Ipv6Addr>,
}

impl Ie for FSeid {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let flags = r.u8()?;
        let seid = r.u64()?;
        let ipv4 = if flags & 0x02 != 0 {
            Some(v4(&mut r)?)
        } else {
            None
        };
        let ipv6 = if flags & 0x01 != 0 {
            Some(v6(&mut r)?)
        } else {
            None
        };
        if ipv4.is_none() && ipv6.is_none() {
            return Err(Error::invalid("F-SEID with neither V4 nor V6", at));
        }
        Ok(FSeid { seid, ipv4, ipv6 })
    }
    fn value_len(&self) -> usize {
        9 + self.ipv4.map_or(0, |_| 4) + self.ipv6.map_or(0, |_| 16)
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u8(u8::from(self.ipv4.is_some()) << 1 | u8::from(self.ipv6.is_some()));
        w.u64(self.seid);
        if let Some(a) = self.ipv4 {
            w.put(&a.octets());
        }
        if let Some(a) = self.ipv6 {
            w.put(&a.octets());
        }
    }
}

/// F-TEID: a TEID with its address(es), or a request that the UP function choose one (CH).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FTeid {
    /// A TEID and the address(es) it is reached at.
    Assigned {
        /// TEID.
        teid: u32,
        /// IPv4 address (V4).
        ipv4: Option<Ipv4Addr>,
        /// IPv6 address (V6).
        ipv6: Option<Ipv6Addr>,
    },
    /// CHOOSE: the UP function allocates the TEID and addresses of the families flagged.
    Choose {
        /// Choose an IPv4 address (V4).
        v4: bool,
        /// Choose an IPv6 address (V6).
        v6: bool,
        /// CHOOSE ID (CHID): PDRs with the same ID share one F-TEID.
        choose_id: Option<u8>,
    },
}

impl Ie for FTeid {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let flags = r.u8()?;
        let (v4f, v6f, ch, chid) = (
            flags & 0x01 != 0,
            flags & 0x02 != 0,
            flags & 0x04 != 0,
            flags & 0x08 != 0,
        );
        if ch {
            if !v4f && !v6f {
                return Err(Error::invalid("F-TEID CHOOSE with neither V4 nor V6", at));
            }
            let choose_id = if chid { Some(r.u8()?) } else { None };
            return Ok(FTeid::Choose {
                v4: v4f,
                v6: v6f,
                choose_id,
            });
        }
        if chid {
            return Err(Error::invalid("F-TEID with CHID but without CH", at));
        }
        let teid = r.u32()?;
        let ipv4 = if v4f { Some(v4(&mut r)?) } else { None };
        let ipv6 = if v6f { Some(v6(&mut r)?) } else { None };
        if ipv4.is_none() && ipv6.is_none() {
            return Err(Error::invalid("F-TEID with neither V4 nor V6", at));
        }
        Ok(FTeid::Assigned { teid, ipv4, ipv6 })
    }
    fn value_len(&self) -> usize {
        match self {
            FTeid::Assigned { ipv4, ipv6, .. } => {
                5 + ipv4.map_or(0, |_| 4) + ipv6.map_or(0, |_| 16)
            }
            FTeid::Choose { choose_id, .. } => 1 + choose_id.map_or(0, |_| 1),
        }
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        match self {
            FTeid::Assigned { teid, ipv4, ipv6 } => {
                w.u8(u8::from(ipv6.is_some()) << 1 | u8::from(ipv4.is_some()));
                w.u32(*teid);
                if let Some(a) = ipv4 {
                    w.put(&a.octets());
                }
                if let Some(a) = ipv6 {
                    w.put(&a.octets());
                }
            }
            FTeid::Choose { v4, v6, choose_id } => {
                w.u8(u8::from(choose_id.is_some()) << 3
                    | 0x04
                    | u8::from(*v6) << 1
                    | u8::from(*v4));
                if let Some(id) = choose_id {
                    w.u8(*id);
                }
            }
        }
    }
}

/// UE IP Address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct UeIpAddress {
    /// IPv4 address (V4).
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address or prefix (V6).
    pub ipv6: Option<Ipv6Addr>,
    /// S/D: the address is a destination (set in DL PDIs).
    pub destination: bool,
    /// IPv6 Prefix Delegation Bits (IPv6D).
    pub ipv6_prefix_delegation_bits: Option<u8>,
    /// CHV4: the UP function chooses an IPv4 address.
    pub choose_v4: bool,
    /// CHV6: the UP function chooses an IPv6 prefix.
    pub choose_v6: bool,
    /// IPv6 Prefix Length (IP6PL).
    pub ipv6_prefix_length: Option<u8>,
}

impl Ie for UeIpAddress {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let f = r.u8()?;
        let mut u = UeIpAddress {
            destination: f & 0x04 != 0,
            choose_v4: f & 0x10 != 0,
            choose_v6: f & 0x20 != 0,
            ..Default::default()
        };
        if f & 0x02 != 0 && !u.choose_v4 {
            u.ipv4 = Some(v4(&mut r)?);
        }
        if f & 0x01 != 0 && !u.choose_v6 {
            u.ipv6 = Some(v6(&mut r)?);
        }
        if f & 0x08 != 0 {
            u.ipv6_prefix_delegation_bits = Some(r.u8()?);
        }
        if f & 0x40 != 0 {
            let pl = r.u8()?;
            if pl > 128 {
                return Err(Error::invalid(
                    "IPv6 Prefix Length above 128",
                    r.offset() - 1,
                ));
            }
            u.ipv6_prefix_length = Some(pl);
        }
        if (u.choose_v4 && f & 0x02 == 0) || (u.choose_v6 && f & 0x01 == 0) {
            return Err(Error::invalid("UE IP Address CHV4/CHV6 without V4/V6", at));
        }
        Ok(u)
    }
    fn value_len(&self) -> usize {
        1 + self.ipv4.map_or(0, |_| 4)
            + self.ipv6.map_or(0, |_| 16)
            + usize::from(self.ipv6_prefix_delegation_bits.is_some())
            + usize::from(self.ipv6_prefix_length.is_some())
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        let f = u8::from(self.ipv6.is_some() || self.choose_v6)
            | u8::from(self.ipv4.is_some() || self.choose_v4) << 1
            | u8::from(self.destination) << 2
            | u8::from(self.ipv6_prefix_delegation_bits.is_some()) << 3
            | u8::from(self.choose_v4) << 4
            | u8::from(self.choose_v6) << 5
            | u8::from(self.ipv6_prefix_length.is_some()) << 6;
        w.u8(f);
        if let Some(a) = self.ipv4 {
            w.put(&a.octets());
        }
        if let Some(a) = self.ipv6 {
            w.put(&a.octets());
        }
        if let Some(b) = self.ipv6_prefix_delegation_bits {
            w.u8(b);
        }
        if let Some(l) = self.ipv6_prefix_length {
            w.u8(l);
        }
    }
}

/// User Plane IP Resource Information (deprecated in Rel-16 but still sent by many SMFs).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct UserPlaneIpResourceInformation {
    /// TEID Range Indication (number of significant bits, 0 to 7) and the range.
    pub teid_range: Option<(u8, u8)>,
    /// IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Network Instance the resource is associated with.
    pub network_instance: Option<Vec<u8>>,
    /// Source Interface the resource is associated with.
    pub source_interface: Option<u8>,
}

impl Ie for UserPlaneIpResourceInformation {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let f = r.u8()?;
        let teidri = (f >> 2) & 0x07;
        let mut u = UserPlaneIpResourceInformation::default();
        if teidri != 0 {
            u.teid_range = Some((teidri, r.u8()?));
        }
        if f & 0x01 != 0 {
            u.ipv4 = Some(v4(&mut r)?);
        }
        if f & 0x02 != 0 {
            u.ipv6 = Some(v6(&mut r)?);
        }
        let assosi = f & 0x40 != 0;
        if f & 0x20 != 0 {
            let n = r.remaining().saturating_sub(usize::from(assosi));
            u.network_instance = Some(r.bytes(n)?.to_vec());
        }
        if assosi {
            u.source_interface = Some(r.u8()? & 0x0f);
        }
        Ok(u)
    }
    fn value_len(&self) -> usize {
        1 + usize::from(self.teid_range.is_some())
            + self.ipv4.map_or(0, |_| 4)
            + self.ipv6.map_or(0, |_| 16)
            + self.network_instance.as_ref().map_or(0, Vec::len)
            + usize::from(self.source_interface.is_some())
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        let f = u8::from(self.ipv4.is_some())
            | u8::from(self.ipv6.is_some()) << 1
            | (self.teid_range.map_or(0, |t| t.0) & 0x07) << 2
            | u8::from(self.network_instance.is_some()) << 5
            | u8::from(self.source_interface.is_some()) << 6;
        w.u8(f);
        if let Some((_, range)) = self.teid_range {
            w.u8(range);
        }
        if let Some(a) = self.ipv4 {
            w.put(&a.octets());
        }
        if let Some(a) = self.ipv6 {
            w.put(&a.octets());
        }
        if let Some(n) = &self.network_instance {
            w.put(n);
        }
        if let Some(s) = self.source_interface {
            w.u8(s & 0x0f);
        }
    }
}

/// FQ-CSID: a node address and its PDN Connection Set Identifiers. (Decoding checks the count
/// against the length: the underflow that crashed another PFCP crate cannot happen here.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FqCsid {
    /// Node-ID Type: 0 IPv4, 1 IPv6, 2 MCC/MNC-based 4 octets.
    pub node_id_type: u8,
    /// Node-Address (4 or 16 octets).
    pub node_address: Vec<u8>,
    /// The CSIDs.
    pub csids: Vec<u16>,
}

impl Ie for FqCsid {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let f = r.u8()?;
        let (ty, n) = (f >> 4, usize::from(f & 0x0f));
        let alen = match ty {
            0 | 2 => 4,
            1 => 16,
            _ => return Err(Error::invalid("FQ-CSID Node-ID Type not 0, 1 or 2", at)),
        };
        let node_address = r.bytes(alen)?.to_vec();
        let mut csids = Vec::with_capacity(n);
        for _ in 0..n {
            csids.push(r.u16()?);
        }
        Ok(FqCsid {
            node_id_type: ty,
            node_address,
            csids,
        })
    }
    fn value_len(&self) -> usize {
        1 + self.node_address.len() + 2 * self.csids.len().min(15)
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u8(self.node_id_type << 4 | self.csids.len().min(15) as u8);
        w.put(&self.node_address);
        for c in self.csids.iter().take(15) {
            w.u16(*c);
        }
    }
}
