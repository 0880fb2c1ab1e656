//! SDF Filter and its Flow Description: the IPFilterRule subset that TS 29.214 5.4.2 and
//! TS 29.244 5.2.1A.2 allow (`permit out <proto> from <src> [ports] to <dst> [ports]`).

use crate::{
    error::Error,
    wire::{Ie, Reader, Writer},
};
use std::net::IpAddr;

/// SDF Filter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SdfFilter {
    /// Flow Description (FD), kept as the text received; see [`FlowDescription::parse`].
    pub flow_description: Option<String>,
    /// ToS / Traffic Class (TTC): value and mask.
    pub tos_traffic_class: Option<[u8; 2]>,
    /// Security Parameter Index (SPI).
    pub spi: Option<u32>,
    /// Flow Label (FL), 20 bits in 3 octets.
    pub flow_label: Option<u32>,
    /// SDF Filter ID (BID).
    pub filter_id: Option<u32>,
}

impl Ie for SdfFilter {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let f = r.u8()?;
        r.u8()?; // spare octet
        let mut s = SdfFilter::default();
        if f & 0x01 != 0 {
            let n = usize::from(r.u16()?);
            let at = r.offset();
            let text = r.bytes(n)?;
            let text = std::str::from_utf8(text)
                .map_err(|_| Error::invalid("Flow Description is not UTF-8 text", at))?;
            s.flow_description = Some(text.to_string());
        }
        if f & 0x02 != 0 {
            s.tos_traffic_class = Some(r.array()?);
        }
        if f & 0x04 != 0 {
            s.spi = Some(r.u32()?);
        }
        if f & 0x08 != 0 {
            s.flow_label = Some(r.u24()? & 0x000f_ffff);
        }
        if f & 0x10 != 0 {
            s.filter_id = Some(r.u32()?);
        }
        Ok(s)
    }
    fn value_len(&self) -> usize {
        2 + self.flow_description.as_ref().map_or(0, |t| 2 + t.len())
            + self.tos_traffic_class.map_or(0, |_| 2)
            + self.spi.map_or(0, |_| 4)
            + self.flow_label.map_or(0, |_| 3)
            + self.filter_id.map_or(0, |_| 4)
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        let f = u8::from(self.flow_description.is_some())
            | u8::from(self.tos_traffic_class.is_some()) << 1
            | u8::from(self.spi.is_some()) << 2
            | u8::from(self.flow_label.is_some()) << 3
            | u8::from(self.filter_id.is_some()) << 4;
        w.u8(f);
        w.u8(0);
        if let Some(t) = &self.flow_description {
            w.u16(t.len() as u16);
            w.put(t.as_bytes());
        }
        if let Some(t) = self.tos_traffic_class {
            w.put(&t);
        }
        if let Some(v) = self.spi {
            w.u32(v);
        }
        if let Some(v) = self.flow_label {
            w.u24(v & 0x000f_ffff);
        }
        if let Some(v) = self.filter_id {
            w.u32(v);
        }
    }
}

/// Port ranges a side of a flow description may list.
pub const MAX_PORT_RANGES: usize = 16;

/// One side of a flow description.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Address match.
    pub addr: AddrMatch,
    /// Port ranges (inclusive); empty means any port.
    pub ports: Vec<(u16, u16)>,
}

/// An address match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrMatch {
    /// `any`.
    Any,
    /// `assigned`: the UE's address (TS 29.214).
    Assigned,
    /// An address with a prefix length (a full-length prefix for a bare address).
    Net(IpAddr, u8),
}

impl AddrMatch {
    /// True when `a` matches.
    pub fn matches(&self, a: IpAddr, ue: Option<IpAddr>) -> bool {
        match *self {
            AddrMatch::Any => true,
            AddrMatch::Assigned => ue == Some(a),
            AddrMatch::Net(net, len) => match (net, a) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    let m = if len == 0 {
                        0
                    } else {
                        u32::MAX << (32 - u32::from(len))
                    };
                    u32::from(n) & m == u32::from(a) & m
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => {
                    let m = if len == 0 {
                        0
                    } else {
                        u128::MAX << (128 - u32::from(len))
                    };
                    u128::from(n) & m == u128::from(a) & m
                }
                _ => false,
            },
        }
    }
}

/// A parsed Flow Description: a 5-tuple match with masks and port ranges.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowDescription {
    /// IP protocol number; None for `ip` (any).
    pub protocol: Option<u8>,
    /// The `from` side.
    pub from: Endpoint,
    /// The `to` side.
    pub to: Endpoint,
}

/// Why a flow description was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowError(pub &'static str);

