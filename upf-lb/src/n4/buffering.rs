//! Downlink buffering and Downlink Data Notification (TS 29.244 5.2.3). A downlink packet that
//! hits a BUFF FAR reaches us from the datapath (the whole frame, its PDR, QFI and PPI); it is
//! held per session, bounded per session (the configured count, lowered by the BAR's Suggested
//! Buffering Packets Count) and in total, the oldest dropped first. A NOCP FAR makes the first
//! such packet raise a Session Report Request with a Downlink Data Report, once until the SMF
//! modifies the session. When a Modification leaves the session without a buffering FAR, the
//! held packets go through `xdp_n6` again, in order, as live frames arriving on N6: they are
//! encapsulated like any other downlink packet. A DL Buffering Duration from the SMF (Session
//! Report Response) discards packets held longer.

use super::{N4, Outgoing, PFCP_PORT, Request};
use crate::southbound::signalling;
use crate::southbound::test_run::xdp_md;
use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::{
    gtp::{EVENT_BUFFERED, FAR_BUFF, FAR_NOCP, PPI_NONE},
    names,
};
use pfcp::{
    Body, Message,
    ie::{
        grouped::DownlinkDataReport,
        simple::{ApplyAction, PdrId, ReportType},
        usage::DownlinkDataServiceInformation,
    },
    message as msg,
};
use std::{
    collections::VecDeque,
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

/// XDP verdicts (include/uapi/linux/bpf.h, enum xdp_action).
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const XDP_REDIRECT: u32 = 4;

/// What a session holds.
#[derive(Debug, Default)]
pub(super) struct Buffer {
    /// Frames in arrival order, with when they arrived.
    pub frames: VecDeque<(Instant, Vec<u8>)>,
    /// A Downlink Data Report was sent since the last Modification.
    pub ddn_sent: bool,
    /// DL Buffering Duration the SMF set, if any.
    pub duration: Option<Duration>,
}

/// Counts of buffering, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Frames held.
    pub buffered: u64,
    /// Frames dropped because a bound was reached (the oldest first).
    pub dropped_full: u64,
    /// Frames dropped for their age (DL Buffering Duration) or by DROBU.
    pub discarded: u64,
    /// Frames sent on after the FAR changed.
    pub flushed: u64,
    /// Frames that were to be sent on but were not (each logged with its cause): dropped.
    pub flush_failed: u64,
    /// Downlink Data Reports sent.
    pub ddn: u64,
}

/// A DL Buffering Duration (Timer format, TS 29.244 8.2.44): None for infinite.
fn timer(v: u8) -> Option<Duration> {
    let n = u64::from(v & 0x1f);
    let unit = match v >> 5 {
        0 => 2,
        1 => 60,
        2 => 600,
        3 => 3600,
        4 => 36_000,
        7 => return None,
        _ => 60,
    };
    Some(Duration::from_secs(n * unit))
}

impl N4 {
    /// Handles one BUFFERED event: the frame is held (BUFF) and the CP told (NOCP).
    pub(super) fn on_buffered(
        &mut self,
        e: crate::southbound::gtp::DatapathEvent,
        now: Instant,
    ) -> Option<Outgoing> {
        let (index, pdr_id, action, qfi, ppi, frame) =
            (e.session, e.id, e.action, e.qfi, e.ppi, e.data);
        let &seid = self.by_index.get(&index)?;
        let per_session = {
            let s = self.sessions.get(&seid)?;
            let bar = s
                .rules
                .bar
                .as_ref()
                .and_then(|b| b.suggested_buffering_packets_count)
                .map_or(usize::MAX, |c| usize::from(c.0.max(1)));
            self.cfg.buffer_per_session.min(bar)
        };
        if action & u32::from(FAR_BUFF) != 0 {
            let total = self.buffered_total;
            let s = self.sessions.get_mut(&seid)?;
            if s.buffer.frames.len() >= per_session || total >= self.cfg.buffer_total {
                if s.buffer.frames.pop_front().is_some() {
                    self.buffered_total -= 1;
                }
                self.buffer_stats.dropped_full += 1;
            }
            if self.buffered_total < self.cfg.buffer_total {
                s.buffer.frames.push_back((now, frame));
                self.buffered_total += 1;
                self.buffer_stats.buffered += 1;
            }
        }
        let s = self.sessions.get_mut(&seid)?;
        if action & u32::from(FAR_NOCP) == 0 || s.buffer.ddn_sent {
            return None;
        }
        s.buffer.ddn_sent = true;
        self.buffer_stats.ddn += 1;
        let ip: IpAddr = match (s.cp.ipv4, s.cp.ipv6) {
            (Some(a), _) => a.into(),
            (None, Some(a)) => a.into(),
            (None, None) => self.assocs.get(&s.node)?.addr.ip(),
        };
        let to = SocketAddr::new(ip, PFCP_PORT);
        let seq = self.outstanding.next_seq();
        tracing::debug!(up_seid = seid, pdr_id, qfi, "Downlink Data Report");
        let m = Message::new(
            Body::SessionReportRequest(msg::SessionReportRequest {
                report_type: ReportType::empty().with(ReportType::DLDR),
                downlink_data_report: Some(DownlinkDataReport {
                    pdr_id: PdrId(pdr_id as u16),
                    downlink_data_service_information: vec![DownlinkDataServiceInformation {
                        ppi: (ppi != PPI_NONE).then_some(ppi),
                        qfi: (qfi != 0).then_some(qfi),
                    }],
                    unknown: vec![],
                }),
                ..Default::default()
            }),
            Some(s.cp.seid),
            seq,
        );
        let bytes = m.to_vec();
        self.outstanding
            .sent(seq, to, bytes.clone(), Request::SessionReport(seid), now);
        Some(Outgoing::pfcp(to, bytes))
    }

