//! IP networks: `[n4] allowed_peers`, `[[ue_pool]] cidr`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP network (address and prefix length, host bits zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::/n`, or a bare address (a full-length prefix).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("prefix length {l:?} is not 0 to {max}"))?,
        };
        let c = Cidr { addr, len };
        if c.network() != addr {
            return Err(format!(
                "{s} has host bits set (network is {})",
                c.network()
            ));
        }
        Ok(c)
    }

    fn mask(&self) -> u128 {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.len == 0 {
            0
        } else {
            (u128::MAX << (128 - u32::from(self.len))) >> (128 - max)
        }
    }

    fn bits(a: IpAddr) -> u128 {
        match a {
            IpAddr::V4(v) => u128::from(u32::from(v)),
            IpAddr::V6(v) => u128::from(v),
        }
    }

    fn network(&self) -> IpAddr {
        let n = Self::bits(self.addr) & self.mask();
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        }
    }

    /// True when `a` is inside.
    pub fn contains(&self, a: IpAddr) -> bool {
        let a = match a {
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(a, IpAddr::V4),
            a => a,
        };
        a.is_ipv4() == self.addr.is_ipv4() && Self::bits(a) & self.mask() == Self::bits(self.addr)
    }
}
