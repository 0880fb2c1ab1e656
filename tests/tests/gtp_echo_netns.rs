//! Tier 3: a real Echo Request from a UDP socket in the gNB's namespace, through veth, answered
//! by xdp_n3 attached in driver mode on the UPF's side, received by the same socket.

use bpf_abi::Reason;
use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};
use upf_lb::southbound::GtpDatapath;
use upf_lb_packet::Gtpu;
use upf_lb_testkit::{
    fixtures,
    topology::{Topology, echo},
};
use upf_lb_tests::require_root;

fn exchange(topo: &Topology, gnb: IpAddr, upf: IpAddr, seq: u16) {
    let x = echo(
        &topo.gnb,
        SocketAddr::new(gnb, fixtures::GNB_PORT),
        SocketAddr::new(upf, 2152),
        seq,
        Duration::from_secs(3),
    )
    .expect("Echo Response received");
    assert_eq!(x.from, SocketAddr::new(upf, 2152));
    // The kernel accepted the datagram, so its UDP checksum verified; the payload is exactly the
    // Echo Response TS 29.281 7.2.2 describes.
    assert_eq!(x.reply, Gtpu::echo_response(seq).to_bytes());
}

#[test]
fn echo_request_from_a_socket_is_answered_over_veth_ipv4_and_ipv6() {
    require_root();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::new(&mut dp).expect("topology");
    for seq in [1u16, 2, 0xffff] {
        exchange(&topo, fixtures::GNB_V4.into(), fixtures::UPF_V4.into(), seq);
        exchange(&topo, fixtures::GNB_V6.into(), fixtures::UPF_V6.into(), seq);
    }
    let c = dp.counters().expect("counters");
    assert_eq!(c[Reason::GtpuEchoResponse as usize].1.packets, 6);
    let malformed: u64 = c
        .iter()
        .filter(|(r, _)| r.verdict() == bpf_abi::Verdict::Drop)
        .map(|(_, c)| c.packets)
        .sum();
    assert_eq!(malformed, 0, "{c:?}");
}
