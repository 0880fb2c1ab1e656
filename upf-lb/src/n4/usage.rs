//! Usage reporting (TS 29.244 5.2.2): per-URR measurement state, the volume event point the
//! datapath watches (the nearer of the Volume Threshold and the Volume Quota since the last
//! report), time-based triggers on a timer wheel (Measurement Period, Time Threshold, Time
//! Quota, Quota Holding Time), quota exhaustion (the PDRs of an exhausted URR take the FAR ID
//! for Quota Action, or drop, until the SMF gives more), linked URRs, and Session Report
//! Requests to the CP function, retransmitted with T1/N1.
//!
//! Measurement counts restart with every usage report of the URR: thresholds and quotas count
//! the usage since the previous report (the SMF grants the remaining quota in an Update URR).
//! Durations are wall-clock time since the measurement started; with an Inactivity Detection
//! Time, only the time with traffic, checked every IDT: an interval in which the URR counted a
//! packet is measured whole, one without is not (the resolution is the IDT).

use super::{N4, Outgoing, PFCP_PORT, Request};
use bpf_abi::gtp::{EVENT_URR_THRESHOLD, UrrCounters};
use pfcp::{
    Body, Message,
    ie::{
        grouped::{CreateUrr, UsageReport},
        simple::{
            DurationMeasurement, EndTime, Flag, ReportType, ReportingTriggers, StartTime, UrSeqn,
            UrrId, UsageReportTrigger,
        },
        usage::VolumeMeasurement,
    },
    message as msg,
};
use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

/// Measurement state of one URR.
#[derive(Clone, Debug)]
pub(super) struct UrrState {
    /// UR-SEQN of the next report.
    pub seqn: u32,
    /// Start of the current measurement, NTP seconds and monotonic.
    pub start: u32,
    pub started: Instant,
    /// The datapath's counters when the measurement started.
    pub base: UrrCounters,
    /// A quota (volume or time) is used up: the URR's PDRs do the quota action.
    pub exhausted: bool,
    /// Next Measurement Period boundary.
    pub next_periodic: Option<Instant>,
    /// Quota Holding Time: when traffic was last seen, and the total then.
    pub last_seen: Instant,
    pub last_total: u64,
    /// Inactivity Detection Time: the measured (active) duration, and the last check with the
    /// total then; an interval with traffic counts whole, one without counts nothing.
    pub active: Duration,
    pub idle_check: Instant,
    pub idle_total: u64,
}

impl UrrState {
    /// A measurement starting now with the datapath at `base`.
    pub fn new(urr: &CreateUrr, base: UrrCounters, now: Instant) -> Self {
        let mut s = UrrState {
            seqn: 0,
            start: super::ntp_now(),
            started: now,
            base,
            exhausted: false,
            next_periodic: None,
            last_seen: now,
            last_total: total(&base),
            active: Duration::ZERO,
            idle_check: now,
            idle_total: total(&base),
        };
        s.schedule_periodic(urr, now);
        s
    }

    fn schedule_periodic(&mut self, urr: &CreateUrr, now: Instant) {
        self.next_periodic = match (
            urr.reporting_triggers.has(ReportingTriggers::PERIO),
            urr.measurement_period,
        ) {
            (true, Some(p)) if p.0 > 0 => Some(now + Duration::from_secs(u64::from(p.0))),
            _ => None,
        };
    }

