//! What the UP function hands out: SEIDs, session indices, local TEIDs (FTUP, TS 29.244 5.5.3)
//! and UE IP addresses (UEIP, TS 29.244 5.21). Every allocator is bounded by its range and
//! gives freed values back first.

use crate::config::{Cidr, UePool};
use std::{
    collections::{BTreeSet, HashSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

/// Values `first..=last`, handed out lowest-unused first after freed ones.
#[derive(Debug)]
pub struct Range {
    first: u128,
    last: u128,
    next: u128,
    free: BTreeSet<u128>,
    in_use: HashSet<u128>,
}

impl Range {
    /// A range of `first..=last`.
    pub fn new(first: u128, last: u128) -> Range {
        Range {
            first,
            last,
            next: first,
            free: BTreeSet::new(),
            in_use: HashSet::new(),
        }
    }

    /// The next free value.
    pub fn alloc(&mut self) -> Option<u128> {
        while let Some(v) = self.free.pop_first() {
            if self.in_use.insert(v) {
                return Some(v);
            }
        }
        while self.next <= self.last {
            let v = self.next;
            self.next += 1;
            if self.in_use.insert(v) {
                return Some(v);
            }
        }
        None
    }

    /// Marks `v` as used (a value the peer chose); false when it is in use already.
    pub fn take(&mut self, v: u128) -> bool {
        self.in_use.insert(v)
    }

    /// True when `v` is inside the range.
    pub fn contains(&self, v: u128) -> bool {
        (self.first..=self.last).contains(&v)
    }

    /// Gives `v` back.
    pub fn release(&mut self, v: u128) {
        if self.in_use.remove(&v) && self.contains(v) && v < self.next {
            self.free.insert(v);
        }
    }

    /// Values in use.
    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }
}

/// A UE IP pool: IPv4 addresses, or IPv6 /64 prefixes (the UE's address has interface
/// identifier 0 and prefix length 64).
#[derive(Debug)]
pub struct UeIpPool {
    /// Network Instance.
    pub network_instance: String,
    cidr: Cidr,
    range: Range,
}

impl UeIpPool {
    /// A pool over `p`: for IPv4 the network and broadcast addresses are left out.
    pub fn new(p: &UePool) -> UeIpPool {
        let c = p.cidr;
        let range = match c.addr {
            IpAddr::V4(_) => {
                let n = 1u128 << (32 - u32::from(c.len));
                if n <= 2 {
                    Range::new(0, n - 1)
                } else {
                    Range::new(1, n - 2)
                }
            }
            IpAddr::V6(_) => Range::new(0, (1u128 << (64 - u32::from(c.len))) - 1),
        };
        UeIpPool {
            network_instance: p.network_instance.clone(),
            cidr: c,
            range,
        }
    }

    /// True when `a` is inside the pool's network.
    pub fn contains(&self, a: IpAddr) -> bool {
        self.cidr.contains(a)
    }

    /// IPv6 pool.
    pub fn is_v6(&self) -> bool {
        self.cidr.addr.is_ipv6()
    }

    fn at(&self, i: u128) -> IpAddr {
        match self.cidr.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) + i as u32)),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) + (i << 64))),
        }
    }

    fn index(&self, a: IpAddr) -> Option<u128> {
        if !self.cidr.contains(a) {
            return None;
        }
        Some(match (self.cidr.addr, a) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u128::from(u32::from(a) - u32::from(n)),
            (IpAddr::V6(n), IpAddr::V6(a)) => (u128::from(a) - u128::from(n)) >> 64,
            _ => return None,
        })
    }

    /// An address (IPv4) or a /64 prefix (IPv6).
    pub fn alloc(&mut self) -> Option<IpAddr> {
        self.range.alloc().map(|i| self.at(i))
    }

    /// Gives `a` back, if it is ours.
    pub fn release(&mut self, a: IpAddr) {
        if let Some(i) = self.index(a) {
            self.range.release(i);
        }
    }

    /// Marks an address the SMF chose as used, if it is in this pool; false when it is in use.
    pub fn take(&mut self, a: IpAddr) -> bool {
        match self.index(a) {
            Some(i) if self.range.contains(i) => self.range.take(i),
            _ => true,
        }
    }

    /// Addresses in use.
    pub fn in_use(&self) -> usize {
        self.range.in_use()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_reuse_freed_values_and_stop_at_the_end() {
        let mut r = Range::new(10, 12);
        assert_eq!(
            (r.alloc(), r.alloc(), r.alloc(), r.alloc()),
            (Some(10), Some(11), Some(12), None)
        );
        r.release(11);
        assert_eq!(r.alloc(), Some(11));
        assert!(!r.take(12));
        let mut r = Range::new(1, 5);
        assert!(r.take(1));
        assert_eq!(r.alloc(), Some(2));
    }

    #[test]
    fn pools_give_addresses_and_prefixes() {
        let p = |c: &str| UePool {
            network_instance: "internet".into(),
            cidr: Cidr::parse(c).unwrap(),
        };
        let mut v4 = UeIpPool::new(&p("198.18.0.0/30"));
        assert_eq!(v4.alloc(), Some("198.18.0.1".parse().unwrap()));
        assert_eq!(v4.alloc(), Some("198.18.0.2".parse().unwrap()));
        assert_eq!(v4.alloc(), None);
        v4.release("198.18.0.1".parse().unwrap());
        assert_eq!(v4.alloc(), Some("198.18.0.1".parse().unwrap()));
        let mut v6 = UeIpPool::new(&p("2001:db8:1000::/63"));
        assert_eq!(v6.alloc(), Some("2001:db8:1000::".parse().unwrap()));
        assert_eq!(v6.alloc(), Some("2001:db8:1000:1::".parse().unwrap()));
        assert_eq!(v6.alloc(), None);
        assert!(v6.take("2001:db8:2000::1".parse().unwrap()));
    }
}
