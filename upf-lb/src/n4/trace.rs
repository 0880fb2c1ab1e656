//! What a PFCP transaction did and when, recorded on the N4 path for the trace exporter.
//!
//! The owner only takes time stamps (a few tens of ns each) into a [`Txn`]; turning them into
//! OpenTelemetry spans, encoding and exporting them happens on the exporter's thread
//! (`telemetry::Otel`), so tracing every transaction costs the N4 path almost nothing and a
//! slow collector never holds it back. Which transactions are exported is decided at their
//! end: the sampled share (by trace ID, as the OpenTelemetry trace-ID-ratio sampler does) and
//! every one whose answer refused something (a Cause other than Request accepted), whatever
//! the ratio: the failures are what an operator looks for.

use std::{
    cell::Cell,
    net::SocketAddr,
    time::{Duration, Instant, SystemTime},
};

/// Transactions held for the exporter at most; more are dropped and counted.
pub const MAX_HELD: usize = 16_384;

/// Steps of one transaction kept at most (decode, validate, southbound, persist and room).
pub const MAX_PHASES: usize = 6;

/// One step of a transaction (a child span): decode, validate, southbound, persist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phase {
    /// Span name.
    pub name: &'static str,
    /// What the step did (`op` attribute), if it says.
    pub op: Option<&'static str>,
    /// Start, from the start of the transaction.
    pub start: Duration,
    /// Duration.
    pub len: Duration,
}

/// One PFCP transaction (the `pfcp` span).
#[derive(Clone, Debug)]
pub struct Txn {
    /// Trace ID (non-zero).
    pub trace_id: u128,
    /// Span ID of the transaction's own span (non-zero).
    pub span_id: u64,
    /// PFCP message type.
    pub message: u8,
    /// The peer.
    pub peer: SocketAddr,
    /// SEID of the header, 0 for node messages.
    pub seid: u64,
    /// Sequence number.
    pub seq: u32,
    /// Cause of the answer, if it has one.
    pub cause: Option<u8>,
    /// Wall-clock start.
    pub start: SystemTime,
    /// Duration, to the answer (which, with a store, waits for the commit).
    pub len: Duration,
    /// The steps (in place: recording allocates nothing per transaction, and the exporter's
    /// thread frees nothing the owner allocated but the batch).
    phases: [Phase; MAX_PHASES],
    n: usize,
    at: Instant,
}

impl Txn {
    /// The steps, in order.
    pub fn phases(&self) -> &[Phase] {
        &self.phases[..self.n]
    }

    fn push(&mut self, p: Phase) {
        if let Some(slot) = self.phases.get_mut(self.n) {
            *slot = p;
            self.n += 1;
        }
    }

    /// Adds a step that started at `from` (e.g. the commit of the batch it was in); the
    /// transaction lasts until the step ends (its answer waited for it).
    pub fn add_phase(&mut self, name: &'static str, from: Instant, to: Instant) {
        let p = Phase {
            name,
            op: None,
            start: from.saturating_duration_since(self.at),
            len: to.saturating_duration_since(from),
        };
        self.len = self.len.max(p.start + p.len);
        self.push(p);
    }
}

thread_local! {
    static CURRENT: Cell<Option<(u128, u64)>> = const { Cell::new(None) };
}

/// The trace and span ID of the transaction this thread is handling, if it is traced (log
/// lines carry them).
pub fn current() -> Option<(u128, u64)> {
    CURRENT.with(Cell::get)
}

/// The recorder the N4 endpoint owns.
#[derive(Debug)]
pub struct Recorder {
    /// Off: nothing recorded.
    on: bool,
    /// Export a transaction that succeeded when its trace ID's low 64 bits are at most this.
    bound: Option<u64>,
    sampled: bool,
    rng: u64,
    current: Option<Txn>,
    done: Vec<Txn>,
    /// Transactions dropped because the exporter did not take them in time.
    pub dropped: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::off()
    }
}

impl Recorder {
    /// Records nothing.
    pub fn off() -> Recorder {
        Recorder {
            on: false,
            bound: None,
            sampled: false,
            rng: 0,
            current: None,
            done: Vec::new(),
            dropped: 0,
        }
    }

