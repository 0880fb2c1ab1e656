//! N3/N9 ingress of `xdp_n3_general` (every frame `xdp_n3` does not handle itself): from the
//! Ethernet frame (VLAN tags, IPv4 options, IPv6 extension headers) to the GTP-U message, then
//! to the stage that owns its message type: Echo Request (answered in place), G-PDU (the
//! uplink; an unknown TEID is answered with an Error Indication); any other message goes to
//! the kernel, counted as `GtpuOther`.

use crate::{echo, errind, outer::OuterIp, uplink};
use aya_ebpf::programs::XdpContext;
use bpf_abi::Reason;
use bpf_net::{
    Cursor,
    eth::{ETH_P_IPV4, ETH_P_IPV6, parse_eth},
    gtpu::{GTPU_PORT, msg, parse_gtpu},
    ipv4, ipv6,
    launder::{LEN16, OFFSET, WORD32, launder_masked},
    proto,
    udp::{Udp, parse_udp},
};

/// Parses the frame down to GTP-U and hands it to the stage for its message type.
/// `Ok` and `Err` both carry the outcome; `Err` is an early exit.
#[inline(always)]
pub fn ingress(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    let (ip, l4_off, ip_end) = match eth.ethertype {
        ETH_P_IPV4 => {
            let ip = ipv4::parse_ipv4(&cur, eth.l3_off)?;
            if !ipv4::verify_checksum(&cur, &ip) {
                return Err(Reason::Ipv4BadChecksum);
            }
            if ip.fragment {
                return Err(Reason::IpFragment);
            }
            if ip.protocol != proto::UDP {
                return Err(Reason::NotUdp);
            }
            (
                OuterIp::V4 {
                    src: ip.src,
                    dst: ip.dst,
                    tos: ip.tos,
                },
                ip.l4_off,
                ip.end,
            )
        }
        ETH_P_IPV6 => {
            let ip = ipv6::parse_ipv6(&cur, eth.l3_off)?;
            if ip.fragment {
                return Err(Reason::IpFragment);
            }
            if ip.protocol != proto::UDP {
                return Err(Reason::NotUdp);
            }
            let outer = OuterIp::V6 {
                src: ip.src,
                dst: ip.dst,
                traffic_class: ip.traffic_class,
                flow_label: ip.flow_label,
            };
            (outer, ip.l4_off, ip.end)
        }
        _ => return Err(Reason::NotIp),
    };
    let udp = parse_udp(&cur, l4_off, ip_end)?;
    if udp.dst != GTPU_PORT {
        return Err(Reason::NotGtpuPort);
    }
    // Stage boundary: forget which VLAN / extension-header path led here (see bpf_net::launder).
    let [l3_off, payload_off, end, ports] = launder_masked(
        [
            eth.l3_off as u64,
            udp.payload_off as u64,
            udp.end as u64,
            (u64::from(udp.src) << 16) | u64::from(udp.dst),
        ],
        [OFFSET, OFFSET, LEN16, WORD32],
    )
    .ok_or(Reason::AdjustFailed)?;
    let (l3_off, payload_off, end) = (l3_off as usize, payload_off as usize, end as usize);
    let udp = Udp {
        off: payload_off.wrapping_sub(8),
        src: (ports >> 16) as u16,
        dst: ports as u16,
        payload_off,
        end,
    };
    let gtpu = parse_gtpu(&cur, udp.payload_off, udp.end)?;
    match gtpu.msg_type {
        msg::ECHO_REQUEST => echo::respond(ctx, l3_off, &ip, &udp, &gtpu),
        msg::G_PDU => match uplink::gpdu(ctx, &gtpu) {
            Err(Reason::GtpuUnknownTeid) => errind::respond(ctx, l3_off, &ip, &udp, gtpu.teid),
            other => other,
        },
        _ => Err(Reason::GtpuOther),
    }
}
