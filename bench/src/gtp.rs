//! Per-packet cost of a program on a fixture, by the kernel's own run-time statistics.
//!
//! Method (shared/FACTS.md, "Measuring per-packet cost", method b): with BPF_ENABLE_STATS on,
//! the kernel adds each program run's time to `run_time_ns` and counts it in `run_cnt`. Each
//! BPF_PROG_TEST_RUN call here runs the program once on a fresh copy of the fixture (repeat = 1),
//! so a program that rewrites the packet is measured on the path the fixture names, not on its
//! own output. A round is `runs` calls; its cost is Δrun_time_ns / Δrun_cnt. The program under
//! test and the no-op baseline alternate rounds, so both see the same machine; the figure is the
//! median of the rounds of each, and the net cost is their difference. Every call's action and
//! output bytes are checked against the fixture.

use anyhow::{Context, bail, ensure};
use aya::programs::{TestRun, TestRunOptions, Xdp};
use upf_lb::{kernel::machine, southbound::test_run::xdp_md};
use upf_lb_testkit::fixtures::Fixture;

/// Outcome of one benchmark.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// Fixture name.
    pub fixture: String,
    /// Median ns per run of the program under test.
    pub gross_ns: f64,
    /// Median ns per run of the no-op baseline.
    pub baseline_ns: f64,
    /// Runs per round.
    pub runs: u32,
    /// Rounds per program.
    pub rounds: usize,
}

impl BenchResult {
    /// Cost net of the baseline.
    pub fn net_ns(&self) -> f64 {
        self.gross_ns - self.baseline_ns
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn stats(prog: &Xdp) -> anyhow::Result<(u64, u64)> {
    let info = prog.info().context("program info")?;
    Ok((info.run_time().as_nanos() as u64, info.run_count()))
}

/// Runs `prog` once on `fx.input` (arriving on `ifindex`, 0 for loopback) and checks its action
/// and output against the fixture.
pub fn run_checked(prog: &Xdp, fx: &Fixture, out: &mut [u8], ifindex: u32) -> anyhow::Result<()> {
    let ctx = xdp_md(fx.input.len(), ifindex);
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(&fx.input),
            data_out: Some(&mut *out),
            ctx_in: (ifindex != 0).then_some(&ctx[..]),
            ..TestRunOptions::new()
        })
        .context("BPF_PROG_TEST_RUN")?;
    let n = r.data_size_out as usize;
    ensure!(
        r.return_value == fx.action,
        "{}: action {} != {}",
        fx.name,
        r.return_value,
        fx.action
    );
    ensure!(
        out[..n] == fx.output[..],
        "{}: output differs from the fixture",
        fx.name
    );
    Ok(())
}

fn round(prog: &Xdp, fx: &Fixture, runs: u32, out: &mut [u8], ifindex: u32) -> anyhow::Result<f64> {
    let (t0, c0) = stats(prog)?;
    for _ in 0..runs {
        run_checked(prog, fx, out, ifindex)?;
    }
    let (t1, c1) = stats(prog)?;
    if c1 - c0 != u64::from(runs) {
        bail!(
            "run_cnt moved by {} for {runs} runs: is another user of the program?",
            c1 - c0
        );
    }
    Ok((t1 - t0) as f64 / f64::from(runs))
}

/// Measures `prog` on `fx` against `noop`.
pub fn measure(
    prog: &Xdp,
    noop: &Xdp,
    fx: &Fixture,
    runs: u32,
    rounds: usize,
) -> anyhow::Result<BenchResult> {
    measure_in(prog, noop, fx, runs, rounds, 0)
}

