//! Message-level rules the UP function relies on, beyond what each IE's decoding checks:
//! mandatory repeated IEs present, rule IDs unique within their list, conditional IEs present
//! where the spec's condition holds, and references from PDRs to FARs, QERs and URRs either
//! defined in the same message or returned for the session layer to resolve.

use crate::{
    error::{Error, ErrorKind},
    ie::{
        grouped::{CreateFar, CreatePdr, CreateUrr},
        simple::{ApplyAction, ReportingTriggers},
        types as t,
    },
    message::{SessionEstablishmentRequest, SessionModificationRequest},
};
use std::collections::BTreeSet;

/// References a message makes to rules it does not define: the session layer must find them in
/// the session (a Modification) or reject the request (an Establishment has no prior rules).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unresolved {
    /// FAR IDs referenced by PDRs but not created here.
    pub far_ids: BTreeSet<u32>,
    /// QER IDs referenced by PDRs but not created here.
    pub qer_ids: BTreeSet<u32>,
    /// URR IDs referenced by PDRs (or Linked URR IDs) but not created here.
    pub urr_ids: BTreeSet<u32>,
}

impl Unresolved {
    /// Nothing left to resolve.
    pub fn is_empty(&self) -> bool {
        self.far_ids.is_empty() && self.qer_ids.is_empty() && self.urr_ids.is_empty()
    }
}

fn missing(ie: u16, parent: Option<u16>) -> Error {
    Error::new(ErrorKind::MissingMandatory { parent }, 0).in_ie(ie)
}

fn conditional(ie: u16, parent: u16, rule: &'static str) -> Error {
    Error::new(
        ErrorKind::MissingConditional {
            parent: Some(parent),
            rule,
        },
        0,
    )
    .in_ie(ie)
}

fn unique<I: IntoIterator<Item = u32>>(ids: I, list_ie: u16) -> Result<BTreeSet<u32>, Error> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(Error::new(ErrorKind::DuplicateId { id }, 0).in_ie(list_ie));
        }
    }
    Ok(seen)
}

fn check_pdr(p: &CreatePdr) -> Result<(), Error> {
    if p.far_id.is_none() && p.activate_predefined_rules.is_empty() {
        return Err(conditional(
            t::FAR_ID,
            t::CREATE_PDR,
            "FAR ID without Activate Predefined Rules",
        ));
    }
    Ok(())
}

fn check_far(f: &CreateFar) -> Result<(), Error> {
    let a = &f.apply_action;
    if a.has(ApplyAction::FORW) && f.forwarding_parameters.is_none() {
        return Err(conditional(
            t::FORWARDING_PARAMETERS,
            t::CREATE_FAR,
            "Apply Action FORW",
        ));
    }
    if a.has(ApplyAction::DUPL) && f.duplicating_parameters.is_empty() {
        return Err(conditional(
            t::DUPLICATING_PARAMETERS,
            t::CREATE_FAR,
            "Apply Action DUPL",
        ));
    }
    let forw = a.has(ApplyAction::FORW);
    let drop = a.has(ApplyAction::DROP);
    let buff = a.has(ApplyAction::BUFF);
    if u8::from(forw) + u8::from(drop) + u8::from(buff) > 1 {
        return Err(
            Error::invalid("Apply Action with more than one of DROP, FORW, BUFF", 0)
                .in_ie(t::APPLY_ACTION),
        );
    }
    Ok(())
}

