//! `upf-lb run`: loads the datapath sized by the configuration, attaches `xdp_n3` and `xdp_n6`,
//! and serves PFCP on the N4 sockets. One task owns the [`N4`] endpoint (and through it every
//! map); socket tasks only pass datagrams to it over a channel, and it sends what it answers.

use crate::{
    config::{Config, XdpMode},
    n4::{N4, Outgoing, ntp_now, trace::Txn},
    southbound::GtpDatapath,
};
use anyhow::Context;
use bpf_abi::names;
use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{net::UdpSocket, sync::mpsc};

/// What one batch sends: per request, the socket it came in on (None: not a request) and
/// the datagrams.
type Answers = Vec<(Option<usize>, Vec<Outgoing>)>;

/// Requests handled before one store commit (group commit).
const MAX_BATCH: usize = 256;

/// Largest PFCP datagram we accept (a UDP payload over a 9000-byte MTU fits).
const MAX_DATAGRAM: usize = 65535;

/// bpffs's statfs magic (linux/magic.h).
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn is_bpffs(p: &std::path::Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into `st`, a zeroed statfs we own; `c` is NUL-terminated.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC
    }
}

/// Makes sure `dir` exists on a bpf filesystem, mounting one on /sys/fs/bpf when that is
/// where it goes and nothing is mounted there yet.
fn prepare_pin_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let root = std::path::Path::new("/sys/fs/bpf");
    if dir.starts_with(root) && !is_bpffs(root) {
        let status = std::process::Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .status()
            .context("mount -t bpf")?;
        anyhow::ensure!(
            status.success(),
            "state.pin_dir: mounting bpffs on /sys/fs/bpf failed"
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("state.pin_dir: creating {}", dir.display()))?;
    anyhow::ensure!(
        is_bpffs(dir),
        "state.pin_dir: {} is not on a bpf filesystem (mount -t bpf bpf <dir>)",
        dir.display()
    );
    Ok(())
}

/// Loads the datapath for `cfg` and attaches it to the configured interfaces (in the calling
/// thread's network namespace). With `[state]`, maps are pinned (reused when pinned already)
/// and the XDP links too: a link pinned by an earlier run gets the new program atomically
/// (bpf_link_update), so forwarding never stops across a restart. Returns whether the maps
/// were new.
pub fn load_and_attach(cfg: &Config) -> anyhow::Result<(GtpDatapath, bool)> {
    let pin_dir = cfg.state.as_ref().map(|s| s.pin_dir.clone());
    if let Some(d) = &pin_dir {
        prepare_pin_dir(d)?;
    }
    let (mut dp, fresh) = GtpDatapath::load_pinned(&cfg.map_sizes(), pin_dir.as_deref())
        .context("loading bpf-gtp")?;
    for (prog, iface) in [(names::PROG_XDP_N3, &cfg.n3), (names::PROG_XDP_N6, &cfg.n6)] {
        let mode = match iface.xdp_mode {
            XdpMode::Driver => aya::programs::XdpMode::Driver,
            XdpMode::Skb => aya::programs::XdpMode::Skb,
        };
        let x = dp.xdp_mut(prog)?;
        let Some(dir) = &pin_dir else {
            x.attach(&iface.interface, mode)
                .with_context(|| format!("attaching {prog} to {}", iface.interface))?;
            continue;
        };
        let path = dir.join(format!("link_{prog}"));
        if path.exists() {
            let pinned = aya::programs::links::PinnedLink::from_pin(&path)
                .with_context(|| format!("opening the pinned link {}", path.display()))?;
            let link =
                aya::programs::xdp::XdpLink::try_from(aya::programs::links::FdLink::from(pinned))
                    .with_context(|| format!("{} is not an XDP link", path.display()))?;
            x.attach_to_link(link)
                .with_context(|| format!("replacing the program of {}", path.display()))?;
            tracing::info!(%prog, link = %path.display(), "program replaced in the pinned link");
        } else {
            let id = x
                .attach(&iface.interface, mode)
                .with_context(|| format!("attaching {prog} to {}", iface.interface))?;
            let link = x.take_link(id)?;
            let fd = aya::programs::links::FdLink::try_from(link)
                .context("an XDP link without a file descriptor (kernel without bpf_link)")?;
            fd.pin(&path)
                .with_context(|| format!("pinning the link at {}", path.display()))?;
        }
    }
    Ok((dp, fresh))
}

