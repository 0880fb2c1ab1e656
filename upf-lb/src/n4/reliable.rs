//! Reliable delivery of PFCP messages (TS 29.244 6.4): responses kept so that a retransmitted
//! request (same peer, same Sequence Number) is answered again without being applied twice,
//! and requests we send retransmitted every T1, at most N1 times.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    time::{Duration, Instant},
};

/// Responses sent recently, bounded in count and age.
#[derive(Debug)]
pub struct ResponseCache {
    cap: usize,
    ttl: Duration,
    map: HashMap<(SocketAddr, u32), Vec<u8>>,
    order: VecDeque<(Instant, SocketAddr, u32)>,
}

impl ResponseCache {
    /// A cache of at most `cap` responses, each kept for `ttl` (longer than a peer retransmits:
    /// T1 x (N1 + 1)).
    pub fn new(cap: usize, ttl: Duration) -> Self {
        ResponseCache {
            cap,
            ttl,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The response already sent to the request `seq` of `peer`.
    pub fn get(&self, peer: SocketAddr, seq: u32) -> Option<&[u8]> {
        self.map.get(&(peer, seq)).map(Vec::as_slice)
    }

    /// Keeps `response` to request `seq` of `peer`.
    pub fn put(&mut self, peer: SocketAddr, seq: u32, response: Vec<u8>, now: Instant) {
        self.expire(now);
        while self.map.len() >= self.cap {
            match self.order.pop_front() {
                Some((_, p, s)) => {
                    self.map.remove(&(p, s));
                }
                None => break,
            }
        }
        if self.map.insert((peer, seq), response).is_none() {
            self.order.push_back((now, peer, seq));
        }
    }

    /// Drops responses older than the TTL.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(t, p, s)) = self.order.front() {
            if now.duration_since(t) < self.ttl {
                break;
            }
            self.order.pop_front();
            self.map.remove(&(p, s));
        }
    }

    /// Responses kept.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A request we sent and wait to see answered.
#[derive(Debug, Clone)]
pub struct Pending<K> {
    /// Where it went.
    pub peer: SocketAddr,
    /// Its bytes, for retransmission.
    pub bytes: Vec<u8>,
    /// When it is sent again (or given up).
    pub due: Instant,
    /// Transmissions so far.
    pub sent: u32,
    /// What the request was about.
    pub kind: K,
}

/// Requests we sent, by Sequence Number.
#[derive(Debug)]
pub struct Outstanding<K> {
    t1: Duration,
    n1: u32,
    next_seq: u32,
    pending: HashMap<u32, Pending<K>>,
}

/// What [`Outstanding::poll`] found due.
pub enum Due<K> {
    /// Send these bytes again.
    Resend(SocketAddr, Vec<u8>),
    /// No answer after N1 retransmissions.
    GaveUp(Pending<K>),
}

impl<K: Clone> Outstanding<K> {
    /// Retransmission every `t1`, at most `n1` times.
    pub fn new(t1: Duration, n1: u32) -> Self {
        Outstanding {
            t1,
            n1,
            next_seq: 1,
            pending: HashMap::new(),
        }
    }

    /// A fresh Sequence Number (24 bits, never 0).
    pub fn next_seq(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq = (self.next_seq + 1) & 0x00ff_ffff;
        if self.next_seq == 0 {
            self.next_seq = 1;
        }
        s
    }

    /// Records a request sent now.
    pub fn sent(&mut self, seq: u32, peer: SocketAddr, bytes: Vec<u8>, kind: K, now: Instant) {
        self.pending.insert(
            seq,
            Pending {
                peer,
                bytes,
                due: now + self.t1,
                sent: 1,
                kind,
            },
        );
    }

    /// The request a response from `peer` with `seq` answers, taken out.
    pub fn answered(&mut self, peer: SocketAddr, seq: u32) -> Option<Pending<K>> {
        match self.pending.get(&seq) {
            Some(p) if p.peer == peer => self.pending.remove(&seq),
            _ => None,
        }
    }

    /// Drops every request to `peer`.
    pub fn forget_peer(&mut self, peer: SocketAddr) {
        self.pending.retain(|_, p| p.peer != peer);
    }

    /// Requests due now: retransmissions, and those given up.
    pub fn poll(&mut self, now: Instant) -> Vec<Due<K>> {
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (seq, p) in &mut self.pending {
            if p.due > now {
                continue;
            }
            if p.sent > self.n1 {
                gone.push(*seq);
            } else {
                p.sent += 1;
                p.due = now + self.t1;
                out.push(Due::Resend(p.peer, p.bytes.clone()));
            }
        }
        for seq in gone {
            if let Some(p) = self.pending.remove(&seq) {
                out.push(Due::GaveUp(p));
            }
        }
        out
    }

    /// The earliest time something is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.due).min()
    }

    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when none wait.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_and_expires() {
        let now = Instant::now();
        let p: SocketAddr = "192.0.2.1:8805".parse().unwrap();
        let mut c = ResponseCache::new(2, Duration::from_secs(10));
        c.put(p, 1, vec![1], now);
        c.put(p, 2, vec![2], now);
        c.put(p, 3, vec![3], now);
        assert_eq!((c.get(p, 1), c.get(p, 3)), (None, Some(&[3u8][..])));
        c.expire(now + Duration::from_secs(11));
        assert!(c.is_empty());
    }

    #[test]
    fn requests_are_resent_n1_times_then_given_up() {
        let t0 = Instant::now();
        let t1 = Duration::from_millis(100);
        let p: SocketAddr = "192.0.2.1:8805".parse().unwrap();
        let mut o = Outstanding::new(t1, 2);
        let s = o.next_seq();
        o.sent(s, p, vec![9], "hb", t0);
        assert!(o.poll(t0).is_empty());
        let mut resent = 0;
        let mut gave_up = 0;
        for i in 1..=5 {
            for d in o.poll(t0 + t1 * i) {
                match d {
                    Due::Resend(..) => resent += 1,
                    Due::GaveUp(p) => {
                        assert_eq!(p.kind, "hb");
                        gave_up += 1
                    }
                }
            }
        }
        assert_eq!((resent, gave_up), (2, 1));
        assert!(o.is_empty());
    }
}
