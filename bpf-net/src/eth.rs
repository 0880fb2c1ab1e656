//! Ethernet II with up to two VLAN tags (IEEE 802.1Q, and 802.1ad QinQ).

use crate::Cursor;
use bpf_abi::{Be16, Reason};

/// EtherType IPv4.
pub const ETH_P_IPV4: u16 = 0x0800;
/// EtherType IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;
/// EtherType ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// TPID of an IEEE 802.1Q (customer) tag.
pub const ETH_P_8021Q: u16 = 0x8100;
/// TPID of an IEEE 802.1ad (service, QinQ outer) tag.
pub const ETH_P_8021AD: u16 = 0x88a8;
/// Length of the untagged Ethernet header.
pub const ETH_HLEN: usize = 14;
/// Tags the parser accepts: one 802.1Q, or QinQ.
pub const MAX_VLAN_TAGS: usize = 2;

/// The Ethernet II header.
#[repr(C)]
pub struct EthHdr {
    /// Destination MAC address.
    pub dst: [u8; 6],
    /// Source MAC address.
    pub src: [u8; 6],
    /// EtherType, or the TPID of a VLAN tag.
    pub ethertype: Be16,
}

/// The rest of a VLAN tag after its TPID: the TCI and the next EtherType.
#[repr(C)]
pub struct VlanHdr {
    /// Tag Control Information: PCP (3 bits), DEI (1), VID (12).
    pub tci: Be16,
    /// EtherType of what follows, or the TPID of an inner tag.
    pub ethertype: Be16,
}

const _: () = assert!(size_of::<EthHdr>() == ETH_HLEN && size_of::<VlanHdr>() == 4);

/// What the link layer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eth {
    /// EtherType after any VLAN tags.
    pub ethertype: u16,
    /// Offset of the network header.
    pub l3_off: usize,
    /// VLAN tags seen (0 to [`MAX_VLAN_TAGS`]).
    pub vlan_count: u8,
    /// VIDs of the tags, outermost first; 0 where absent.
    pub vlan_ids: [u16; MAX_VLAN_TAGS],
}

/// Parses the Ethernet header at offset 0 and up to two VLAN tags.
#[inline(always)]
pub fn parse_eth(cur: &Cursor) -> Result<Eth, Reason> {
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let mut out = Eth {
        ethertype: eth.ethertype.get(),
        l3_off: ETH_HLEN,
        vlan_count: 0,
        vlan_ids: [0; MAX_VLAN_TAGS],
    };
    let mut i = 0;
    while i < MAX_VLAN_TAGS {
        if out.ethertype != ETH_P_8021Q && out.ethertype != ETH_P_8021AD {
            return Ok(out);
        }
        let tag: &VlanHdr = cur.get(out.l3_off, Reason::VlanTruncated)?;
        out.vlan_ids[i] = tag.tci.get() & 0x0fff;
        out.ethertype = tag.ethertype.get();
        out.l3_off += size_of::<VlanHdr>();
        out.vlan_count += 1;
        i += 1;
    }
    if out.ethertype == ETH_P_8021Q || out.ethertype == ETH_P_8021AD {
        return Err(Reason::VlanTooDeep);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{eth, parse_each_prefix};

    #[test]
    fn untagged_frame() {
        let mut p = eth(ETH_P_IPV4, &[]);
        p.extend_from_slice(&[0x45; 20]);
        let e = parse_each_prefix(&p, parse_eth, |n| (n < 14).then_some(Reason::EthTruncated));
        assert_eq!(
            e,
            Eth {
                ethertype: ETH_P_IPV4,
                l3_off: 14,
                vlan_count: 0,
                vlan_ids: [0, 0]
            }
        );
    }

    #[test]
    fn single_8021q_tag() {
        let p = eth(ETH_P_IPV6, &[(ETH_P_8021Q, 0x2064)]);
        let e = parse_each_prefix(&p, parse_eth, |n| match n {
            0..14 => Some(Reason::EthTruncated),
            14..18 => Some(Reason::VlanTruncated),
            _ => None,
        });
        assert_eq!(
            e,
            Eth {
                ethertype: ETH_P_IPV6,
                l3_off: 18,
                vlan_count: 1,
                vlan_ids: [100, 0]
            }
        );
    }

    #[test]
    fn qinq_tags() {
        let p = eth(ETH_P_IPV4, &[(ETH_P_8021AD, 0x0010), (ETH_P_8021Q, 0x0020)]);
        let e = parse_each_prefix(&p, parse_eth, |n| match n {
            0..14 => Some(Reason::EthTruncated),
            14..22 => Some(Reason::VlanTruncated),
            _ => None,
        });
        assert_eq!(
            e,
            Eth {
                ethertype: ETH_P_IPV4,
                l3_off: 22,
                vlan_count: 2,
                vlan_ids: [16, 32]
            }
        );
    }

    #[test]
    fn three_tags_are_too_deep() {
        let p = eth(
            ETH_P_IPV4,
            &[(ETH_P_8021AD, 1), (ETH_P_8021Q, 2), (ETH_P_8021Q, 3)],
        );
        let mut buf = p.clone();
        assert_eq!(
            parse_eth(&Cursor::from_slice(&mut buf)),
            Err(Reason::VlanTooDeep)
        );
    }
}