/// The L4 load balancer of `[lb]`: bpf-lb loaded, its services written, `xdp_lb` attached to
/// its interfaces (in the calling thread's namespace).
pub fn load_lb(cfg: &crate::config::LbConfig) -> anyhow::Result<crate::southbound::LbDatapath> {
    let backends: usize = cfg
        .services
        .iter()
        .map(|s| s.backends.len() + s.sctp_backends.len())
        .sum();
    let mut lb = crate::southbound::LbDatapath::load_sized(crate::southbound::lb::LbSizes {
        services: cfg.services.iter().map(|s| s.vips.len() as u32).sum(),
        backends: backends as u32,
        connections: cfg.connections,
        sctp_associations: cfg.sctp_associations,
        sctp_half_open: cfg.sctp_half_open,
    })
    .context("loading bpf-lb")?;
    for (i, s) in cfg.services.iter().enumerate() {
        lb.set_scheduler(s.vip, s.proto, s.port, s.scheduler)
            .with_context(|| format!("lb.service[{i}].scheduler"))?;
        if s.forwarding != crate::southbound::lb::Forwarding::Dnat {
            lb.set_forwarding(s.vip, s.proto, s.port, s.forwarding)
                .with_context(|| format!("lb.service[{i}].mode"))?;
        }
        match (s.proto, s.nat64_source, s.vip) {
            (132, ..) => lb.set_sctp_service(&s.vips, s.port, &s.sctp_backends),
            (_, Some(src), std::net::IpAddr::V6(v)) => {
                lb.set_nat64_service(v, s.proto, s.port, &s.backends, src)
            }
            _ => lb.set_service(s.vip, s.proto, s.port, &s.backends),
        }
        .with_context(|| format!("lb.service[{i}]"))?;
        if !s.links.is_empty() {
            let mut ifindexes = Vec::new();
            for (k, name) in s.links.iter().enumerate() {
                let ifindex = crate::kernel::ifindex(name)
                    .with_context(|| format!("lb.service[{i}].links[{k}]: no interface {name}"))?;
                ifindexes.push(ifindex);
            }
            lb.pin_sctp_links(&s.vips, &ifindexes)
                .with_context(|| format!("lb.service[{i}].links"))?;
        }
    }
    let mode = match cfg.xdp_mode {
        XdpMode::Driver => aya::programs::XdpMode::Driver,
        XdpMode::Skb => aya::programs::XdpMode::Skb,
    };
    let x = lb.xdp_mut(bpf_abi::lb::PROG_XDP_LB)?;
    for (i, name) in cfg.interfaces.iter().enumerate() {
        x.attach(name, mode)
            .with_context(|| format!("lb.interfaces[{i}]: attaching xdp_lb to {name}"))?;
    }
    if !cfg.decap_vips.is_empty() {
        lb.set_decap_vips(&cfg.decap_vips)
            .context("lb.decap_vips")?;
        let d = lb.xdp_mut(bpf_abi::lb::PROG_XDP_LB_DECAP)?;
        for (i, name) in cfg.decap_interfaces.iter().enumerate() {
            d.attach(name, mode).with_context(|| {
                format!("lb.decap_interfaces[{i}]: attaching xdp_lb_decap to {name}")
            })?;
        }
    }
    tracing::info!(
        services = cfg.services.len(),
        interfaces = ?cfg.interfaces,
        decap_interfaces = ?cfg.decap_interfaces,
        "load balancer attached"
    );
    Ok(lb)
}