/// As [`measure`], with the packets arriving on interface `ifindex` of the caller's namespace.
pub fn measure_in(
    prog: &Xdp,
    noop: &Xdp,
    fx: &Fixture,
    runs: u32,
    rounds: usize,
    ifindex: u32,
) -> anyhow::Result<BenchResult> {
    ensure!(runs > 0 && rounds > 0, "runs and rounds must be positive");
    // Keep the statistics on while this fd lives.
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).context("BPF_ENABLE_STATS")?;
    let noop_fx = Fixture {
        action: upf_lb_testkit::fixtures::xdp::PASS,
        output: fx.input.clone(),
        ..fx.clone()
    };
    let mut out = vec![0u8; fx.input.len().max(fx.output.len()) + 256];
    // Warm-up round of each, not counted.
    round(prog, fx, runs.min(1000), &mut out, ifindex)?;
    round(noop, &noop_fx, runs.min(1000), &mut out, ifindex)?;
    let (mut gross, mut base) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        gross.push(round(prog, fx, runs, &mut out, ifindex)?);
        base.push(round(noop, &noop_fx, runs, &mut out, ifindex)?);
    }
    Ok(BenchResult {
        fixture: fx.name.clone(),
        gross_ns: median(gross),
        baseline_ns: median(base),
        runs,
        rounds,
    })
}

/// The N3 address of the user-plane benchmarks' sessions.
pub const BENCH_N3: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 2);
/// Their gNB.
pub const BENCH_GNB: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 1);

/// The IPv6 UE address of benchmark session `i` (its /64 is the session's).
pub fn bench_ue6(i: u32) -> std::net::Ipv6Addr {
    std::net::Ipv6Addr::new(0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 1)
}

/// Benchmark session `i`: uplink PDRs on TEID 0x1000 + i (hashed) and on the direct TEID i,
/// with outer header removal and a forwarding FAR; a downlink PDR on the /64 of
/// [`bench_ue6`]`(i)` (and on `ue4` when given) with a FAR that encapsulates GTP-U/IPv4 to
/// [`BENCH_GNB`] with TEID 0x8000_0000 | i; one QER (gate open, no MBR, QFI 9) and one URR on
/// every PDR.
pub fn bench_session(i: u32, ue4: Option<std::net::Ipv4Addr>) -> upf_lb::southbound::SessionSpec {
    use bpf_abi::gtp::{Qer, TEID_DIRECT};
    use upf_lb::southbound::{Key, PdrSpec, SessionSpec, gtp::build};
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&bench_ue6(i).octets()[..8]);
    let pdr = |id, ohr, far| PdrSpec {
        pdr_id: id,
        precedence: 10,
        qfi: 0,
        ohr,
        sdfs: vec![],
        far_id: far,
        qer_id: Some(1),
        urr_ids: vec![1],
    };
    let mut pdrs = vec![
        (Key::UlTeid(0x1000 + i), pdr(1, Some(0), 1)),
        (Key::UlTeid(TEID_DIRECT | i), pdr(3, Some(0), 1)),
        (Key::DlUe6(prefix), pdr(2, None, 2)),
    ];
    if let Some(a) = ue4 {
        pdrs.push((Key::DlUe4(a), pdr(4, None, 2)));
    }
    SessionSpec {
        session: i,
        fars: vec![
            (1, build::far_forward()),
            (2, build::far_gtpu_v4(0x8000_0000 | i, BENCH_N3, BENCH_GNB)),
        ],
        qers: vec![(
            1,
            Qer {
                qfi: 9,
                ..build::qer_open()
            },
        )],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs,
    }
}

