//! A namespace with a known FIB for BPF_PROG_TEST_RUN: fixture tables and benchmarks run the
//! datapath inside it (BPF_PROG_TEST_RUN looks routes up in the caller's namespace), so the
//! outcome never depends on the machine's own routes and neighbours.

/// A namespace whose FIB the datapath consults in fixture runs and benchmarks: an N6
/// interface with fixed MACs, routes to 203.0.113.0/24 and 2001:db8:0:6::/64, permanent neighbours
/// for the next hops [`FibNs::NH4`] and [`FibNs::NH6`], forwarding on.
pub struct FibNs {
    /// The namespace.
    pub ns: crate::netns::Netns,
    /// Index of its N3 interface, where fixture packets arrive.
    pub n3_ifindex: u32,
}

impl FibNs {
    /// MAC of the N6 interface.
    pub const N6_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x06, 0x01];
    /// MAC of the N3 interface.
    pub const N3_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x03, 0x01];
    /// MAC of the gNB on N3.
    pub const GNB_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0b, 0x01];
    /// MTU of the N3 interface.
    pub const N3_MTU: u16 = 1400;
    /// MAC of the next hops.
    pub const NH_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0d, 0x01];
    /// IPv4 next hop (a data-network host).
    pub const NH4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(203, 0, 113, 10);
    /// IPv6 next hop.
    /// The final segment, a host on sink's link.
    pub const NH6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 6, 0, 0, 0, 0x10);

    /// Runs `prog` once on `frame` (BPF_PROG_TEST_RUN) in this namespace, arriving on its N3
    /// interface: the XDP action and the frame afterwards.
    pub fn test_run(
        &self,
        prog: &aya::programs::Xdp,
        frame: &[u8],
    ) -> anyhow::Result<(u32, Vec<u8>)> {
        use aya::programs::{TestRun, TestRunOptions};
        let mut out = vec![0u8; frame.len() + 256];
        let ctx = upf_lb::southbound::test_run::xdp_md(frame.len(), self.n3_ifindex);
        let r = self.ns.run(|| {
            prog.test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ctx_in: Some(&ctx[..]),
                ..TestRunOptions::new()
            })
        })?;
        out.truncate(r.data_size_out as usize);
        Ok((r.return_value, out))
    }

    /// Builds it.
    pub fn new() -> FibNs {
        let name = crate::netns::unique_name("fib");
        let ns = crate::netns::Netns::create(&name).expect("namespace");
        let mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        ns.ip(&[
            "link", "add", "n3", "type", "veth", "peer", "name", "n3peer",
        ])
        .unwrap();
        ns.ip(&[
            "link",
            "set",
            "n3",
            "address",
            &mac(Self::N3_MAC),
            "mtu",
            &Self::N3_MTU.to_string(),
            "up",
        ])
        .unwrap();
        ns.ip(&["link", "set", "n3peer", "up"]).unwrap();
        ns.ip(&["addr", "add", "192.0.2.2/24", "dev", "n3"])
            .unwrap();
        ns.ip(&[
            "neigh",
            "add",
            "192.0.2.1",
            "lladdr",
            &mac(Self::GNB_MAC),
            "dev",
            "n3",
            "nud",
            "permanent",
        ])
        .unwrap();
        ns.ip(&["addr", "add", "2001:db8:0:3::2/64", "dev", "n3", "nodad"])
            .unwrap();
        let gnb6 = [
            "neigh",
            "add",
            "2001:db8:0:3::1",
            "lladdr",
            &mac(Self::GNB_MAC),
            "dev",
            "n3",
        ];
        ns.ip(&[&gnb6[..], &["nud", "permanent"]].concat()).unwrap();
        ns.ip(&[
            "link", "add", "n6", "type", "veth", "peer", "name", "n6peer",
        ])
        .unwrap();
        ns.ip(&["link", "set", "n6", "address", &mac(Self::N6_MAC), "up"])
            .unwrap();
        ns.ip(&["link", "set", "n6peer", "up"]).unwrap();
        ns.ip(&["addr", "add", "203.0.113.1/24", "dev", "n6"])
            .unwrap();
        ns.ip(&["addr", "add", "2001:db8:0:6::1/64", "dev", "n6", "nodad"])
            .unwrap();
        ns.ip(&[
            "neigh",
            "add",
            &Self::NH4.to_string(),
            "lladdr",
            &mac(Self::NH_MAC),
            "dev",
            "n6",
            "nud",
            "permanent",
        ])
        .unwrap();
        ns.ip(&[
            "neigh",
            "add",
            &Self::NH6.to_string(),
            "lladdr",
            &mac(Self::NH_MAC),
            "dev",
            "n6",
            "nud",
            "permanent",
        ])
        .unwrap();
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &name, "sh", "-c"])
            .arg("echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding")
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "forwarding: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let n3_ifindex = ns
            .run(|| std::fs::read_to_string("/sys/class/net/n3/ifindex"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| ifindex_via_ip(&ns, "n3"));
        FibNs { ns, n3_ifindex }
    }
}

