//! The echo responder's output decoded by tshark, an independent dissector: GTP-U fields,
//! IPv4/UDP checksums validated, and no malformed-packet expert info.

use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::names;
use upf_lb::southbound::GtpDatapath;
use upf_lb_packet::Frame;
use upf_lb_testkit::fixtures::{echo_request_v4, echo_request_v6, xdp};
use upf_lb_tests::{require_root, target_dir, tshark_fields};

fn respond(dp: &GtpDatapath, req: &Frame) -> Vec<u8> {
    let input = req.to_bytes();
    let mut out = vec![0u8; 512];
    let r = dp
        .xdp(names::PROG_XDP_N3)
        .expect("xdp_n3")
        .test_run(TestRunOptions {
            data_in: Some(&input),
            data_out: Some(&mut out),
            ..TestRunOptions::new()
        })
        .expect("BPF_PROG_TEST_RUN");
    assert_eq!(r.return_value, xdp::TX);
    out.truncate(r.data_size_out as usize);
    out
}

const FIELDS: &[&str] = &[
    "gtp.flags.version",
    "gtp.flags.payload",
    "gtp.flags.s",
    "gtp.message",
    "gtp.teid",
    "gtp.length",
    "gtp.seq_number",
    "gtp.recovery",
    "udp.srcport",
    "udp.dstport",
    "udp.checksum.status",
    "_ws.malformed",
];

const OPTS: &[&str] = &["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"];

#[test]
fn tshark_decodes_the_ipv4_echo_response() {
    require_root();
    let dp = GtpDatapath::load().expect("load bpf-gtp");
    let req = echo_request_v4(0xbeef);
    let reply = respond(&dp, &req);
    let pcap = target_dir().join("tshark").join("echo-ipv4.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&req.to_bytes(), &reply]).expect("write pcap");
    let mut fields = FIELDS.to_vec();
    fields.extend([
        "ip.checksum.status",
        "ip.src",
        "ip.dst",
        "ip.ttl",
        "ip.flags.df",
    ]);
    let rows = tshark_fields(&pcap, &fields, OPTS);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let r = &rows[1];
    // version 1, PT 1, S 1; Echo Response (2); TEID 0; Length 6; seq copied; Restart Counter 0.
    assert_eq!(
        &r[..8],
        &["1", "1", "1", "0x02", "0x00000000", "6", "0xbeef", "0"],
        "{r:?}"
    );
    // Ports swapped; UDP and IP checksums Good (status 1; 0 is Bad); nothing malformed.
    assert_eq!(&r[8..12], &["2152", "2152", "1", ""], "{r:?}");
    assert_eq!(
        &r[12..],
        &["1", "192.0.2.2", "192.0.2.1", "64", "1"],
        "{r:?}"
    );
    // The request decodes as an Echo Request (1) with the same sequence number.
    assert_eq!(
        (rows[0][3].as_str(), rows[0][6].as_str()),
        ("0x01", "0xbeef")
    );

    // The oracle does check: a corrupted UDP checksum decodes as Bad (0).
    let mut bad = reply.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x01;
    upf_lb_packet::pcap::write_frames(&pcap, &[&bad]).expect("write pcap");
    let rows = tshark_fields(&pcap, &["udp.checksum.status"], OPTS);
    assert_eq!(rows[0][0], "0");
}

#[test]
fn tshark_decodes_the_ipv6_echo_response() {
    require_root();
    let dp = GtpDatapath::load().expect("load bpf-gtp");
    let req = echo_request_v6(7);
    let reply = respond(&dp, &req);
    let pcap = target_dir().join("tshark").join("echo-ipv6.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&reply]).expect("write pcap");
    let mut fields = FIELDS.to_vec();
    fields.extend(["ipv6.src", "ipv6.dst", "ipv6.hlim"]);
    let rows = tshark_fields(&pcap, &fields, OPTS);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        &r[..8],
        &["1", "1", "1", "0x02", "0x00000000", "6", "0x0007", "0"],
        "{r:?}"
    );
    assert_eq!(&r[8..12], &["2152", "2152", "1", ""], "{r:?}");
    assert_eq!(
        &r[12..],
        &["2001:db8:0:3::2", "2001:db8:0:3::1", "64"],
        "{r:?}"
    );
}
