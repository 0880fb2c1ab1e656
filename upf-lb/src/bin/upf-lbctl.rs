//! upf-lbctl: the management CLI over upf-lb's gRPC API. Human tables by default, `-o json`
//! for scripts; the same verbs as the API.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use tonic::{Request, metadata::MetadataValue, transport::Channel};
use upf_lb::northbound::pb::{self, upf_lb_client::UpfLbClient};

#[derive(Parser)]
#[command(version, about = "upf-lbctl: see and steer a running upf-lb")]
struct Cli {
    /// The API's address.
    #[arg(long, default_value = "http://127.0.0.1:50051", env = "UPF_LB_API")]
    addr: String,
    /// Bearer token, when the daemon asks for one.
    #[arg(long, env = "UPF_LB_TOKEN")]
    token: Option<String>,
    /// CA certificate (PEM) that signed the API's certificate: speak TLS (use an https
    /// address).
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
    /// The name the API's certificate is for (default: the address's host).
    #[arg(long)]
    domain: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Liveness, readiness, Recovery Time Stamp.
    Health,
    /// Every session.
    Sessions,
    /// One session with its rules and counters.
    Session {
        /// UP SEID (decimal or 0x hex).
        seid: String,
    },
    /// PFCP associations.
    Associations,
    /// Datapath counters per reason (non-zero), PFCP counters, map occupancy.
    Stats,
    /// The configuration in force.
    Config,
    /// The load balancer: services, backends and their health, SCTP associations.
    Lb,
    /// SRv6: local SIDs and headend policies.
    Srv6,
    /// Binds a local SID (fields as [[srv6.sid]] has them; checked the same way).
    SetSid {
        /// address/length.
        sid: String,
        /// "End", "End.X", "End.DX4", ..., "End.M.GTP6.D".
        behaviour: String,
        /// Next hop (End.X, End.DX4, End.DX6).
        #[arg(long)]
        nh: Option<String>,
        /// Routing table (End.T, End.DT4/DT6/DT46).
        #[arg(long)]
        table: Option<u32>,
        /// Flavours (End, End.X, End.T).
        #[arg(long)]
        psp: bool,
        /// See --psp.
        #[arg(long)]
        usp: bool,
        /// See --psp.
        #[arg(long)]
        usd: bool,
        /// End.MAP's mapped SID.
        #[arg(long)]
        mapped: Option<String>,
        /// Where the arguments start (End.M.GTP4.E, End.M.GTP6.E, End.M.GTP6.D).
        #[arg(long)]
        args_at: Option<u32>,
        /// Where the IPv4 SA sits in the IPv6 SA (End.M.GTP4.E).
        #[arg(long)]
        src_at: Option<u32>,
        /// Source address (End.M.GTP6.E, End.M.GTP6.D).
        #[arg(long)]
        source: Option<String>,
        /// End.M.GTP6.D's SR policy, comma-separated.
        #[arg(long, value_delimiter = ',')]
        segments: Vec<String>,
        /// End.M.GTP6.D's policy is H.Encaps.Red.
        #[arg(long)]
        reduced: bool,
        /// End.Limit's own rate (kbit/s).
        #[arg(long)]
        rate_kbps: Option<u32>,
    },
    /// Unbinds a local SID.
    DeleteSid {
        /// address/length.
        sid: String,
    },
    /// Session up/down and usage reports as they happen.
    Watch {
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
    },
}

fn req<T>(token: &Option<String>, m: T) -> anyhow::Result<Request<T>> {
    let mut r = Request::new(m);
    if let Some(t) = token {
        let v: MetadataValue<_> = format!("Bearer {t}").parse().context("token")?;
        r.metadata_mut().insert("authorization", v);
    }
    Ok(r)
}

fn brief(s: &pb::SessionBrief) -> Value {
    json!({
        "up_seid": s.up_seid, "cp_seid": s.cp_seid, "node_id": s.node_id,
        "ue_addresses": s.ue_addresses, "local_teids": s.local_teids, "pdrs": s.pdrs,
    })
}