    /// The cumulative total at which the datapath should tell us next, if any.
    pub fn event_point(&self, urr: &CreateUrr) -> Option<u64> {
        let base = total(&self.base);
        let th = urr
            .volume_threshold
            .filter(|_| urr.reporting_triggers.has(ReportingTriggers::VOLTH))
            .and_then(|v| v.total)
            .map(|t| base.saturating_add(t.max(1)));
        let quota = urr
            .volume_quota
            .filter(|_| !self.exhausted)
            .and_then(|v| v.total)
            .map(|q| base.saturating_add(q.max(1)));
        match (th, quota) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The Inactivity Detection Time of `urr`, when it has one.
    pub fn idt(urr: &CreateUrr) -> Option<Duration> {
        urr.inactivity_detection_time
            .filter(|i| i.0 > 0)
            .map(|i| Duration::from_secs(u64::from(i.0)))
    }

    /// The duration measured so far: wall time since the start, or with an Inactivity
    /// Detection Time the time with traffic.
    pub fn measured(&self, urr: &CreateUrr, now: Instant) -> Duration {
        match Self::idt(urr) {
            Some(_) => self.active,
            None => now.saturating_duration_since(self.started),
        }
    }

    /// When a time trigger of `urr` is next due.
    pub fn next_due(&self, urr: &CreateUrr) -> Option<Instant> {
        // With an Inactivity Detection Time, time triggers are checked at each IDT tick.
        let idt = Self::idt(urr);
        let after = |s: u32| match idt {
            Some(i) => self.idle_check + i,
            None => self.started + Duration::from_secs(u64::from(s)),
        };
        [
            idt.map(|i| self.idle_check + i),
            self.next_periodic,
            urr.time_threshold
                .filter(|_| urr.reporting_triggers.has(ReportingTriggers::TIMTH))
                .map(|t| after(t.0)),
            urr.time_quota
                .filter(|_| !self.exhausted)
                .map(|t| after(t.0)),
            urr.quota_holding_time
                .filter(|q| q.0 > 0)
                .map(|q| self.last_seen + Duration::from_secs(u64::from(q.0))),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// UL + DL bytes.
pub(super) fn total(c: &UrrCounters) -> u64 {
    c.ul_bytes.saturating_add(c.dl_bytes)
}

fn sub(a: &UrrCounters, b: &UrrCounters) -> UrrCounters {
    UrrCounters {
        _reserved: 0,
        ul_packets: a.ul_packets.saturating_sub(b.ul_packets),
        ul_bytes: a.ul_bytes.saturating_sub(b.ul_bytes),
        dl_packets: a.dl_packets.saturating_sub(b.dl_packets),
        dl_bytes: a.dl_bytes.saturating_sub(b.dl_bytes),
    }
}

/// A hashed timing wheel of wake-ups: `SLOTS` slots of `tick` each; an entry further away than
/// one turn stays in its slot until its tick comes round. Entries are (session, URR) pairs;
/// a stale one (the URR changed or went) is harmless: the fired entry re-checks the state.
#[derive(Debug)]
pub struct TimerWheel {
    tick: Duration,
    origin: Instant,
    now_tick: u64,
    slots: Vec<Vec<(u64, u64, u32)>>,
    len: usize,
}

const SLOTS: usize = 1024;

impl TimerWheel {
    /// A wheel of `tick` resolution starting at `origin`.
    pub fn new(tick: Duration, origin: Instant) -> Self {
        TimerWheel {
            tick,
            origin,
            now_tick: 0,
            slots: vec![Vec::new(); SLOTS],
            len: 0,
        }
    }

    fn tick_of(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        d.as_nanos().div_ceil(self.tick.as_nanos()) as u64
    }

    /// Wakes (seid, urr) at `at` (at the latest one tick after).
    pub fn insert(&mut self, at: Instant, seid: u64, urr: u32) {
        let t = self.tick_of(at).max(self.now_tick + 1);
        self.slots[(t % SLOTS as u64) as usize].push((t, seid, urr));
        self.len += 1;
    }

    /// Everything due up to `now`.
    pub fn advance(&mut self, now: Instant) -> Vec<(u64, u32)> {
        let target = self.tick_of(now);
        let mut out = Vec::new();
        // At most one turn is walked: entries further behind are found in their slots then.
        let steps = target.saturating_sub(self.now_tick).min(SLOTS as u64);
        for _ in 0..steps {
            self.now_tick += 1;
            let slot = &mut self.slots[(self.now_tick % SLOTS as u64) as usize];
            let before = slot.len();
            slot.retain(|&(t, s, u)| {
                if t <= target {
                    out.push((s, u));
                    false
                } else {
                    true
                }
            });
            self.len -= before - slot.len();
        }
        self.now_tick = self.now_tick.max(target);
        out
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when none wait.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The wheel's resolution.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// When its next tick is due: an absolute time, so a busy owner cannot postpone it.
    pub fn next_at(&self) -> Instant {
        self.origin
            + Duration::from_nanos(
                (self.tick.as_nanos() as u64).saturating_mul(self.now_tick.saturating_add(1)),
            )
    }
}

impl N4 {
    /// A usage report of URR `urr` of session `seid` with `triggers`: the usage since the last
    /// report, after which a new measurement starts (and the datapath is re-armed).
    pub(super) fn report_usage(
        &mut self,
        seid: u64,
        urr: u32,
        triggers: &[Flag],
        now: Instant,
    ) -> Option<UsageReport> {
        self.report_usage_at(seid, urr, triggers, now, None)
    }

    /// The datapath's counters of `urr`.
    fn urr_now(&self, seid: u64, urr: u32) -> Option<UrrCounters> {
        let slot = self
            .sessions
            .get(&seid)?
            .installed
            .as_ref()?
            .urr_slot(urr)?;
        self.dp.urr_counters(slot).ok()
    }

    /// As [`N4::report_usage`], with the counters read already when `read` is given.
    fn report_usage_at(
        &mut self,
        seid: u64,
        urr: u32,
        triggers: &[Flag],
        now: Instant,
        read: Option<UrrCounters>,
    ) -> Option<UsageReport> {
        let s = self.sessions.get_mut(&seid)?;
        let slot = s.installed.as_ref()?.urr_slot(urr)?;
        let rule = s.rules.urrs.get(&urr)?.clone();
        let now_c = match read {
            Some(c) => c,
            None => self.dp.urr_counters(slot).ok()?,
        };
        let end = super::ntp_now();
        let st = s
            .urrs
            .get_or_insert_with(urr, || UrrState::new(&rule, UrrCounters::default(), now));
        let d = sub(&now_c, &st.base);
        let mut trig = UsageReportTrigger::empty();
        for t in triggers {
            trig = trig.with(*t);
        }
        let report = UsageReport {
            urr_id: UrrId(urr),
            ur_seqn: UrSeqn(st.seqn),
            usage_report_trigger: trig,
            start_time: Some(StartTime(st.start)),
            end_time: Some(EndTime(end)),
            volume_measurement: Some(VolumeMeasurement {
                total: Some(d.ul_bytes + d.dl_bytes),
                uplink: Some(d.ul_bytes),
                downlink: Some(d.dl_bytes),
                total_packets: Some(d.ul_packets + d.dl_packets),
                uplink_packets: Some(d.ul_packets),
                downlink_packets: Some(d.dl_packets),
            }),
            duration_measurement: Some(DurationMeasurement(match UrrState::idt(&rule) {
                Some(_) => st.active.as_secs() as u32,
                None => end.wrapping_sub(st.start),
            })),
            ..Default::default()
        };
        let (ev_urr, ev_total) = (urr, d.ul_bytes + d.dl_bytes);
        st.seqn = st.seqn.wrapping_add(1);
        st.start = end;
        st.started = now;
        st.base = now_c;
        st.last_total = total(&now_c);
        st.active = Duration::ZERO;
        st.idle_check = now;
        st.idle_total = total(&now_c);
        if st.next_periodic.is_some_and(|p| p <= now) {
            st.schedule_periodic(&rule, now);
        }
        let point = st.event_point(&rule);
        let due = st.next_due(&rule);
        self.touch(seid);
        self.api_event("usage_report", seid, ev_urr, ev_total);
        let _ = self.dp.set_urr_target(slot, point.unwrap_or(0));
        if let Some(at) = due {
            self.timers.insert(at, seid, urr);
        }
        Some(report)
    }

    /// The URRs linked to `urr` (LIUSA, TS 29.244 5.2.2.4).
    fn linked_urrs(&self, seid: u64, urr: u32) -> Vec<u32> {
        match self.sessions.get(&seid) {
            Some(s) => s
                .rules
                .urrs
                .iter()
                .filter(|(id, u)| {
                    **id != urr
                        && u.reporting_triggers.has(ReportingTriggers::LIUSA)
                        && u.linked_urr_ids.iter().any(|l| l.0 == urr)
                })
                .map(|(id, _)| *id)
                .collect(),
            None => vec![],
        }
    }

    /// The counters of `urr` and of `linked`, read as of one moment: the datapath counts a
    /// packet on all its PDR's URRs in one program run, so reading `urr` again after the
    /// others and finding it unchanged means no packet was counted in between (retried a few
    /// times, then taken as read).
    fn read_together(
        &self,
        seid: u64,
        urr: u32,
        linked: &[u32],
    ) -> (Option<UrrCounters>, Vec<Option<UrrCounters>>) {
        let mut first = self.urr_now(seid, urr);
        let mut others = Vec::new();
        for _ in 0..8 {
            others = linked.iter().map(|l| self.urr_now(seid, *l)).collect();
            let again = self.urr_now(seid, urr);
            if again == first {
                break;
            }
            first = again;
        }
        (first, others)
    }

    /// Reads the datapath's events: URR event points crossed become usage reports.
    pub fn on_datapath_events(&mut self, now: Instant) -> Vec<Outgoing> {
        let events = match self.dp.drain_events(4096) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "reading datapath events");
                return vec![];
            }
        };
        let mut out = Vec::new();
        for e in events {
            if super::buffering::is_buffered(e.kind) {
                out.extend(self.on_buffered(e, now));
                continue;
            }
            if e.kind != EVENT_URR_THRESHOLD {
                self.stats.events_other += 1;
                continue;
            }
            let Some(&seid) = self.by_index.get(&e.session) else {
                continue;
            };
            let Some(urr) = self.sessions.get(&seid).and_then(|s| {
                s.installed
                    .as_ref()?
                    .urr_slots()
                    .find(|(_, slot)| *slot == e.id)
                    .map(|(id, _)| id)
            }) else {
                continue;
            };
            out.extend(self.volume_crossed(seid, urr, now));
        }
        out
    }

    fn volume_crossed(&mut self, seid: u64, urr: u32, now: Instant) -> Option<Outgoing> {
        let s = self.sessions.get(&seid)?;
        let rule = s.rules.urrs.get(&urr)?.clone();
        let st = s.urrs.get(&urr)?.clone();
        let slot = s.installed.as_ref()?.urr_slot(urr)?;
        let used = total(&self.dp.urr_counters(slot).ok()?).saturating_sub(total(&st.base));
        let mut triggers = Vec::new();
        let mut exhausted = false;
        if let Some(q) = rule.volume_quota.and_then(|v| v.total)
            && !st.exhausted
            && used >= q
        {
            triggers.push(UsageReportTrigger::VOLQU);
            exhausted = true;
        }
        if rule.reporting_triggers.has(ReportingTriggers::VOLTH)
            && let Some(t) = rule.volume_threshold.and_then(|v| v.total)
            && used >= t
        {
            triggers.push(UsageReportTrigger::VOLTH);
        }
        if triggers.is_empty() {
            // Moved on since (a Modification re-armed it): nothing to say.
            return None;
        }
        self.report_and_act(seid, urr, &triggers, exhausted, now)
    }

    /// Reports `urr` with `triggers` (and its linked URRs), applies the quota action when
    /// `exhausted`, and sends the Session Report Request.
    fn report_and_act(
        &mut self,
        seid: u64,
        urr: u32,
        triggers: &[Flag],
        exhausted: bool,
        now: Instant,
    ) -> Option<Outgoing> {
        let linked = self.linked_urrs(seid, urr);
        let (main, others) = self.read_together(seid, urr, &linked);
        let mut reports = vec![self.report_usage_at(seid, urr, triggers, now, main)?];
        for (l, c) in linked.into_iter().zip(others) {
            reports.extend(self.report_usage_at(seid, l, &[UsageReportTrigger::LIUSA], now, c));
        }
        if exhausted {
            if let Some(st) = self
                .sessions
                .get_mut(&seid)
                .and_then(|s| s.urrs.get_mut(&urr))
            {
                st.exhausted = true;
            }
            tracing::info!(
                up_seid = seid,
                urr,
                "quota exhausted: the URR's PDRs take the quota action"
            );
            if let Err(e) = self.reinstall(seid) {
                tracing::warn!(up_seid = seid, urr, "applying the quota action: {}", e.why);
            }
        }
        self.session_report(seid, reports, now)
    }

    /// Sends a Session Report Request with `reports` to the session's CP function.
    pub(super) fn session_report(
        &mut self,
        seid: u64,
        reports: Vec<UsageReport>,
        now: Instant,
    ) -> Option<Outgoing> {
        let s = self.sessions.get(&seid)?;
        let ip: IpAddr = match (s.cp.ipv4, s.cp.ipv6) {
            (Some(a), _) => a.into(),
            (None, Some(a)) => a.into(),
            (None, None) => self.assocs.get(&s.node)?.addr.ip(),
        };
        let to = SocketAddr::new(ip, PFCP_PORT);
        let seq = self.outstanding.next_seq();
        let m = Message::new(
            Body::SessionReportRequest(msg::SessionReportRequest {
                report_type: ReportType::empty().with(ReportType::USAR),
                usage_reports: reports,
                ..Default::default()
            }),
            Some(s.cp.seid),
            seq,
        );
        let bytes = m.to_vec();
        self.stats.reports_sent += 1;
        self.outstanding
            .sent(seq, to, bytes.clone(), Request::SessionReport(seid), now);
        Some(Outgoing::pfcp(to, bytes))
    }

    /// Fires the time triggers that are due.
    pub(super) fn on_timers(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for (seid, urr) in self.timers.advance(now) {
            let Some(s) = self.sessions.get(&seid) else {
                continue;
            };
            let (Some(rule), Some(st)) =
                (s.rules.urrs.get(&urr).cloned(), s.urrs.get(&urr).cloned())
            else {
                continue;
            };
            let Some(slot) = s.installed.as_ref().and_then(|i| i.urr_slot(urr)) else {
                continue;
            };
            let mut st = st;
            if let Some(idt) = UrrState::idt(&rule)
                && st.idle_check + idt <= now
            {
                // An interval with traffic is activity; one without is not measured.
                let t = self.dp.urr_counters(slot).map(|c| total(&c)).unwrap_or(0);
                if t != st.idle_total {
                    st.active += now.saturating_duration_since(st.idle_check);
                }
                st.idle_total = t;
                st.idle_check = now;
                if let Some(x) = self
                    .sessions
                    .get_mut(&seid)
                    .and_then(|s| s.urrs.get_mut(&urr))
                {
                    x.active = st.active;
                    x.idle_total = st.idle_total;
                    x.idle_check = st.idle_check;
                }
            }
            let measured = st.measured(&rule, now);
            let reached = |secs: u32| measured >= Duration::from_secs(u64::from(secs));
            let mut triggers = Vec::new();
            let mut exhausted = false;
            if st.next_periodic.is_some_and(|p| p <= now) {
                triggers.push(UsageReportTrigger::PERIO);
            }
            if rule.reporting_triggers.has(ReportingTriggers::TIMTH)
                && rule.time_threshold.is_some_and(|t| reached(t.0))
            {
                triggers.push(UsageReportTrigger::TIMTH);
            }
            if !st.exhausted && rule.time_quota.is_some_and(|t| reached(t.0)) {
                triggers.push(UsageReportTrigger::TIMQU);
                exhausted = true;
            }
            if let Some(q) = rule.quota_holding_time.filter(|q| q.0 > 0) {
                let t = self.dp.urr_counters(slot).map(|c| total(&c)).unwrap_or(0);
                let st = self
                    .sessions
                    .get_mut(&seid)
                    .and_then(|s| s.urrs.get_mut(&urr))
                    .expect("looked up");
                if t != st.last_total {
                    st.last_total = t;
                    st.last_seen = now;
                } else if st.last_seen + Duration::from_secs(u64::from(q.0)) <= now {
                    triggers.push(UsageReportTrigger::QUHTI);
                    st.last_seen = now;
                }
            }
            if triggers.is_empty() {
                // Not due yet (or stale): wake again when it is.
                if let Some(at) = self.sessions[&seid].urrs[&urr].next_due(&rule) {
                    self.timers
                        .insert(at.max(now + self.timers.tick()), seid, urr);
                }
                continue;
            }
            out.extend(self.report_and_act(seid, urr, &triggers, exhausted, now));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wheel_fires_each_entry_once_at_its_tick_even_many_turns_ahead() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = TimerWheel::new(ms(10), t0);
        w.insert(t0 + ms(25), 1, 1);
        w.insert(t0 + ms(25), 1, 2);
        w.insert(t0 + ms(10 * SLOTS as u64 + 30), 2, 1);
        assert!(w.advance(t0 + ms(20)).is_empty());
        assert_eq!(w.advance(t0 + ms(30)), [(1, 1), (1, 2)]);
        assert_eq!(w.len(), 1);
        assert!(
            w.advance(t0 + ms(10 * SLOTS as u64)).is_empty(),
            "a turn later: not yet"
        );
        assert_eq!(w.advance(t0 + ms(10 * SLOTS as u64 + 40)), [(2, 1)]);
        assert!(w.is_empty());
    }
}
