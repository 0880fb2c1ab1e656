//! Health checks of the load balancer's backends, from the daemon: a TCP connect, a UDP probe
//! (down when the backend's host answers ICMP Port or Host Unreachable; silence is up: a UDP
//! service need not answer), or an SCTP INIT over a raw socket (up on the backend's INIT ACK,
//! down on ABORT or silence; this kernel has no SCTP sockets, and none are needed: the INIT
//! ACK carries a cookie, the backend keeps no state, nothing is left to tear down). A backend
//! goes down after `fall` failed probes in a row and up after `rise` good ones; each change goes
//! to the N4 owner, which takes the backend out of its service (and forgets its flows, which
//! move to the others) or puts it back, and tells API watchers.
//!
//! Every probe leaves from the local address that reaches its backend (a probe source, told to
//! the datapath: `LbDatapath::set_probe_sources`), TCP and UDP ones from a port of the probes'
//! own (`bpf_abi::lb::PROBE_PORT_FIRST` and up, which full NAT never gives a connection), so
//! that the datapath knows their answers and leaves them to the kernel (`lb_health_probe`).

use std::{
    io::ErrorKind,
    net::{IpAddr, SocketAddr, UdpSocket},
    time::{Duration, Instant},
};

/// How a backend is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Not checked: always up.
    None,
    /// TCP connect.
    Tcp,
    /// A UDP datagram; ICMP unreachable is down.
    Udp,
    /// SCTP INIT, INIT ACK expected.
    Sctp,
}

impl Check {
    /// The name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Check::None => "none",
            Check::Tcp => "tcp",
            Check::Udp => "udp",
            Check::Sctp => "sctp",
        }
    }
}

/// One backend to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its service's index in `[lb]`.
    pub service: usize,
    /// Its index among the service's backends.
    pub backend: usize,
    /// Where to probe (SCTP: its first address).
    pub addr: SocketAddr,
    /// The local address the probe is sent from (set when the checks start, and told to the
    /// datapath, which leaves the answers to it alone); None: the kernel's choice.
    pub source: Option<IpAddr>,
    /// How.
    pub check: Check,
}

/// Timing and hysteresis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Between rounds.
    pub interval: Duration,
    /// A probe's answer waited for at most.
    pub timeout: Duration,
    /// Failures in a row that take an up backend down.
    pub fall: u32,
    /// Successes in a row that bring a down backend up.
    pub rise: u32,
}

/// A backend's state changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The backend.
    pub target: Target,
    /// Up now (else down).
    pub up: bool,
    /// The last probe's outcome.
    pub why: String,
}

/// A backend's state with hysteresis. Backends start up: the datapath serves them from the
/// start, and a probe takes them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tracker {
    up: bool,
    streak: u32,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            up: true,
            streak: 0,
        }
    }
}

impl Tracker {
    /// One probe's outcome; the new state when it changes.
    pub fn observe(&mut self, ok: bool, p: &Params) -> Option<bool> {
        if ok == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let need = if self.up { p.fall } else { p.rise };
        if self.streak >= need.max(1) {
            self.up = ok;
            self.streak = 0;
            Some(ok)
        } else {
            None
        }
    }

    /// Up now.
    pub fn up(&self) -> bool {
        self.up
    }
}

/// One probe of `addr` by `check`: Ok when the backend is up, else why not.
pub fn probe(
    check: Check,
    addr: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
) -> Result<(), String> {
    match check {
        Check::None => Ok(()),
        Check::Tcp => tcp_probe(addr, source, timeout),
        Check::Udp => udp_probe(addr, source, timeout),
        Check::Sctp => sctp_probe(addr, source, timeout),
    }
}

/// The next local port of the probes' band (`bpf_abi::lb::PROBE_PORT_FIRST` to 65535).
fn probe_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let first = bpf_abi::lb::PROBE_PORT_FIRST;
    let band = 65_536 - u32::from(first);
    first + (N.fetch_add(1, Ordering::Relaxed) % band) as u16
}

/// `make(local)` with `local` the probe's source (unspecified when None) and a port of the
/// probes' band, the next port while one is in use (16 tries).
fn bound<T>(
    addr: SocketAddr,
    source: Option<IpAddr>,
    make: impl Fn(SocketAddr) -> std::io::Result<T>,
) -> std::io::Result<T> {
    let ip = source.unwrap_or(if addr.is_ipv4() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        IpAddr::from([0u16; 8])
    });
    let mut last = None;
    for _ in 0..16 {
        match make(SocketAddr::new(ip, probe_port())) {
            Err(e) if e.kind() == ErrorKind::AddrInUse => last = Some(e),
            r => return r,
        }
    }
    Err(last.unwrap_or_else(|| ErrorKind::AddrInUse.into()))
}