/// bpf-srv6 loaded for `cfg` (`[srv6]`): its SIDs and policies written, `xdp_srv6` and
/// `xdp_headend` attached.
pub fn load_srv6(
    cfg: &crate::config::Srv6Config,
) -> anyhow::Result<crate::southbound::Srv6Datapath> {
    let mut dp = crate::southbound::Srv6Datapath::load(cfg.max_sids).context("loading bpf-srv6")?;
    for (i, (addr, len, b, fl)) in cfg.sids.iter().enumerate() {
        dp.add_sid_flavours(*addr, *len, *b, *fl)
            .with_context(|| format!("srv6.sid[{i}]"))?;
    }
    for (addr, len, p, args_at, di) in &cfg.gtp6d {
        if *di {
            dp.add_sid_gtp6d_di(*addr, *len, p, *args_at)
        } else {
            dp.add_sid_gtp6d(*addr, *len, p, *args_at)
        }
        .with_context(|| format!("srv6.sid {addr}/{len} (End.M.GTP6.D)"))?;
    }
    for (i, (prefix, len, p)) in cfg.policies.iter().enumerate() {
        dp.add_policy(*prefix, *len, p)
            .with_context(|| format!("srv6.policy[{i}]"))?;
    }
    for (i, n) in cfg.n9.iter().enumerate() {
        let p = &n.policy;
        dp.add_gtp4d_policy(n.peer.0, n.peer.1, p.src, n.src_at, &p.segments, n.args_at)
            .with_context(|| format!("srv6.n9[{i}]"))?;
    }
    for (prefix, len, p, src_at, args_at) in &cfg.gtp4d {
        dp.add_gtp4d_policy(*prefix, *len, p.src, *src_at, &p.segments, *args_at)
            .with_context(|| format!("srv6.policy {prefix}/{len} (H.M.GTP4.D)"))?;
    }
    for (prefix, len, p) in &cfg.inserts {
        dp.add_insert_policy(*prefix, *len, p)
            .with_context(|| format!("srv6.policy {prefix}/{len} (H.Insert)"))?;
    }
    let mode = match cfg.xdp_mode {
        XdpMode::Driver => aya::programs::XdpMode::Driver,
        XdpMode::Skb => aya::programs::XdpMode::Skb,
    };
    for (prog, field, list) in [
        (
            bpf_abi::srv6::PROG_XDP_SRV6,
            "srv6.interfaces",
            &cfg.interfaces,
        ),
        (
            bpf_abi::srv6::PROG_XDP_HEADEND,
            "srv6.headend_interfaces",
            &cfg.headend_interfaces,
        ),
    ] {
        let x = dp.xdp_mut(prog)?;
        for (i, name) in list.iter().enumerate() {
            x.attach(name, mode)
                .with_context(|| format!("{field}[{i}]: attaching {prog} to {name}"))?;
        }
    }
    tracing::info!(
        sids = cfg.sids.len(),
        policies = cfg.policies.len(),
        interfaces = ?cfg.interfaces,
        headend_interfaces = ?cfg.headend_interfaces,
        "SRv6 attached"
    );
    Ok(dp)
}

