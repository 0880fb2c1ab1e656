//! The N4 test bed: the daemon in the demo's namespaces and an SMF in the gNB's.

use std::net::SocketAddr;
use upf_lb::{
    config::{self, Config},
    daemon,
    southbound::GtpDatapath,
};
use upf_lb_testkit::{
    fixtures::{GNB_V4, UPF_V4},
    smf::{SessionPlan, Smf, Ue},
    topology::Topology,
};

/// The daemon, its SMF and the namespaces; dropped in this order.
pub struct Bed {
    /// The daemon (take it to stop it and look inside).
    pub daemon: Option<daemon::Handle>,
    /// The SMF, bound to 192.0.2.1:8805 in the gNB's namespace.
    pub smf: Smf,
    /// The namespaces.
    pub topo: Topology,
    _noop: GtpDatapath,
}

/// The embedded default configuration with `edits` (text replacements) applied.
pub fn config_with(edits: &[(&str, &str)]) -> Config {
    let mut text = config::DEFAULT.to_string();
    for (a, b) in edits {
        assert!(text.contains(a), "{a}");
        text = text.replacen(a, b, 1);
    }
    Config::parse(&text).expect("config")
}

/// A bed with the default configuration edited by `edits`; the daemon's Recovery Time Stamp is
/// 1000, the SMF's 7.
pub fn bed(edits: &[(&str, &str)]) -> Bed {
    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    let cfg = config_with(edits);
    let daemon = daemon::spawn(&format!("/run/netns/{}", topo.upf.name()), cfg, 1000)
        .expect("daemon starts");
    let smf = topo
        .gnb
        .run(|| {
            Smf::new(
                SocketAddr::from((GNB_V4, 8805)),
                SocketAddr::from((UPF_V4, 8805)),
                7,
            )
        })
        .expect("SMF socket");
    Bed {
        daemon: Some(daemon),
        smf,
        topo,
        _noop: noop,
    }
}

/// The typical session with CP SEID `cp_seid`, the gNB's downlink TEID `gnb_teid`, UE IP
/// CHOOSE, QFI 9, no MBR.
pub fn plan(cp_seid: u64, gnb_teid: u32) -> SessionPlan {
    SessionPlan {
        cp_seid,
        cp_addr: GNB_V4,
        ue: Ue::Choose,
        gnb_teid,
        gnb: GNB_V4,
        qfi: 9,
        mbr_kbps: None,
        network_instance: "internet",
        ul_filter: None,
    }
}

/// The management API's statistics (GetStats), asked from inside the UPF's namespace on the
/// default API address.
pub fn api_stats(b: &Bed) -> upf_lb::northbound::pb::StatsReply {
    use upf_lb::northbound::pb::{StatsRequest, upf_lb_client::UpfLbClient};
    b.topo.upf.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut c = UpfLbClient::connect("http://127.0.0.1:50051")
                .await
                .expect("API");
            c.get_stats(StatsRequest {})
                .await
                .expect("stats")
                .into_inner()
        })
    })
}
