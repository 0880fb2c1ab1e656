//! G-PDUs made by scapy (an independent encoder: `scapy.contrib.gtp`), with the S, PN and E
//! flags and chains of several extension headers (PDCP PDU Number, UDP Port, PDU Session
//! Container), go through xdp_n3 with a session for their TEID: each is decapsulated to exactly
//! the T-PDU scapy put in it. (scapy needs `gtp_type=255` spelled out: with some extension
//! headers bound it encodes message type 0.)

use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::{Reason, names};
use upf_lb::southbound::{GtpDatapath, Key, PdrSpec, SessionSpec, gtp::build};
use upf_lb_testkit::fixtures::xdp;
use upf_lb_tests::{FibNs, python_records, require_root};

const MAKE: &str = r#"
from scapy.all import Ether, IP, IPv6, UDP, raw
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer, GTP_PDCP_PDU_ExtensionHeader, GTP_UDPPort_ExtensionHeader
def out(name, pkt, inner):
    print(f"name={name}"); print(f"frame={raw(pkt).hex()}"); print(f"inner={raw(inner).hex()}"); print("--")
outer = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=2152, dport=2152)
inner4 = IP(src="198.18.0.1", dst="198.51.100.7") / UDP(sport=5000, dport=53) / (b"q" * 30)
inner6 = IPv6(src="2001:db8:0:5::1", dst="2001:db8:0:99::7") / UDP(sport=5000, dport=443) / (b"r" * 40)
out("psc-only", outer / GTP_U_Header(gtp_type=255, teid=0x100, E=1, next_ex=0x85) / GTPPDUSessionContainer(type=1, QFI=9, NextExtHdr=0) / inner4, inner4)
out("seq-pn-psc", outer / GTP_U_Header(gtp_type=255, teid=0x100, E=1, S=1, PN=1, seq=4711, npdu=9, next_ex=0x85) / GTPPDUSessionContainer(type=1, QFI=9, NextExtHdr=0) / inner4, inner4)
out("pdcp-udpport-psc", outer / GTP_U_Header(gtp_type=255, teid=0x100, E=1, next_ex=0xc0) / GTP_PDCP_PDU_ExtensionHeader(pdcp_pdu=77, next_ex=0x40) / GTP_UDPPort_ExtensionHeader(udp_port=40000, next_ex=0x85) / GTPPDUSessionContainer(type=1, QFI=9, NextExtHdr=0) / inner6, inner6)
out("seq-only-ipv6-inner", outer / GTP_U_Header(gtp_type=255, teid=0x100, S=1, seq=1) / inner6, inner6)
"#;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn scapy_g_pdus_are_decapsulated_to_the_t_pdu_scapy_put_in() {
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
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
        session: 1,
        fars: vec![(1, build::far_forward())],
        urrs: vec![1],
        pdrs: vec![(Key::UlTeid(0x100), pdr)],
        ..Default::default()
    })
    .expect("install");
    let recs = python_records(MAKE, &[]);
    assert_eq!(recs.len(), 4);
    let prog = dp.xdp(names::PROG_XDP_N3).unwrap();
    for r in &recs {
        let (frame, inner) = (hex(&r["frame"]), hex(&r["inner"]));
        let mut out = vec![0u8; frame.len() + 256];
        let ctx = upf_lb::southbound::test_run::xdp_md(frame.len(), fib.n3_ifindex);
        let res = fib
            .ns
            .run(|| {
                prog.test_run(TestRunOptions {
                    data_in: Some(&frame),
                    data_out: Some(&mut out),
                    ctx_in: Some(&ctx),
                    ..TestRunOptions::new()
                })
            })
            .expect("test run");
        out.truncate(res.data_size_out as usize);
        let et: [u8; 2] = if inner[0] >> 4 == 6 {
            [0x86, 0xdd]
        } else {
            [0x08, 0x00]
        };
        let mut want = frame[..12].to_vec();
        want.extend_from_slice(&et);
        want.extend_from_slice(&inner);
        // No route for the T-PDUs' destinations in the test FIB: decapsulated, to the kernel.
        assert_eq!(res.return_value, xdp::PASS, "{}", r["name"]);
        assert_eq!(out, want, "{}: decapsulated T-PDU", r["name"]);
    }
    let c = dp.counters().unwrap();
    assert_eq!(c[Reason::UplinkToKernel as usize].1.packets, 4);
}
