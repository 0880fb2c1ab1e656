//! Tier 3: TCP through the user plane. A TUN device in the gNB namespace plays the UE
//! (198.18.0.1): the kernel's own TCP stack connects from it to a DN server; a relay thread is
//! the gNB, carrying the UE's packets in GTP-U G-PDUs over UDP to the UPF and writing what comes
//! back (decapsulated) into the TUN device. Bytes echoed by the DN must come back intact.

use std::{
    fs::File,
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream, UdpSocket},
    os::fd::AsRawFd,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};
use upf_lb::{
    demo::{DN, Topology, install_session},
    fixtures::{GNB_V4, UE_V4, UPF_V4},
    packet::{Gtpu, GtpuExt, Psc},
    southbound::GtpDatapath,
};
use upf_lb_tests::require_root;

const UL_TEID: u32 = 0x300;
const DL_TEID: u32 = 0x400;
const BYTES: usize = 256 * 1024;

/// Opens a TUN device `name` (no packet information header) in the caller's namespace.
fn tun(name: &str) -> File {
    const IFF_TUN: i16 = 0x0001;
    const IFF_NO_PI: i16 = 0x1000;
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .expect("/dev/net/tun");
    let mut req = [0u8; 40];
    req[..name.len()].copy_from_slice(name.as_bytes());
    req[16..18].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
    // SAFETY: TUNSETIFF reads a struct ifreq (40 bytes: name, then flags) from `req`, which lives
    // across the call.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, req.as_mut_ptr()) };
    assert_eq!(rc, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
    // Non-blocking, so that the relay can stop on time.
    // SAFETY: fcntl on an open descriptor we own.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    assert_eq!(rc, 0);
    f
}

/// Length of a GTP-U header with its optional fields and extension headers.
fn gtpu_header_len(g: &[u8]) -> Option<usize> {
    if g.len() < 8 {
        return None;
    }
    if g[0] & 0x07 == 0 {
        return Some(8);
    }
    let mut off = 12;
    let mut next = *g.get(11)?;
    while next != 0 {
        let len = usize::from(*g.get(off)?) * 4;
        if len == 0 {
            return None;
        }
        next = *g.get(off + len - 1)?;
        off += len;
    }
    Some(off)
}

#[test]
fn tcp_between_a_ue_and_the_dn_crosses_the_user_plane_both_ways() {
    require_root();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::new(&mut dp).expect("topology");
    install_session(&mut dp, UE_V4, UL_TEID, DL_TEID).expect("install");
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(30);

    std::thread::scope(|sc| {
        // The DN echoes one connection.
        let server = sc.spawn(|| {
            topo.dn.run(|| {
                let l = TcpListener::bind((DN, 8000)).unwrap();
                l.set_nonblocking(true).unwrap();
                let (mut c, from) = loop {
                    match l.accept() {
                        Ok(x) => break x,
                        Err(_) if Instant::now() < deadline && !stop.load(Ordering::Relaxed) => {
                            std::thread::sleep(Duration::from_millis(10))
                        }
                        Err(e) => return (SocketAddr::from((DN, 0)), 0, Some(e.to_string())),
                    }
                };
                c.set_nonblocking(false).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut buf = vec![0u8; 65536];
                let mut total = 0;
                while total < BYTES {
                    let n = c.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    c.write_all(&buf[..n]).unwrap();
                    total += n;
                }
                (from, total, None)
            })
        });

        // The UE side and its gNB relay live in the gNB namespace.
        let tun_dev = topo.gnb.run(|| tun("ue0"));
        for args in [
            vec!["addr", "add", "198.18.0.1/32", "dev", "ue0"],
            vec!["link", "set", "ue0", "mtu", "1400", "up"],
            vec![
                "route",
                "add",
                "203.0.113.0/24",
                "dev",
                "ue0",
                "src",
                "198.18.0.1",
            ],
        ] {
            topo.gnb.ip(&args).unwrap();
        }
        let udp = topo.gnb.run(|| UdpSocket::bind((GNB_V4, 2152)).unwrap());
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let (mut tun_r, mut tun_w) = (tun_dev.try_clone().unwrap(), tun_dev);
        let udp_up = udp.try_clone().unwrap();
        let stop_ref = &stop;
        // Uplink relay: TUN -> G-PDU.
        sc.spawn(move || {
            let mut buf = vec![0u8; 2048];
            while !stop_ref.load(Ordering::Relaxed) && Instant::now() < deadline {
                let n = match tun_r.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_micros(200));
                        continue;
                    }
                    Err(_) => break,
                };
                let mut g = Gtpu::gpdu(UL_TEID, buf[..n].to_vec());
                g.ext.push(GtpuExt::Psc(Psc {
                    pdu_type: 1,
                    qfi: 9,
                    rqi: false,
                    ppi: None,
                }));
                let _ = udp_up.send_to(&g.to_bytes(), SocketAddr::from((UPF_V4, 2152)));
            }
        });
        // Downlink relay: G-PDU -> TUN.
        sc.spawn(move || {
            let mut buf = vec![0u8; 4096];
            while !stop_ref.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((n, _)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                let teid = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                if buf[1] != 0xff || teid != DL_TEID {
                    continue;
                }
                if let Some(h) = gtpu_header_len(&buf[..n]) {
                    let _ = tun_w.write(&buf[h..n]);
                }
            }
        });

        let echoed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            topo.gnb.run(|| {
                let mut c = TcpStream::connect_timeout(
                    &SocketAddr::from((DN, 8000)),
                    Duration::from_secs(5),
                )
                .expect("connect through the UPF");
                c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let data: Vec<u8> = (0..BYTES).map(|i| (i * 7 % 251) as u8).collect();
                let mut w = c.try_clone().unwrap();
                let sent = data.clone();
                let writer = std::thread::spawn(move || w.write_all(&sent).unwrap());
                let mut got = vec![0u8; BYTES];
                c.read_exact(&mut got).expect("echo back through the UPF");
                writer.join().unwrap();
                (c.local_addr().unwrap(), got == data)
            })
        }));
        stop.store(true, Ordering::Relaxed);
        let echoed = echoed.unwrap_or_else(|_| {
            panic!(
                "TCP through the UPF failed; counters: {:?}",
                dp.counters()
                    .unwrap()
                    .into_iter()
                    .filter(|(_, c)| c.packets > 0)
                    .map(|(r, c)| (r.name(), c.packets))
                    .collect::<Vec<_>>()
            )
        });
        let (from, total, err) = server.join().unwrap();
        assert!(err.is_none(), "DN: {err:?}");
        assert_eq!(from.ip(), std::net::IpAddr::from(UE_V4));
        assert_eq!(echoed.0.ip(), std::net::IpAddr::from(UE_V4));
        assert_eq!(total, BYTES);
        assert!(echoed.1, "echoed bytes differ");
    });

    let c = dp.counters().unwrap();
    let get = |r: bpf_abi::Reason| c[r as usize].1.packets;
    assert!(get(bpf_abi::Reason::UplinkRedirect) > 50, "{c:?}");
    assert!(get(bpf_abi::Reason::DownlinkRedirect) > 50, "{c:?}");
}