impl FlowDescription {
    /// Parses the 3GPP IPFilterRule subset. Only `permit out` is allowed (TS 29.214 5.4.2);
    /// options (`frag`, `established`, ...) are not part of the subset and are refused.
    pub fn parse(text: &str) -> Result<FlowDescription, FlowError> {
        let mut t = text.split_ascii_whitespace().peekable();
        if t.next() != Some("permit") {
            return Err(FlowError("action is not permit"));
        }
        if t.next() != Some("out") {
            return Err(FlowError("direction is not out"));
        }
        let protocol = match t.next() {
            Some("ip") => None,
            Some(p) => Some(
                p.parse::<u8>()
                    .map_err(|_| FlowError("protocol is not ip or 0-255"))?,
            ),
            None => return Err(FlowError("protocol missing")),
        };
        if t.next() != Some("from") {
            return Err(FlowError("`from` missing"));
        }
        let from = endpoint(&mut t)?;
        if t.next() != Some("to") {
            return Err(FlowError("`to` missing"));
        }
        let to = endpoint(&mut t)?;
        if t.next().is_some() {
            return Err(FlowError("options are not part of the 3GPP subset"));
        }
        Ok(FlowDescription { protocol, from, to })
    }
}

fn endpoint<'a>(
    t: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
) -> Result<Endpoint, FlowError> {
    let a = t.next().ok_or(FlowError("address missing"))?;
    let addr = match a {
        "any" => AddrMatch::Any,
        "assigned" => AddrMatch::Assigned,
        _ => {
            let (ip, len) = match a.split_once('/') {
                Some((ip, len)) => (ip, Some(len)),
                None => (a, None),
            };
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| FlowError("address is not an IP address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= max)
                    .ok_or(FlowError("bad prefix length"))?,
                None => max,
            };
            AddrMatch::Net(ip, len)
        }
    };
    let mut ports = Vec::new();
    if let Some(p) = t.peek().copied()
        && p.starts_with(|c: char| c.is_ascii_digit())
    {
        t.next();
        for part in p.split(',') {
            if ports.len() == MAX_PORT_RANGES {
                return Err(FlowError("too many port ranges"));
            }
            let (lo, hi) = match part.split_once('-') {
                Some((lo, hi)) => (lo, hi),
                None => (part, part),
            };
            let lo: u16 = lo.parse().map_err(|_| FlowError("bad port"))?;
            let hi: u16 = hi.parse().map_err(|_| FlowError("bad port"))?;
            if lo > hi {
                return Err(FlowError("port range upside down"));
            }
            ports.push((lo, hi));
        }
    }
    Ok(Endpoint { addr, ports })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn parses_the_3gpp_subset() {
        let f =
            FlowDescription::parse("permit out 17 from 198.51.100.0/24 53,5000-5010 to assigned")
                .unwrap();
        assert_eq!(f.protocol, Some(17));
        assert_eq!(
            f.from.addr,
            AddrMatch::Net(Ipv4Addr::new(198, 51, 100, 0).into(), 24)
        );
        assert_eq!(f.from.ports, vec![(53, 53), (5000, 5010)]);
        assert_eq!(
            f.to,
            Endpoint {
                addr: AddrMatch::Assigned,
                ports: vec![]
            }
        );

        let g = FlowDescription::parse("permit out ip from any to 2001:db8::/32").unwrap();
        assert_eq!(g.protocol, None);
        assert_eq!(g.to.addr, AddrMatch::Net("2001:db8::".parse().unwrap(), 32));
        let h = FlowDescription::parse("permit out 6 from 192.0.2.7 to any 80").unwrap();
        assert_eq!(
            h.from.addr,
            AddrMatch::Net(Ipv4Addr::new(192, 0, 2, 7).into(), 32)
        );
        assert_eq!(h.to.ports, vec![(80, 80)]);
    }

    #[test]
    fn refuses_what_the_subset_does_not_allow() {
        for bad in [
            "deny out ip from any to any",
            "permit in ip from any to any",
            "permit out 300 from any to any",
            "permit out ip from any to any frag",
            "permit out ip from 192.0.2.0/33 to any",
            "permit out ip from any 90-80 to any",
            "permit out ip from host to any",
            "permit out ip from any",
            "",
        ] {
            assert!(FlowDescription::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn address_masks_match() {
        let n = AddrMatch::Net(Ipv4Addr::new(198, 51, 100, 0).into(), 24);
        assert!(n.matches(Ipv4Addr::new(198, 51, 100, 99).into(), None));
        assert!(!n.matches(Ipv4Addr::new(198, 51, 101, 1).into(), None));
        assert!(!n.matches(Ipv6Addr::LOCALHOST.into(), None));
        let z = AddrMatch::Net(Ipv4Addr::UNSPECIFIED.into(), 0);
        assert!(z.matches(Ipv4Addr::new(1, 2, 3, 4).into(), None));
        let ue = Some(IpAddr::from(Ipv4Addr::new(198, 18, 0, 1)));
        assert!(AddrMatch::Assigned.matches(Ipv4Addr::new(198, 18, 0, 1).into(), ue));
    }
}