    /// Exports the share `ratio` (0.0 to 1.0) of transactions, and every refused one.
    pub fn sampling(ratio: f64) -> Recorder {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 32);
        let bound = if ratio >= 1.0 {
            u64::MAX
        } else if ratio <= 0.0 || ratio.is_nan() {
            0
        } else {
            (ratio * u64::MAX as f64) as u64
        };
        Recorder {
            on: true,
            bound: (ratio > 0.0).then_some(bound),
            rng: seed | 1,
            ..Recorder::off()
        }
    }

    /// True when transactions are recorded at all.
    pub fn enabled(&self) -> bool {
        self.on
    }

    fn next(&mut self) -> u64 {
        // xorshift64*: IDs need to be unique and spread, not secret.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A transaction starts (ends one left open).
    pub fn begin(&mut self, message: u8, peer: SocketAddr, seid: u64, seq: u32) {
        if !self.on {
            return;
        }
        if self.current.is_some() {
            self.finish(None);
        }
        let (hi, lo) = (self.next(), self.next());
        self.sampled = self.bound.is_some_and(|b| lo <= b);
        let trace_id = (u128::from(hi | 1) << 64) | u128::from(lo);
        let span_id = self.next() | 1;
        CURRENT.with(|c| c.set(Some((trace_id, span_id))));
        self.current = Some(Txn {
            trace_id,
            span_id,
            message,
            peer,
            seid,
            seq,
            cause: None,
            start: SystemTime::now(),
            len: Duration::ZERO,
            phases: [Phase::default(); MAX_PHASES],
            n: 0,
            at: Instant::now(),
        });
    }

    /// The start of a step, when a transaction is recorded.
    pub fn start(&self) -> Option<Instant> {
        self.current.as_ref().map(|_| Instant::now())
    }

    /// The end of a step begun at `from` (from [`Recorder::start`]).
    pub fn end(&mut self, from: Option<Instant>, name: &'static str, op: Option<&'static str>) {
        if let (Some(from), Some(t)) = (from, self.current.as_mut()) {
            let now = Instant::now();
            t.push(Phase {
                name,
                op,
                start: from.saturating_duration_since(t.at),
                len: now.saturating_duration_since(from),
            });
        }
    }

    /// The transaction ends, answered with `cause` (if its answer has one).
    pub fn finish(&mut self, cause: Option<u8>) {
        CURRENT.with(|c| c.set(None));
        let Some(mut t) = self.current.take() else {
            return;
        };
        t.cause = cause;
        t.len = t.at.elapsed();
        let refused = cause.is_some_and(|c| c != pfcp::Cause::RequestAccepted as u8);
        if !self.sampled && !refused {
            return;
        }
        if self.done.len() >= MAX_HELD {
            self.dropped += 1;
        } else {
            self.done.push(t);
        }
    }

    /// The transactions finished since the last call.
    pub fn take(&mut self) -> Vec<Txn> {
        std::mem::take(&mut self.done)
    }
}

/// PFCP message type names (TS 29.244 Table 7.3-1): the label of metrics, spans and the API.
pub fn message_name(t: u8) -> String {
    use pfcp::message_type as mt;
    match t {
        mt::HEARTBEAT_REQUEST => "heartbeat_request".into(),
        mt::ASSOCIATION_SETUP_REQUEST => "association_setup_request".into(),
        mt::ASSOCIATION_UPDATE_REQUEST => "association_update_request".into(),
        mt::ASSOCIATION_RELEASE_REQUEST => "association_release_request".into(),
        mt::NODE_REPORT_REQUEST => "node_report_request".into(),
        mt::SESSION_SET_DELETION_REQUEST => "session_set_deletion_request".into(),
        mt::SESSION_ESTABLISHMENT_REQUEST => "session_establishment_request".into(),
        mt::SESSION_MODIFICATION_REQUEST => "session_modification_request".into(),
        mt::SESSION_DELETION_REQUEST => "session_deletion_request".into(),
        mt::SESSION_REPORT_REQUEST => "session_report_request".into(),
        t => format!("type_{t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "192.0.2.9:8805".parse().unwrap()
    }

    #[test]
    fn off_records_nothing_and_sets_no_log_context() {
        let mut r = Recorder::off();
        r.begin(50, peer(), 1, 2);
        assert!(r.start().is_none());
        assert_eq!(current(), None);
        r.finish(Some(1));
        assert!(r.take().is_empty());
    }

    #[test]
    fn a_transaction_keeps_its_fields_steps_and_ids() {
        let mut r = Recorder::sampling(1.0);
        r.begin(50, peer(), 7, 9);
        let ids = current().expect("log context set");
        let t = r.start();
        std::thread::sleep(Duration::from_millis(2));
        r.end(t, "decode", None);
        let t = r.start();
        r.end(t, "southbound", Some("install"));
        r.finish(Some(1));
        assert_eq!(current(), None, "cleared after the answer");
        let got = r.take();
        assert_eq!(got.len(), 1);
        let x = &got[0];
        assert_eq!((x.trace_id, x.span_id), ids);
        assert_ne!(x.trace_id, 0);
        assert_eq!((x.message, x.seid, x.seq, x.cause), (50, 7, 9, Some(1)));
        assert_eq!(x.phases()[0].name, "decode");
        assert!(x.phases()[0].len >= Duration::from_millis(2));
        assert_eq!(x.phases()[1].op, Some("install"));
        assert!(x.phases()[1].start >= x.phases()[0].start + x.phases()[0].len);
        assert!(x.len >= x.phases()[1].start);
        assert!(r.take().is_empty(), "taken once");
    }

    #[test]
    fn ratio_samples_its_share_and_ids_differ() {
        let mut r = Recorder::sampling(0.25);
        let mut ids = std::collections::HashSet::new();
        for i in 0..4000 {
            r.begin(1, peer(), 0, i);
            r.finish(None);
        }
        let got = r.take();
        assert!((800..1200).contains(&got.len()), "{} of 4000", got.len());
        for t in &got {
            assert!(ids.insert(t.trace_id));
        }
        let mut none = Recorder::sampling(0.0);
        none.begin(1, peer(), 0, 1);
        none.finish(Some(1));
        assert!(none.take().is_empty() && none.enabled());
    }

    #[test]
    fn refused_transactions_are_exported_whatever_the_ratio() {
        let mut r = Recorder::sampling(0.0);
        for (i, cause) in [(1, Some(1)), (2, Some(65)), (3, None), (4, Some(69))] {
            r.begin(50, peer(), 0, i);
            r.finish(cause);
        }
        let got: Vec<u32> = r.take().iter().map(|t| t.seq).collect();
        assert_eq!(got, vec![2, 4], "the refusals only");
    }

    #[test]
    fn held_transactions_are_bounded() {
        let mut r = Recorder::sampling(1.0);
        for i in 0..(MAX_HELD as u32 + 10) {
            r.begin(1, peer(), 0, i);
            r.finish(None);
        }
        assert_eq!(r.take().len(), MAX_HELD);
        assert_eq!(r.dropped, 10);
    }
}
