use super::*;

#[test]
fn the_embedded_default_is_valid() {
    let c = Config::default_embedded();
    assert_eq!(c.n3.interface, "n3");
    assert_eq!(c.listen.len(), 2);
    assert!(c.peer_allowed("192.0.2.1".parse().unwrap()));
    assert!(!c.peer_allowed("198.51.100.1".parse().unwrap()));
    assert_eq!(c.fteid, (0x8000_0000, 0x8001_ffff));
}

fn with(from: &str, to: &str) -> Result<Config, ConfigError> {
    assert!(DEFAULT.contains(from), "{from}");
    Config::parse(&DEFAULT.replacen(from, to, 1))
}

#[test]
fn a_bad_field_is_named() {
    let cases = [
        ("ipv4 = \"192.0.2.2\"", "ipv4 = \"192.0.2.300\"", "n3.ipv4"),
        ("\"192.0.2.2:8805\",", "\"192.0.2.2\",", "n4.listen[0]"),
        (
            "\"192.0.2.0/24\",",
            "\"192.0.2.1/24\",",
            "n4.allowed_peers[0]",
        ),
        (
            "cidr = \"198.18.0.0/16\"",
            "cidr = \"198.18.0.0/33\"",
            "ue_pool[0].cidr",
        ),
        (
            "cidr = \"2001:db8:1000::/48\"",
            "cidr = \"2001:db8:1000::/96\"",
            "ue_pool[1].cidr",
        ),
        ("last = 0x8001ffff", "last = 0x10", "fteid.last"),
        (
            "max_sessions = 65536",
            "max_sessions = 0",
            "limits.max_sessions",
        ),
        ("t1_ms = 3000", "t1_ms = 1", "n4.t1_ms"),
        (
            "node_id = \"192.0.2.2\"",
            "node_id = \"bad name!\"",
            "node.node_id",
        ),
        (
            "xdp_mode = \"driver\"",
            "xdp_mode = \"fast\"",
            "n3.xdp_mode",
        ),
        ("interface = \"n6\"", "interface = \"n3\"", "n6.interface"),
    ];
    for (from, to, field) in cases {
        let e = with(from, to).expect_err(to);
        assert_eq!(e.field, field, "{to}: {e}");
    }
}

#[test]
fn unknown_and_mistyped_keys_stop_start_up_with_the_key_named() {
    let e = with("n1 = 3", "n1 = 3\nretries = 4").unwrap_err();
    assert!(e.why.contains("retries"), "{e}");
    let e = with("n1 = 3", "n1 = \"three\"").unwrap_err();
    assert!(e.to_string().contains("line"), "{e}");
}

/// The embedded default with an `[lb]` section appended.
fn with_lb(lb: &str) -> Result<Config, ConfigError> {
    Config::parse(&format!("{DEFAULT}\n{lb}"))
}

const LB: &str = r#"
[lb]
interfaces = ["lb0", "lb1"]
xdp_mode = "skb"
connections = 1000
sctp_associations = 100

[[lb.service]]
vip = "198.18.0.10"
protocol = "tcp"
port = 80
backends = [
{ addr = "203.0.113.10", port = 8080, weight = 2 },
{ addr = "203.0.113.11", port = 8080 },
]

[[lb.service]]
vip = "2001:db8:fe::53"
protocol = "udp"
backends = [{ addr = "2001:db8:0:6::53" }]

[[lb.service]]
vips = ["203.0.113.1", "203.0.113.2"]
links = ["lb0", "lb1"]
protocol = "sctp"
port = 38412
backends = [{ addrs = ["198.18.1.11", "198.18.101.11"] }]

[[lb.service]]
vip = "2001:db8:fe::80"
protocol = "tcp"
port = 80
nat64_source = "198.18.64.1"
scheduler = "source_hash"
backends = [{ addr = "203.0.113.80", port = 8080 }]
"#;

