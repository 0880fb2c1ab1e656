//! `upf-lb-bench srv6`: the cost of our SRv6 endpoint behaviours.
//!
//! 1. Per packet (BPF_PROG_TEST_RUN, kernel run-time statistics, net of a no-op, in a
//!    [`FibNs`]): End, End.DX4 and H.Encaps (IPv4 in IPv6 with a two-segment SRH) with their
//!    FIB lookup and redirect; every run's output checked.
//! 2. Per frame through veth, against the kernel in the same run (src -> dut -> sink,
//!    [`srv6bed::Bed`]): BPF_PROG_TEST_RUN in live-frames mode runs `xdp_bench` as if the
//!    frames arrived on the dut's `b0`, and what the program returns is done for real. The
//!    wrapper writes the frame's first bytes back first (live mode reuses a page without
//!    rewriting it, so a program would otherwise see its own output, or the kernel's), then
//!    tail-calls our `xdp_srv6` or `xdp_noop` (XDP_PASS: the kernel's stack, with seg6local or
//!    plain forwarding): the same wrapper in every run. `xdp_sink` on the far end counts what
//!    arrives. The thread is pinned to one CPU, where the softirqs of the path run too: wall
//!    time / frames is ns per frame.

use bpf_abi::{Reason, names::PROG_XDP_NOOP, srv6::PROG_XDP_SRV6};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use upf_lb::southbound::{Srv6Datapath, srv6::Behaviour};
use upf_lb_packet::{Frame, Ip, IpPacket, Ipv6Ext, L4};
use upf_lb_testkit::{
    fixtures::{Fixture, UE_V4, routed, udp, xdp},
    testbed::{FibNs, srv6bed},
};

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
            output: routed(inner.clone(), FibNs::NH_MAC, FibNs::N6_MAC),
            reason: Reason::Srv6Dx4Redirect,
        },
        h_encaps_fixture(&inner),
    ]
}

/// H.Encaps of an IPv4 packet with two segments (the policy of [`HEADEND_PREFIX`]).
fn h_encaps_fixture(inner: &IpPacket) -> Fixture {
    let bytes = inner.to_bytes();
    let mut b = bytes.clone();
    let f =
        bpf_net::flow::parse_flow(&bpf_net::Cursor::from_slice(&mut b), 0).expect("an IPv4 packet");
    let mut out = v6(
        HEADEND_SRC,
        FibNs::NH6,
        vec![Ipv6Ext::Srh {
            segments_left: 1,
            segments: vec![srv6bed::END_SID, FibNs::NH6],
            tlvs: vec![],
        }],
        L4::Raw { proto: 4, bytes },
    );
    if let Ip::V6(h) = &mut out.ip {
        h.hop_limit = 63;
        h.flow_label = bpf_net::flow::flow_label(&f);
    }
    Fixture {
        name: "h-encaps".into(),
        input: Frame::new(inner.clone()).to_bytes(),
        action: xdp::REDIRECT,
        output: Frame {
            dst: FibNs::NH_MAC,
            src: FibNs::N6_MAC,
            vlans: vec![],
            ip: out,
        }
        .to_bytes(),
        reason: Reason::Srv6EncapRedirect,
    }
}

/// The destinations the benchmark's headend policy covers, and its source.
const HEADEND_PREFIX: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 51, 100, 0), 24);
const HEADEND_SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 2);

/// The dut in one veth run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dut {
    /// The kernel forwards plain IPv6 (no SRv6): the floor of the path.
    KernelForwarding,
    /// The kernel's seg6local.
    KernelSeg6local,
    /// Our xdp_srv6.
    Ours,
}

/// ns per frame, and frames delivered, of `frames` copies of `frame` through a fresh bed:
/// `xdp_bench` runs in live-frames mode as if they arrived on the dut's b0, restores each
/// frame and tail-calls our xdp_srv6 (its redirect is done for real) or xdp_noop (XDP_PASS:
/// into the kernel's stack, seg6local routes or plain forwarding).
fn veth_run(dut: Dut, frame: &[u8], frames: u32) -> anyhow::Result<(f64, u64)> {
    use aya::programs::XdpMode;
    use bpf_abi::srv6::{PROG_XDP_BENCH, PROG_XDP_SINK};
    let bed = srv6bed::Bed::new(srv6bed::SINK_MAC);
    let mut dp = Srv6Datapath::load(16)?;
    dp.add_sid(srv6bed::END_SID, 80, Behaviour::End)?;
    let nh = srv6bed::NH4.parse()?;
    dp.add_sid(srv6bed::DX4_SID, 80, Behaviour::EndDx4 { nh })?;
    if dut == Dut::KernelSeg6local {
        bed.seg6local(srv6bed::END_SID, &["End"], "b0")?;
        bed.seg6local(srv6bed::DX4_SID, &["End.DX4", "nh4", srv6bed::NH4], "b1")?;
    }
    let p = dp.xdp_mut(PROG_XDP_SINK)?;
    bed.sink.run(|| p.attach("a1", XdpMode::Driver))?;
    let target = if dut == Dut::Ours {
        PROG_XDP_SRV6
    } else {
        PROG_XDP_NOOP
    };
    dp.bench_target(frame, target)?;
    let delivered = |dp: &Srv6Datapath| -> anyhow::Result<u64> {
        Ok(dp
            .counters()?
            .iter()
            .find(|(r, _)| *r == Reason::BenchSink)
            .map_or(0, |(_, c)| c.packets))
    };
    // SAFETY: if_nametoindex reads a NUL-terminated string that outlives the call.
    let b0 = bed
        .dut
        .run(|| unsafe { libc::if_nametoindex(c"b0".as_ptr()) });
    anyhow::ensure!(b0 != 0, "the dut has no b0");
    let ctx = upf_lb::southbound::test_run::xdp_md(frame.len(), b0);
    let before = delivered(&dp)?;
    let x = dp.xdp(PROG_XDP_BENCH)?;
    let elapsed = bed
        .dut
        .run(|| crate::gtp::live_run(x, frame, &ctx, frames))?;
    // What is still in the veth rings arrives; it was paid for inside the run.
    std::thread::sleep(std::time::Duration::from_millis(200));
    Ok((
        elapsed.as_nanos() as f64 / f64::from(frames),
        delivered(&dp)? - before,
    ))
}

