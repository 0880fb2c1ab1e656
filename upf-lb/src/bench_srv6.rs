//! `upf-lb bench-srv6`: the cost of our SRv6 endpoint behaviours per packet
//! (BPF_PROG_TEST_RUN, kernel run-time statistics, net of a no-op, in a [`FibNs`]): End and
//! End.DX4 with their FIB lookup and redirect; every run's output checked.
//!
//! Not yet: ns per frame through veth against the kernel's seg6local (a live-frames generator
//! delivered one batch of 64 frames and then nothing here; see the note).

use crate::{
    fixtures::{Fixture, UE_V4, routed, udp, xdp},
    packet::{Frame, Ip, IpPacket, Ipv6Ext, L4},
    southbound::{Srv6Datapath, srv6::Behaviour},
    testbed::{FibNs, srv6bed},
};
use bpf_abi::{Reason, names::PROG_XDP_NOOP, srv6::PROG_XDP_SRV6};
use std::net::{IpAddr, Ipv6Addr};

/// IPv6 from `src` to `dst`, Hop Limit 64, with `ext`, carrying `l4`.
fn v6(src: Ipv6Addr, dst: Ipv6Addr, ext: Vec<Ipv6Ext>, l4: L4) -> IpPacket {
    let mut p = IpPacket::v6(src, dst, l4);
    if let Ip::V6(h) = &mut p.ip {
        h.ext = ext;
    }
    p
}

fn end_srh(final_dst: Ipv6Addr, sid: Ipv6Addr) -> Vec<Ipv6Ext> {
    vec![Ipv6Ext::Srh {
        segments_left: 1,
        segments: vec![final_dst, sid],
        tlvs: vec![],
    }]
}

/// The BPF_PROG_TEST_RUN fixtures: End to the next segment, End.DX4 to its next hop.
fn fixtures() -> Vec<Fixture> {
    let headend = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 1);
    let data = || udp(headend.into(), FibNs::NH6.into(), 5000, 7000).l4;
    let sid = srv6bed::END_SID;
    let input = v6(headend, sid, end_srh(FibNs::NH6, sid), data());
    let mut out = v6(headend, FibNs::NH6, end_srh(FibNs::NH6, sid), data());
    if let Ip::V6(h) = &mut out.ip
        && let Some(Ipv6Ext::Srh { segments_left, .. }) = h.ext.first_mut()
    {
        *segments_left = 0;
    }
    let inner = udp(UE_V4.into(), IpAddr::from([198, 51, 100, 7]), 5000, 7000);
    let dx4 = v6(
        headend,
        srv6bed::DX4_SID,
        vec![],
        L4::Raw {
            proto: 4,
            bytes: inner.to_bytes(),
        },
    );
    vec![
        Fixture {
            name: "end".into(),
            input: Frame::new(input).to_bytes(),
            action: xdp::REDIRECT,
            output: routed(out, FibNs::NH_MAC, FibNs::N6_MAC),
            reason: Reason::Srv6EndRedirect,
        },
        Fixture {
            name: "end-dx4".into(),
            input: Frame::new(dx4).to_bytes(),
            action: xdp::REDIRECT,
            output: routed(inner, FibNs::NH_MAC, FibNs::N6_MAC),
            reason: Reason::Srv6Dx4Redirect,
        },
    ]
}

/// Measures and prints the table.
pub fn run(runs: u32, rounds: usize) -> anyhow::Result<()> {
    println!("machine: {}", crate::bench::machine());
    println!(
        "method: BPF_PROG_TEST_RUN repeat=1 x {runs} per round, kernel bpf_stats, median of {rounds}, net of xdp_noop, FIB lookup and redirect included"
    );
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(16)?;
    dp.add_sid(srv6bed::END_SID, 80, Behaviour::End)?;
    dp.add_sid(srv6bed::DX4_SID, 80, Behaviour::EndDx4 { nh: FibNs::NH4 })?;
    println!("{:<10} {:>10} {:>14}", "behaviour", "net ns", "net pkts/s");
    for fx in fixtures() {
        let r = fib.ns.run(|| {
            crate::bench::measure_in(
                dp.xdp(PROG_XDP_SRV6)?,
                dp.xdp(PROG_XDP_NOOP)?,
                &fx,
                runs,
                rounds,
                fib.n3_ifindex,
            )
        })?;
        let ns = r.net_ns();
        println!("{:<10} {:>10.1} {:>14.0}", fx.name, ns, 1e9 / ns.max(1e-9));
    }
    Ok(())
}