#[test]
fn load_balancer_services_are_read_and_checked() {
    let c = with_lb(LB).unwrap().lb.expect("[lb]");
    assert_eq!(c.interfaces, ["lb0", "lb1"]);
    assert_eq!((c.xdp_mode, c.connections), (XdpMode::Skb, 1000));
    assert_eq!(c.services.len(), 4);
    assert_eq!(
        c.services[3].nat64_source,
        Some("198.18.64.1".parse().unwrap())
    );
    assert_eq!(
        (c.services[3].scheduler, c.services[0].scheduler),
        (bpf_abi::lb::sched::SOURCE_HASH, bpf_abi::lb::sched::MAGLEV)
    );
    assert_eq!(
        c.services[3].backends[0].addr,
        "203.0.113.80".parse::<IpAddr>().unwrap()
    );
    let s = &c.services[0];
    assert_eq!(
        (s.vip, s.proto, s.port),
        ("198.18.0.10".parse().unwrap(), 6, 80)
    );
    assert_eq!((s.backends[0].weight, s.backends[1].weight), (2, 1));
    let u = &c.services[1];
    assert_eq!((u.proto, u.port, u.backends[0].port), (17, 0, 0));
    assert!(Config::default_embedded().lb.is_none(), "off by default");
    let sc = &c.services[2];
    assert_eq!((sc.proto, sc.port, sc.vips.len()), (132, 38412, 2));
    assert_eq!(sc.links, ["lb0", "lb1"]);
    assert!(c.services[0].links.is_empty());
    assert_eq!(
        sc.sctp_backends[0].addrs,
        [
            "198.18.1.11".parse::<IpAddr>().unwrap(),
            "198.18.101.11".parse().unwrap()
        ]
    );
    assert_eq!((c.sctp_associations, c.sctp_half_open), (100, 4096));
    use crate::lb_health::Check;
    assert_eq!(
        c.services.iter().map(|s| s.health).collect::<Vec<_>>(),
        [Check::Tcp, Check::None, Check::Sctp, Check::Tcp],
        "defaults: TCP connect, none for UDP on every port, SCTP INIT"
    );
    assert_eq!(c.health.interval, std::time::Duration::from_secs(2));
    let t = c.services[0].health_targets(0);
    assert_eq!(t[1].addr, "203.0.113.11:8080".parse().unwrap());
    assert_eq!(
        c.services[2].health_targets(2)[0].addr,
        "198.18.1.11:38412".parse().unwrap()
    );
    for (from, to, field) in [
        ("\"198.18.0.10\"", "\"198.18.0.300\"", "lb.service[0].vip"),
        ("\"tcp\"", "\"quic\"", "lb.service[0].protocol"),
        ("port = 38412", "", "lb.service[2].port"),
        (
            "[\"198.18.1.11\", \"198.18.101.11\"]",
            "[\"198.18.1.11\"]",
            "lb.service[2].backends[0].addrs",
        ),
        (
            "\"203.0.113.2\"]",
            "\"2001:db8::2\"]",
            "lb.service[2].vips[1]",
        ),
        (
            "sctp_associations = 100",
            "sctp_associations = 0",
            "lb.sctp_associations",
        ),
        (
            "nat64_source = \"198.18.64.1\"",
            "nat64_source = \"2001:db8::1\"",
            "lb.service[3].nat64_source",
        ),
        (
            "scheduler = \"source_hash\"",
            "scheduler = \"random\"",
            "lb.service[3].scheduler",
        ),
        (
            "addr = \"203.0.113.80\"",
            "addr = \"2001:db8::80\"",
            "lb.service[3].backends[0].addr",
        ),
        (
            "sctp_associations = 100",
            "health_timeout_ms = 5000",
            "lb.health_timeout_ms",
        ),
        (
            "port = 38412",
            "port = 38412\nhealth = \"tcp\"",
            "lb.service[2].health",
        ),
        (
            "protocol = \"udp\"",
            "protocol = \"udp\"\nhealth = \"udp\"",
            "lb.service[1].health",
        ),
        (
            "vip = \"2001:db8:fe::53\"",
            "vips = [\"2001:db8:fe::53\"]",
            "lb.service[1].vips",
        ),
        (
            "\"2001:db8:0:6::53\"",
            "\"203.0.113.53\"",
            "lb.service[1].backends[0].addr",
        ),
        (
            "weight = 2",
            "weight = 101",
            "lb.service[0].backends[0].weight",
        ),
        (
            "[\"lb0\", \"lb1\"]",
            "[\"lb0\", \"n3\"]",
            "lb.interfaces[1]",
        ),
        ("[\"lb0\", \"lb1\"]", "[]", "lb.interfaces"),
        (
            "links = [\"lb0\", \"lb1\"]",
            "links = [\"lb0\"]",
            "lb.service[2].links",
        ),
        (
            "links = [\"lb0\", \"lb1\"]",
            "links = [\"lb0\", \"eth9\"]",
            "lb.service[2].links[1]",
        ),
        (
            "links = [\"lb0\", \"lb1\"]",
            "links = [\"lb1\", \"lb1\"]",
            "lb.service[2].links[1]",
        ),
        (
            "protocol = \"udp\"",
            "protocol = \"udp\"\nlinks = [\"lb0\"]",
            "lb.service[1].links",
        ),
        ("xdp_mode = \"skb\"", "xdp_mode = \"fast\"", "lb.xdp_mode"),
        ("connections = 1000", "connections = 0", "lb.connections"),
        (
            "\"2001:db8:fe::53\"",
            "\"198.18.0.10\"",
            "lb.service[1].backends[0].addr",
        ),
    ] {
        assert!(LB.contains(from), "{from}");
        let e = with_lb(&LB.replacen(from, to, 1)).unwrap_err();
        assert_eq!(e.field, field, "{from} -> {to}: {e}");
    }
    // The same VIP, protocol and port twice.
    let twice = LB.replacen("protocol = \"udp\"", "protocol = \"tcp\"\nport = 80", 1);
    let twice = twice.replacen("\"2001:db8:fe::53\"", "\"198.18.0.10\"", 1);
    let twice = twice.replacen("\"2001:db8:0:6::53\"", "\"203.0.113.53\"", 1);
    let e = with_lb(&twice).unwrap_err();
    assert_eq!(e.field, "lb.service[1]", "{e}");
    assert!(e.why.contains("lb.service[0]"), "{e}");
}

