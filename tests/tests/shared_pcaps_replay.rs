//! Real GTP-U captures (shared/pcaps, from PcapPlusPlus) through xdp_n3 with no session
//! installed: G-PDUs with sequence numbers and extension headers parse as well-formed GTP-U down
//! to the TEID lookup (dropped as unknown TEID, never counted malformed), GTP-C and other UDP
//! pass as not GTP-U; the expected class of each frame comes from tshark.

use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::{Reason, names};
use upf_lb::{fixtures::xdp, southbound::GtpDatapath};
use upf_lb_tests::{require_root, shared_pcaps, tshark_fields};

fn replay(name: &str) -> (usize, usize) {
    let path = shared_pcaps().join("pcapplusplus").join(name);
    let frames = upf_lb::pcap::read_frames(&path).expect("read capture");
    let classes = tshark_fields(&path, &["udp.dstport", "gtp.message"], &[]);
    assert_eq!(frames.len(), classes.len());
    let dp = GtpDatapath::load().expect("load bpf-gtp");
    let prog = dp.xdp(names::PROG_XDP_N3).unwrap();
    let (mut gtpu, mut other) = (0, 0);
    for (i, (f, c)) in frames.iter().zip(&classes).enumerate() {
        let before = dp.counters().unwrap();
        let mut out = vec![0u8; f.len() + 256];
        let r = prog
            .test_run(TestRunOptions {
                data_in: Some(f),
                data_out: Some(&mut out),
                ..TestRunOptions::new()
            })
            .expect("test run");
        let expect = if c[0].split(',').next() == Some("2152") && !c[1].is_empty() {
            gtpu += 1;
            Reason::GtpuUnknownTeid
        } else {
            other += 1;
            Reason::NotGtpuPort
        };
        let action = if expect == Reason::GtpuUnknownTeid {
            xdp::DROP
        } else {
            xdp::PASS
        };
        assert_eq!(r.return_value, action, "{name} frame {}", i + 1);
        assert_eq!(&out[..r.data_size_out as usize], &f[..], "frame changed");
        // tshark's first udp.dstport is the outer one.
        let after = dp.counters().unwrap();
        let moved: Vec<Reason> = before
            .iter()
            .zip(&after)
            .filter(|((_, b), (_, a))| a.packets != b.packets)
            .map(|((r, _), _)| *r)
            .collect();
        assert_eq!(moved, vec![expect], "{name} frame {} ({c:?})", i + 1);
    }
    (gtpu, other)
}

#[test]
fn pcapplusplus_gtp_u_capture_is_well_formed_gtpu() {
    require_root();
    assert_eq!(replay("gtp-u.pcap"), (102, 0));
}

#[test]
fn pcapplusplus_mixed_gtp_capture_classifies_every_frame() {
    require_root();
    let (gtpu, other) = replay("gtp.pcap");
    assert_eq!((gtpu, other), (4, 3));
}