/// The datapath loaded and attached for `cfg`, and its N4 endpoint.
fn start(cfg: Config, recovery: u32) -> anyhow::Result<N4> {
    // The preflight checks of `upf-lb doctor`: a configured part that cannot run here stops
    // the start with one line naming the part, the feature and how to get it.
    let checks = crate::kernel::checks(Some(&cfg));
    if let Some(why) = crate::kernel::first_failure(&checks) {
        anyhow::bail!("{why} (upf-lb doctor shows every check)");
    }
    for c in checks.iter().filter(|c| !c.ok && c.part != "reference") {
        tracing::warn!(part = c.part, feature = c.feature, found = %c.found, how = c.how, "preflight");
    }
    // With [state]: the store first (its Recovery Time Stamp wins), then the datapath on the
    // pinned maps, then everything the store holds taken back.
    let store = match &cfg.state {
        Some(st) => Some(crate::store::Store::open(&st.db).context("state.db")?),
        None => None,
    };
    let snap = match &store {
        Some(s) => s.load().context("reading the session store")?,
        None => Default::default(),
    };
    let recovery = snap.meta.map_or(recovery, |m| m.recovery);
    let (dp, fresh) = load_and_attach(&cfg)?;
    let n6 = cfg.n6.interface.clone();
    let lb = match &cfg.lb {
        Some(l) => Some(load_lb(l)?),
        None => None,
    };
    let srv6 = match &cfg.srv6 {
        Some(s) => Some(load_srv6(s)?),
        None => None,
    };
    let mut dp = dp;
    if let Some(s) = &srv6 {
        // N9 FARs realised as SRv6 go from bpf-gtp to bpf-srv6's H.M.GTP4.D.
        dp.link_srv6(s.xdp(bpf_abi::srv6::PROG_XDP_HEADEND_GTP4)?)
            .context("linking bpf-gtp to bpf-srv6")?;
    }
    let mut n4 = N4::new(cfg, dp, recovery)?;
    n4.lb = lb;
    n4.srv6 = srv6;
    if let Some(store) = store {
        n4.enable_persistence(store);
        let n = n4.restore(snap, fresh, Instant::now())?;
        n4.commit()?;
        tracing::info!(sessions = n, recovery, fresh_maps = fresh, "state restored");
        println!("upf-lb: restored {n} sessions (Recovery Time Stamp {recovery})");
    }
    let ifindex = crate::kernel::ifindex(&n6).with_context(|| format!("no interface {n6}"))?;
    n4.set_n6_ifindex(ifindex);
    Ok(n4)
}

/// glibc's heap, tuned for a daemon whose state grows with its sessions (about 8 KB each):
/// the heap grows 64 MiB at a time beyond a request (`M_TOP_PAD`) and keeps up to 128 MiB free
/// at its top before it gives memory back (`M_TRIM_THRESHOLD`), instead of growing and trimming
/// by small steps as requests come and go: 20 000 Establishments made 25 877 `mprotect` calls
/// (the owner thread's arena growing and shrinking) without this, 174 with it; the bytes a
/// session are unchanged (docs/benchmarks.md, "N4 session rate"). Process-wide; idempotent.
pub fn tune_allocator() {
    // SAFETY: mallopt only sets glibc allocator parameters; any value is valid for these two.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

/// Runs the daemon until SIGINT/SIGTERM.
pub fn run(cfg: Config, log_json: bool) -> anyhow::Result<()> {
    tune_allocator();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let otel = telemetry_start(&cfg, log_json).await;
        let n4 = start(cfg, ntp_now())?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let stop = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        serve_with_ready(n4, stop, None, otel).await.map(|_| ())
    })
}

/// OTLP exporters when `telemetry.otlp_endpoint` is set, and the `tracing` subscriber (logs,
/// and spans to OTLP). A collector that does not answer is said once; nothing waits for it.
async fn telemetry_start(cfg: &Config, log_json: bool) -> Option<crate::telemetry::Otel> {
    let otel = match &cfg.otlp_endpoint {
        None => None,
        Some(e) => match crate::telemetry::Otel::start(e) {
            Ok(o) => Some(o),
            Err(err) => {
                crate::telemetry::install_subscriber(log_json);
                tracing::warn!(endpoint = %e, error = %err, "OTLP exporter not started; telemetry off");
                return None;
            }
        },
    };
    crate::telemetry::install_subscriber(log_json);
    if let Some(e) = &cfg.otlp_endpoint {
        let hostport = e
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_string();
        let reachable = tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(hostport),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if !reachable {
            tracing::warn!(endpoint = %e, "OTLP collector not reachable now: exports will be retried and dropped meanwhile; N4 is not affected");
        }
    }
    otel
}

/// Hands traced PFCP transactions to the exporter, with the commit that made their changes
/// durable (`persist`: submitted, committed) as a step of each.
fn export_traced(
    otel: &mut Option<crate::telemetry::Otel>,
    mut txns: Vec<Txn>,
    persist: Option<(Instant, Instant)>,
) {
    let Some(o) = otel.as_mut() else { return };
    if let Some((from, to)) = persist {
        for t in &mut txns {
            t.add_phase("persist", from, to);
        }
    }
    o.export(txns);
}