/// The frames of the veth runs (at least `BENCH_RESTORE_LEN` bytes: 80 bytes of UDP data).
fn veth_frames() -> Vec<(&'static str, Vec<u8>)> {
    let data = || L4::Udp {
        src: 5000,
        dst: 7000,
        payload: vec![0x5a; 80],
    };
    let inner_dst = srv6bed::INNER_DST.parse().expect("an IPv4 address");
    let inner = IpPacket::v4(UE_V4, inner_dst, data());
    let h = srv6bed::HEADEND;
    let frame = |p: IpPacket| {
        let mut f = Frame::new(p);
        f.dst = srv6bed::DUT_IN_MAC;
        f.src = srv6bed::SRC_MAC;
        f.to_bytes()
    };
    vec![
        ("plain", frame(v6(h, srv6bed::NH6, vec![], data()))),
        (
            "end",
            frame(v6(
                h,
                srv6bed::END_SID,
                end_srh(srv6bed::NH6, srv6bed::END_SID),
                data(),
            )),
        ),
        (
            "end.dx4",
            frame(v6(
                h,
                srv6bed::DX4_SID,
                vec![],
                L4::Raw {
                    proto: 4,
                    bytes: inner.to_bytes(),
                },
            )),
        ),
    ]
}

/// Measures and prints the tables.
pub fn run(runs: u32, rounds: usize, frames: u32) -> anyhow::Result<()> {
    println!("machine: {}", upf_lb::kernel::machine());
    println!(
        "method: BPF_PROG_TEST_RUN repeat=1 x {runs} per round, kernel bpf_stats, median of {rounds}, net of xdp_noop, FIB lookup and redirect included"
    );
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(16)?;
    dp.add_sid(srv6bed::END_SID, 80, Behaviour::End)?;
    dp.add_sid(srv6bed::DX4_SID, 80, Behaviour::EndDx4 { nh: FibNs::NH4 })?;
    println!("{:<10} {:>10} {:>14}", "behaviour", "net ns", "net pkts/s");
    dp.add_policy(
        HEADEND_PREFIX.0.into(),
        HEADEND_PREFIX.1,
        &upf_lb::southbound::srv6::EncapPolicy {
            src: HEADEND_SRC,
            segments: vec![FibNs::NH6, srv6bed::END_SID],
            reduced: false,
        },
    )?;
    for fx in fixtures() {
        let prog = if fx.reason == Reason::Srv6EncapRedirect {
            bpf_abi::srv6::PROG_XDP_HEADEND
        } else {
            PROG_XDP_SRV6
        };
        let r = fib.ns.run(|| {
            crate::gtp::measure_in(
                dp.xdp(prog)?,
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
    println!(
        "method: through veth (src -> dut -> sink), {frames} live frames per run on one CPU: xdp_bench on the dut's b0 restores each frame and tail-calls xdp_srv6 (ours) or xdp_noop (XDP_PASS to the kernel); xdp_sink on the far end counts"
    );
    println!(
        "{:<20} {:<8} {:>10} {:>10} {:>10}",
        "dut", "packet", "ns/frame", "delivered", "vs kernel"
    );
    for (name, f) in veth_frames() {
        let duts: &[(Dut, &str)] = if name == "plain" {
            &[(Dut::KernelForwarding, "kernel forwarding")]
        } else {
            &[
                (Dut::KernelSeg6local, "kernel seg6local"),
                (Dut::Ours, "ours (xdp_srv6)"),
            ]
        };
        let mut kernel = None;
        for &(dut, label) in duts {
            let (ns, n) = veth_run(dut, &f, frames)?;
            let vs = match (dut, kernel) {
                (Dut::Ours, Some(k)) => format!("{:.2}x", ns / k),
                _ => "-".into(),
            };
            if dut == Dut::KernelSeg6local {
                kernel = Some(ns);
            }
            println!("{label:<20} {name:<8} {ns:>10.0} {n:>10} {vs:>10}");
        }
    }
    Ok(())
}