fn check_urr(u: &CreateUrr) -> Result<(), Error> {
    let rt = &u.reporting_triggers;
    let rules: [(bool, bool, u16, &'static str); 5] = [
        (
            rt.has(ReportingTriggers::PERIO),
            u.measurement_period.is_some(),
            t::MEASUREMENT_PERIOD,
            "PERIO",
        ),
        (
            rt.has(ReportingTriggers::VOLTH),
            u.volume_threshold.is_some(),
            t::VOLUME_THRESHOLD,
            "VOLTH",
        ),
        (
            rt.has(ReportingTriggers::TIMTH),
            u.time_threshold.is_some(),
            t::TIME_THRESHOLD,
            "TIMTH",
        ),
        (
            rt.has(ReportingTriggers::VOLQU),
            u.volume_quota.is_some(),
            t::VOLUME_QUOTA,
            "VOLQU",
        ),
        (
            rt.has(ReportingTriggers::TIMQU),
            u.time_quota.is_some(),
            t::TIME_QUOTA,
            "TIMQU",
        ),
    ];
    for (trigger, present, ie, rule) in rules {
        if trigger && !present {
            return Err(conditional(ie, t::CREATE_URR, rule));
        }
    }
    Ok(())
}

/// Collects what `pdrs` reference that `fars`/`qers`/`urrs` (IDs created in the same message)
/// do not define.
fn references(
    pdrs: impl Iterator<Item = (Option<u32>, Vec<u32>, Vec<u32>)>,
    fars: &BTreeSet<u32>,
    qers: &BTreeSet<u32>,
    urrs: &BTreeSet<u32>,
    out: &mut Unresolved,
) {
    for (far, qer_ids, urr_ids) in pdrs {
        if let Some(f) = far.filter(|f| !fars.contains(f)) {
            out.far_ids.insert(f);
        }
        out.qer_ids
            .extend(qer_ids.into_iter().filter(|q| !qers.contains(q)));
        out.urr_ids
            .extend(urr_ids.into_iter().filter(|u| !urrs.contains(u)));
    }
}

/// Checks a Session Establishment Request. An Establishment creates a session from nothing, so
/// a non-empty [`Unresolved`] means the request refers to rules that do not exist.
pub fn session_establishment(m: &SessionEstablishmentRequest) -> Result<Unresolved, Error> {
    if m.create_pdrs.is_empty() {
        return Err(missing(t::CREATE_PDR, None));
    }
    if m.create_fars.is_empty() {
        return Err(missing(t::CREATE_FAR, None));
    }
    unique(
        m.create_pdrs.iter().map(|p| u32::from(p.pdr_id.0)),
        t::CREATE_PDR,
    )?;
    let fars = unique(m.create_fars.iter().map(|f| f.far_id.0), t::CREATE_FAR)?;
    let urrs = unique(m.create_urrs.iter().map(|u| u.urr_id.0), t::CREATE_URR)?;
    let qers = unique(m.create_qers.iter().map(|q| q.qer_id.0), t::CREATE_QER)?;
    m.create_pdrs.iter().try_for_each(check_pdr)?;
    m.create_fars.iter().try_for_each(check_far)?;
    m.create_urrs.iter().try_for_each(check_urr)?;
    let mut out = Unresolved::default();
    references(
        m.create_pdrs.iter().map(|p| {
            (
                p.far_id.map(|f| f.0),
                p.qer_ids.iter().map(|q| q.0).collect(),
                p.urr_ids.iter().map(|u| u.0).collect(),
            )
        }),
        &fars,
        &qers,
        &urrs,
        &mut out,
    );
    for u in &m.create_urrs {
        out.urr_ids.extend(
            u.linked_urr_ids
                .iter()
                .map(|l| l.0)
                .filter(|l| !urrs.contains(l)),
        );
    }
    Ok(out)
}

/// Checks a Session Modification Request. References to rules not created in this message are
/// returned for the session layer to resolve against the session.
pub fn session_modification(m: &SessionModificationRequest) -> Result<Unresolved, Error> {
    unique(
        m.create_pdrs.iter().map(|p| u32::from(p.pdr_id.0)),
        t::CREATE_PDR,
    )?;
    unique(
        m.update_pdrs.iter().map(|p| u32::from(p.pdr_id.0)),
        t::UPDATE_PDR,
    )?;
    unique(
        m.remove_pdrs.iter().map(|p| u32::from(p.pdr_id.0)),
        t::REMOVE_PDR,
    )?;
    let fars = unique(m.create_fars.iter().map(|f| f.far_id.0), t::CREATE_FAR)?;
    unique(m.update_fars.iter().map(|f| f.far_id.0), t::UPDATE_FAR)?;
    unique(m.remove_fars.iter().map(|f| f.far_id.0), t::REMOVE_FAR)?;
    let urrs = unique(m.create_urrs.iter().map(|u| u.urr_id.0), t::CREATE_URR)?;
    unique(m.update_urrs.iter().map(|u| u.urr_id.0), t::UPDATE_URR)?;
    unique(m.remove_urrs.iter().map(|u| u.urr_id.0), t::REMOVE_URR)?;
    let qers = unique(m.create_qers.iter().map(|q| q.qer_id.0), t::CREATE_QER)?;
    unique(m.update_qers.iter().map(|q| q.qer_id.0), t::UPDATE_QER)?;
    unique(m.remove_qers.iter().map(|q| q.qer_id.0), t::REMOVE_QER)?;
    m.create_pdrs.iter().try_for_each(check_pdr)?;
    m.create_fars.iter().try_for_each(check_far)?;
    m.create_urrs.iter().try_for_each(check_urr)?;
    let mut out = Unresolved::default();
    let created = m.create_pdrs.iter().map(|p| {
        (
            p.far_id.map(|f| f.0),
            p.qer_ids.iter().map(|q| q.0).collect(),
            p.urr_ids.iter().map(|u| u.0).collect(),
        )
    });
    let updated = m.update_pdrs.iter().map(|p| {
        (
            p.far_id.map(|f| f.0),
            p.qer_ids.iter().map(|q| q.0).collect(),
            p.urr_ids.iter().map(|u| u.0).collect(),
        )
    });
    references(created.chain(updated), &fars, &qers, &urrs, &mut out);
    Ok(out)
}