/// A daemon running on its own thread (tests and the demo run it inside a namespace).
pub struct Handle {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<N4>>>,
}

impl Handle {
    /// Stops the daemon and gives back its endpoint (with its datapath, still loaded).
    pub fn stop(mut self) -> anyhow::Result<N4> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => anyhow::bail!("the daemon thread panicked"),
            None => anyhow::bail!("stopped already"),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the daemon for `cfg` on a new thread inside the network namespace opened at
/// `netns` (a `/run/netns/NAME` path), with Recovery Time Stamp `recovery`; returns once it
/// listens.
pub fn spawn(netns: &str, cfg: Config, recovery: u32) -> anyhow::Result<Handle> {
    tune_allocator();
    let ns = std::fs::File::open(netns).with_context(|| format!("opening {netns}"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
    let thread = std::thread::Builder::new().name("n4-owner".into()).spawn(
        move || -> anyhow::Result<N4> {
            use std::os::fd::AsRawFd;
            // SAFETY: ns is an open namespace file; setns changes only this thread's namespace.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                let e = anyhow::anyhow!("setns: {}", std::io::Error::last_os_error());
                let _ = ready_tx.send(Err(anyhow::anyhow!("{e}")));
                return Err(e);
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                // In-process daemons (tests, benchmarks) leave logging to their host, unless they
                // export spans.
                let otel = match cfg.otlp_endpoint {
                    Some(_) => telemetry_start(&cfg, false).await,
                    None => None,
                };
                let started = start(cfg, recovery);
                let n4 = match started {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::anyhow!("{e:#}")));
                        return Err(e);
                    }
                };
                serve_with_ready(
                    n4,
                    async move {
                        let _ = stop_rx.await;
                    },
                    Some(ready_tx),
                    otel,
                )
                .await
            })
        },
    )?;
    match ready_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(())) => Ok(Handle {
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => anyhow::bail!("the daemon did not start within 60 s"),
    }
}

/// Serves N4 until `stop` completes; returns the endpoint.
pub async fn serve(n4: N4, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    serve_with_ready(n4, stop, None, None).await.map(|_| ())
}