const LB_MODES: &str = r#"
[lb]
interfaces = ["lb0"]
decap_interfaces = ["lb1"]
decap_vips = ["198.18.0.99"]

[[lb.service]]
vip = "198.18.0.10"
protocol = "tcp"
port = 80
mode = "full_nat"
source = "203.0.113.1"
backends = [{ addr = "203.0.113.10", port = 8080 }]

[[lb.service]]
vip = "198.18.0.11"
protocol = "tcp"
port = 80
mode = "dsr_l2"
backends = [{ addr = "203.0.113.10" }]

[[lb.service]]
vip = "2001:db8:fe::12"
protocol = "udp"
port = 53
mode = "dsr_tunnel"
source = "2001:db8:0:6::1"
backends = [{ addr = "2001:db8:0:6::53", port = 53 }]
"#;

#[test]
fn forwarding_modes_and_decapsulation_are_read_and_checked() {
    use crate::southbound::lb::Forwarding;
    let c = with_lb(LB_MODES).unwrap().lb.expect("[lb]");
    assert_eq!(
        c.services.iter().map(|s| s.forwarding).collect::<Vec<_>>(),
        [
            Forwarding::FullNat {
                source: "203.0.113.1".parse().unwrap()
            },
            Forwarding::DsrL2,
            Forwarding::DsrTunnel {
                source: "2001:db8:0:6::1".parse().unwrap()
            },
        ]
    );
    assert_eq!(c.decap_interfaces, ["lb1"]);
    assert_eq!(c.decap_vips, ["198.18.0.99".parse::<IpAddr>().unwrap()]);
    // A DSR backend alone: no load-balancing interfaces.
    let b = LB_MODES.replacen("interfaces = [\"lb0\"]\n", "", 1);
    assert!(with_lb(&b).is_ok());
    assert_eq!(
        with_lb(LB).unwrap().lb.unwrap().services[0].forwarding,
        Forwarding::Dnat
    );
    for (from, to, field) in [
        (
            "mode = \"full_nat\"",
            "mode = \"nat\"",
            "lb.service[0].mode",
        ),
        ("source = \"203.0.113.1\"\n", "", "lb.service[0].source"),
        ("\"203.0.113.1\"", "\"2001:db8::1\"", "lb.service[0].source"),
        ("\"203.0.113.1\"", "\"0.0.0.0\"", "lb.service[0].source"),
        (
            "mode = \"dsr_l2\"",
            "mode = \"dsr_l2\"\nsource = \"203.0.113.1\"",
            "lb.service[1].source",
        ),
        (
            "{ addr = \"203.0.113.10\" }",
            "{ addr = \"203.0.113.10\", port = 8080 }",
            "lb.service[1].backends[0].port",
        ),
        ("decap_vips = [\"198.18.0.99\"]", "", "lb.decap_vips"),
        ("\"198.18.0.99\"", "\"vip\"", "lb.decap_vips[0]"),
        ("[\"lb1\"]", "[\"n6\"]", "lb.decap_interfaces[0]"),
    ] {
        assert!(LB_MODES.contains(from), "{from}");
        let e = with_lb(&LB_MODES.replacen(from, to, 1)).unwrap_err();
        assert_eq!(e.field, field, "{from} -> {to}: {e}");
    }
    // SCTP and NAT64 keep their own translation.
    let e =
        with_lb(&LB.replacen("scheduler = \"source_hash\"", "mode = \"dsr_l2\"", 1)).unwrap_err();
    assert_eq!(e.field, "lb.service[3].mode", "{e}");
}

