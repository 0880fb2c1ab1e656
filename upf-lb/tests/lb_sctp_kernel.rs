//! Multi-homed SCTP through the daemon (the scenario of `sctp_bed`) between the kernel's own
//! SCTP sockets (RFC 6458: one-to-one style, each endpoint bound to an address on each of
//! its links with SCTP_SOCKOPT_BINDX_ADD): a client that reaches the service by either VIP,
//! echo servers listening on both of their addresses. It needs kernel SCTP (the kernel
//! matrix's guests have it; this machine's kernel does not: there it is logged as not run).
//! The stacks' timers are shortened (RTO 100..1000 ms, a path failed after 2 missed
//! retransmissions, a HEARTBEAT a second) so that the cut path fails over within the test,
//! and their CRC32c computed in software (no veth offload), so that every captured packet
//! carries the checksum a wire would.

mod common;
mod sctp_bed;

use sctp_bed::{CLIENT, PORT, Stack, sysctl};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::{
    any::Any,
    io::{ErrorKind, Read, Write},
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    os::fd::AsRawFd,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};
use upf_lb_testkit::netns::Netns;

/// `SOL_SCTP` and `SCTP_SOCKOPT_BINDX_ADD` (include/uapi/linux/sctp.h).
const SOL_SCTP: libc::c_int = 132;
const SCTP_SOCKOPT_BINDX_ADD: libc::c_int = 100;
/// `SCTP_NODELAY`: each message sent at once (no Nagle).
const SCTP_NODELAY: libc::c_int = 3;

/// A one-to-one SCTP socket of this thread's namespace bound to `addrs` (port `port`, 0: one
/// the kernel picks, then the same on every address).
fn bound(addrs: &[Ipv4Addr], port: u16) -> Socket {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::from(132)))
        .expect("an SCTP socket: this kernel has SCTP sockets");
    s.bind(&SocketAddr::V4(SocketAddrV4::new(addrs[0], port)).into())
        .expect("bind");
    let port = s
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket_ipv4())
        .map(|a| a.port())
        .expect("bound port");
    let more: Vec<libc::sockaddr_in> = addrs[1..]
        .iter()
        .map(|a| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*a).to_be(),
            },
            sin_zero: [0; 8],
        })
        .collect();
    // SAFETY: `more` is a packed array of sockaddr_in, its length in bytes given; the socket
    // is open.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            SOL_SCTP,
            SCTP_SOCKOPT_BINDX_ADD,
            more.as_ptr().cast(),
            std::mem::size_of_val(more.as_slice()) as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bindx: {}", std::io::Error::last_os_error());
    let one: libc::c_int = 1;
    // SAFETY: an int option of the open socket.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            SOL_SCTP,
            SCTP_NODELAY,
            (&raw const one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SCTP_NODELAY: {}", std::io::Error::last_os_error());
    s
}

/// An echo server: its listener and its associations, each on a thread, until dropped.
struct Server {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Echoes every message of `c` until its peer shuts down or `stop`.
fn echo(mut c: Socket, stop: Arc<AtomicBool>) {
    let _ = c.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        match c.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if c.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

struct Kernel;

impl Stack for Kernel {
    fn check(&self) {
        if let Err(e) = upf_lb::kernel::has_kernel_sctp() {
            panic!("kernel SCTP sockets: {e}");
        }
    }

    fn prepare(&self, ns: &Netns) {
        // The CRC32c computed before a packet leaves (a veth would carry it uncomputed, as
        // CHECKSUM_PARTIAL, to a receiver that trusts it): what the captures show is then
        // what a wire would carry, and the scenario's checksum check means something.
        let out = Command::new("ip")
            .args(["-n", ns.name(), "-o", "link", "show"])
            .output()
            .expect("ip link show");
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(name) = l
                .split(':')
                .nth(1)
                .map(|n| n.trim().split('@').next().unwrap_or(""))
            else {
                continue;
            };
            if name.is_empty() || name == "lo" {
                continue;
            }
            let st = Command::new("ip")
                .args(["netns", "exec", ns.name(), "ethtool", "-K", name])
                .args(["tx-checksum-sctp", "off"])
                .stdout(Stdio::null())
                .status()
                .expect("ethtool");
            assert!(
                st.success(),
                "{}: ethtool -K {name} tx-checksum-sctp off",
                ns.name()
            );
        }
        for kv in [
            "net.sctp.rto_initial=300",
            "net.sctp.rto_min=100",
            "net.sctp.rto_max=1000",
            "net.sctp.path_max_retrans=2",
            "net.sctp.hb_interval=1000",
        ] {
            sysctl(ns, kv);
        }
    }

    fn serve(&self, ns: &Netns, addrs: [Ipv4Addr; 2]) -> Box<dyn Any> {
        let l = ns.run(|| bound(&addrs, PORT));
        l.listen(16).expect("listen");
        // accept(2) gives up after the receive timeout: the loop sees `stop`.
        l.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("SO_RCVTIMEO");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let t = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        let s = s.clone();
                        conns.push(std::thread::spawn(move || echo(c, s)));
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(e) => panic!("accept: {e}"),
                }
            }
            // Killed: the listener closes first (an INIT gets an ABORT from now on).
            drop(l);
            for c in conns {
                let _ = c.join();
            }
        });
        Box::new(Server {
            stop,
            threads: vec![t],
        })
    }

    fn client(
        &self,
        ns: &Netns,
        vip: Ipv4Addr,
        lines: &[String],
        gap: Duration,
        timeout: Duration,
        during: &mut dyn FnMut(usize),
    ) -> Vec<String> {
        let mut c = ns.run(|| bound(&CLIENT, 0));
        let to: SockAddr = SocketAddr::V4(SocketAddrV4::new(vip, PORT)).into();
        c.connect_timeout(&to, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to {vip}: {e}"));
        c.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("SO_RCVTIMEO");
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        let mut read = |c: &mut Socket, got: &mut Vec<String>| match c.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                true
            }
            Err(_) => false,
        };
        for (i, l) in lines.iter().enumerate() {
            during(i);
            c.write_all(l.as_bytes()).expect("send");
            let t0 = Instant::now();
            while t0.elapsed() < gap {
                read(&mut c, &mut got);
            }
        }
        let t0 = Instant::now();
        while got.len() < lines.len() && t0.elapsed() < timeout {
            read(&mut c, &mut got);
        }
        // SHUTDOWN, then its SHUTDOWN ACK (the read's end) within 5 s.
        let _ = c.shutdown(std::net::Shutdown::Write);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        got
    }
}

#[test]
fn multi_homed_sctp_through_the_daemon_between_kernel_stacks() {
    let t = "multi_homed_sctp_through_the_daemon_between_kernel_stacks";
    if !upf_lb::kernel::test_needs(t, "sctp") {
        return;
    }
    sctp_bed::run(&Kernel);
}