async fn serve_with_ready(
    mut n4: N4,
    stop: impl std::future::Future<Output = ()>,
    ready: Option<std::sync::mpsc::Sender<anyhow::Result<()>>>,
    mut otel: Option<crate::telemetry::Otel>,
) -> anyhow::Result<N4> {
    let mut snapshot_at = Instant::now();
    if otel.is_some() {
        n4.trace = crate::n4::trace::Recorder::sampling(n4.config().trace_sample_ratio);
    }
    let mut sockets = Vec::new();
    for a in n4.config().listen.clone() {
        let s = match UdpSocket::bind(a).await {
            Ok(s) => s,
            Err(e) => {
                let e = anyhow::anyhow!("binding the N4 socket {a}: {e}");
                if let Some(r) = &ready {
                    let _ = r.send(Err(anyhow::anyhow!("{e}")));
                }
                return Err(e);
            }
        };
        sockets.push(Arc::new(s));
    }
    let (tx, mut rx) = mpsc::channel::<(usize, SocketAddr, Vec<u8>)>(1024);
    let mut tasks = Vec::new();
    for (i, s) in sockets.iter().enumerate() {
        let s = s.clone();
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                match s.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        if tx.send((i, from, buf[..n].to_vec())).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "N4 receive"),
                }
            }
        }));
    }
    drop(tx);
    let listen: Vec<String> = n4.config().listen.iter().map(|a| a.to_string()).collect();
    tracing::info!(listen = ?listen, "N4 listening");
    println!("upf-lb: N4 listening on {}", listen.join(", "));
    if let Some(r) = ready {
        let _ = r.send(Ok(()));
    }
    // The datapath's events (URR event points crossed, buffered packets) wake the owner.
    // SAFETY: the OwnedFd is a fresh duplicate owned by the AsyncFd for its whole life; its
    // raw descriptor never changes.
    let events = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(
            n4.dp.events_fd()?,
            tokio::io::Interest::READABLE,
        )
    }
    .map_err(|e| anyhow::anyhow!("watching the event ring buffer: {e}"))?;
    let mut gtpu = std::collections::HashMap::new();
    // The Prometheus endpoint asks the owner for the text over a channel.
    let (metrics_tx, mut metrics_rx): (MetricsAsk, _) = mpsc::channel(16);
    if let Some(a) = n4.config().prometheus_listen {
        let l = tokio::net::TcpListener::bind(a)
            .await
            .with_context(|| format!("telemetry.prometheus_listen: binding {a}"))?;
        tasks.push(tokio::spawn(prometheus_server(l, metrics_tx.clone())));
    }
    drop(metrics_tx);
    // The management API asks the owner too; its watchers get the owner's events.
    let (api_tx, mut api_rx) = mpsc::channel::<crate::northbound::ApiRequest>(64);
    let (events_tx, _) = tokio::sync::broadcast::channel::<crate::northbound::pb::Event>(1024);
    // grpc.health.v1: serving from here (the datapath attached, N4 bound) until the stop.
    let (serving_tx, serving_rx) = tokio::sync::watch::channel(true);
    if let Some(a) = n4.config().api_listen {
        let l = tokio::net::TcpListener::bind(a)
            .await
            .with_context(|| format!("api.listen: binding {a}"))?;
        let token = n4.config().api_token.clone();
        let tls = n4.config().api_tls.clone();
        let (ask, ev) = (api_tx.clone(), events_tx.clone());
        let serving = serving_rx.clone();
        let tracer = otel.as_ref().map(crate::telemetry::Otel::tracer);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::northbound::serve(l, token, tls, ask, ev, tracer, serving).await
            {
                tracing::error!(error = %e, "management API");
            }
        }));
    }
    drop(api_tx);
    // The health service holds one receiver, each of its Watch streams one more.
    drop(serving_rx);
    // The store, if any, on a writer thread: a batch's answers go out once its changes are
    // durable, while the owner goes on with the next batch (the fsync overlaps the work).
    let mut writer = n4
        .take_store()
        .map(Writer::spawn)
        .transpose()
        .context("starting the store writer thread")?;
    // Batches waiting for their commit: answers, traced transactions, when submitted.
    let mut held: std::collections::VecDeque<(u64, Answers, Vec<Txn>, Instant)> =
        Default::default();
    let mut batch_id = 0u64;
    // The load balancer's health checks, if any: their changes come here.
    let mut health_rx = n4.start_lb_health();
    tokio::pin!(stop);
    loop {
        let mut wake = n4.next_tick(Instant::now());
        if let Some(t) = otel.as_ref().and_then(crate::telemetry::Otel::handover_due) {
            wake = wake.min(t);
        }
        let done = async {
            match writer.as_mut() {
                Some(w) => w.done.recv().await,
                None => std::future::pending().await,
            }
        };
        let batch: Answers = tokio::select! {
            _ = &mut stop => break,
            d = done => {
                // Committed up to batch `d`: its answers and those before go out.
                let d = d.unwrap_or(u64::MAX);
                let now = Instant::now();
                while held.front().is_some_and(|(id, ..)| *id <= d) {
                    let (_, outs, txns, at) = held.pop_front().expect("checked");
                    for (i, out) in outs {
                        send(&sockets, &mut gtpu, i, &out).await;
                    }
                    export_traced(&mut otel, txns, Some((at, now)));
                }
                continue;
            }
            Some(r) = api_rx.recv() => {
                n4.answer(r);
                continue;
            }
            Some(c) = async {
                match health_rx.as_mut() {
                    Some(r) => r.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                n4.on_backend_health(c);
                Vec::new()
            }
            Some((format, reply)) = metrics_rx.recv() => {
                let _ = reply.send(crate::telemetry::prometheus(&n4, format));
                continue;
            }
            r = events.readable() => {
                // Readiness cleared before reading: an event that arrives meanwhile wakes us
                // again.
                if let Ok(mut g) = r {
                    g.clear_ready();
                }
                vec![(None, n4.on_datapath_events(Instant::now()))]
            }
            m = rx.recv() => match m {
                Some((i, from, bytes)) => {
                    // Group commit: everything that waits is handled, and its changes stored
                    // in one transaction.
                    let mut batch = vec![(Some(i), n4.handle(from, &bytes, Instant::now()))];
                    while batch.len() < MAX_BATCH {
                        let Ok((i, from, bytes)) = rx.try_recv() else { break };
                        batch.push((Some(i), n4.handle(from, &bytes, Instant::now())));
                    }
                    batch
                }
                None => break,
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                vec![(None, n4.tick(Instant::now()))]
            }
        };
        for e in n4.take_api_events() {
            let _ = events_tx.send(e);
        }
        // What the OTLP metrics report, refreshed at most every 500 ms.
        if let Some(o) = &otel
            && snapshot_at.elapsed() >= Duration::from_millis(500)
        {
            snapshot_at = Instant::now();
            if let Ok(mut g) = o.snapshot.lock() {
                *g = crate::telemetry::Snapshot::of(&n4);
            }
        }
        let txns = n4.trace.take();
        match writer.as_mut() {
            Some(w) => {
                let changes = n4.take_changes();
                if changes.is_empty() && held.is_empty() {
                    for (i, out) in batch {
                        send(&sockets, &mut gtpu, i, &out).await;
                    }
                    export_traced(&mut otel, txns, None);
                } else {
                    batch_id += 1;
                    if w.submit(batch_id, changes).is_err() {
                        tracing::error!("the store writer stopped");
                    }
                    held.push_back((batch_id, batch, txns, Instant::now()));
                }
            }
            None => {
                for (i, out) in batch {
                    send(&sockets, &mut gtpu, i, &out).await;
                }
                export_traced(&mut otel, txns, None);
            }
        }
    }
    // Not serving from now on: the health service's watchers (a gRPC-aware balancer, an
    // operator's probe) are told before the API goes away with the tasks below, with a moment
    // to send it when any watch.
    serving_tx.send_replace(false);
    if serving_tx.receiver_count() > 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What was handled is stored and answered before the daemon goes.
    if let Some(mut w) = writer.take() {
        w.close();
        while let Some(d) = w.done.recv().await {
            let now = Instant::now();
            while held.front().is_some_and(|(id, ..)| *id <= d) {
                let (_, outs, txns, at) = held.pop_front().expect("checked");
                for (i, out) in outs {
                    send(&sockets, &mut gtpu, i, &out).await;
                }
                export_traced(&mut otel, txns, Some((at, now)));
            }
        }
        if let Some(st) = w.join() {
            n4.enable_persistence(st);
        }
    }
    for t in tasks {
        t.abort();
    }
    tracing::info!(sessions = n4.session_count(), "N4 stopped");
    if let Some(o) = otel {
        if let Ok(mut g) = o.snapshot.lock() {
            *g = crate::telemetry::Snapshot::of(&n4);
        }
        // Off the runtime thread: the exporters' last sends need it running.
        let _ = tokio::task::spawn_blocking(move || o.shutdown()).await;
    }
    Ok(n4)
}