const SRV6: &str = r#"
[srv6]
interfaces = ["sr0"]
headend_interfaces = ["sr1"]
xdp_mode = "skb"
max_sids = 16

[[srv6.sid]]
sid = "2001:db8:ff:0:1::/80"
behaviour = "End"
psp = true

[[srv6.sid]]
sid = "2001:db8:ff:0:2::/80"
behaviour = "End.DX4"
nh = "198.51.100.10"

[[srv6.sid]]
sid = "2001:db8:ff:0:5::/80"
behaviour = "End.DT6"
table = 100

[[srv6.sid]]
sid = "2001:db8:ff:0:b::/80"
behaviour = "End"
usp = true
usd = true

[[srv6.sid]]
sid = "2001:db8:ff:0:d::/80"
behaviour = "End.MAP"
mapped = "2001:db8:0:6::10"

[[srv6.sid]]
sid = "2001:db8:ee::/48"
behaviour = "End.M.GTP4.E"
args_at = 6
src_at = 8

[[srv6.sid]]
sid = "2001:db8:ef::/64"
behaviour = "End.M.GTP6.E"
source = "2001:db8:0:3::5"

[[srv6.sid]]
sid = "2001:db8:ff:0:f::/64"
behaviour = "End.Limit"
rate_kbps = 10000

[[srv6.sid]]
sid = "2001:db8:ed::/48"
behaviour = "End.M.GTP6.D"
source = "2001:db8:0:3::5"
segments = ["2001:db8:0:6::10", "2001:db8:ee:1::"]

[[srv6.n9]]
peer = "203.0.113.0/24"
network_instance = "n9"
source = "2001:db8:0:3::"
segments = ["2001:db8:0:6::10", "2001:db8:ee::"]

[[srv6.policy]]
prefix = "203.0.113.80/32"
source = "2001:db8:0:3::"
segments = ["2001:db8:ee::"]
gtp4d = true

[[srv6.policy]]
prefix = "2001:db8:79::/48"
segments = ["2001:db8:0:6::10", "2001:db8:ff:0:1::"]
insert = true