/// Per-packet cost of the user plane with `levels` sessions installed (uplink decapsulation and
/// downlink encapsulation, both with FIB lookup and redirect, in a [`FibNs`]), plus an uplink
/// PDR whose match is its 8th SDF filter. Prints a table; every run's output is checked.
pub fn user_plane(levels: &[u32], runs: u32, rounds: usize) -> anyhow::Result<()> {
    use bpf_abi::{Reason, gtp::TEID_DIRECT, names};
    use std::{
        net::{IpAddr, Ipv4Addr},
        time::Instant,
    };
    use upf_lb::southbound::{GtpDatapath, Key, MapSizes, PdrSpec, SessionSpec, gtp::build};
    use upf_lb_packet::{Frame, Gtpu, GtpuExt, IpPacket, L4, Psc};
    use upf_lb_testkit::{
        fixtures::{self, Fixture, encapsulated, routed, udp, xdp},
        testbed::FibNs,
    };

    let max = levels.iter().copied().max().unwrap_or(1);
    let fib = FibNs::new();
    let ifindex = fib.n3_ifindex;
    let mut dp = GtpDatapath::load_with(&MapSizes::for_sessions(max + 1))?;
    let (n3, gnb) = (BENCH_N3, BENCH_GNB);
    let ue6 = bench_ue6;
    let session = |i: u32| bench_session(i, None);
    // One more session whose uplink PDR matches on the last of 8 SDF filters.
    let sdf_teid = 0x0f00_0000;
    let any = (IpAddr::from(Ipv4Addr::UNSPECIFIED), 0);
    let dn = (IpAddr::from(FibNs::NH4), 32);
    let mut sdfs: Vec<_> = (0..7)
        .map(|p| build::sdf(Some(6), any, (0, 65535), dn, (1000 + p, 1000 + p)))
        .collect();
    sdfs.push(build::sdf(Some(17), any, (0, 65535), dn, (7000, 7000)));
    dp.install(&SessionSpec {
        session: u32::MAX,
        fars: vec![(1, build::far_forward())],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![(
            Key::UlTeid(sdf_teid),
            PdrSpec {
                pdr_id: 1,
                precedence: 1,
                qfi: 0,
                ohr: Some(0),
                sdfs,
                far_id: 1,
                qer_id: None,
                urr_ids: vec![1],
            },
        )],
        ..Default::default()
    })?;

    // The uplink G-PDU of a fixture: the common frame `xdp_n3` handles itself, over IPv4 or
    // IPv6, or one without a PDU Session Container, which takes the general path
    // (`xdp_n3_general`, `xdp_n3_gpdu`).
    #[derive(Clone, Copy, PartialEq)]
    enum Ul {
        Common,
        Ipv6Outer,
        NoContainer,
    }
    let ul_fixture = |teid: u32, name: &str, ul: Ul| {
        let inner = udp(fixtures::UE_V4.into(), FibNs::NH4.into(), 5000, 7000);
        let mut g = Gtpu::gpdu(teid, inner.to_bytes());
        if ul != Ul::NoContainer {
            g.ext.push(GtpuExt::Psc(Psc {
                pdu_type: 1,
                qfi: 9,
                rqi: false,
                ppi: None,
            }));
        }
        let outer = if ul == Ul::Ipv6Outer {
            IpPacket::v6(fixtures::GNB_V6, fixtures::UPF_V6, L4::gtpu(2152, &g))
        } else {
            IpPacket::v4(gnb, n3, L4::gtpu(2152, &g))
        };
        Fixture {
            name: name.into(),
            input: Frame::new(outer).to_bytes(),
            action: xdp::REDIRECT,
            output: routed(inner, FibNs::NH_MAC, FibNs::N6_MAC),
            reason: Reason::UplinkRedirect,
        }
    };
    let dl_fixture = |i: u32| {
        let inner = udp(FibNs::NH6.into(), ue6(i).into(), 7000, 5000);
        let out = encapsulated(
            inner.clone(),
            0x8000_0000 | i,
            Some(Psc {
                pdu_type: 0,
                qfi: 9,
                rqi: false,
                ppi: None,
            }),
            0,
            (n3, gnb),
            (FibNs::GNB_MAC, FibNs::N3_MAC),
        );
        Fixture {
            name: "dl-encap".into(),
            input: Frame::new(inner).to_bytes(),
            action: xdp::REDIRECT,
            output: out,
            reason: Reason::DownlinkRedirect,
        }
    };

    println!("machine: {}", machine());
    println!(
        "method: BPF_PROG_TEST_RUN repeat=1 x {runs} per round, kernel bpf_stats, median of {rounds}, net of xdp_noop"
    );
    println!(
        "paths: uplink G-PDU (PSC) -> TEID (hash; \"direct\": TEID the UPF allocated, array index) -> PDR -> FAR -> decap -> FIB -> redirect; downlink IPv6 UE -> /64 -> PDR -> QER -> encap GTP-U/IPv4 + PSC -> FIB -> redirect; \"ul v6 outer\": the uplink over an IPv6 transport; \"ul general\": uplink without a PDU Session Container, which xdp_n3 leaves to the general parsers (two tail calls)"
    );
    const COLUMNS: [&str; 6] = [
        "uplink ns",
        "downlink ns",
        "ul 8-SDF ns",
        "ul direct ns",
        "ul v6 outer ns",
        "ul general ns",
    ];
    const WIDTHS: [usize; 6] = [12, 12, 14, 14, 15, 14];
    print!("{:>10} {:>14}", "sessions", "install/s");
    for (c, w) in COLUMNS.iter().zip(WIDTHS) {
        print!(" {c:>w$}");
    }
    println!();
    let mut installed = 0u32;
    for &n in levels {
        let t0 = Instant::now();
        let start = installed;
        while installed < n {
            dp.install(&session(installed))?;
            installed += 1;
        }
        let rate = f64::from(installed - start) / t0.elapsed().as_secs_f64().max(1e-9);
        let probe = n / 2;
        let figures = fib.ns.run(|| -> anyhow::Result<Vec<f64>> {
            let prog3 = dp.xdp(names::PROG_XDP_N3)?;
            let prog6 = dp.xdp(names::PROG_XDP_N6)?;
            let noop = dp.xdp(names::PROG_XDP_NOOP)?;
            let hashed = 0x1000 + probe;
            // In the order of the columns.
            [
                (prog3, ul_fixture(hashed, "ul-decap", Ul::Common)),
                (prog6, dl_fixture(probe)),
                (prog3, ul_fixture(sdf_teid, "ul-8-sdf", Ul::Common)),
                (
                    prog3,
                    ul_fixture(TEID_DIRECT | probe, "ul-direct-teid", Ul::Common),
                ),
                (prog3, ul_fixture(hashed, "ul-ipv6-outer", Ul::Ipv6Outer)),
                (prog3, ul_fixture(hashed, "ul-general", Ul::NoContainer)),
            ]
            .iter()
            .map(|(prog, fx)| measure_in(prog, noop, fx, runs, rounds, ifindex).map(|r| r.net_ns()))
            .collect()
        })?;
        let rate = if start == installed {
            "-".to_string()
        } else {
            format!("{rate:.0}")
        };
        print!("{n:>10} {rate:>14}");
        for (f, w) in figures.iter().zip(WIDTHS) {
            print!(" {f:>w$.1}");
        }
        println!();
    }
    Ok(())
}