/// What the metrics endpoint asks the owner for: the text in a format, answered on the sender.
type MetricsAsk = mpsc::Sender<(
    crate::telemetry::Format,
    tokio::sync::oneshot::Sender<String>,
)>;

/// Serves `GET /metrics` (and HEAD) over HTTP/1.1 with keep-alive (hyper, through axum), in
/// the format the scraper's Accept header asks for; anything else is a 404.
async fn prometheus_server(l: tokio::net::TcpListener, ask: MetricsAsk) {
    use axum::{
        extract::State,
        http::{HeaderMap, StatusCode, header},
        response::IntoResponse,
    };
    async fn metrics(State(ask): State<MetricsAsk>, headers: HeaderMap) -> impl IntoResponse {
        let format = crate::telemetry::Format::from_accept(
            headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        let text = match ask.send((format, tx)).await {
            Ok(()) => rx.await.ok(),
            Err(_) => None,
        };
        match text {
            Some(t) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, format.content_type())],
                t,
            ),
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "the daemon is stopping\n".to_string(),
            ),
        }
    }
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only GET /metrics here\n") })
        .with_state(ask);
    if let Err(e) = axum::serve(l, app).await {
        tracing::error!("the metrics endpoint stopped: {e}");
    }
}

/// The store on a thread of its own: batches of changes in, the id of each batch committed
/// out, in order.
struct Writer {
    tx: Option<std::sync::mpsc::Sender<(u64, crate::store::Changes)>>,
    done: tokio::sync::mpsc::UnboundedReceiver<u64>,
    thread: Option<std::thread::JoinHandle<crate::store::Store>>,
}