/// A TCP connect from the probes' band; closed by RST (SO_LINGER 0), so that the band's port
/// does not wait in TIME_WAIT.
fn tcp_probe(addr: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> Result<(), String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = bound(addr, source, |local| {
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        s.set_linger(Some(Duration::ZERO))?;
        s.bind(&local.into())?;
        Ok(s)
    })
    .map_err(|e| format!("TCP probe socket: {e}"))?;
    s.connect_timeout(&addr.into(), timeout)
        .map_err(|e| format!("TCP connect: {e}"))
}

fn udp_probe(addr: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> Result<(), String> {
    let s = bound(addr, source, UdpSocket::bind)
        .and_then(|s| s.connect(addr).map(|()| s))
        .map_err(|e| format!("UDP socket: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| format!("UDP socket: {e}"))?;
    let refused = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::HostUnreachable
                | ErrorKind::NetworkUnreachable
        )
    };
    if let Err(e) = s.send(b"upf-lb health probe\n") {
        return Err(format!("UDP send: {e}"));
    }
    let mut buf = [0u8; 512];
    match s.recv(&mut buf) {
        Ok(_) => Ok(()),
        Err(e) if refused(&e) => Err(format!("UDP: {e}")),
        // Silence: a UDP service need not answer.
        Err(_) => Ok(()),
    }
}

/// A raw socket, closed when dropped.
struct Raw(i32);

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// A probe's source port and Initiate Tag: from the clock and a counter, never 0.
fn nonce() -> (u16, u32) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut h = t ^ n.wrapping_mul(0x9e37_79b9);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    (49152 + (h % 16000) as u16, h | 1)
}

/// An SCTP INIT from `sport` to `dport` with Initiate Tag `tag` (RFC 9260 3.3.2), checksum set.
pub fn sctp_init(sport: u16, dport: u16, tag: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(32);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[0; 8]);
    p.extend_from_slice(&[1, 0, 0, 20]);
    p.extend_from_slice(&tag.to_be_bytes());
    p.extend_from_slice(&65536u32.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 1]);
    p.extend_from_slice(&tag.to_be_bytes());
    let c = bpf_net::sctp::crc32c(&p);
    p[8..12].copy_from_slice(&c.to_le_bytes());
    p
}

/// `ip` with port 0 as a socket address for bind(2) and sendto(2), and its length.
fn sockaddr(ip: IpAddr) -> (libc::sockaddr_storage, u32) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match ip {
        IpAddr::V4(a) => {
            let sa = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for every sockaddr.
            unsafe { std::ptr::write((&raw mut ss).cast(), sa) };
            size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            let sa = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as u16,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((&raw mut ss).cast(), sa) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as u32)
}

/// The local address the kernel sends from to reach `dst` (a connected UDP socket's; nothing
/// is sent): a probe's source, which the datapath must know (`LbDatapath::set_probe_sources`).
pub fn source_for(dst: SocketAddr) -> std::io::Result<IpAddr> {
    Ok(connected_udp(dst)?.local_addr()?.ip())
}

/// A UDP socket of `dst`'s family on an ephemeral port, connected to `dst`.
fn connected_udp(dst: SocketAddr) -> std::io::Result<UdpSocket> {
    let any: SocketAddr = if dst.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let s = UdpSocket::bind(any)?;
    s.connect(dst)?;
    Ok(s)
}

