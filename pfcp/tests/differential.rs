//! Differential tests against rs-pfcp 0.5.0, an independent decoder: on every message both
//! decode (the golden vectors and bounded, seeded mutations of them), both must agree on the
//! message type, SEID, sequence number and the top-level IEs each interprets (type and value
//! bytes). IEs a message does not define, and surplus instances of a single IE, are kept by this
//! codec only for re-emission, and rs-pfcp keeps some of them and drops others: the comparison
//! covers the IE types this codec interprets for the message, every instance rs-pfcp has of them.
//! rs-pfcp has a known remote panic (FQ-CSID decode underflow), so its calls are contained.

#[path = "golden/vectors.rs"]
mod vectors;

use pfcp::{Message, wire::IeIter};
use std::panic::{AssertUnwindSafe, catch_unwind};

type Summary = (u8, Option<u64>, u32, Vec<(u16, Vec<u8>)>);

fn ours(b: &[u8]) -> Option<Summary> {
    let (m, used) = Message::decode(b).ok()?;
    let enc = m.to_vec();
    let hlen = m.header.len();
    let mut ies: Vec<(u16, Vec<u8>)> = IeIter::new(&enc[hlen..], hlen)
        .map(|ie| ie.map(|ie| (ie.ty, ie.value.to_vec())))
        .collect::<Result<_, _>>()
        .ok()?;
    for u in m.body.unknown() {
        if let Some(i) = ies.iter().position(|(t, v)| *t == u.ty && *v == u.value) {
            ies.remove(i);
        }
    }
    ies.sort();
    let _ = used;
    Some((m.header.message_type, m.header.seid, m.header.sequence, ies))
}

fn theirs(b: &[u8]) -> Option<Summary> {
    let b = b.to_vec();
    // Silence the panic message of rs-pfcp's known crash while containing it.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(|| {
        let m = rs_pfcp::message::parse(&b).ok()?;
        let mut ies: Vec<(u16, Vec<u8>)> = m
            .all_ies()
            .iter()
            .map(|ie| (ie.raw_type(), ie.payload.clone()))
            .collect();
        ies.sort();
        Some((
            m.msg_type_code(),
            m.seid().map(|s| s.0),
            m.sequence().0,
            ies,
        ))
    }));
    std::panic::set_hook(hook);
    r.ok().flatten()
}

/// Their IEs of the types ours interprets.
fn restrict(t: &Summary, o: &Summary) -> Summary {
    let ies =
        t.3.iter()
            .filter(|(ty, _)| o.3.iter().any(|(x, _)| x == ty))
            .cloned()
            .collect();
    (t.0, t.1, t.2, ies)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn agree_with_rs_pfcp_on_the_golden_vectors() {
    let mut both = 0;
    for (name, h) in vectors::GOLDEN {
        let b = hex(h);
        let o = ours(&b).unwrap_or_else(|| panic!("{name}: ours failed"));
        if let Some(t) = theirs(&b) {
            let t = restrict(&t, &o);
            assert_eq!(o.0, t.0, "{name}: message type");
            assert_eq!(o.1, t.1, "{name}: SEID");
            assert_eq!(o.2, t.2, "{name}: sequence");
            // Vendor IEs: rs-pfcp keeps the Enterprise ID in the payload, we split it off.
            let strip =
                |v: &Vec<(u16, Vec<u8>)>| -> Vec<u16> { v.iter().map(|(t, _)| *t).collect() };
            assert_eq!(strip(&o.3), strip(&t.3), "{name}: IE types");
            for ((ty, a), (_, b)) in o.3.iter().zip(&t.3) {
                if ty & 0x8000 == 0 {
                    assert_eq!(a, b, "{name}: IE {ty} value");
                }
            }
            both += 1;
        }
    }
    assert!(both >= 15, "rs-pfcp decoded only {both} golden vectors");
}

#[test]
fn agree_with_rs_pfcp_on_mutated_messages_both_decode() {
    // A fixed-seed xorshift: the same 20 000 mutations every run.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let (mut both, mut disagree) = (0, Vec::new());
    for i in 0..20_000 {
        let (name, h) = vectors::GOLDEN[i % vectors::GOLDEN.len()];
        let mut b = hex(h);
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % b.len();
            b[at] = next() as u8;
        }
        let (Some(o), Some(t)) = (ours(&b), theirs(&b)) else {
            continue;
        };
        let t = restrict(&t, &o);
        both += 1;
        let types = |v: &Vec<(u16, Vec<u8>)>| -> Vec<u16> { v.iter().map(|(t, _)| *t).collect() };
        if (o.0, o.1, o.2, types(&o.3)) != (t.0, t.1, t.2, types(&t.3)) {
            disagree.push(format!(
                "{name}: ours {:?} theirs {:?} bytes {:02x?}",
                types(&o.3),
                types(&t.3),
                b
            ));
        }
    }
    assert!(both > 1000, "only {both} mutations decoded by both");
    assert!(
        disagree.is_empty(),
        "{} disagreements:\n{}",
        disagree.len(),
        disagree.join("\n")
    );
}