impl Writer {
    fn spawn(store: crate::store::Store) -> std::io::Result<Writer> {
        let (tx, rx) = std::sync::mpsc::channel::<(u64, crate::store::Changes)>();
        let (done_tx, done) = tokio::sync::mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Ok((mut id, mut c)) = rx.recv() {
                    // Batches that queued up meanwhile go in the same transaction.
                    while let Ok((next, more)) = rx.try_recv() {
                        id = next;
                        c.merge(more);
                    }
                    if let Err(e) = store.commit(&c) {
                        tracing::error!(error = %e, "storing session state");
                    }
                    if done_tx.send(id).is_err() {
                        break;
                    }
                }
                store
            });
        Ok(Writer {
            tx: Some(tx),
            done,
            thread: Some(thread?),
        })
    }

    fn submit(&self, id: u64, c: crate::store::Changes) -> Result<(), ()> {
        match &self.tx {
            Some(t) => t.send((id, c)).map_err(|_| ()),
            None => Err(()),
        }
    }

    /// No more batches: the thread ends after the last commit.
    fn close(&mut self) {
        self.tx = None;
    }

    fn join(mut self) -> Option<crate::store::Store> {
        self.tx = None;
        self.thread.take().and_then(|t| t.join().ok())
    }
}

/// Sends `out`: PFCP from the socket it came in on when it is of the destination's family,
/// else from the first socket of that family; GTP-U signalling from the local GTP-U address
/// (port 2152 when free: XDP takes what arrives there before any socket does).
async fn send(
    sockets: &[Arc<UdpSocket>],
    gtpu: &mut std::collections::HashMap<std::net::IpAddr, std::net::UdpSocket>,
    came_in: Option<usize>,
    out: &[Outgoing],
) {
    if out.is_empty() {
        return;
    }
    for o in out {
        if let Some(local) = o.gtpu_from {
            let s = match gtpu.entry(local) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    match std::net::UdpSocket::bind(SocketAddr::new(local, 2152))
                        .or_else(|_| std::net::UdpSocket::bind(SocketAddr::new(local, 0)))
                    {
                        Ok(s) => v.insert(s),
                        Err(e) => {
                            tracing::warn!(%local, error = %e, "GTP-U socket");
                            continue;
                        }
                    }
                }
            };
            if let Err(e) = s.send_to(&o.bytes, o.to) {
                tracing::warn!(to = %o.to, error = %e, "GTP-U send");
            }
            continue;
        }
        let fam = |s: &Arc<UdpSocket>| s.local_addr().is_ok_and(|a| a.is_ipv6() == o.to.is_ipv6());
        let s = came_in
            .and_then(|i| sockets.get(i))
            .filter(|s| fam(s))
            .or_else(|| sockets.iter().find(|s| fam(s)));
        match s {
            Some(s) => {
                if let Err(e) = s.send_to(&o.bytes, o.to).await {
                    tracing::warn!(to = %o.to, error = %e, "N4 send");
                }
            }
            None => tracing::warn!(to = %o.to, "no N4 socket of this address family"),
        }
    }
}
