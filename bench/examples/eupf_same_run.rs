//! upf-lb beside eUPF's XDP program, in one run, by `upf-lb-bench gtp`'s method (BPF_PROG_TEST_RUN,
//! repeat 1, the kernel's run-time statistics, median of the rounds, net of `xdp_noop`, every
//! output checked byte for byte), alternating the programs so that both see the same machine.
//! Issue 22 asks for this ratio; docs/benchmarks.md keeps the figures.
//!
//! eUPF is not part of this repository and nothing of it is: build its object yourself from
//! github.com/edgecomllc/eupf (measured at a8d774a), outside this checkout, e.g.
//!
//! ```text
//! cd eupf/cmd/ebpf && mkdir -p /tmp/inc/gnu && touch /tmp/inc/gnu/stubs-32.h
//! sed -i 's#SEC("xdp/upf_ip_entrypoint")#SEC("xdp")#' xdp/n3n6_entrypoint.c  # aya 0.14's section names
//! clang-14 -target bpfel -mcpu=v3 -I. -I/tmp/inc -I/usr/include/x86_64-linux-gnu -O2 -g \
//!     -DENABLE_ROUTE_CACHE -c xdp/n3n6_entrypoint.c -o /tmp/eupf-rc.o
//! ```
//!
//! (apt packages clang-14 and libbpf-dev), then, as root, with a bpffs mounted at `PIN_DIR`:
//! `cargo run --release -p upf-lb-bench --example eupf_same_run -- SESSIONS RUNS ROUNDS ALTERNATIONS PIN_DIR OBJECT...`
//!
//! Both get the same sessions (ours: `upf_lb_bench::gtp::bench_session`, with an IPv4 UE): an uplink PDR by TEID with outer header removal and a FAR that
//! forwards, downlink PDRs by IPv4 and IPv6 UE address with a FAR that encapsulates GTP-U/IPv4
//! and a QER (gate open, no MBR, QFI 9) and URRs. Differences in work: upf-lb decrements the
//! inner TTL, eUPF does not; eUPF answers a downlink frame leaving by the interface it came in
//! on (as in this namespace) with XDP_TX, upf-lb with a redirect. eUPF's layouts (`pdr_info`
//! 208 bytes, `far_info` 16, `qer_info` 32, `dataplane_config` in `.bss`) are read from the
//! BTF of the object (`bpftool btf dump file OBJECT`); check them again on another revision.