fn print(out: Output, v: Value, table: impl FnOnce()) {
    match out {
        Output::Json => println!("{v}"),
        Output::Table => table(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut ep = Channel::from_shared(cli.addr.clone()).context("--addr")?;
    if let Some(ca) = &cli.ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        let mut tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(pem));
        if let Some(d) = &cli.domain {
            tls = tls.domain_name(d.clone());
        }
        ep = ep.tls_config(tls).context("TLS")?;
    }
    let ch = ep
        .connect()
        .await
        .with_context(|| format!("connecting to {}", cli.addr))?;
    let mut c = UpfLbClient::new(ch);
    let t = &cli.token;
    match cli.cmd {
        Cmd::Health => {
            let h = c.health(req(t, pb::HealthRequest {})?).await?.into_inner();
            print(
                cli.output,
                json!({"ready": h.ready, "recovery_time_stamp": h.recovery_time_stamp, "sessions": h.sessions}),
                || {
                    println!(
                        "ready: {}  recovery time stamp: {}  sessions: {}",
                        h.ready, h.recovery_time_stamp, h.sessions
                    )
                },
            );
        }
        Cmd::Sessions => {
            let r = c
                .list_sessions(req(t, pb::ListSessionsRequest {})?)
                .await?
                .into_inner();
            print(
                cli.output,
                Value::Array(r.sessions.iter().map(brief).collect()),
                || {
                    println!(
                        "{:>12} {:>12} {:<18} {:<28} {:<24} {:>4}",
                        "UP SEID", "CP SEID", "NODE", "UE", "TEIDS", "PDRS"
                    );
                    for s in &r.sessions {
                        let teids: Vec<String> =
                            s.local_teids.iter().map(|t| format!("{t:#x}")).collect();
                        println!(
                            "{:>#12x} {:>#12x} {:<18} {:<28} {:<24} {:>4}",
                            s.up_seid,
                            s.cp_seid,
                            s.node_id,
                            s.ue_addresses.join(","),
                            teids.join(","),
                            s.pdrs
                        );
                    }
                },
            );
        }
        Cmd::Session { seid } => {
            let up_seid = match seid.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => seid.parse(),
            }
            .with_context(|| format!("{seid:?} is not a SEID"))?;
            let s = c
                .get_session(req(t, pb::GetSessionRequest { up_seid })?)
                .await?
                .into_inner();
            let b = s.brief.clone().unwrap_or_default();
            let v = json!({
                "session": brief(&b),
                "pdrs": s.pdrs.iter().map(|p| json!({"pdr_id": p.pdr_id, "precedence": p.precedence, "far_id": p.far_id, "qer_ids": p.qer_ids, "urr_ids": p.urr_ids, "source_interface": p.source_interface, "sdf_filters": p.sdf_filters})).collect::<Vec<_>>(),
                "fars": s.fars.iter().map(|f| json!({"far_id": f.far_id, "apply_action": f.apply_action, "teid": f.teid, "peer": f.peer})).collect::<Vec<_>>(),
                "urrs": s.urrs.iter().map(|u| json!({"urr_id": u.urr_id, "ul_packets": u.ul_packets, "ul_bytes": u.ul_bytes, "dl_packets": u.dl_packets, "dl_bytes": u.dl_bytes, "ur_seqn": u.ur_seqn})).collect::<Vec<_>>(),
            });
            print(cli.output, v, || {
                println!(
                    "session {:#x} (CP SEID {:#x}, node {}), UE {}",
                    b.up_seid,
                    b.cp_seid,
                    b.node_id,
                    b.ue_addresses.join(",")
                );
                for p in &s.pdrs {
                    println!(
                        "  PDR {:>3} precedence {:>5} FAR {:>3} QER {:?} URR {:?} SDF filters {}",
                        p.pdr_id, p.precedence, p.far_id, p.qer_ids, p.urr_ids, p.sdf_filters
                    );
                }
                for f in &s.fars {
                    println!(
                        "  FAR {:>3} {:<12} teid {:#x} peer {}",
                        f.far_id,
                        f.apply_action.join("+"),
                        f.teid,
                        f.peer
                    );
                }
                for u in &s.urrs {
                    println!(
                        "  URR {:>3} uplink {} pkts / {} bytes, downlink {} pkts / {} bytes (UR-SEQN {})",
                        u.urr_id, u.ul_packets, u.ul_bytes, u.dl_packets, u.dl_bytes, u.ur_seqn
                    );
                }
            });
        }
        Cmd::SetSid {
            sid,
            behaviour,
            nh,
            table,
            psp,
            usp,
            usd,
            mapped,
            args_at,
            src_at,
            source,
            segments,
            reduced,
            rate_kbps,
        } => {
            c.set_sid(req(
                t,
                pb::SetSidRequest {
                    sid: sid.clone(),
                    behaviour,
                    nh: nh.unwrap_or_default(),
                    table,
                    psp,
                    usp,
                    usd,
                    mapped: mapped.unwrap_or_default(),
                    args_at,
                    src_at,
                    source: source.unwrap_or_default(),
                    segments,
                    reduced,
                    rate_kbps,
                },
            )?)
            .await?;
            print(cli.output, json!({ "set": sid }), || {
                println!("SID {sid} set")
            });
        }
        Cmd::DeleteSid { sid } => {
            c.delete_sid(req(t, pb::DeleteSidRequest { sid: sid.clone() })?)
                .await?;
            print(cli.output, json!({ "deleted": sid }), || {
                println!("SID {sid} deleted")
            });
        }
        Cmd::Srv6 => {
            let r = c
                .list_srv6(req(t, pb::ListSrv6Request {})?)
                .await?
                .into_inner();
            let v = json!({
                "enabled": r.enabled,
                "interfaces": r.interfaces,
                "headend_interfaces": r.headend_interfaces,
                "sids": r.sids.iter().map(|s| json!({
                    "sid": s.sid, "behaviour": s.behaviour, "nh": s.nh, "table": s.table,
                    "psp": s.psp, "usp": s.usp, "usd": s.usd,
                })).collect::<Vec<_>>(),
                "policies": r.policies.iter().map(|p| json!({
                    "prefix": p.prefix, "source": p.source, "segments": p.segments,
                    "reduced": p.reduced,
                })).collect::<Vec<_>>(),
            });
            print(cli.output, v, || {
                if !r.enabled {
                    println!("no SRv6 ([srv6] not configured)");
                    return;
                }
                println!(
                    "interfaces: {}; headend: {}",
                    r.interfaces.join(","),
                    r.headend_interfaces.join(",")
                );
                for s in &r.sids {
                    println!(
                        "SID {:<28} {:<9} nh {:<24} table {:>4}{}",
                        s.sid,
                        s.behaviour,
                        s.nh,
                        s.table,
                        [(s.psp, " PSP"), (s.usp, " USP"), (s.usd, " USD")]
                            .iter()
                            .filter(|(on, _)| *on)
                            .map(|(_, n)| *n)
                            .collect::<String>()
                    );
                }
                for p in &r.policies {
                    println!(
                        "policy {:<24} from {} via {}{}",
                        p.prefix,
                        p.source,
                        p.segments.join(","),
                        if p.reduced { " (reduced)" } else { "" }
                    );
                }
            });
        }
        Cmd::Lb => {
            let r = c.list_lb(req(t, pb::ListLbRequest {})?).await?.into_inner();
            let v = json!({
                "enabled": r.enabled,
                "tracked": r.tracked,
                "services": r.services.iter().map(|s| json!({
                    "index": s.index, "vips": s.vips, "protocol": s.protocol, "port": s.port,
                    "health": s.health, "mode": s.mode, "source": s.source,
                    "backends": s.backends.iter().map(|b| json!({
                        "addrs": b.addrs, "port": b.port, "weight": b.weight, "up": b.up,
                        "packets_to": b.packets_to, "bytes_to": b.bytes_to,
                        "packets_from": b.packets_from, "bytes_from": b.bytes_from,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "sctp_associations": r.sctp_associations.iter().map(|a| json!({
                    "client_tag": a.client_tag, "backend_tag": a.backend_tag,
                    "client_port": a.client_port, "port": a.port, "vips": a.vips,
                    "backend": a.backend, "clients": a.clients,
                    "established": a.established, "closing": a.closing,
                    "packets_to_backend": a.packets_to_backend,
                    "packets_to_client": a.packets_to_client,
                })).collect::<Vec<_>>(),
            });
            print(cli.output, v, || {
                if !r.enabled {
                    println!("no load balancer ([lb] not configured)");
                    return;
                }
                println!("tracked connection entries: {}", r.tracked);
                for s in &r.services {
                    println!(
                        "service {} {} {}:{} (health {}, {}{}{})",
                        s.index,
                        s.protocol,
                        s.vips.join(","),
                        s.port,
                        s.health,
                        s.mode,
                        if s.source.is_empty() { "" } else { " from " },
                        s.source
                    );
                    for b in &s.backends {
                        println!(
                            "  {:<40} port {:>5} weight {:>3} {:<4} to {} pkts / {} B, from {} pkts / {} B",
                            b.addrs.join(","),
                            b.port,
                            b.weight,
                            if b.up { "up" } else { "DOWN" },
                            b.packets_to,
                            b.bytes_to,
                            b.packets_from,
                            b.bytes_from
                        );
                    }
                }
                if !r.sctp_associations.is_empty() {
                    println!(
                        "{:<10} {:<10} {:>6} {:<32} {:<32} {:<12} {:>10} {:>10}",
                        "CLIENT-TAG",
                        "BACKEND-TAG",
                        "PORT",
                        "BACKEND",
                        "CLIENT-BY-PATH",
                        "STATE",
                        "TO-BE",
                        "TO-CLIENT"
                    );
                    for a in &r.sctp_associations {
                        let st = if a.closing {
                            "closing"
                        } else if a.established {
                            "established"
                        } else {
                            "half-open"
                        };
                        println!(
                            "{:<#10x} {:<#10x} {:>6} {:<32} {:<32} {:<12} {:>10} {:>10}",
                            a.client_tag,
                            a.backend_tag,
                            a.client_port,
                            a.backend.join(","),
                            a.clients
                                .iter()
                                .map(|c| if c.is_empty() { "-" } else { c.as_str() })
                                .collect::<Vec<_>>()
                                .join(","),
                            st,
                            a.packets_to_backend,
                            a.packets_to_client
                        );
                    }
                }
            });
        }
        Cmd::Associations => {
            let r = c
                .list_associations(req(t, pb::ListAssociationsRequest {})?)
                .await?
                .into_inner();
            let v = Value::Array(
                r.associations
                    .iter()
                    .map(|a| json!({"node_id": a.node_id, "address": a.address, "recovery_time_stamp": a.recovery_time_stamp}))
                    .collect(),
            );
            print(cli.output, v, || {
                println!("{:<24} {:<28} {:>12}", "NODE", "ADDRESS", "RECOVERY");
                for a in &r.associations {
                    println!(
                        "{:<24} {:<28} {:>12}",
                        a.node_id, a.address, a.recovery_time_stamp
                    );
                }
            });
        }
        Cmd::Stats => {
            let r = c
                .get_stats(req(t, pb::StatsRequest {})?)
                .await?
                .into_inner();
            let v = json!({
                "sessions": r.sessions, "associations": r.associations, "buffered": r.buffered,
                "reasons": r.reasons.iter().map(|x| json!({"reason": x.reason, "verdict": x.verdict, "packets": x.packets, "bytes": x.bytes})).collect::<Vec<_>>(),
                "pfcp": r.pfcp.iter().map(|x| json!({"message": x.message, "cause": x.cause, "count": x.count})).collect::<Vec<_>>(),
                "maps": r.maps.iter().map(|x| json!({"map": x.map, "used": x.used, "capacity": x.capacity})).collect::<Vec<_>>(),
                "qfis": r.qfis.iter().map(|x| json!({"interface": x.interface, "direction": x.direction, "qfi": x.qfi, "packets": x.packets, "bytes": x.bytes})).collect::<Vec<_>>(),
            });
            print(cli.output, v, || {
                println!(
                    "sessions {}  associations {}  buffered packets {}",
                    r.sessions, r.associations, r.buffered
                );
                println!(
                    "{:<32} {:<8} {:>12} {:>14}",
                    "REASON", "VERDICT", "PACKETS", "BYTES"
                );
                for x in r.reasons.iter().filter(|x| x.packets > 0) {
                    println!(
                        "{:<32} {:<8} {:>12} {:>14}",
                        x.reason, x.verdict, x.packets, x.bytes
                    );
                }
                println!(
                    "{:<10} {:<10} {:>4} {:>12} {:>14}",
                    "INTERFACE", "DIRECTION", "QFI", "PACKETS", "BYTES"
                );
                for x in &r.qfis {
                    println!(
                        "{:<10} {:<10} {:>4} {:>12} {:>14}",
                        x.interface, x.direction, x.qfi, x.packets, x.bytes
                    );
                }
                println!("{:<32} {:>5} {:>12}", "PFCP REQUEST", "CAUSE", "COUNT");
                for x in &r.pfcp {
                    println!("{:<32} {:>5} {:>12}", x.message, x.cause, x.count);
                }
                for m in &r.maps {
                    println!("map {:<14} {:>10} of {:>10}", m.map, m.used, m.capacity);
                }
            });
        }
        Cmd::Config => {
            let r = c
                .get_config(req(t, pb::ConfigRequest {})?)
                .await?
                .into_inner();
            print(cli.output, json!({"config": r.text}), || {
                println!("{}", r.text)
            });
        }
        Cmd::Watch { count } => {
            let mut s = c.watch(req(t, pb::WatchRequest {})?).await?.into_inner();
            let mut n = 0;
            while count.is_none_or(|c| n < c) {
                let Some(e) = s.message().await? else { break };
                n += 1;
                print(
                    cli.output,
                    json!({"kind": e.kind, "up_seid": e.up_seid, "urr_id": e.urr_id, "total_bytes": e.total_bytes, "reason": e.reason, "rate": e.rate}),
                    || {
                        if e.kind == "drops" {
                            println!("{:<14} {} at {:.0} packets/s", e.kind, e.reason, e.rate)
                        } else {
                            println!(
                                "{:<14} session {:#x} URR {} {} bytes",
                                e.kind, e.up_seid, e.urr_id, e.total_bytes
                            )
                        }
                    },
                );
            }
        }
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("upf-lbctl: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli)) {
        // A gRPC status says what went wrong in its message (NotFound, Unauthenticated, ...).
        match e.downcast_ref::<tonic::Status>() {
            Some(s) => eprintln!("upf-lbctl: {:?}: {}", s.code(), s.message()),
            None => eprintln!("upf-lbctl: {e:#}"),
        }
        std::process::exit(2);
    }
}