fn sctp_probe(addr: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> Result<(), String> {
    let (family, v6) = match addr {
        SocketAddr::V4(_) => (libc::AF_INET, false),
        SocketAddr::V6(_) => (libc::AF_INET6, true),
    };
    // SAFETY: socket(2) with constant arguments.
    let fd = unsafe { libc::socket(family, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 132) };
    if fd < 0 {
        return Err(format!(
            "SCTP raw socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    let raw = Raw(fd);
    if let Some(src) = source {
        let (sa, len) = sockaddr(src);
        // SAFETY: `sa` is a valid socket address of `len` bytes for the call.
        if unsafe { libc::bind(raw.0, (&raw const sa).cast(), len) } < 0 {
            return Err(format!(
                "SCTP probe source {src}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let (sport, tag) = nonce();
    let init = sctp_init(sport, addr.port(), tag);
    // The destination with port 0: a raw socket's port is its protocol or nothing.
    let (sa, len) = sockaddr(addr.ip());
    // SAFETY: `init` and `sa` are valid for the call; the lengths are theirs.
    let sent = unsafe {
        libc::sendto(
            raw.0,
            init.as_ptr().cast(),
            init.len(),
            0,
            (&raw const sa).cast(),
            len,
        )
    };
    if sent < 0 {
        return Err(format!("SCTP INIT: {}", std::io::Error::last_os_error()));
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 50_000,
    };
    // SAFETY: a timeval for SO_RCVTIMEO, valid for the call.
    unsafe {
        libc::setsockopt(
            raw.0,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            size_of::<libc::timeval>() as u32,
        )
    };
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(raw.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            continue;
        }
        let b = &buf[..n as usize];
        // IPv4 raw sockets deliver the IP header, IPv6 ones do not.
        let off = if v6 { 0 } else { usize::from(b[0] & 0x0f) * 4 };
        let Some(s) = b.get(off..off + 13) else {
            continue;
        };
        let (from, to) = (
            u16::from_be_bytes([s[0], s[1]]),
            u16::from_be_bytes([s[2], s[3]]),
        );
        let vtag = u32::from_be_bytes([s[4], s[5], s[6], s[7]]);
        if from != addr.port() || to != sport || vtag != tag {
            continue;
        }
        return match s[12] {
            2 => Ok(()),
            6 => Err("SCTP: ABORT in answer to INIT".into()),
            t => Err(format!("SCTP: chunk {t} in answer to INIT")),
        };
    }
    Err(format!("SCTP: no INIT ACK within {timeout:?}"))
}

/// Probes `targets` every `p.interval` on a thread of its own ("lb-health") and sends each
/// change; stops when the receiver is gone.
pub fn spawn(
    targets: Vec<Target>,
    p: Params,
    tx: tokio::sync::mpsc::UnboundedSender<Change>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lb-health".into())
        .spawn(move || {
            let mut state = vec![Tracker::default(); targets.len()];
            while !tx.is_closed() {
                let round = Instant::now();
                for (t, s) in targets.iter().zip(state.iter_mut()) {
                    if t.check == Check::None {
                        continue;
                    }
                    let r = probe(t.check, t.addr, t.source, p.timeout);
                    if let Some(up) = s.observe(r.is_ok(), &p) {
                        let why = match r {
                            Ok(()) => format!("{} check passed", t.check.name()),
                            Err(e) => e,
                        };
                        if tx
                            .send(Change {
                                target: t.clone(),
                                up,
                                why,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                std::thread::sleep(p.interval.saturating_sub(round.elapsed()));
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fall_and_rise_need_streaks() {
        let p = Params {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            fall: 3,
            rise: 2,
        };
        let mut t = Tracker::default();
        let seq = [
            false, false, true, false, false, false, true, false, true, true,
        ];
        let got: Vec<Option<bool>> = seq.iter().map(|&ok| t.observe(ok, &p)).collect();
        assert_eq!(
            got,
            [
                None,
                None,
                None,
                None,
                None,
                Some(false),
                None,
                None,
                None,
                Some(true)
            ]
        );
        assert!(t.up());
    }

    #[test]
    fn init_is_well_formed() {
        let p = sctp_init(50000, 38412, 0xabcd_ef01);
        assert_eq!(p.len(), 32);
        let mut z = p.clone();
        z[8..12].fill(0);
        assert_eq!(p[8..12], bpf_net::sctp::crc32c(&z).to_le_bytes());
        assert_eq!(&p[12..16], &[1, 0, 0, 20]);
    }

    #[test]
    fn closed_tcp_and_udp_ports_are_down_open_ones_up() {
        let t = Duration::from_millis(500);
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        assert_eq!(probe(Check::Tcp, a, None, t), Ok(()));
        drop(l);
        assert!(
            probe(Check::Tcp, a, None, t)
                .unwrap_err()
                .contains("TCP connect")
        );
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let a = u.local_addr().unwrap();
        assert_eq!(probe(Check::Udp, a, None, t), Ok(()), "silence is up");
        drop(u);
        assert!(probe(Check::Udp, a, None, t).unwrap_err().contains("UDP"));
    }
}
