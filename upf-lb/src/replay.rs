//! `upf-lb replay`: runs a capture through the real UP function with no network. PFCP
//! addressed to our N4 address goes to the real N4 endpoint (its answers are written out as
//! UDP datagrams back to the sender); a packet for our N3/N9 address runs through `xdp_n3`, a
//! packet for a UE address (a UE IP pool, or a session's UE address) through `xdp_n6`, each
//! with BPF_PROG_TEST_RUN on the datapath the N4 endpoint programs. What the programs emit
//! (XDP_TX, XDP_REDIRECT, and XDP_PASS of a rewritten frame, which the kernel would forward)
//! goes to the output in input order; every input packet gets one verdict line.

use crate::{
    config::Config,
    n4::{N4, ntp_now},
    southbound::GtpDatapath,
};
use anyhow::Context;
use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::{Counter, Reason, names};
use serde::Serialize;
use std::{
    net::{IpAddr, SocketAddr},
    path::Path,
    time::Instant,
};
use upf_lb_packet::{Frame, IpPacket, L4};

/// Room a program may add in front of a frame (GTP-U/UDP/IPv6 encapsulation and more).
const HEADROOM: usize = 512;

/// What happened to one input packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Index in the input, from 0.
    pub index: usize,
    /// `pfcp`, `xdp_n3`, `xdp_n6` or `skipped`.
    pub path: String,
    /// XDP action (`XDP_TX`, ...), or for PFCP `answered` / `no-answer`.
    pub verdict: String,
    /// The datapath's reason (bpf-abi name), or the PFCP message type of the answer.
    pub reason: String,
    /// Bytes written to the output for this input (0: nothing).
    pub output_len: usize,
}

/// A parsed frame: addresses and ports where there are.
struct Peek {
    src: IpAddr,
    dst: IpAddr,
    udp: Option<(u16, u16, usize)>,
    smac: [u8; 6],
    dmac: [u8; 6],
}

fn peek(f: &[u8]) -> Option<Peek> {
    let mut off = 12;
    let mut et = u16::from_be_bytes([*f.get(12)?, *f.get(13)?]);
    for _ in 0..2 {
        if et == 0x8100 || et == 0x88a8 {
            off += 4;
            et = u16::from_be_bytes([*f.get(off)?, *f.get(off + 1)?]);
        }
    }
    let l3 = off + 2;
    let mut dmac = [0u8; 6];
    let mut smac = [0u8; 6];
    dmac.copy_from_slice(f.get(0..6)?);
    smac.copy_from_slice(f.get(6..12)?);
    let (src, dst, proto, l4) = match et {
        0x0800 => {
            let h = f.get(l3..l3 + 20)?;
            let ihl = usize::from(h[0] & 0x0f) * 4;
            let s: [u8; 4] = h[12..16].try_into().ok()?;
            let d: [u8; 4] = h[16..20].try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d), h[9], l3 + ihl)
        }
        0x86dd => {
            let h = f.get(l3..l3 + 40)?;
            let s: [u8; 16] = h[8..24].try_into().ok()?;
            let d: [u8; 16] = h[24..40].try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d), h[6], l3 + 40)
        }
        _ => return None,
    };
    let udp = if proto == 17 {
        f.get(l4..l4 + 8).map(|u| {
            (
                u16::from_be_bytes([u[0], u[1]]),
                u16::from_be_bytes([u[2], u[3]]),
                l4 + 8,
            )
        })
    } else {
        None
    };
    Some(Peek {
        src,
        dst,
        udp,
        smac,
        dmac,
    })
}

fn action_name(a: u32) -> &'static str {
    match a {
        0 => "XDP_ABORTED",
        1 => "XDP_DROP",
        2 => "XDP_PASS",
        3 => "XDP_TX",
        4 => "XDP_REDIRECT",
        _ => "XDP_UNKNOWN",
    }
}

fn counters(dp: &GtpDatapath) -> anyhow::Result<Vec<(Reason, Counter)>> {
    Ok(dp.counters()?)
}

