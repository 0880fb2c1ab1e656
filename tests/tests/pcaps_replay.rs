//! pcaps/ (issue 19): every capture there replayed through `upf-lb replay` (the real N4 endpoint
//! and programs, BPF_PROG_TEST_RUN), with the configuration `NAME.toml` beside it when there is
//! one (else the embedded default), and each packet's verdict and output compared with
//! `NAME.expected` (one JSON line per input packet: what `replay --verdicts` writes, with the
//! packet's output in hex; in PFCP answers the clock readings and the checksums over them
//! zeroed). Adding a capture is adding it and its `.expected`, written by a run
//! with `UPF_LB_BLESS=1` and then read (and checked with tshark) before it is committed; every
//! capture is listed in pcaps/README.md with its origin and licence.

use std::path::{Path, PathBuf};
use upf_lb::{config::Config, replay};
use upf_lb_tests::{require_root, target_dir};

fn pcaps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcaps")
}

fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(pcaps())
        .expect("pcaps/")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    v.sort();
    v
}

/// TS 29.244 8.1.2: IEs whose values are clock readings (Duration Measurement, Time of First
/// and Last Packet, Start Time, End Time, Recovery Time Stamp, Event Time Stamp), zeroed before
/// a PFCP answer is compared; and the grouped IEs that hold them (Usage Report in a Session
/// Modification Response, Deletion Response, Report Request).
const PFCP_TIME_IES: [u16; 7] = [67, 69, 70, 75, 76, 96, 156];
const PFCP_GROUPED_WITH_TIMES: [u16; 3] = [78, 79, 80];

/// Zeroes the clock readings in the IEs of `b` (a run of PFCP IEs), recursing into the groups
/// that hold them.
fn mask_pfcp_ies(b: &mut [u8]) {
    let mut at = 0;
    while at + 4 <= b.len() {
        let t = u16::from_be_bytes([b[at], b[at + 1]]);
        let len = usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
        let end = (at + 4 + len).min(b.len());
        let body = at + 4 + if t & 0x8000 != 0 { 2 } else { 0 };
        if body <= end {
            if PFCP_TIME_IES.contains(&t) {
                b[body..end].fill(0);
            } else if PFCP_GROUPED_WITH_TIMES.contains(&t) {
                mask_pfcp_ies(&mut b[body..end]);
            }
        }
        at = end;
    }
}

/// A PFCP answer (Ethernet, IPv4 or IPv6, UDP) with its clock readings and the checksums that
/// cover them zeroed: what stays the same from run to run.
fn mask_pfcp(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    let ip = 14;
    let (udp, v4) = match f.get(ip).map(|b| b >> 4) {
        Some(4) => (ip + usize::from(f[ip] & 0x0f) * 4, true),
        Some(6) => (ip + 40, false),
        _ => return f,
    };
    if f.len() < udp + 8 + 8 {
        return f;
    }
    if v4 {
        f[ip + 10..ip + 12].fill(0);
    }
    f[udp + 6..udp + 8].fill(0);
    let pfcp = udp + 8;
    let header = if f[pfcp] & 0x01 != 0 { 16 } else { 8 };
    let end = (pfcp + 4 + usize::from(u16::from_be_bytes([f[pfcp + 2], f[pfcp + 3]]))).min(f.len());
    if pfcp + header <= end {
        mask_pfcp_ies(&mut f[pfcp + header..end]);
    }
    f
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The replay of `input`: one JSON line per input packet.
fn replayed(input: &Path) -> Vec<String> {
    let stem = input.file_stem().unwrap().to_str().unwrap().to_string();
    let dir = target_dir().join("pcaps-replay");
    std::fs::create_dir_all(&dir).expect("test dir");
    let out = dir.join(format!("{stem}.out.pcap"));
    let vpath = dir.join(format!("{stem}.verdicts.jsonl"));
    let cfg_path = input.with_extension("toml");
    let cfg = cfg_path.exists().then(|| {
        let text = std::fs::read_to_string(&cfg_path).expect("config");
        Config::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", cfg_path.display()))
    });
    replay::run(input, &out, cfg, Some(&vpath)).unwrap_or_else(|e| panic!("{stem}: {e:#}"));
    let mut outputs = upf_lb_packet::pcap::read_frames(&out)
        .expect("replay's output")
        .into_iter();
    let lines: Vec<String> = std::fs::read_to_string(&vpath)
        .expect("verdicts")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let len = v["output_len"].as_u64().expect("output_len") as usize;
            let frame = if len > 0 {
                let f = outputs.next().expect("an output frame for each output_len");
                assert_eq!(f.len(), len, "{stem}: output length of {l}");
                if v["path"] == "pfcp" {
                    hex(&mask_pfcp(&f))
                } else {
                    hex(&f)
                }
            } else {
                String::new()
            };
            // The fields in a fixed order, whatever order serde_json keeps an object's keys in
            // (its preserve_order feature differs from one build of the workspace to another).
            let s = |k: &str| serde_json::to_string(&v[k]).expect("JSON");
            format!(
                r#"{{"index":{},"path":{},"verdict":{},"reason":{},"output_len":{},"output":"{frame}"}}"#,
                s("index"),
                s("path"),
                s("verdict"),
                s("reason"),
                s("output_len")
            )
        })
        .collect();
    assert!(
        outputs.next().is_none(),
        "{stem}: outputs beyond the verdicts"
    );
    lines
}

#[test]
fn every_capture_in_pcaps_replays_to_its_expected_verdicts_and_outputs() {
    require_root();
    let caps = captures();
    assert!(caps.len() >= 2, "pcaps/ holds {} captures", caps.len());
    let readme = std::fs::read_to_string(pcaps().join("README.md")).expect("pcaps/README.md");
    let bless = std::env::var_os("UPF_LB_BLESS").is_some();
    let mut bad = vec![];
    for cap in &caps {
        let name = cap.file_name().unwrap().to_str().unwrap();
        if !readme.contains(&format!("`{name}`")) {
            bad.push(format!("{name}: not in pcaps/README.md (origin, licence)"));
        }
        let got = replayed(cap);
        let expected = cap.with_extension("expected");
        if bless {
            std::fs::write(&expected, got.join("\n") + "\n").expect("write .expected");
            continue;
        }
        let want: Vec<String> = match std::fs::read_to_string(&expected) {
            Ok(t) => t.lines().map(str::to_string).collect(),
            Err(e) => {
                bad.push(format!("{name}: {}: {e}", expected.display()));
                continue;
            }
        };
        if got.len() != want.len() {
            bad.push(format!(
                "{name}: {} verdicts, {} expected",
                got.len(),
                want.len()
            ));
        }
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if g != w {
                bad.push(format!(
                    "{name}, packet {i}:\n  got      {g}\n  expected {w}"
                ));
            }
        }
    }
    // No expected verdicts or configuration without their capture.
    for e in std::fs::read_dir(pcaps()).expect("pcaps/") {
        let p = e.expect("entry").path();
        if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("expected" | "toml")
        ) && !["pcap", "pcapng"]
            .iter()
            .any(|x| p.with_extension(x).exists())
        {
            bad.push(format!("{}: no capture of that name", p.display()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
