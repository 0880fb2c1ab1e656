//! Tier 2: public SRH captures (../shared/pcaps/tcpdump/ipv6-srh-*.pcap, made by others)
//! through our End behaviour, each packet's Destination Address bound as an End SID: packets
//! with Segments Left above 0 go on to their next segment (checked by tshark, an independent
//! decoder: Segments Left one less, the Destination Address the next Segment List entry (read
//! from the captured bytes), Hop Limit one less, Last Entry and the first segment as they were); packets at Segments Left 0 are answered
//! with ICMPv6 Parameter Problem Code 4 (an upper layer End does not process, RFC 8986 4.1.1);
//! the truncated one is dropped for its Payload Length; the one with an HMAC TLV is dropped
//! (not verifiable in XDP).

use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::{Reason, srv6::PROG_XDP_SRV6};
use std::net::Ipv6Addr;
use upf_lb::southbound::{Srv6Datapath, srv6::Behaviour};
use upf_lb_testkit::{fixtures::xdp, testbed::FibNs};
use upf_lb_tests::{require_root, shared_pcaps, tshark_fields};

const FIELDS: &[&str] = &[
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.routing.segleft",
    "ipv6.routing.srh.last_entry",
    "ipv6.routing.srh.addr",
];

#[test]
fn public_srh_captures_through_end() {
    require_root();
    let fib = FibNs::new();
    let dir = shared_pcaps().join("tcpdump");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("shared captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ipv6-srh-") && n.ends_with(".pcap"))
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    let out_dir = std::env::temp_dir().join(format!("upf-lb-srh-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let (mut forwarded, mut answered, mut dropped, mut hmac) = (0, 0, 0, 0);
    let mut dp = Srv6Datapath::load(64).unwrap();
    for f in &files {
        let before = tshark_fields(f, FIELDS, &[]);
        for (i, frame) in upf_lb_packet::pcap::read_frames(f)
            .unwrap()
            .iter()
            .enumerate()
        {
            let name = format!("{}#{i}", f.file_name().unwrap().to_string_lossy());
            let b = &before[i];
            let dst: Ipv6Addr = b[0].parse().unwrap_or_else(|_| panic!("{name}: {b:?}"));
            let sl: u8 = b[2].parse().unwrap();
            dp.add_sid(dst, 128, Behaviour::End).unwrap();
            let c0 = dp.counters().unwrap();
            let mut out = vec![0u8; frame.len() + 256];
            let ctx = upf_lb::southbound::test_run::xdp_md(frame.len(), fib.n3_ifindex);
            let p = dp.xdp(PROG_XDP_SRV6).unwrap();
            let r = fib.ns.run(|| {
                p.test_run(TestRunOptions {
                    data_in: Some(frame),
                    data_out: Some(&mut out),
                    ctx_in: Some(&ctx[..]),
                    ..TestRunOptions::new()
                })
            });
            let r = r.unwrap();
            out.truncate(r.data_size_out as usize);
            let c = dp.counters().unwrap();
            let reason = c
                .iter()
                .zip(&c0)
                .find(|((_, x), (_, y))| x.packets == y.packets + 1)
                .map(|((r, _), _)| *r)
                .unwrap_or_else(|| panic!("{name}: no outcome counted"));
            let path = out_dir.join(format!("{i}-{}", f.file_name().unwrap().to_string_lossy()));
            upf_lb_packet::pcap::write_frames(&path, &[&out]).unwrap();
            let after = &tshark_fields(&path, FIELDS, &[])[0];
            if name.contains("-trunc") {
                // Cut short in the capture: the Payload Length runs past the packet.
                assert_eq!(
                    (r.return_value, reason),
                    (xdp::DROP, Reason::Ipv6BadPayloadLength),
                    "{name}"
                );
                dropped += 1;
            } else if hmac_tlv(frame) {
                // An HMAC TLV (RFC 8754 2.1.2) is checked before Segments Left (as the kernel
                // does); we cannot verify it in XDP, so the packet is not processed at all.
                assert_eq!(
                    (r.return_value, reason),
                    (xdp::DROP, Reason::Srv6HmacNotVerified),
                    "{name}"
                );
                hmac += 1;
            } else if sl > 0 {
                // Nothing in FibNs routes these addresses: rewritten, then the kernel's.
                assert_eq!(
                    (r.return_value, reason),
                    (xdp::PASS, Reason::Srv6ToKernel),
                    "{name}"
                );
                // Segment List[Segments Left - 1], read from the captured bytes (the SRH right
                // after the IPv6 header in these captures).
                assert_eq!(
                    (frame[12], frame[13], frame[14 + 6]),
                    (0x86, 0xdd, 43),
                    "{name}"
                );
                let at = 14 + 40 + 8 + 16 * (usize::from(sl) - 1);
                let next: [u8; 16] = frame[at..at + 16].try_into().unwrap();
                assert_eq!(after[2], (sl - 1).to_string(), "{name}: Segments Left");
                assert_eq!(
                    after[0].parse::<Ipv6Addr>().unwrap(),
                    Ipv6Addr::from(next),
                    "{name}: the next segment"
                );
                let hlim: u8 = b[1].parse().unwrap();
                assert_eq!(after[1], (hlim - 1).to_string(), "{name}: Hop Limit");
                assert_eq!((&after[3], &after[4]), (&b[3], &b[4]), "{name}: the SRH");
                forwarded += 1;
            } else {
                assert_eq!(
                    (r.return_value, reason),
                    (xdp::TX, Reason::Srv6IcmpParamProblemUpperLayer),
                    "{name}"
                );
                // tshark sees the error and, quoted in it, the packet as it arrived.
                let e = tshark_fields(&path, &["icmpv6.type", "icmpv6.code", "ipv6.src"], &[]);
                assert_eq!((e[0][0].as_str(), e[0][1].as_str()), ("4", "4"), "{name}");
                assert!(e[0][2].starts_with(&b[0]), "{name}: from the SID, {e:?}");
                answered += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(
        forwarded >= 2 && answered >= 2 && dropped >= 1 && hmac >= 1,
        "{forwarded} forwarded, {answered} answered, {dropped} dropped, {hmac} with HMAC"
    );
}

/// True when the SRH right after the IPv6 header of `frame` carries an HMAC TLV (type 5), by
/// walking its TLVs (Pad1 one byte, the others type, length, value).
fn hmac_tlv(frame: &[u8]) -> bool {
    let srh = &frame[14 + 40..];
    if frame[14 + 6] != 43 || srh.len() < 8 {
        return false;
    }
    let end = ((usize::from(srh[1]) + 1) * 8).min(srh.len());
    let mut at = 8 + 16 * (usize::from(srh[4]) + 1);
    while at < end {
        match srh[at] {
            0 => at += 1,
            5 => return true,
            _ if at + 1 < end => at += 2 + usize::from(srh[at + 1]),
            _ => return false,
        }
    }
    false
}
