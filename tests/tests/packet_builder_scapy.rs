//! The packet builder is the oracle of the datapath tests, so it is itself checked against an
//! independent encoder/decoder: scapy decodes what the builder makes, field by field, and
//! recomputes its checksums.

use std::collections::BTreeMap;
use upf_lb_packet::{Frame, Gtpu, GtpuExt, IpPacket, L4, Psc};
use upf_lb_testkit::fixtures::{self, echo_request_v4, echo_response_for};
use upf_lb_tests::{python_records, target_dir};

const DECODE: &str = r#"
import sys
from scapy.all import rdpcap, Ether, IP, IPv6, UDP
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
for p in rdpcap(sys.argv[1]):
    g = p[GTP_U_Header]
    print(f"gtp={g.version},{g.PT},{g.E},{g.S},{g.PN},{g.gtp_type},{g.length},{g.teid}")
    if g.S or g.E or g.PN:
        print(f"opt={g.seq},{g.npdu},{g.next_ex}")
    if GTPPDUSessionContainer in p:
        c = p[GTPPDUSessionContainer]
        print(f"psc={c.ExtHdrLen},{c.type},{c.QFI},{c.PPP},{c.RQI},{c.PPI},{c.NextExtHdr}")
    # Checksums: rebuild without them and compare.
    q = p.copy()
    ipl = IP if IP in q else IPv6
    if ipl is IP:
        del q[IP].chksum
    del q[UDP].chksum
    q = Ether(bytes(q))
    ok_ip = ipl is IPv6 or q[IP].chksum == p[IP].chksum
    print(f"csum={ok_ip and q[UDP].chksum == p[UDP].chksum}")
    print("--")
"#;

fn decode(name: &str, frames: &[Frame]) -> Vec<BTreeMap<String, String>> {
    let bytes: Vec<Vec<u8>> = frames.iter().map(Frame::to_bytes).collect();
    let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    let path = target_dir().join("scapy").join(format!("{name}.pcap"));
    upf_lb_packet::pcap::write_frames(&path, &refs).expect("write pcap");
    let recs = python_records(DECODE, &[&path]);
    assert_eq!(recs.len(), frames.len());
    recs
}

#[test]
fn scapy_decodes_echo_request_and_response_as_built() {
    let req = echo_request_v4(0x0102);
    let recs = decode("echo", &[req.clone(), echo_response_for(&req)]);
    assert_eq!(recs[0]["gtp"], "1,1,0,1,0,1,4,0");
    assert_eq!(recs[0]["opt"], "258,0,0");
    assert_eq!(recs[1]["gtp"], "1,1,0,1,0,2,6,0");
    assert_eq!(recs[1]["opt"], "258,0,0");
    assert!(recs.iter().all(|r| r["csum"] == "True"), "{recs:?}");
}

#[test]
fn scapy_decodes_pdu_session_containers_as_built() {
    let inner = IpPacket::v4(
        fixtures::DN_V4,
        fixtures::UE_V4,
        L4::Udp {
            src: 53,
            dst: 5000,
            payload: vec![7; 10],
        },
    );
    let mut dl = Gtpu::gpdu(0xabcdef, inner.to_bytes());
    dl.seq = Some(77);
    dl.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 0,
        qfi: 5,
        rqi: true,
        ppi: Some(6),
    }));
    let dl = Frame::new(IpPacket::v4(
        fixtures::UPF_V4,
        fixtures::GNB_V4,
        L4::gtpu(2152, &dl),
    ));
    let mut ul = Gtpu::gpdu(0x42, inner.to_bytes());
    ul.npdu = Some(3);
    ul.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let ul = Frame::new(IpPacket::v6(
        fixtures::GNB_V6,
        fixtures::UPF_V6,
        L4::gtpu(2152, &ul),
    ));
    let recs = decode("psc", &[dl, ul]);
    // DL: E and S; PSC length 2 (PPI octet), type 0, QFI 5, PPP 1, RQI 1, PPI 6, no next.
    assert_eq!(
        recs[0]["gtp"],
        format!("1,1,1,1,0,255,{},{}", 4 + 8 + 38, 0xabcdef)
    );
    assert_eq!(recs[0]["opt"], "77,0,133");
    assert_eq!(recs[0]["psc"], "2,0,5,1,1,6,0");
    // UL: E and PN; PSC length 1, type 1, QFI 9.
    assert_eq!(recs[1]["gtp"], format!("1,1,1,0,1,255,{},66", 4 + 4 + 38));
    assert_eq!(recs[1]["opt"], "0,3,133");
    assert_eq!(
        recs[1]["psc"].split(',').take(3).collect::<Vec<_>>(),
        ["1", "1", "9"]
    );
    assert!(recs.iter().all(|r| r["csum"] == "True"), "{recs:?}");
}