/// Runs `x` in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18: each of `repeat`
/// copies of `frame` goes where the program sends it, as if it came in on the interface
/// `ctx` names), on CPU 0, from the calling thread's namespace; returns the time it took. A
/// kernel that refuses the mode is named in the error.
pub fn live_run(
    x: &Xdp,
    frame: &[u8],
    ctx: &[u8],
    repeat: u32,
) -> anyhow::Result<std::time::Duration> {
    pin_to_cpu0()?;
    let t0 = std::time::Instant::now();
    x.test_run(TestRunOptions {
        data_in: Some(frame),
        ctx_in: Some(ctx),
        repeat,
        attrs: aya::programs::TestRunAttrs::new().xdp_live_frames(64),
        ..TestRunOptions::new()
    })
    .with_context(|| {
        format!(
            "BPF_PROG_TEST_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES), Linux {}",
            upf_lb::kernel::release()
        )
    })?;
    Ok(t0.elapsed())
}

/// Pins the calling thread to CPU 0 (the softirqs of a veth path it drives then run there
/// too: wall time over frames is the path's cost).
pub fn pin_to_cpu0() -> anyhow::Result<()> {
    // SAFETY: an all-zero cpu_set_t is valid (empty); CPU_SET and sched_setaffinity get a
    // valid pointer to it for the duration of the calls.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        anyhow::ensure!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) == 0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}