use anyhow::Context;
use aya::{
    EbpfLoader,
    maps::{Array, HashMap},
    programs::Xdp,
};
use bpf_abi::{Reason, names};
use std::net::{IpAddr, Ipv4Addr};
use upf_lb::southbound::{GtpDatapath, MapSizes};
use upf_lb_bench::gtp::{BENCH_GNB, BENCH_N3, bench_session, bench_ue6, measure_in};
use upf_lb_packet::{Frame, Gtpu, GtpuExt, Ip, IpPacket, L4, Psc};
use upf_lb_testkit::{
    fixtures::{self, Fixture, encapsulated, routed, udp, xdp},
    testbed::FibNs,
};

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        a.len() >= 7,
        "usage: eupf_same_run SESSIONS RUNS ROUNDS ALTERNATIONS PIN_DIR OBJECT... (see the file's header)"
    );
    let n: u32 = a[1].parse().context("SESSIONS")?;
    let runs: u32 = a[2].parse().context("RUNS")?;
    let rounds: usize = a[3].parse().context("ROUNDS")?;
    let reps: usize = a[4].parse().context("ALTERNATIONS")?;
    anyhow::ensure!(
        (1..=65_534).contains(&n),
        "SESSIONS: 1 to 65 534 (eUPF's QER map holds 65 535 entries, index 0 unused here)"
    );
    let pin_root = &a[5];
    let objs = &a[6..];
    let fib = FibNs::new();
    let ifindex = fib.n3_ifindex;
    let (n3, gnb) = (BENCH_N3, BENCH_GNB);
    let ue4 = |i: u32| Ipv4Addr::from(0xC612_0001 + i);
    let ue6 = bench_ue6;
    // upf-lb: the sessions of upf-lb-bench gtp, with an IPv4 UE address besides the /64.
    let mut dp = GtpDatapath::load_with(&MapSizes::for_sessions(n + 1)).context("load")?;
    for i in 0..n {
        dp.install(&bench_session(i, Some(ue4(i))))
            .context("install")?;
    }
    // eUPF: one PDR per direction, FAR, QER (gates open, no MBR), two URRs, per session.
    let mut eupf = Vec::new();
    let pin = format!("{pin_root}/eupf-same-run-{}", std::process::id());
    std::fs::create_dir_all(&pin).context("pin")?;
    for (k, obj) in objs.iter().enumerate() {
        let dir = format!("{pin}/{k}");
        std::fs::create_dir_all(&dir)?;
        let mut e = EbpfLoader::new()
            .default_map_pin_directory(&dir)
            .load_file(obj)
            .with_context(|| obj.clone())?;
        {
            let mut bss: Array<_, [u8; 8]> = Array::try_from(e.map_mut(".bss").context(".bss")?)?;
            let mut g = [0u8; 8];
            g[..4].copy_from_slice(&n3.octets());
            bss.set(0, g, 0)?;
        }
        for i in 0..n {
            let pdr = |far: u32, qer: u32, u1: u32, u2: u32| {
                let mut v = [0u8; 208];
                v[0..4].copy_from_slice(&far.to_ne_bytes());
                v[4..8].copy_from_slice(&qer.to_ne_bytes());
                v[8..12].copy_from_slice(&u1.to_ne_bytes());
                v[12..16].copy_from_slice(&u2.to_ne_bytes());
                v[16] = 0; // OHR GTP-U/UDP/IPv4
                v
            };
            {
                let mut m: HashMap<_, u32, [u8; 208]> =
                    HashMap::try_from(e.map_mut("pdr_map_teid_ip4").unwrap())?;
                m.insert(0x1000 + i, pdr(2 * i + 1, i + 1, 2 * i + 1, 2 * i + 2), 0)?;
            }
            {
                let mut m: HashMap<_, u32, [u8; 208]> =
                    HashMap::try_from(e.map_mut("pdr_map_downlink_ip4").unwrap())?;
                m.insert(
                    u32::from_ne_bytes(ue4(i).octets()),
                    pdr(2 * i + 2, i + 1, 2 * i + 1, 2 * i + 2),
                    0,
                )?;
            }
            {
                let mut m: HashMap<_, [u8; 16], [u8; 208]> =
                    HashMap::try_from(e.map_mut("pdr_map_downlink_ip6").unwrap())?;
                m.insert(
                    ue6(i).octets(),
                    pdr(2 * i + 2, i + 1, 2 * i + 1, 2 * i + 2),
                    0,
                )?;
            }
            {
                let mut m: Array<_, [u8; 16]> = Array::try_from(e.map_mut("far_map").unwrap())?;
                let mut f = [0u8; 16];
                f[0] = 0x02; // FORW
                m.set(2 * i + 1, f, 0)?;
                f[1] = 0x01; // OHC GTP-U/UDP/IPv4
                f[4..8].copy_from_slice(&(0x8000_0000u32 | i).to_ne_bytes());
                f[8..12].copy_from_slice(&gnb.octets());
                m.set(2 * i + 2, f, 0)?;
            }
            {
                let mut m: Array<_, [u8; 32]> = Array::try_from(e.map_mut("qer_map").unwrap())?;
                let mut q = [0u8; 32];
                q[2] = 9;
                m.set(i + 1, q, 0)?;
            }
        }
        eupf.push(e);
    }
    for e in eupf.iter_mut() {
        let p: &mut Xdp = e
            .program_mut("upf_ip_entrypoint_func")
            .unwrap()
            .try_into()?;
        p.load()?;
    }
    let probe = n / 2;
    let inner_ul = udp(fixtures::UE_V4.into(), FibNs::NH4.into(), 5000, 7000);
    let mut g = Gtpu::gpdu(0x1000 + probe, inner_ul.to_bytes());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let ul_in = Frame::new(IpPacket::v4(gnb, n3, L4::gtpu(2152, &g))).to_bytes();
    let psc = Some(Psc {
        pdu_type: 0,
        qfi: 9,
        rqi: false,
        ppi: None,
    });
    let dl4 = udp(FibNs::NH4.into(), IpAddr::from(ue4(probe)), 7000, 5000);
    let dl6 = udp(FibNs::NH6.into(), IpAddr::from(ue6(probe)), 7000, 5000);
    let fx = |name: &str, input: Vec<u8>, action, output| Fixture {
        name: name.into(),
        input,
        action,
        output,
        reason: Reason::UplinkRedirect,
    };
    let enc = |inner: &IpPacket| {
        encapsulated(
            inner.clone(),
            0x8000_0000 | probe,
            psc,
            0,
            (n3, gnb),
            (FibNs::GNB_MAC, FibNs::N3_MAC),
        )
    };
    // eUPF does not decrement the inner TTL: the expected output is built from an inner one
    // higher, which the fixture helpers then decrement.
    let up = |p: &IpPacket| {
        let mut p = p.clone();
        match &mut p.ip {
            Ip::V4(h) => h.ttl += 1,
            Ip::V6(h) => h.hop_limit += 1,
        }
        p
    };
    let ours = [
        (
            "ul",
            fx(
                "ul",
                ul_in.clone(),
                xdp::REDIRECT,
                routed(inner_ul.clone(), FibNs::NH_MAC, FibNs::N6_MAC),
            ),
        ),
        (
            "dl v4 UE",
            fx(
                "dl4",
                Frame::new(dl4.clone()).to_bytes(),
                xdp::REDIRECT,
                enc(&dl4),
            ),
        ),
        (
            "dl v6 UE",
            fx(
                "dl6",
                Frame::new(dl6.clone()).to_bytes(),
                xdp::REDIRECT,
                enc(&dl6),
            ),
        ),
    ];
    // eUPF sends a frame back out of the interface it came in on by XDP_TX.
    let theirs = [
        (
            "ul",
            fx(
                "ul",
                ul_in.clone(),
                xdp::REDIRECT,
                routed(up(&inner_ul), FibNs::NH_MAC, FibNs::N6_MAC),
            ),
        ),
        (
            "dl v4 UE",
            fx("dl4", Frame::new(dl4.clone()).to_bytes(), 3, enc(&up(&dl4))),
        ),
        (
            "dl v6 UE",
            fx("dl6", Frame::new(dl6.clone()).to_bytes(), 3, enc(&up(&dl6))),
        ),
    ];
    println!("machine: {}", upf_lb::kernel::machine());
    println!("sessions {n}, runs {runs} x rounds {rounds} (median), {reps} alternations");
    let mut table: Vec<(String, Vec<f64>)> = Vec::new();
    fib.ns.run(|| -> anyhow::Result<()> {
        let prog3 = dp.xdp(names::PROG_XDP_N3)?;
        let prog6 = dp.xdp(names::PROG_XDP_N6)?;
        let noop = dp.xdp(names::PROG_XDP_NOOP)?;
        let theirs_p: Vec<&Xdp> = eupf
            .iter()
            .map(|e| {
                e.program("upf_ip_entrypoint_func")
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        for _ in 0..reps {
            let mut row = 0;
            for (k, (label, f)) in ours.iter().enumerate() {
                let p = if k == 0 { prog3 } else { prog6 };
                let r = measure_in(p, noop, f, runs, rounds, ifindex)
                    .with_context(|| format!("upf-lb {label}"))?;
                if table.len() <= row {
                    table.push((format!("upf-lb {label}"), vec![]));
                }
                table[row].1.push(r.net_ns());
                row += 1;
            }
            for (j, p) in theirs_p.iter().enumerate() {
                for (label, f) in theirs.iter() {
                    let r = measure_in(p, noop, f, runs, rounds, ifindex)
                        .with_context(|| format!("eupf {} {label}", objs[j]))?;
                    if table.len() <= row {
                        table.push((format!("{} {label}", objs[j]), vec![]));
                    }
                    table[row].1.push(r.net_ns());
                    row += 1;
                }
            }
        }
        Ok(())
    })?;
    for (name, mut v) in table {
        v.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{name:>48}: median {:7.1}  min {:7.1}  max {:7.1}  all {:?}",
            v[v.len() / 2],
            v[0],
            v[v.len() - 1],
            v.iter()
                .map(|x| (x * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
    }
    drop(eupf);
    let _ = std::fs::remove_dir_all(&pin);
    Ok(())
}
