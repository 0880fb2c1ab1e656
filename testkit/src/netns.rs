//! Network namespaces and veth pairs for the demo and the tests.
//!
//! Everything made here is owned by a [`Netns`] guard: dropping it (also while unwinding from a
//! panic) deletes the namespace, and with it every interface inside. Work inside a namespace runs
//! on a thread of its own that enters it ([`Netns::run`]), so the caller's thread never changes
//! namespace.

use anyhow::{Context, bail};
use std::{
    fs::File,
    os::fd::AsRawFd,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

/// Runs `ip` with `args`, failing with its stderr.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A name unique to this process and call: `prefix` + pid + counter, at most 15 bytes so that it
/// also fits an interface name.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}{}x{n}", std::process::id() % 100_000);
    assert!(name.len() <= 15, "name {name} too long for an interface");
    name
}

/// A network namespace that is deleted when dropped.
pub struct Netns {
    name: String,
    fd: File,
}

impl Netns {
    /// Creates the namespace `name` with its loopback up.
    pub fn create(name: &str) -> anyhow::Result<Netns> {
        ip(&["netns", "add", name])?;
        let fd = match File::open(format!("/run/netns/{name}")) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = ip(&["netns", "del", name]);
                return Err(e).context("opening the new namespace");
            }
        };
        let ns = Netns {
            name: name.to_string(),
            fd,
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args`.
    pub fn ip(&self, args: &[&str]) -> anyhow::Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `f` on a new thread inside this namespace and returns its result; a panic in `f`
    /// propagates to the caller.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let fd = self.fd.as_raw_fd();
        std::thread::scope(|s| {
            let h = s.spawn(move || {
                // SAFETY: fd is an open namespace file owned by self, which outlives the scope;
                // setns changes only this thread's network namespace.
                let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            });
            match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("warning: deleting namespace {}: {e}", self.name);
        }
    }
}

/// Creates a veth pair with `a` in `ns_a` and `b` in `ns_b`, both up.
pub fn veth(ns_a: &Netns, a: &str, ns_b: &Netns, b: &str) -> anyhow::Result<()> {
    ip(&[
        "link",
        "add",
        a,
        "netns",
        ns_a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b,
        "netns",
        ns_b.name(),
    ])?;
    ns_a.ip(&["link", "set", a, "up"])?;
    ns_b.ip(&["link", "set", b, "up"])?;
    Ok(())
}

/// True when the process runs as root (needed for namespaces and for loading eBPF).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A child process that is killed and reaped when dropped: a test that panics must not leave a
/// daemon behind (it would hold the test's output pipe open, and with it the CI run).
pub struct Reaped(pub std::process::Child);

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Sends `sig` to the child process `c` and waits up to `within` for it to exit; returns its
/// status, or None if it is still running then.
pub fn signal_and_wait(
    c: &mut std::process::Child,
    sig: i32,
    within: std::time::Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    // SAFETY: kill(2) on the pid of a child we own (not yet waited for, so not reused).
    unsafe { libc::kill(c.id() as i32, sig) };
    let t0 = std::time::Instant::now();
    loop {
        if let Some(st) = c.try_wait()? {
            return Ok(Some(st));
        }
        if t0.elapsed() > within {
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
