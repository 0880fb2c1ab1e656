//! Metrics in the Prometheus text exposition format (what every Kubernetes cluster scrapes):
//! the datapath's packets and bytes per reason and verdict (names from the bpf-abi reason
//! enum, one source of names), PFCP requests and their handling time per message type and
//! Cause, sessions, associations, buffered packets, and map occupancy against capacity.
//! Per-CPU counters are summed here, in userspace; reading them costs the datapath nothing.

use crate::n4::N4;
use std::fmt::Write as _;

/// PFCP message type names (TS 29.244 Table 7.3-1) for labels.
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

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The metrics of `n4` and its datapath, as Prometheus text.
pub fn prometheus(n4: &N4) -> String {
    let mut o = String::with_capacity(16 * 1024);
    if let Ok(counters) = n4.dp.counters() {
        family(
            &mut o,
            "upf_lb_datapath_packets_total",
            "counter",
            "Packets the eBPF programs handled, by outcome reason and verdict.",
        );
        for (r, c) in &counters {
            let _ = writeln!(
                o,
                "upf_lb_datapath_packets_total{{reason=\"{}\",verdict=\"{}\"}} {}",
                r.name(),
                r.verdict().name(),
                c.packets
            );
        }
        family(
            &mut o,
            "upf_lb_datapath_bytes_total",
            "counter",
            "Bytes of the packets the eBPF programs handled, by outcome reason and verdict.",
        );
        for (r, c) in &counters {
            let _ = writeln!(
                o,
                "upf_lb_datapath_bytes_total{{reason=\"{}\",verdict=\"{}\"}} {}",
                r.name(),
                r.verdict().name(),
                c.bytes
            );
        }
    }
    family(
        &mut o,
        "upf_lb_pfcp_requests_total",
        "counter",
        "PFCP requests answered, by message type and the Cause of the answer (0: none).",
    );
    for ((t, c), (n, _)) in &n4.pfcp_stats {
        let _ = writeln!(
            o,
            "upf_lb_pfcp_requests_total{{message=\"{}\",cause=\"{c}\"}} {n}",
            message_name(*t)
        );
    }
    family(
        &mut o,
        "upf_lb_pfcp_request_seconds_total",
        "counter",
        "Time spent handling PFCP requests, by message type and Cause.",
    );
    for ((t, c), (_, ns)) in &n4.pfcp_stats {
        let _ = writeln!(
            o,
            "upf_lb_pfcp_request_seconds_total{{message=\"{}\",cause=\"{c}\"}} {}",
            message_name(*t),
            *ns as f64 / 1e9
        );
    }
    for (name, help, v) in [
        (
            "upf_lb_sessions",
            "PFCP sessions held.",
            n4.session_count() as u64,
        ),
        (
            "upf_lb_associations",
            "PFCP associations held.",
            n4.associations().count() as u64,
        ),
        (
            "upf_lb_buffered_packets",
            "Downlink packets held for buffering sessions.",
            n4.buffered() as u64,
        ),
    ] {
        family(&mut o, name, "gauge", help);
        let _ = writeln!(o, "{name} {v}");
    }
    let (pdrs, sdfs, fars, qers, urrs) = n4.dp.slots_in_use();
    let sizes = crate::daemon::map_sizes(n4.config());
    family(
        &mut o,
        "upf_lb_map_entries",
        "gauge",
        "Rule slots in use per eBPF map.",
    );
    family(
        &mut o,
        "upf_lb_map_capacity",
        "gauge",
        "Rule slots per eBPF map.",
    );
    for (m, used, cap) in [
        ("PDRS", pdrs, sizes.pdrs),
        ("SDFS", sdfs, sizes.sdfs),
        ("FARS", fars, sizes.fars),
        ("QERS", qers, sizes.qers),
        ("URR_COUNTERS", urrs, sizes.urrs),
    ] {
        let _ = writeln!(o, "upf_lb_map_entries{{map=\"{m}\"}} {used}");
        let _ = writeln!(o, "upf_lb_map_capacity{{map=\"{m}\"}} {cap}");
    }
    let s = &n4.stats;
    family(
        &mut o,
        "upf_lb_pfcp_events_total",
        "counter",
        "N4 events: retransmissions answered from the cache, messages discarded, peers refused, restarted or dead, Session Report Requests.",
    );
    for (k, v) in [
        ("retransmission_answered", s.retransmissions_answered),
        ("discarded", s.discarded),
        ("peer_refused", s.refused_peers),
        ("peer_restarted", s.peer_restarts),
        ("peer_dead", s.dead_peers),
        ("report_sent", s.reports_sent),
        ("report_unanswered", s.reports_unanswered),
    ] {
        let _ = writeln!(o, "upf_lb_pfcp_events_total{{event=\"{k}\"}} {v}");
    }
    o
}
