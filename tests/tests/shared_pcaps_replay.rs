//! Real GTP-U captures we did not make (shared/pcaps, from PcapPlusPlus) through xdp_n3, the
//! class of each frame from tshark:
//! - with no session installed, every G-PDU (sequence numbers, extension headers) parses as
//!   well-formed GTP-U down to the TEID lookup and is answered with an Error Indication (the
//!   first 100 a second; the rest dropped), never counted malformed; GTP-C and other UDP pass;
//! - with a session for each TEID in the capture, every G-PDU is decapsulated to exactly its
//!   T-PDU (offsets computed here independently of the datapath's parser).

use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::{Reason, names};
use std::collections::BTreeSet;
use upf_lb::southbound::{GtpDatapath, Key, PdrSpec, SessionSpec, gtp::build};
use upf_lb_testkit::fixtures::xdp;
use upf_lb_tests::{FibNs, require_root, shared_pcaps, tshark_fields};

struct Capture {
    frames: Vec<Vec<u8>>,
    /// Per frame: the TEID when tshark sees a G-PDU to port 2152.
    gpdu_teid: Vec<Option<u32>>,
}

fn capture(name: &str) -> Capture {
    let path = shared_pcaps().join("pcapplusplus").join(name);
    let frames = upf_lb_packet::pcap::read_frames(&path).expect("read capture");
    let rows = tshark_fields(&path, &["udp.dstport", "gtp.message", "gtp.teid"], &[]);
    assert_eq!(frames.len(), rows.len());
    let gpdu_teid = rows
        .iter()
        .map(|c| {
            // The first udp.dstport is the outer one.
            (c[0].split(',').next() == Some("2152") && c[1] == "0xff")
                .then(|| u32::from_str_radix(c[2].trim_start_matches("0x"), 16).expect("teid"))
        })
        .collect();
    Capture { frames, gpdu_teid }
}

fn run(prog: &aya::programs::Xdp, f: &[u8], ctx: Option<&[u8]>) -> (u32, Vec<u8>) {
    let mut out = vec![0u8; f.len() + 256];
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(f),
            data_out: Some(&mut out),
            ctx_in: ctx,
            ..TestRunOptions::new()
        })
        .expect("test run");
    out.truncate(r.data_size_out as usize);
    (r.return_value, out)
}

/// Offset of the T-PDU in an untagged Ethernet/IPv4/UDP/GTP-U frame, by the field tables.
fn tpdu_offset(f: &[u8]) -> usize {
    let ip = 14;
    let udp = ip + usize::from(f[ip] & 0x0f) * 4;
    let g = udp + 8;
    if f[g] & 0x07 == 0 {
        return g + 8;
    }
    let (mut off, mut next) = (g + 12, f[g + 11]);
    while next != 0 {
        let len = usize::from(f[off]) * 4;
        next = f[off + len - 1];
        off += len;
    }
    off
}

fn without_sessions(name: &str) -> (usize, usize) {
    let cap = capture(name);
    let dp = GtpDatapath::load().expect("load bpf-gtp");
    let prog = dp.xdp(names::PROG_XDP_N3).unwrap();
    let (mut answered, mut dropped, mut other) = (0, 0, 0);
    for (i, (f, teid)) in cap.frames.iter().zip(&cap.gpdu_teid).enumerate() {
        let before = dp.counters().unwrap();
        let (action, out) = run(prog, f, None);
        let after = dp.counters().unwrap();
        let moved: Vec<Reason> = before
            .iter()
            .zip(&after)
            .filter(|((_, b), (_, a))| a.packets != b.packets)
            .map(|((r, _), _)| *r)
            .collect();
        match teid {
            Some(_) if moved == [Reason::GtpuErrorIndication] => {
                assert_eq!(
                    (action, out[1 + 14 + 20 + 8]),
                    (xdp::TX, 26),
                    "{name} frame {}",
                    i + 1
                );
                answered += 1;
            }
            Some(_) => {
                assert_eq!(
                    (moved, action),
                    (vec![Reason::GtpuUnknownTeid], xdp::DROP),
                    "{name} frame {}",
                    i + 1
                );
                dropped += 1;
            }
            None => {
                assert_eq!(
                    (moved, action),
                    (vec![Reason::NotGtpuPort], xdp::PASS),
                    "{name} frame {}",
                    i + 1
                );
                assert_eq!(&out, f, "frame changed");
                other += 1;
            }
        }
    }
    // The rate limit (100 a second per CPU) answers at least the first 100.
    assert!(
        answered >= (answered + dropped).min(100),
        "{answered} answered, {dropped} dropped"
    );
    (answered + dropped, other)
}

#[test]
fn pcapplusplus_gtp_u_capture_is_well_formed_gtpu() {
    require_root();
    assert_eq!(without_sessions("gtp-u.pcap"), (102, 0));
}

#[test]
fn pcapplusplus_mixed_gtp_capture_classifies_every_frame() {
    require_root();
    assert_eq!(without_sessions("gtp.pcap"), (4, 3));
}

#[test]
fn every_g_pdu_of_the_captures_is_decapsulated_to_its_t_pdu() {
    require_root();
    let fib = FibNs::new();
    for name in ["gtp-u.pcap", "gtp.pcap"] {
        let cap = capture(name);
        let mut dp = GtpDatapath::load().expect("load bpf-gtp");
        let teids: BTreeSet<u32> = cap.gpdu_teid.iter().flatten().copied().collect();
        for (i, teid) in teids.iter().enumerate() {
            let pdr = PdrSpec {
                pdr_id: 1,
                precedence: 1,
                qfi: 0,
                ohr: Some(0),
                sdfs: vec![],
                far_id: 1,
                qer_id: None,
                urr_ids: vec![1],
            };
            dp.install(&SessionSpec {
                session: i as u32,
                fars: vec![(1, build::far_forward())],
                urrs: vec![1],
                pdrs: vec![(Key::UlTeid(*teid), pdr)],
                ..Default::default()
            })
            .expect("install");
        }
        let prog = dp.xdp(names::PROG_XDP_N3).unwrap();
        let mut n = 0;
        for (i, (f, teid)) in cap.frames.iter().zip(&cap.gpdu_teid).enumerate() {
            if teid.is_none() {
                continue;
            }
            let ctx = upf_lb::southbound::test_run::xdp_md(f.len(), fib.n3_ifindex);
            let (action, out) = fib.ns.run(|| run(prog, f, Some(&ctx)));
            let t = tpdu_offset(f);
            let et: [u8; 2] = if f[t] >> 4 == 6 {
                [0x86, 0xdd]
            } else {
                [0x08, 0x00]
            };
            let mut want = f[..12].to_vec();
            want.extend_from_slice(&et);
            want.extend_from_slice(&f[t..]);
            // No route for the captures' addresses in the test FIB: decapsulated, to the kernel.
            assert_eq!(action, xdp::PASS, "{name} frame {}", i + 1);
            assert_eq!(out, want, "{name} frame {}: decapsulated T-PDU", i + 1);
            n += 1;
        }
        let c = dp.counters().unwrap();
        assert_eq!(
            c[Reason::UplinkToKernel as usize].1.packets,
            n as u64,
            "{name}"
        );
        assert!(n > 0);
    }
}