    /// After a Modification: re-arms the DDN, drops what DROBU says, and sends the held frames
    /// on when no FAR of the session buffers any more.
    pub(super) fn after_modification(&mut self, seid: u64, drop_buffered: bool) {
        let Some(s) = self.sessions.get_mut(&seid) else {
            return;
        };
        s.buffer.ddn_sent = false;
        if drop_buffered {
            let n = s.buffer.frames.len();
            s.buffer.frames.clear();
            self.buffered_total -= n;
            self.buffer_stats.discarded += n as u64;
            return;
        }
        let buffering = s
            .rules
            .fars
            .values()
            .any(|f| f.apply_action.has(ApplyAction::BUFF));
        if buffering || s.buffer.frames.is_empty() {
            return;
        }
        let frames: Vec<Vec<u8>> = s.buffer.frames.drain(..).map(|(_, f)| f).collect();
        self.buffered_total -= frames.len();
        for f in frames {
            self.inject_n6(&f);
        }
    }

    /// Runs `frame` through `xdp_n6` as if it arrived on N6 (BPF_PROG_TEST_RUN: the program
    /// encapsulates it, looks the next hop up and says where it goes), then sends what the
    /// program made out of the interface it chose (an AF_PACKET socket; the interface is the
    /// one whose MAC the program wrote as the source). Without a known N6 interface (replay)
    /// the output is collected for the caller instead.
    ///
    /// Not BPF_PROG_TEST_RUN's live-frames mode, which would transmit by itself: kernels may
    /// refuse it (6.18.44 here answers EPERM), and it reports nothing about each frame.
    /// Every frame that is not sent is logged with its cause and counted in
    /// [`BufferStats::flush_failed`].
    fn inject_n6(&mut self, frame: &[u8]) {
        match self.run_n6(frame) {
            Ok(Some(out)) => {
                self.buffer_stats.flushed += 1;
                self.injected.push(out);
            }
            Ok(None) => self.buffer_stats.flushed += 1,
            Err(cause) => {
                self.buffer_stats.flush_failed += 1;
                tracing::warn!(len = frame.len(), %cause, "a buffered downlink packet was not sent on: dropped");
            }
        }
    }

    /// [`N4::inject_n6`]'s work: Some(frame) when it is collected rather than sent.
    fn run_n6(&self, frame: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let p = self
            .dp
            .xdp(names::PROG_XDP_N6)
            .map_err(|e| format!("no xdp_n6: {e}"))?;
        let mut out = vec![0u8; frame.len() + 512];
        let ctx = xdp_md(frame.len(), self.n6_ifindex.unwrap_or(0));
        let r = p
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ctx_in: Some(&ctx[..]),
                ..TestRunOptions::new()
            })
            .map_err(|e| format!("BPF_PROG_TEST_RUN of xdp_n6: {e}"))?;
        out.truncate(r.data_size_out as usize);
        let Some(n6) = self.n6_ifindex else {
            return Ok(Some(out));
        };
        let ifindex = match r.return_value {
            XDP_TX => n6,
            XDP_REDIRECT => out
                .get(6..12)
                .and_then(signalling::ifindex_of_mac)
                .ok_or_else(|| {
                    "xdp_n6 redirected it to no interface of this namespace".to_string()
                })?,
            XDP_PASS => {
                return Err("xdp_n6 left it to the kernel (see the datapath counters)".into());
            }
            v => {
                return Err(format!(
                    "xdp_n6 dropped it (verdict {v}; see the datapath counters)"
                ));
            }
        };
        signalling::send_frame(ifindex, &out)
            .map_err(|e| format!("sending on interface {ifindex}: {e}"))?;
        Ok(None)
    }

    /// The N6 interface index: buffered packets are run through `xdp_n6` as arriving there.
    pub fn set_n6_ifindex(&mut self, ifindex: u32) {
        self.n6_ifindex = Some(ifindex);
    }

    /// Frames the datapath emitted for buffered packets when no N6 interface is known.
    pub fn take_injected(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.injected)
    }

    /// Takes the DL Buffering Duration of a Session Report Response.
    pub(super) fn buffering_duration(&mut self, seid: u64, r: &msg::SessionReportResponse) {
        if let (Some(s), Some(d)) = (
            self.sessions.get_mut(&seid),
            r.update_bar.as_ref().and_then(|b| b.dl_buffering_duration),
        ) {
            s.buffer.duration = timer(d.0);
        }
    }

    /// Drops held frames older than their session's DL Buffering Duration.
    pub(super) fn expire_buffers(&mut self, now: Instant) {
        let mut gone = 0;
        for s in self.sessions.values_mut() {
            if let Some(d) = s.buffer.duration {
                while s
                    .buffer
                    .frames
                    .front()
                    .is_some_and(|(t, _)| now.duration_since(*t) > d)
                {
                    s.buffer.frames.pop_front();
                    gone += 1;
                }
            }
        }
        self.buffered_total -= gone;
        self.buffer_stats.discarded += gone as u64;
    }

    /// Packets held now, in all.
    pub fn buffered(&self) -> usize {
        self.buffered_total
    }
}

/// True for the event kind this module handles.
pub(super) fn is_buffered(kind: u32) -> bool {
    kind == EVENT_BUFFERED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_units() {
        assert_eq!(timer(0b000_00011), Some(Duration::from_secs(6)));
        assert_eq!(timer(0b001_00010), Some(Duration::from_secs(120)));
        assert_eq!(timer(0b111_00001), None);
    }
}
