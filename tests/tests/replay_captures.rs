//! `upf-lb replay` on captures scapy built with its own PFCP and GTP-U layers (encoders we did
//! not write) and on a public GTP-U capture, the output checked with tshark: PFCP answers from
//! the real N4 endpoint, packets through the real programs with BPF_PROG_TEST_RUN, one verdict
//! per input packet.

use std::{
    path::{Path, PathBuf},
    process::Command,
};
use upf_lb::replay;
use upf_lb_packet::pcap;
use upf_lb_tests::{
    n4::config_with, require_root, shared_pcaps, target_dir, tshark_fields, venv_python,
};

fn dir(name: &str) -> PathBuf {
    let d = target_dir().join("replay-tests").join(name);
    std::fs::create_dir_all(&d).expect("test dir");
    d
}

fn scapy(out: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scapy/pfcp_session.py");
    let o = Command::new(venv_python())
        .arg(script)
        .arg(out)
        .args(args)
        .output()
        .expect("python");
    assert!(
        o.status.success(),
        "scapy: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn verdicts(p: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(p)
        .expect("verdicts")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            (
                v["path"].as_str().unwrap().to_string(),
                v["verdict"].as_str().unwrap().to_string(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn run_scapy_session(d: &Path, input: &Path) {
    let out = d.join("out.pcap");
    let vpath = d.join("verdicts.jsonl");
    let s = replay::run(input, &out, None, Some(&vpath)).expect("replay");
    assert_eq!(
        (s.input, s.output, s.pfcp_answered, s.skipped),
        (10, 9, 5, 1)
    );
    let v = verdicts(&vpath);
    let want = [
        ("pfcp", "answered", "message type 2"),
        ("pfcp", "answered", "message type 6"),
        ("pfcp", "answered", "message type 51"),
        ("xdp_n3", "XDP_TX", "gtpu_echo_response"),
        ("xdp_n3", "XDP_PASS", "uplink_to_kernel"),
        ("xdp_n3", "XDP_TX", "gtpu_error_indication"),
        ("xdp_n6", "XDP_PASS", "downlink_to_kernel"),
        ("skipped", "not addressed to the UP function", ""),
        ("pfcp", "answered", "message type 53"),
        ("pfcp", "answered", "message type 55"),
    ];
    let got: Vec<(&str, &str, &str)> = v
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(got, want);

    // tshark reads what came out.
    let rows = tshark_fields(
        &out,
        &[
            "_ws.col.Info",
            "pfcp.cause",
            "pfcp.f_teid.teid",
            "gtp.teid",
            "ip.dst",
            "pfcp.volume_measurement.ulnop",
            "pfcp.volume_measurement.dlnop",
            "pfcp.volume_measurement.ulvol",
        ],
        &[],
    );
    let info: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        info,
        [
            "PFCP Heartbeat Response",
            "PFCP Association Setup Response",
            "PFCP Session Establishment Response",
            "Echo response",
            "5000 → 7000 Len=17",
            "Error indication",
            "7000 → 5000 Len=17",
            "PFCP Session Modification Response",
            "PFCP Session Deletion Response",
        ]
    );
    for r in [1, 2, 7, 8] {
        assert_eq!(rows[r][1], "1", "cause of {}", rows[r][0]);
    }
    assert_eq!(rows[2][2], "0x80000000", "the chosen F-TEID");
    assert_eq!(rows[4][4], "203.0.113.10", "decapsulated to the DN");
    assert_eq!(rows[6][3], "0x0000abcd", "encapsulated to the gNB's TEID");
    // Query URR: one packet each way, 45 bytes of inner IPv4 uplink.
    assert_eq!(
        (
            rows[7][5].as_str(),
            rows[7][6].as_str(),
            rows[7][7].as_str()
        ),
        ("1", "1", "45")
    );
    // Deletion: nothing since the query.
    assert_eq!((rows[8][5].as_str(), rows[8][6].as_str()), ("0", "0"));
}

#[test]
fn a_scapy_pfcp_and_gtpu_capture_replays_with_answers_and_forwarded_packets() {
    require_root();
    let d = dir("scapy-pcap");
    let input = d.join("in.pcap");
    scapy(&input, &["--choose", "--traffic"]);
    run_scapy_session(&d, &input);
}

#[test]
fn pcapng_input_replays_the_same() {
    require_root();
    let d = dir("scapy-pcapng");
    let input = d.join("in.pcapng");
    scapy(&input, &["--choose", "--traffic", "--pcapng"]);
    run_scapy_session(&d, &input);
}

/// The public GTP-U capture of PcapPlusPlus (G-PDUs on TEID 1 between 192.168.40.179 and
/// 192.168.40.178), after a scapy-made association and session that give TEID 1 to the UE
/// 202.11.40.158 on a UP function at 192.168.40.178: every uplink G-PDU is decapsulated.
#[test]
fn the_public_gtpu_capture_is_decapsulated_after_a_session_for_its_teid() {
    require_root();
    let public = shared_pcaps().join("pcapplusplus/gtp-u.pcap");
    let d = dir("public-gtpu");
    let pfcp_part = d.join("pfcp.pcap");
    scapy(
        &pfcp_part,
        &[
            "--upf",
            "192.168.40.178",
            "--smf",
            "192.168.40.179",
            "--gnb",
            "192.168.40.179",
            "--ue",
            "202.11.40.158",
            "--teid",
            "1",
            // Its G-PDUs carry no PDU Session Container: a PDI with a QFI would match none
            // (they are dropped as pdr_no_match then, which this test saw first).
            "--no-qfi",
        ],
    );
    let mut frames = pcap::read_frames(&pfcp_part).expect("pfcp part");
    let public_frames = pcap::read_frames(&public).expect("public capture");
    let n_public = public_frames.len();
    frames.extend(public_frames);
    let input = d.join("in.pcap");
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    pcap::write_frames(&input, &refs).expect("write");
    let cfg = config_with(&[
        ("node_id = \"192.0.2.2\"", "node_id = \"192.168.40.178\""),
        ("ipv4 = \"192.0.2.2\"", "ipv4 = \"192.168.40.178\""),
        (
            "listen = [\"192.0.2.2:8805\", \"[2001:db8:0:3::2]:8805\"]",
            "listen = [\"192.168.40.178:8805\"]",
        ),
        (
            "allowed_peers = [\"192.0.2.0/24\", \"2001:db8:0:3::/64\"]",
            "allowed_peers = [\"192.168.40.0/24\"]",
        ),
    ]);
    let out = d.join("out.pcap");
    let vpath = d.join("verdicts.jsonl");
    let s = replay::run(&input, &out, Some(cfg), Some(&vpath)).expect("replay");
    let v = verdicts(&vpath);
    assert_eq!(s.pfcp_answered, 3);
    let up: Vec<_> = v.iter().filter(|x| x.0 == "xdp_n3").collect();
    assert_eq!(up.len(), n_public.div_ceil(2), "the uplink half");
    assert!(
        up.iter()
            .all(|x| x.1 == "XDP_PASS" && x.2 == "uplink_to_kernel"),
        "{up:?}"
    );
    assert_eq!(
        s.skipped,
        n_public / 2,
        "the downlink half is not addressed to us"
    );
    // tshark: the decapsulated packets carry no GTP-U and are the UE's.
    let rows = tshark_fields(&out, &["gtp.teid", "ip.src"], &[]);
    let decap: Vec<_> = rows.iter().skip(3).collect();
    assert_eq!(decap.len(), up.len());
    assert!(
        decap
            .iter()
            .all(|r| r[0].is_empty() && r[1] == "202.11.40.158"),
        "{decap:?}"
    );
}
