//! A test UE with a real TCP stack behind a test gNB: a TUN device in the gNB's namespace holds
//! the UE's address; the kernel's own TCP connects from it to a DN server; relay threads play the
//! gNB, carrying the UE's packets in G-PDUs (with a UL PDU Session Container) to the UPF and
//! writing what comes back on the session's downlink TEID into the TUN device. Used by the demo
//! and the TCP test. Every loop is bounded by a deadline.

use crate::{
    fixtures::{GNB_V4, UPF_V4},
    topology::{DN, Topology},
};
use anyhow::{Context, bail, ensure};
use std::{
    fs::File,
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    os::fd::AsRawFd,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};
use upf_lb_packet::{Gtpu, GtpuExt, Psc};

/// The DN's TCP echo port.
pub const DN_TCP_PORT: u16 = 8000;

/// Opens a TUN device `name` (no packet information header, non-blocking) in the caller's
/// namespace; it goes away with the returned file.
pub fn tun(name: &str) -> anyhow::Result<File> {
    const IFF_TUN: i16 = 0x0001;
    const IFF_NO_PI: i16 = 0x1000;
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    ensure!(name.len() < 16, "TUN name too long");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .context("/dev/net/tun")?;
    let mut req = [0u8; 40];
    req[..name.len()].copy_from_slice(name.as_bytes());
    req[16..18].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
    // SAFETY: TUNSETIFF reads a struct ifreq (40 bytes: name, then flags) from `req`, which lives
    // across the call.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, req.as_mut_ptr()) };
    ensure!(rc == 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
    // Non-blocking, so that the relay can stop on time.
    // SAFETY: fcntl on an open descriptor we own.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    ensure!(rc == 0, "O_NONBLOCK: {}", std::io::Error::last_os_error());
    Ok(f)
}

/// Length of a GTP-U header with its optional fields and extension headers.
pub fn gtpu_header_len(g: &[u8]) -> Option<usize> {
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

/// What a TCP echo through the user plane did.
#[derive(Debug)]
pub struct TcpEcho {
    /// The UE's end of the connection.
    pub local: SocketAddr,
    /// Where the DN saw it come from.
    pub at_dn: SocketAddr,
    /// Bytes sent and echoed back intact.
    pub bytes: usize,
    /// Time from connect to the last byte back.
    pub elapsed: Duration,
}

/// The UE `ue` (TUN device `dev` in the gNB's namespace) connects over TCP to an echo server on
/// the DN and sends `bytes`, carried on `ul_teid` with QFI `qfi`; what comes back on `dl_teid`
/// goes to the UE. Fails unless every byte comes back intact within 30 s.
pub fn tcp_echo(
    topo: &Topology,
    dev: &str,
    ue: Ipv4Addr,
    ul_teid: u32,
    dl_teid: u32,
    qfi: u8,
    bytes: usize,
) -> anyhow::Result<TcpEcho> {
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let tun_dev = topo.gnb.run(|| tun(dev))?;
    for args in [
        vec![
            "addr".to_string(),
            "add".into(),
            format!("{ue}/32"),
            "dev".into(),
            dev.into(),
        ],
        vec![
            "link".into(),
            "set".into(),
            dev.into(),
            "mtu".into(),
            "1400".into(),
            "up".into(),
        ],
        vec![
            "route".into(),
            "add".into(),
            "203.0.113.0/24".into(),
            "dev".into(),
            dev.into(),
            "src".into(),
            ue.to_string(),
        ],
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        topo.gnb.ip(&a)?;
    }
    let udp = topo.gnb.run(|| UdpSocket::bind((GNB_V4, 2152)))?;
    udp.set_read_timeout(Some(Duration::from_millis(100)))?;
    std::thread::scope(|sc| {
        let listener = topo.dn.run(|| TcpListener::bind((DN, DN_TCP_PORT)))?;
        listener.set_nonblocking(true)?;
        let stop_ref = &stop;
        // The DN echoes one connection.
        let server = sc.spawn(move || -> anyhow::Result<(SocketAddr, usize)> {
            let (mut c, from) = loop {
                match listener.accept() {
                    Ok(x) => break x,
                    Err(_) if Instant::now() < deadline && !stop_ref.load(Ordering::Relaxed) => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => bail!("DN accept: {e}"),
                }
            };
            c.set_nonblocking(false)?;
            c.set_read_timeout(Some(Duration::from_secs(20)))?;
            let mut buf = vec![0u8; 65536];
            let mut total = 0;
            while total < bytes {
                let n = c.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                c.write_all(&buf[..n])?;
                total += n;
            }
            Ok((from, total))
        });
        let (mut tun_r, mut tun_w) = (tun_dev.try_clone()?, tun_dev);
        let udp_up = udp.try_clone()?;
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
                let mut g = Gtpu::gpdu(ul_teid, buf[..n].to_vec());
                g.ext.push(GtpuExt::Psc(Psc {
                    pdu_type: 1,
                    qfi,
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
                if buf[1] != 0xff || teid != dl_teid {
                    continue;
                }
                if let Some(h) = gtpu_header_len(&buf[..n]) {
                    let _ = tun_w.write(&buf[h..n]);
                }
            }
        });
        let t0 = Instant::now();
        let client = topo.gnb.run(|| -> anyhow::Result<(SocketAddr, bool)> {
            let mut c = TcpStream::connect_timeout(
                &SocketAddr::from((DN, DN_TCP_PORT)),
                Duration::from_secs(5),
            )
            .context("TCP connect through the UPF")?;
            c.set_read_timeout(Some(Duration::from_secs(20)))?;
            let data: Vec<u8> = (0..bytes).map(|i| (i * 7 % 251) as u8).collect();
            let mut w = c.try_clone()?;
            let sent = data.clone();
            let writer = std::thread::spawn(move || w.write_all(&sent));
            let mut got = vec![0u8; bytes];
            let r = c.read_exact(&mut got);
            let _ = writer.join();
            r.context("the echo back through the UPF")?;
            Ok((c.local_addr()?, got == data))
        });
        let elapsed = t0.elapsed();
        stop.store(true, Ordering::Relaxed);
        let server = server
            .join()
            .map_err(|_| anyhow::anyhow!("DN thread panicked"))?;
        let (local, intact) = client?;
        let (at_dn, total) = server?;
        ensure!(intact, "the echoed bytes differ");
        ensure!(total == bytes, "the DN echoed {total} of {bytes} bytes");
        Ok(TcpEcho {
            local,
            at_dn,
            bytes,
            elapsed,
        })
    })
}