/// Replays `frames` (Ethernet) through `n4`; returns the output frames and one verdict per
/// input frame.
pub fn replay(n4: &mut N4, frames: &[Vec<u8>]) -> anyhow::Result<(Vec<Vec<u8>>, Vec<Verdict>)> {
    let (n4_v4, n4_v6) = n4.n4_addresses();
    let listen_any = n4.config().listen.iter().any(|a| a.ip().is_unspecified());
    let n3 = (n4.config().n3.ipv4, n4.config().n3.ipv6);
    let mut out = Vec::new();
    let mut verdicts = Vec::new();
    for (index, f) in frames.iter().enumerate() {
        let p = peek(f);
        let ours_n4 = |a: IpAddr| {
            listen_any
                || match a {
                    IpAddr::V4(v) => Some(v) == n4_v4,
                    IpAddr::V6(v) => Some(v) == n4_v6,
                }
        };
        let ours_n3 = |a: IpAddr| match a {
            IpAddr::V4(v) => Some(v) == n3.0,
            IpAddr::V6(v) => Some(v) == n3.1,
        };
        let mut v = Verdict {
            index,
            path: "skipped".into(),
            verdict: "not addressed to the UP function".into(),
            reason: String::new(),
            output_len: 0,
        };
        match &p {
            None => v.verdict = "not Ethernet with IPv4 or IPv6".into(),
            Some(p) if p.udp.is_some_and(|u| u.1 == crate::n4::PFCP_PORT) && ours_n4(p.dst) => {
                let (sport, _, at) = p.udp.expect("checked");
                let from = SocketAddr::new(p.src, sport);
                let answers = n4.handle(from, &f[at.min(f.len())..], Instant::now());
                v.path = "pfcp".into();
                v.verdict = if answers.is_empty() {
                    "no-answer".into()
                } else {
                    "answered".into()
                };
                for a in answers {
                    let (src, sport) = match a.gtpu_from {
                        Some(l) => (l, 2152),
                        None => (p.dst, crate::n4::PFCP_PORT),
                    };
                    if a.gtpu_from.is_none() {
                        v.reason = a
                            .bytes
                            .get(1)
                            .map_or(String::new(), |t| format!("message type {t}"));
                    }
                    let ip = match (src, a.to.ip()) {
                        (IpAddr::V4(s), IpAddr::V4(d)) => IpPacket::v4(
                            s,
                            d,
                            L4::Udp {
                                src: sport,
                                dst: a.to.port(),
                                payload: a.bytes,
                            },
                        ),
                        (IpAddr::V6(s), IpAddr::V6(d)) => IpPacket::v6(
                            s,
                            d,
                            L4::Udp {
                                src: sport,
                                dst: a.to.port(),
                                payload: a.bytes,
                            },
                        ),
                        _ => continue,
                    };
                    let mut fr = Frame::new(ip);
                    fr.src = p.dmac;
                    fr.dst = p.smac;
                    let b = fr.to_bytes();
                    v.output_len += b.len();
                    out.push(b);
                }
                // Buffered downlink packets a Modification sent on, encapsulated by xdp_n6.
                for b in n4.take_injected() {
                    v.output_len += b.len();
                    out.push(b);
                }
            }
            Some(p) => {
                let prog = if ours_n3(p.dst) {
                    names::PROG_XDP_N3
                } else if n4.is_ue_address(p.dst) {
                    names::PROG_XDP_N6
                } else {
                    verdicts.push(v);
                    continue;
                };
                let before = counters(&n4.dp)?;
                let x = n4.dp.xdp(prog)?;
                let mut buf = vec![0u8; f.len() + HEADROOM];
                let ctx = crate::southbound::test_run::xdp_md(f.len(), 0);
                let r = x
                    .test_run(TestRunOptions {
                        data_in: Some(f),
                        data_out: Some(&mut buf),
                        ctx_in: Some(&ctx[..]),
                        ..TestRunOptions::new()
                    })
                    .with_context(|| format!("BPF_PROG_TEST_RUN of {prog} on packet {index}"))?;
                buf.truncate(r.data_size_out as usize);
                let after = counters(&n4.dp)?;
                let reason = after
                    .iter()
                    .zip(&before)
                    .find(|((_, a), (_, b))| a.packets > b.packets)
                    .map_or("none", |((r, _), _)| r.name());
                v.path = prog.into();
                v.verdict = action_name(r.return_value).into();
                v.reason = reason.into();
                let emitted = matches!(r.return_value, 3 | 4) || (r.return_value == 2 && buf != *f);
                if emitted {
                    v.output_len = buf.len();
                    out.push(buf);
                }
            }
        }
        verdicts.push(v);
    }
    Ok((out, verdicts))
}

/// Summary of a replay.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Input packets.
    pub input: usize,
    /// Output packets.
    pub output: usize,
    /// PFCP messages answered.
    pub pfcp_answered: usize,
    /// Packets run through xdp_n3 / xdp_n6.
    pub n3: usize,
    /// Packets run through xdp_n6.
    pub n6: usize,
    /// Packets skipped.
    pub skipped: usize,
}

/// `upf-lb replay`: reads `input`, writes `output` (pcap) and, when asked, the verdicts as
/// JSON lines.
pub fn run(
    input: &Path,
    output: &Path,
    config: Option<Config>,
    verdicts: Option<&Path>,
) -> anyhow::Result<Summary> {
    let cfg = config.unwrap_or_else(Config::default_embedded);
    let frames = upf_lb_packet::pcap::read_frames(input)?;
    let dp = GtpDatapath::load_with(&cfg.map_sizes()).context("loading bpf-gtp")?;
    let mut n4 = N4::new(cfg, dp, ntp_now())?;
    let (out, vs) = replay(&mut n4, &frames)?;
    let refs: Vec<&[u8]> = out.iter().map(Vec::as_slice).collect();
    upf_lb_packet::pcap::write_frames(output, &refs)?;
    if let Some(p) = verdicts {
        let mut text = String::new();
        for v in &vs {
            text.push_str(&serde_json::to_string(v)?);
            text.push('\n');
        }
        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    let count = |path: &str| vs.iter().filter(|v| v.path == path).count();
    Ok(Summary {
        input: frames.len(),
        output: out.len(),
        pfcp_answered: vs.iter().filter(|v| v.verdict == "answered").count(),
        n3: count(names::PROG_XDP_N3),
        n6: count(names::PROG_XDP_N6),
        skipped: count("skipped"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn peek_finds_addresses_and_ports_under_vlan_tags() {
        let ip = IpPacket::v4(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
            L4::Udp {
                src: 8805,
                dst: 8805,
                payload: vec![1, 2, 3],
            },
        );
        let f = Frame::new(ip).vlan(0x8100, 7).to_bytes();
        let p = peek(&f).expect("parsed");
        assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(p.udp.map(|u| (u.0, u.1)), Some((8805, 8805)));
        assert_eq!(&f[p.udp.unwrap().2..], &[1, 2, 3]);
        let ip6 = IpPacket::v6(
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::UNSPECIFIED,
            L4::Udp {
                src: 1,
                dst: 2,
                payload: vec![],
            },
        );
        assert!(peek(&Frame::new(ip6).to_bytes()).is_some());
        assert!(peek(&[0u8; 10]).is_none());
    }
}
