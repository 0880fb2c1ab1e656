//! Multi-homed SCTP through the daemon (the scenario of `sctp_bed`) between usrsctp's client
//! and echo servers (Debian libusrsctp-examples): SCTP over raw IP, which needs a kernel
//! without SCTP sockets (one with them answers every usrsctp packet itself: an ABORT for an
//! association it does not know). This machine's kernel has none; the kernel matrix unloads
//! the guests' SCTP module before this test.

mod common;
mod sctp_bed;

use sctp_bed::{PORT, Stack, spawn};
use std::{
    any::Any,
    io::{BufRead, BufReader, Write},
    net::Ipv4Addr,
    path::Path,
    process::Stdio,
    sync::mpsc,
    time::{Duration, Instant},
};
use upf_lb_testkit::netns::Netns;

const USRSCTP: &str = "/usr/lib/usrsctp";

struct Usrsctp;

impl Stack for Usrsctp {
    fn check(&self) {
        assert!(
            Path::new(USRSCTP).join("echo_server").exists(),
            "{USRSCTP}/echo_server missing: scripts/bootstrap.sh installs libusrsctp-examples"
        );
        assert!(
            upf_lb::kernel::has_kernel_sctp().is_err(),
            "this kernel has SCTP sockets, which would abort usrsctp's associations: \
             unload its SCTP module (rmmod sctp) to run this test"
        );
    }

    fn serve(&self, ns: &Netns, _addrs: [Ipv4Addr; 2]) -> Box<dyn Any> {
        // echo_server binds every address of its namespace (both of the backend's).
        Box::new(spawn(
            ns,
            &format!("{USRSCTP}/echo_server"),
            &["0"],
            Stdio::null(),
        ))
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
        // usrsctp's client binds every address of its namespace (both links').
        let mut c = spawn(
            ns,
            &format!("{USRSCTP}/client"),
            &[&vip.to_string(), &PORT.to_string(), "0", "0", "0"],
            Stdio::piped(),
        );
        let out = c.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        // The association comes up before the first line is read (the client connects first).
        std::thread::sleep(Duration::from_millis(500));
        let mut stdin = c.0.stdin.take().unwrap();
        let mut got = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            during(i);
            writeln!(stdin, "{l}").unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(gap);
            got.extend(rx.try_iter().filter(|x| x.starts_with("line-")));
        }
        let t0 = Instant::now();
        while got.len() < lines.len() && t0.elapsed() < timeout {
            if let Ok(x) = rx.recv_timeout(Duration::from_millis(100))
                && x.starts_with("line-")
            {
                got.push(x);
            }
        }
        // EOF: the client shuts the association down.
        drop(stdin);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) && c.0.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        got
    }
}

#[test]
fn multi_homed_sctp_through_the_daemon_with_health_checks_on() {
    sctp_bed::run(&Usrsctp);
}