[[srv6.policy]]
prefix = "198.51.100.0/24"
source = "2001:db8:0:3::1"
segments = ["2001:db8:ff:0:2::", "2001:db8:ff:0:1::"]
reduced = true
"#;

#[test]
fn srv6_sids_and_policies_are_read_and_checked() {
    use crate::southbound::srv6::Behaviour;
    let c = Config::parse(&format!("{DEFAULT}\n{SRV6}"))
        .unwrap()
        .srv6
        .expect("[srv6]");
    assert_eq!(
        (c.interfaces.len(), c.headend_interfaces.len(), c.max_sids),
        (1, 1, 16)
    );
    assert_eq!(c.sids.len(), 8);
    assert_eq!(
        c.sids[7].2,
        Behaviour::EndLimit {
            args_at: 8,
            rate_kbps: 10000
        }
    );
    assert_eq!(c.gtp6d.len(), 1);
    assert!(!c.gtp6d[0].4);
    let di = Config::parse(&format!(
        "{DEFAULT}\n{}",
        SRV6.replacen("\"End.M.GTP6.D\"", "\"End.M.GTP6.D.Di\"", 1)
    ))
    .unwrap()
    .srv6
    .unwrap();
    assert!(di.gtp6d[0].4, "drop-in mode");
    assert_eq!(
        (c.gtp6d[0].2.segments.len(), c.gtp6d[0].3, c.gtp6d[0].1),
        (2, 8, 48)
    );
    assert_eq!(
        c.sids[5].2,
        Behaviour::EndMGtp4E {
            args_at: 6,
            src_at: 8
        }
    );
    assert_eq!(
        c.sids[6].2,
        Behaviour::EndMGtp6E {
            args_at: 8,
            source: "2001:db8:0:3::5".parse().unwrap()
        },
        "args_at defaults to the prefix's bytes"
    );
    assert!(c.sids[0].3.psp, "PSP");
    assert!(c.sids[3].3.usp && c.sids[3].3.usd && !c.sids[3].3.psp);
    assert_eq!(
        c.sids[4].2,
        Behaviour::EndMap {
            mapped: "2001:db8:0:6::10".parse().unwrap()
        }
    );
    assert_eq!(
        c.sids[1].2,
        Behaviour::EndDx4 {
            nh: "198.51.100.10".parse().unwrap()
        }
    );
    assert_eq!(c.sids[2].2, Behaviour::EndDt6 { table: 100 });
    assert!(c.policies[0].2.reduced);
    assert_eq!(c.inserts.len(), 1);
    assert_eq!(
        (
            c.n9[0].peer,
            c.n9[0].network_instance.as_deref(),
            c.n9[0].args_at,
            c.n9[0].src_at
        ),
        (("203.0.113.0".parse().unwrap(), 24), Some("n9"), 6, 8)
    );
    assert_eq!((c.gtp4d.len(), c.gtp4d[0].3, c.gtp4d[0].4), (1, 8, 6));
    assert_eq!(c.inserts[0].2.segments.len(), 2);
    assert_eq!(c.policies[0].2.segments.len(), 2);
    assert!(Config::default_embedded().srv6.is_none(), "off by default");
    for (from, to, field) in [
        (
            "behaviour = \"End\"",
            "behaviour = \"End.Y\"",
            "srv6.sid[0].behaviour",
        ),
        (
            "nh = \"198.51.100.10\"",
            "nh = \"2001:db8::1\"",
            "srv6.sid[1].nh",
        ),
        ("nh = \"198.51.100.10\"", "", "srv6.sid[1].nh"),
        (
            "/80\"\nbehaviour = \"End\"",
            "/129\"\nbehaviour = \"End\"",
            "srv6.sid[0].sid",
        ),
        ("psp = true", "psp = \"yes\"", "line"),
        ("table = 100", "table = 100\npsp = true", "srv6.sid[2].psp"),
        ("table = 100", "table = 100\nusd = true", "srv6.sid[2].usd"),
        ("mapped = \"2001:db8:0:6::10\"", "", "srv6.sid[4].mapped"),
        (
            "mapped = \"2001:db8:0:6::10\"",
            "mapped = \"203.0.113.1\"",
            "srv6.sid[4].mapped",
        ),
        (
            "table = 100",
            "table = 100\nmapped = \"::1\"",
            "srv6.sid[2].mapped",
        ),
        ("args_at = 6", "args_at = 8", "srv6.sid[5].args_at"),
        (
            "rate_kbps = 10000",
            "rate_kbps = 10000\nargs_at = 11",
            "srv6.sid[7].args_at",
        ),
        (
            "table = 100",
            "table = 100\nrate_kbps = 1",
            "srv6.sid[2].rate_kbps",
        ),
        (
            "segments = [\"2001:db8:0:6::10\", \"2001:db8:ee:1::\"]",
            "",
            "srv6.sid[8].segments",
        ),
        (
            "\"2001:db8:ee:1::\"]",
            "\"2001:db8:ee:1::x\"]",
            "srv6.sid[8].segments[1]",
        ),
        (
            "behaviour = \"End.M.GTP6.D\"",
            "behaviour = \"End.M.GTP6.D\"\ntable = 3",
            "srv6.sid[8].table",
        ),
        (
            "table = 100",
            "table = 100\nreduced = true",
            "srv6.sid[2].segments",
        ),
        ("src_at = 8", "src_at = 13", "srv6.sid[5].src_at"),
        (
            "psp = true",
            "psp = true\nnh = \"2001:db8::1\"",
            "srv6.sid[0].nh",
        ),
        (
            "table = 100",
            "table = 100\nnh = \"2001:db8::1\"",
            "srv6.sid[2].nh",
        ),
        (
            "nh = \"198.51.100.10\"",
            "nh = \"198.51.100.10\"\ntable = 7",
            "srv6.sid[1].table",
        ),
        ("psp = true", "psp = true\ntable = 7", "srv6.sid[0].table"),
        (
            "rate_kbps = 10000",
            "rate_kbps = 10000\ntable = 7",
            "srv6.sid[7].table",
        ),
        ("source = \"2001:db8:0:3::5\"", "", "srv6.sid[6].source"),
        (
            "table = 100",
            "table = 100\nargs_at = 1",
            "srv6.sid[2].args_at",
        ),
        ("[\"sr1\"]", "[\"sr0\"]", "srv6.headend_interfaces[0]"),
        ("[\"sr0\"]", "[\"n6\"]", "srv6.interfaces[0]"),
        ("max_sids = 16", "max_sids = 2", "srv6.sid"),
        (
            "source = \"2001:db8:0:3::1\"",
            "source = \"192.0.2.1\"",
            "srv6.policy[2].source",
        ),
        ("reduced = true", "reduced = true\nextra = 1", "line"),
        (
            "peer = \"203.0.113.0/24\"",
            "peer = \"2001:db8::/32\"",
            "srv6.n9[0].peer",
        ),
        (
            "network_instance = \"n9\"",
            "network_instance = \"\"",
            "srv6.n9[0].network_instance",
        ),
        (
            "segments = [\"2001:db8:0:6::10\", \"2001:db8:ee::\"]",
            "segments = []",
            "srv6.n9[0].segments",
        ),
        (
            "gtp4d = true",
            "gtp4d = true\nargs_at = 8",
            "srv6.policy[0].args_at",
        ),
        (
            "prefix = \"203.0.113.80/32\"",
            "prefix = \"2001:db8:80::/48\"",
            "srv6.policy[0].gtp4d",
        ),
        (
            "insert = true",
            "insert = true\nsource = \"2001:db8::1\"",
            "srv6.policy[1].source",
        ),
        (
            "prefix = \"2001:db8:79::/48\"",
            "prefix = \"192.0.2.0/24\"",
            "srv6.policy[1].insert",
        ),
    ] {
        assert!(SRV6.contains(from), "{from}");
        let e = Config::parse(&format!("{DEFAULT}\n{}", SRV6.replacen(from, to, 1))).unwrap_err();
        if field == "line" {
            assert!(e.to_string().contains("line"), "{from} -> {to}: {e}");
        } else {
            assert_eq!(e.field, field, "{from} -> {to}: {e}");
        }
    }
}