/// The index of `dev` in `ns`, from `ip -o link show`.
fn ifindex_via_ip(ns: &crate::netns::Netns, dev: &str) -> u32 {
    let out = std::process::Command::new("ip")
        .args(["-n", ns.name(), "-o", "link", "show", dev])
        .output()
        .expect("ip");
    let s = String::from_utf8_lossy(&out.stdout);
    s.split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ifindex for {dev}: {s}"))
}

impl Default for FibNs {
    fn default() -> Self {
        Self::new()
    }
}

/// Three namespaces in a line for SRv6 tests and benchmarks: src (`a0`) -> dut (`b0` in, `b1`
/// out) -> sink (`a1`), all MACs fixed. The dut routes IPv6 and IPv4 towards sink, with
/// permanent neighbours for the next hops ([`srv6bed::NH6`], [`srv6bed::MID`],
/// [`srv6bed::NH4`], and the End.DX4 packets' inner destination [`srv6bed::INNER_DST`]).
pub mod srv6bed {
    use crate::netns::{Netns, unique_name, veth};
    use std::net::Ipv6Addr;

    /// An End SID (bound as a /80).
    pub const END_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 1, 0, 0, 0);
    /// An End.DX4 SID (bound as a /80).
    pub const DX4_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 2, 0, 0, 0);
    /// An End.X SID (bound as a /80), next hop [`NH6`].
    pub const X_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 3, 0, 0, 0);
    /// An End.DX6 SID (bound as a /80), next hop [`NH6`].
    pub const DX6_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 4, 0, 0, 0);
    /// An End.DT6 SID (bound as a /80), the main table.
    pub const DT6_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 5, 0, 0, 0);
    /// An End.T SID (bound as a /80), table [`TABLE`].
    pub const T_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 9, 0, 0, 0);
    /// An End.DT6 SID (bound as a /80), table [`TABLE`].
    pub const DT6_T_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xa, 0, 0, 0);
    /// A routing table of the dut that only it routes [`TABLE_PREFIX`] by (via [`MID`]); the
    /// main table has no route there.
    pub const TABLE: u32 = 100;
    /// See [`TABLE`].
    pub const TABLE_PREFIX: &str = "2001:db8:77::/48";
    /// An address in [`TABLE_PREFIX`].
    pub const TABLE_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 1);
    /// An End SID with the PSP flavour (bound as a /80).
    pub const PSP_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 8, 0, 0, 0);
    /// The inner destination of the End.DX6 packets, on sink's link.
    pub const INNER6_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 6, 0, 0, 0, 0x30);
    /// The headend: source of the packets, on src.
    pub const HEADEND: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 1);
    pub const NH6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 6, 0, 0, 0, 0x10);
    /// A middle segment on sink's link.
    pub const MID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 6, 0, 0, 0, 0x20);
    /// The End.DX4 SID's next hop (the L3 adjacency) on sink's link.
    pub const NH4: &str = "203.0.113.10";
    /// The inner destination of the End.DX4 packets.
    pub const INNER_DST: &str = "198.51.100.7";
    /// MAC of src's `a0`.
    pub const SRC_MAC: [u8; 6] = [2, 0, 0, 0, 0xa, 0];
    /// MAC of the dut's `b0`.
    pub const DUT_IN_MAC: [u8; 6] = [2, 0, 0, 0, 0xb, 0];
    /// MAC of the dut's `b1`.
    pub const DUT_OUT_MAC: [u8; 6] = [2, 0, 0, 0, 0xb, 1];
    /// MAC of sink's `a1` (and the next hops' neighbour entries).
    pub const SINK_MAC: [u8; 6] = [2, 0, 0, 0, 0xa, 1];
    /// A MAC on the sink's link that is not the next hop's.
    pub const OTHER_MAC: [u8; 6] = [2, 0, 0, 0, 0xa, 2];

    fn mac(m: [u8; 6]) -> String {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// src -> dut -> sink; the dut routes IPv6 and IPv4 towards sink, whose MAC it knows.
    pub struct Bed {
        /// Sender.
        pub src: Netns,
        /// The device under test.
        pub dut: Netns,
        /// Receiver.
        pub sink: Netns,
    }

    impl Bed {
        /// Binds `sid`/80 to the kernel's seg6local `action` (the action and its arguments,
        /// e.g. `["End.DX4", "nh4", NH4]`) in the dut, on `dev`.
        pub fn seg6local(&self, sid: Ipv6Addr, action: &[&str], dev: &str) -> anyhow::Result<()> {
            let sid = format!("{sid}/80");
            let mut args = vec!["-6", "route", "add", &sid, "encap", "seg6local", "action"];
            args.extend_from_slice(action);
            args.extend_from_slice(&["dev", dev]);
            self.dut.ip(&args)
        }

        /// `inner_dst_mac`: the neighbour entry of the End.DX4 and End.DX6 packets' inner
        /// destinations on the sink's link (the kernel sends them there, see the test of that
        /// difference).
        pub fn new(inner_dst_mac: [u8; 6]) -> Bed {
            let src = Netns::create(&unique_name("s6src")).unwrap();
            let dut = Netns::create(&unique_name("s6dut")).unwrap();
            let sink = Netns::create(&unique_name("s6snk")).unwrap();
            veth(&src, "a0", &dut, "b0").unwrap();
            veth(&dut, "b1", &sink, "a1").unwrap();
            src.ip(&["link", "set", "a0", "address", &mac(SRC_MAC), "up"])
                .unwrap();
            sink.ip(&["link", "set", "a1", "address", &mac(SINK_MAC), "up"])
                .unwrap();
            dut.ip(&["link", "set", "b0", "address", &mac(DUT_IN_MAC), "up"])
                .unwrap();
            dut.ip(&["link", "set", "b1", "address", &mac(DUT_OUT_MAC), "up"])
                .unwrap();
            dut.ip(&["addr", "add", "2001:db8:0:3::2/64", "dev", "b0", "nodad"])
                .unwrap();
            dut.ip(&["addr", "add", "2001:db8:0:6::1/64", "dev", "b1", "nodad"])
                .unwrap();
            dut.ip(&["addr", "add", "203.0.113.1/24", "dev", "b1"])
                .unwrap();
            dut.ip(&["route", "add", "198.51.100.0/24", "via", NH4])
                .unwrap();
            let (nh6, mid, inner6) = (NH6.to_string(), MID.to_string(), INNER6_DST.to_string());
            dut.ip(&[
                "-6",
                "route",
                "add",
                TABLE_PREFIX,
                "via",
                &mid,
                "dev",
                "b1",
                "onlink",
                "table",
                &TABLE.to_string(),
            ])
            .unwrap();
            for (a, m) in [
                (nh6.as_str(), SINK_MAC),
                (mid.as_str(), SINK_MAC),
                (NH4, SINK_MAC),
                (INNER_DST, inner_dst_mac),
                (inner6.as_str(), inner_dst_mac),
            ] {
                dut.ip(&[
                    "neigh",
                    "add",
                    a,
                    "lladdr",
                    &mac(m),
                    "dev",
                    "b1",
                    "nud",
                    "permanent",
                ])
                .unwrap();
            }
            dut.ip(&[
                "neigh",
                "add",
                &HEADEND.to_string(),
                "lladdr",
                &mac(SRC_MAC),
                "dev",
                "b0",
                "nud",
                "permanent",
            ])
            .unwrap();
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", dut.name(), "sh", "-c"])
                .arg(
                    "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
                     net.ipv6.conf.all.seg6_enabled=1 net.ipv6.conf.b0.seg6_enabled=1",
                )
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Bed { src, dut, sink }
        }
    }
}
