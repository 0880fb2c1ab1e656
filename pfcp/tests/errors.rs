//! Malformed and inconsistent PFCP: every case decodes to an error that names the IE and maps
//! to the Cause and Offending IE the N4 endpoint answers with; nothing panics.

#[path = "golden/vectors.rs"]
mod vectors;

use pfcp::{
    Body, Cause, Error, ErrorKind, Message,
    ie::{
        simple::{ApplyAction, PdrId, ReportingTriggers},
        types as t,
    },
    validate,
};

fn golden(name: &str) -> Vec<u8> {
    let h = vectors::GOLDEN.iter().find(|(n, _)| *n == name).unwrap().1;
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn establishment() -> (Message, pfcp::message::SessionEstablishmentRequest) {
    let (m, _) = Message::decode(&golden("session_establishment_request")).unwrap();
    let Body::SessionEstablishmentRequest(r) = m.body.clone() else {
        panic!()
    };
    (m, r)
}

fn reencode(m: &Message, r: pfcp::message::SessionEstablishmentRequest) -> Vec<u8> {
    Message {
        header: m.header,
        body: Body::SessionEstablishmentRequest(r),
    }
    .to_vec()
}

/// Finds the first IE of type `ty` (at any depth) in an encoded message body; returns its
/// offset. Grouped types are descended.
fn find_ie(b: &[u8], from: usize, to: usize, ty: u16) -> Option<usize> {
    const GROUPED: &[u16] = &[
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 54, 51, 78, 79, 80, 83, 85,
    ];
    let mut o = from;
    while o + 4 <= to {
        let it = u16::from_be_bytes([b[o], b[o + 1]]);
        let l = usize::from(u16::from_be_bytes([b[o + 2], b[o + 3]]));
        if it == ty {
            return Some(o);
        }
        if GROUPED.contains(&it)
            && let Some(x) = find_ie(b, o + 4, o + 4 + l, ty)
        {
            return Some(x);
        }
        o += 4 + l;
    }
    None
}

fn err(b: &[u8]) -> Error {
    Message::decode(b).expect_err("must not decode")
}

fn check(e: &Error, kind: fn(&ErrorKind) -> bool, ie: u16, cause: Cause) {
    assert!(kind(&e.kind), "{e:?}");
    assert_eq!(e.offending_ie(), Some(ie), "{e}");
    assert_eq!(e.cause(), cause, "{e}");
}

#[test]
fn missing_mandatory_ies_are_named() {
    let (m, mut r) = establishment();
    // Node ID missing from the message: drop it by re-encoding without it.
    let mut b = reencode(&m, r.clone());
    let at = find_ie(&b, 16, b.len(), t::NODE_ID).unwrap();
    let l = 4 + usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
    b.drain(at..at + l);
    let n = (b.len() - 4) as u16;
    b[2..4].copy_from_slice(&n.to_be_bytes());
    let e = err(&b);
    check(
        &e,
        |k| matches!(k, ErrorKind::MissingMandatory { parent: None }),
        t::NODE_ID,
        Cause::MandatoryIeMissing,
    );

    // PDI missing from a Create PDR: encode the PDR's PDI as an unknown IE of another type.
    let mut b = reencode(&m, r.clone());
    let at = find_ie(&b, 16, b.len(), t::PDI).unwrap();
    b[at..at + 2].copy_from_slice(&9999u16.to_be_bytes());
    let e = err(&b);
    assert_eq!(
        e.kind,
        ErrorKind::MissingMandatory {
            parent: Some(t::CREATE_PDR)
        }
    );
    assert_eq!(
        (e.offending_ie(), e.cause()),
        (Some(t::PDI), Cause::MandatoryIeMissing)
    );

    // No Create PDR at all: decodes, fails validation.
    r.create_pdrs.clear();
    let e = validate::session_establishment(&r).unwrap_err();
    check(
        &e,
        |k| matches!(k, ErrorKind::MissingMandatory { .. }),
        t::CREATE_PDR,
        Cause::MandatoryIeMissing,
    );
}

#[test]
fn bad_lengths_and_values_are_named() {
    let (m, r) = establishment();
    let base = reencode(&m, r);

    // F-TEID value of 3 bytes inside PDI inside Create PDR: shorten the IE and every length above.
    let mut b = base.clone();
    let at = find_ie(&b, 16, b.len(), t::F_TEID).unwrap();
    let old = u16::from_be_bytes([b[at + 2], b[at + 3]]);
    let cut = usize::from(old) - 3;
    b.drain(at + 4 + 3..at + 4 + usize::from(old));
    b[at + 2..at + 4].copy_from_slice(&3u16.to_be_bytes());
    for ty in [t::PDI, t::CREATE_PDR] {
        let p = find_ie(&b, 16, b.len(), ty).unwrap();
        let l = u16::from_be_bytes([b[p + 2], b[p + 3]]) - cut as u16;
        b[p + 2..p + 4].copy_from_slice(&l.to_be_bytes());
    }
    let n = (b.len() - 4) as u16;
    b[2..4].copy_from_slice(&n.to_be_bytes());
    let e = err(&b);
    check(
        &e,
        |k| matches!(k, ErrorKind::InvalidLength { .. }),
        t::F_TEID,
        Cause::InvalidLength,
    );
    assert!(e.offset > at, "{e}");

    // Node ID Type 5.
    let mut b = base.clone();
    let at = find_ie(&b, 16, b.len(), t::NODE_ID).unwrap();
    b[at + 4] = 5;
    check(
        &err(&b),
        |k| matches!(k, ErrorKind::InvalidValue(_)),
        t::NODE_ID,
        Cause::MandatoryIeIncorrect,
    );

    // F-SEID with neither V4 nor V6.
    let mut b = base.clone();
    let at = find_ie(&b, 16, b.len(), t::F_SEID).unwrap();
    b[at + 4] = 0;
    check(
        &err(&b),
        |k| matches!(k, ErrorKind::InvalidValue(_)),
        t::F_SEID,
        Cause::MandatoryIeIncorrect,
    );

    // An IE whose Length runs past the message.
    let mut b = base.clone();
    let at = find_ie(&b, 16, b.len(), t::PDN_TYPE).unwrap();
    b[at + 3] = 200;
    check(
        &err(&b),
        |k| matches!(k, ErrorKind::Truncated { .. }),
        t::PDN_TYPE,
        Cause::InvalidLength,
    );

    // A Flow Description that is not text.
    let mut b = base.clone();
    let at = find_ie(&b, 16, b.len(), t::SDF_FILTER).unwrap();
    b[at + 8] = 0xff;
    check(
        &err(&b),
        |k| matches!(k, ErrorKind::InvalidValue(_)),
        t::SDF_FILTER,
        Cause::MandatoryIeIncorrect,
    );

    // An FQDN Node ID whose label runs past the IE.
    let mut b = golden("association_setup_response");
    let at = find_ie(&b, 8, b.len(), t::NODE_ID).unwrap();
    b[at + 5] = 40;
    check(
        &err(&b),
        |k| matches!(k, ErrorKind::InvalidValue(_)),
        t::NODE_ID,
        Cause::MandatoryIeIncorrect,
    );
}

#[test]
fn header_errors_are_not_answered_with_a_cause() {
    let good = golden("heartbeat_request");
    let mut v2 = good.clone();
    v2[0] = (v2[0] & 0x1f) | (2 << 5);
    let e = err(&v2);
    assert_eq!(e.kind, ErrorKind::UnsupportedVersion(2));
    assert!(e.is_header_error());
    let mut unknown = good.clone();
    unknown[1] = 99;
    assert_eq!(err(&unknown).kind, ErrorKind::UnknownMessageType(99));
    // A node message with the S flag: SEID present where it must not be.
    let mut s = good.clone();
    s[0] |= 1;
    s[2..4].copy_from_slice(&20u16.to_be_bytes());
    s.splice(4..4, [0u8; 8]);
    assert_eq!(err(&s).kind, ErrorKind::SeidFlagMismatch);
    // Message Length shorter than the header.
    let mut short = good.clone();
    short[2..4].copy_from_slice(&2u16.to_be_bytes());
    assert!(matches!(err(&short).kind, ErrorKind::ShortMessage { .. }));
    for e in [err(&unknown), err(&s), err(&short)] {
        assert!(e.is_header_error(), "{e}");
    }
}

#[test]
fn message_level_rules() {
    let (_, r) = establishment();

    let mut dup = r.clone();
    dup.create_pdrs[1].pdr_id = PdrId(1);
    let e = validate::session_establishment(&dup).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateId { id: 1 });
    assert_eq!(
        (e.offending_ie(), e.cause()),
        (Some(t::CREATE_PDR), Cause::MandatoryIeIncorrect)
    );

    let mut forw = r.clone();
    forw.create_fars[0].forwarding_parameters = None;
    let e = validate::session_establishment(&forw).unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::MissingConditional {
            parent: Some(t::CREATE_FAR),
            ..
        }
    ));
    assert_eq!(
        (e.offending_ie(), e.cause()),
        (Some(t::FORWARDING_PARAMETERS), Cause::ConditionalIeMissing)
    );

    let mut both = r.clone();
    both.create_fars[0].apply_action = ApplyAction::empty()
        .with(ApplyAction::DROP)
        .with(ApplyAction::FORW);
    let e = validate::session_establishment(&both).unwrap_err();
    assert_eq!(
        (e.offending_ie(), e.cause()),
        (Some(t::APPLY_ACTION), Cause::MandatoryIeIncorrect)
    );

    let mut volth = r.clone();
    volth.create_urrs[0].volume_threshold = None;
    assert!(
        volth.create_urrs[0]
            .reporting_triggers
            .has(ReportingTriggers::VOLTH)
    );
    let e = validate::session_establishment(&volth).unwrap_err();
    assert_eq!(
        (e.offending_ie(), e.cause()),
        (Some(t::VOLUME_THRESHOLD), Cause::ConditionalIeMissing)
    );

    let mut no_far = r.clone();
    no_far.create_pdrs[0].far_id = None;
    let e = validate::session_establishment(&no_far).unwrap_err();
    assert_eq!(
        (e.offending_ie(), e.cause()),
        (Some(t::FAR_ID), Cause::ConditionalIeMissing)
    );

    // A PDR that points at a FAR the message does not create is returned as unresolved.
    let mut dangling = r.clone();
    dangling.create_pdrs[0].far_id = Some(pfcp::ie::simple::FarId(77));
    dangling.create_pdrs[0]
        .qer_ids
        .push(pfcp::ie::simple::QerId(88));
    let u = validate::session_establishment(&dangling).unwrap();
    assert_eq!(u.far_ids.into_iter().collect::<Vec<_>>(), vec![77]);
    assert_eq!(u.qer_ids.into_iter().collect::<Vec<_>>(), vec![88]);

    // Modification: references to rules not created here are for the session to resolve.
    let (m, _) = Message::decode(&golden("session_modification_request")).unwrap();
    let Body::SessionModificationRequest(q) = m.body else {
        panic!()
    };
    assert!(validate::session_modification(&q).unwrap().is_empty());
}

#[test]
fn unknown_and_vendor_ies_inside_groups_are_kept_and_re_emitted() {
    let (m, mut r) = establishment();
    r.create_fars[0].unknown.push(pfcp::wire::RawIe {
        ty: 9999,
        enterprise: None,
        value: vec![1, 2],
    });
    r.create_pdrs[0].pdi.unknown.push(pfcp::wire::RawIe {
        ty: 0x8123,
        enterprise: Some(10415),
        value: vec![7],
    });
    let b = reencode(&m, r.clone());
    let (back, _) = Message::decode(&b).unwrap();
    let Body::SessionEstablishmentRequest(r2) = back.body else {
        panic!()
    };
    assert_eq!(r2, r);
    assert_eq!(reencode(&m, r2), b);
}