#[test]
fn cidrs_match_their_members_only() {
    let c = Cidr::parse("198.18.0.0/15").unwrap();
    assert!(c.contains("198.19.255.255".parse().unwrap()));
    assert!(!c.contains("198.20.0.0".parse().unwrap()));
    assert!(c.contains("::ffff:198.18.0.1".parse().unwrap()));
    let c = Cidr::parse("2001:db8::/32").unwrap();
    assert!(c.contains("2001:db8:ffff::1".parse().unwrap()));
    assert!(!c.contains("2001:db9::1".parse().unwrap()));
    assert!(
        Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("203.0.113.9".parse().unwrap())
    );
}

/// What `check-config` prints is a configuration that makes the same [`Config`], every
/// default a section has written in: for the default, a file with `[lb]` (TCP, UDP, SCTP
/// services, every forwarding mode), one with `[srv6]`, and one with `[state]`, `[telemetry]`
/// and the API's TLS and token.
#[test]
fn check_config_prints_a_file_that_makes_the_same_config() {
    let dir = std::env::temp_dir().join(format!("upf-lb-resolved-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("api.crt"), dir.join("api.key"));
    std::fs::write(&cert, "certificate").unwrap();
    std::fs::write(&key, "key").unwrap();
    let token = "a-token-of-some-length";
    let extra = "[state]\npin_dir = \"/sys/fs/bpf/upf-lb\"\ndb = \"/var/lib/upf-lb/state.redb\"\n";
    let files = [
        DEFAULT.to_string(),
        format!("{DEFAULT}\n{LB}"),
        format!("{DEFAULT}\n{LB_MODES}"),
        format!("{DEFAULT}\n{SRV6}"),
        DEFAULT
            .replacen(
                "enabled = true",
                &format!(
                    "enabled = true\ntoken = \"{token}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"",
                    cert.display(),
                    key.display()
                ),
                1,
            )
            .replacen(
                "# otlp_endpoint = \"http://127.0.0.1:4317\"",
                "otlp_endpoint = \"http://127.0.0.1:4317\"\nprometheus_listen = \"127.0.0.1:9464\"",
                1,
            )
            + "\n"
            + extra,
    ];
    for (i, text) in files.iter().enumerate() {
        let (c, resolved) =
            Config::parse_resolved(text).unwrap_or_else(|e| panic!("file {i}: {e}"));
        let toml = resolved.to_toml().unwrap();
        // The token is hidden: the printed file does not carry a secret, and would not pass.
        if c.api_token.is_some() {
            assert!(!toml.contains(token), "{toml}");
            assert!(toml.contains("(hidden: 22 characters)"), "{toml}");
        }
        let again =
            Config::parse(&toml.replace("\"(hidden: 22 characters)\"", &format!("\"{token}\"")))
                .unwrap_or_else(|e| panic!("file {i}: {e}\n{toml}"));
        assert_eq!(again, c, "file {i}:\n{toml}");
        // Every default of a section is written in.
        for key in [
            "t1_ms = 3000",
            "n1 = 3",
            "max_sessions = 65536",
            "mbr_burst_ms = 100",
        ] {
            assert!(toml.contains(key), "file {i} lacks {key}:\n{toml}");
        }
        // JSON: the same keys and values.
        let json: serde_json::Value = serde_json::from_str(&resolved.to_json().unwrap()).unwrap();
        assert_eq!(json["n4"]["t1_ms"], 3000, "file {i}");
        assert_eq!(json["fteid"]["first"], u64::from(c.fteid.0), "file {i}");
        assert_eq!(
            json["buffering"]["total"], c.buffer_total as u64,
            "file {i}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
