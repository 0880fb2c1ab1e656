//! Tier 3: TCP through the user plane. A TUN device in the gNB namespace plays the UE
//! (198.18.0.1): the kernel's own TCP stack connects from it to a DN server; relay threads are
//! the gNB (`upf_lb_testkit::ue`), carrying the UE's packets in GTP-U G-PDUs over UDP to the UPF and
//! writing what comes back (decapsulated) into the TUN device. Bytes echoed by the DN must come
//! back intact.

use upf_lb::southbound::GtpDatapath;
use upf_lb_testkit::{
    fixtures::UE_V4,
    topology::{Topology, install_session},
    ue::tcp_echo,
};
use upf_lb_tests::require_root;

const UL_TEID: u32 = 0x300;
const DL_TEID: u32 = 0x400;
const BYTES: usize = 256 * 1024;

#[test]
fn tcp_between_a_ue_and_the_dn_crosses_the_user_plane_both_ways() {
    require_root();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::new(&mut dp).expect("topology");
    install_session(&mut dp, UE_V4, UL_TEID, DL_TEID).expect("install");
    let r = tcp_echo(&topo, "ue0", UE_V4, UL_TEID, DL_TEID, 9, BYTES).unwrap_or_else(|e| {
        panic!(
            "TCP through the UPF failed: {e:#}; counters: {:?}",
            dp.counters()
                .unwrap()
                .into_iter()
                .filter(|(_, c)| c.packets > 0)
                .map(|(r, c)| (r.name(), c.packets))
                .collect::<Vec<_>>()
        )
    });
    assert_eq!(r.at_dn.ip(), std::net::IpAddr::from(UE_V4));
    assert_eq!(r.local.ip(), std::net::IpAddr::from(UE_V4));
    assert_eq!(r.bytes, BYTES);
    let c = dp.counters().unwrap();
    let get = |r: bpf_abi::Reason| c[r as usize].1.packets;
    assert!(get(bpf_abi::Reason::UplinkRedirect) > 50, "{c:?}");
    assert!(get(bpf_abi::Reason::DownlinkRedirect) > 50, "{c:?}");
}
