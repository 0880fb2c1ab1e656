//! What the running kernel offers, and whether the configured parts can run on it: the checks
//! of `upf-lb doctor`, which `upf-lb run` makes too before it loads anything.
//!
//! Each check names the part of the function that needs it, the feature, what was found, and
//! how to get it when it is missing. A check that a configured part needs and that fails stops
//! `run` with one line saying so; the other parts are not refused for it.

use crate::config::Config;
use std::{fmt::Write, path::Path, process::Command};

/// The oldest kernel we support: Linux 6.1 LTS (Debian 12's default).
pub const OLDEST: (u32, u32) = (6, 1);

/// One check.
#[derive(Clone, Debug)]
pub struct Check {
    /// The part of the function that needs it (`user plane`, `load balancer`, `srv6`, `all`).
    pub part: &'static str,
    /// The feature.
    pub feature: &'static str,
    /// Whether it is there.
    pub ok: bool,
    /// Whether a configured part needs it (a failed required check stops `run`).
    pub required: bool,
    /// What was found.
    pub found: String,
    /// How to get it when it is missing.
    pub how: &'static str,
}

/// The running kernel's release, e.g. `6.18.44-fc-v1300`.
pub fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Major and minor of a release string.
pub fn version_of(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Runs `ip ARGS` in a network namespace of its own (`unshare -n`), which the kernel deletes
/// when the command ends: probes that change routes or links leave nothing behind.
fn ip_in_private_netns(args: &[&str]) -> Result<(), String> {
    // A fresh namespace's loopback is down, and a route through a down device is refused
    // whatever the kernel supports ("Nexthop device is not up"): up first.
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && ip \"$@\"", "sh"])
        .args(args)
        .output()
        .map_err(|e| format!("unshare -n ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The kernel's own SRv6 routes (`encap seg6`, `seg6local`: CONFIG_IPV6_SEG6_LWTUNNEL), the
/// reference the differential tests compare our datapath with.
pub fn has_seg6_lwt() -> Result<(), String> {
    seg6local_end(&[])
}

/// seg6local's End with the PSP flavour (RFC 8986 4.16.1; Linux 6.2 and newer).
pub fn has_seg6_psp() -> Result<(), String> {
    seg6local_end(&["flavors", "psp"])
}

/// Whether a seg6local End route (with `extra` arguments after the action) can be added.
fn seg6local_end(extra: &[&str]) -> Result<(), String> {
    let mut args = vec![
        "-6",
        "route",
        "add",
        "2001:db8:ffff::1/128",
        "encap",
        "seg6local",
        "action",
        "End",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["dev", "lo"]);
    ip_in_private_netns(&args)
}

/// VRF devices (CONFIG_NET_VRF).
pub fn has_vrf() -> Result<(), String> {
    ip_in_private_netns(&["link", "add", "vrfprobe", "type", "vrf", "table", "10"])
}

/// Kernel SCTP sockets (CONFIG_IP_SCTP).
pub fn has_kernel_sctp() -> Result<(), String> {
    // SAFETY: socket(2) with constant arguments; the descriptor is closed at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            libc::IPPROTO_SCTP,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: `fd` was just opened here and is closed once.
    unsafe { libc::close(fd) };
    Ok(())
}

/// The effective capabilities of this process (CapEff of /proc/self/status).
fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// True when `path` is on a bpf file system.
fn is_bpffs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs is plain old data; all zeroes is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path, `st` a statfs to fill.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    // BPF_FS_MAGIC (include/uapi/linux/magic.h).
    st.f_type as u64 == 0xcafe_4a11
}

/// The index of interface `name` in this namespace, if it exists.
pub fn ifindex(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a NUL-terminated interface name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The driver of interface `name`, as sysfs says (`veth`, `ice`, ...), or None (virtual
/// devices without a driver link; namespaces without their own sysfs).
fn driver(name: &str) -> Option<String> {
    let link = std::fs::read_link(format!("/sys/class/net/{name}/device/driver")).ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// Every check, for `cfg` (None: the checks every configuration needs, and the optional
/// features reported as found or not).
pub fn checks(cfg: Option<&Config>) -> Vec<Check> {
    let mut v = Vec::new();
    let rel = release();
    let ver = version_of(&rel);
    v.push(Check {
        part: "all",
        feature: "kernel version",
        ok: ver.is_some_and(|k| k >= OLDEST),
        required: true,
        found: rel.clone(),
        how: "Linux 6.1 or newer (see README, Supported kernels)",
    });
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    v.push(Check {
        part: "all",
        feature: "BTF",
        ok: btf,
        required: false,
        found: if btf {
            "/sys/kernel/btf/vmlinux".into()
        } else {
            "no /sys/kernel/btf/vmlinux".into()
        },
        how: "CONFIG_DEBUG_INFO_BTF=y (not needed by our programs: they use no CO-RE)",
    });
    let jit = std::fs::read_to_string("/proc/sys/net/core/bpf_jit_enable")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    v.push(Check {
        part: "all",
        feature: "BPF JIT",
        ok: jit == "1" || jit == "2",
        required: false,
        found: if jit.is_empty() {
            "no /proc/sys/net/core/bpf_jit_enable".into()
        } else {
            format!("bpf_jit_enable={jit}")
        },
        how: "sysctl net.core.bpf_jit_enable=1 (the interpreter is many times slower)",
    });
    let caps = effective_caps();
    for (bit, name) in [(39, "CAP_BPF"), (12, "CAP_NET_ADMIN"), (38, "CAP_PERFMON")] {
        // CAP_SYS_ADMIN (21) implies CAP_BPF and CAP_PERFMON on kernels that have them.
        let ok = caps & (1 << bit) != 0 || (bit != 12 && caps & (1 << 21) != 0);
        v.push(Check {
            part: "all",
            feature: name,
            ok,
            required: true,
            found: format!("CapEff={caps:016x}"),
            how: "run as root, or grant the capability (securityContext.capabilities.add)",
        });
    }
    if let Some(st) = cfg.and_then(|c| c.state.as_ref()) {
        // The pin directory, or the nearest of its ancestors that exists (the daemon makes
        // the rest).
        let ok = st
            .pin_dir
            .ancestors()
            .find(|p| p.exists())
            .is_some_and(is_bpffs);
        v.push(Check {
            part: "hitless restart",
            feature: "bpffs at state.pin_dir",
            ok,
            required: true,
            found: st.pin_dir.display().to_string(),
            how: "mount -t bpf bpf /sys/fs/bpf (Kubernetes: a hostPath volume of /sys/fs/bpf)",
        });
    }
    if let Some(cfg) = cfg {
        let mut ifaces: Vec<(&'static str, &str)> = vec![
            ("user plane", cfg.n3.interface.as_str()),
            ("user plane", cfg.n6.interface.as_str()),
        ];
        if let Some(lb) = &cfg.lb {
            ifaces.extend(lb.interfaces.iter().map(|i| ("load balancer", i.as_str())));
        }
        if let Some(s) = &cfg.srv6 {
            ifaces.extend(s.interfaces.iter().map(|i| ("srv6", i.as_str())));
            ifaces.extend(s.headend_interfaces.iter().map(|i| ("srv6", i.as_str())));
        }
        ifaces.sort();
        ifaces.dedup();
        for (part, name) in ifaces {
            let idx = ifindex(name);
            v.push(Check {
                part,
                feature: "XDP interface",
                ok: idx.is_some(),
                required: true,
                found: match (idx, driver(name)) {
                    (None, _) => format!("{name}: no such interface"),
                    (Some(i), Some(d)) => format!(
                        "{name} (index {i}, driver {d}; native XDP where the driver has it, else generic)"
                    ),
                    (Some(i), None) => format!("{name} (index {i}; generic XDP at least)"),
                },
                how: "create the interface before start (Kubernetes: a Multus attachment)",
            });
        }
        if cfg.srv6.is_some() {
            let fwd = std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding")
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            v.push(Check {
                part: "srv6",
                feature: "IPv6 forwarding",
                ok: fwd == "1",
                required: false,
                found: format!("net.ipv6.conf.all.forwarding={fwd}"),
                how: "sysctl net.ipv6.conf.all.forwarding=1 (the FIB lookup of End.X/DX6/DT6 answers 'forwarding disabled' otherwise)",
            });
        }
    }
    // What only tests and the kernel's own reference need; our datapath does all of it in XDP.
    for (feature, r, how) in [
        (
            "seg6 / seg6local routes",
            has_seg6_lwt(),
            "CONFIG_IPV6_SEG6_LWTUNNEL=y (only the differential tests use the kernel's SRv6)",
        ),
        (
            "VRF",
            has_vrf(),
            "CONFIG_NET_VRF (only the kernel's End.DT4 reference needs it)",
        ),
        (
            "kernel SCTP",
            has_kernel_sctp(),
            "CONFIG_IP_SCTP (the SCTP health probe uses raw sockets and does not need it)",
        ),
    ] {
        v.push(Check {
            part: "reference",
            feature,
            ok: r.is_ok(),
            required: false,
            found: match r {
                Ok(()) => "present".into(),
                Err(e) => e,
            },
            how,
        });
    }
    v
}

/// The checks as a table.
pub fn table(checks: &[Check]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{:<16} {:<24} {:<6} found", "part", "feature", "result");
    for c in checks {
        let result = match (c.ok, c.required) {
            (true, _) => "pass",
            (false, true) => "FAIL",
            (false, false) => "absent",
        };
        let _ = writeln!(
            t,
            "{:<16} {:<24} {:<6} {}",
            c.part, c.feature, result, c.found
        );
        if !c.ok {
            let _ = writeln!(t, "{:<16} {:<24} {:<6} -> {}", "", "", "", c.how);
        }
    }
    t
}

/// The first required check that failed, as the one line `run` stops with.
pub fn first_failure(checks: &[Check]) -> Option<String> {
    checks.iter().find(|c| c.required && !c.ok).map(|c| {
        format!(
            "{} cannot run: {} missing ({}); {}",
            c.part, c.feature, c.found, c.how
        )
    })
}

/// For tests that need a kernel feature the datapath itself does not (the kernel's own SRv6 as
/// a reference, VRF, kernel SCTP): true when this kernel has `feature` (`seg6`, `vrf`,
/// `sctp`, `seg6-psp`). A test is never skipped silently: without the feature it says so on stderr, and
/// the outcome (ran or not, which test, which kernel) is appended to the file named by
/// `UPF_LB_FEATURE_LOG`, from which the test command's summary says where each test ran. In a
/// kernel-matrix guest (`UPF_LB_REQUIRE_FEATURES`, the features that kernel has) a missing
/// one fails the test.
pub fn test_needs(test: &str, feature: &str) -> bool {
    /// `UPF_LB_REQUIRE_FEATURES`: `1` (every feature) or a comma-separated list of those the
    /// kernel is known to have (the kernel matrix sets it per guest).
    fn required(feature: &str) -> bool {
        match std::env::var("UPF_LB_REQUIRE_FEATURES") {
            Ok(v) => v == "1" || v.split(',').any(|f| f.trim() == feature),
            Err(_) => false,
        }
    }
    let r = match feature {
        "seg6" => has_seg6_lwt(),
        "seg6-psp" => has_seg6_psp(),
        "vrf" => has_vrf(),
        "sctp" => has_kernel_sctp(),
        other => Err(format!("unknown feature {other}")),
    };
    let rel = release();
    if let Some(path) = std::env::var_os("UPF_LB_FEATURE_LOG") {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            // One write a line: tests run in parallel and append to the same file.
            let line = format!(
                "{}\t{feature}\t{test}\t{rel}\n",
                if r.is_ok() { "ran" } else { "not-run" }
            );
            let _ = f.write_all(line.as_bytes());
        }
    }
    match r {
        Ok(()) => true,
        Err(e) if required(feature) => {
            panic!("{test} needs {feature}, which kernel {rel} lacks: {e}")
        }
        Err(e) => {
            eprintln!(
                "{test}: NOT RUN on kernel {rel}: it needs {feature} ({e}); the kernel matrix of scripts/test.sh runs it"
            );
            false
        }
    }
}

/// One line describing the machine, for a report (doctor, verifier, benchmarks).
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split_once(':').map_or("", |(_, v)| v).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cpus} CPUs, kernel {}", kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_release_strings() {
        assert_eq!(version_of("6.18.44-fc-v1300"), Some((6, 18)));
        assert_eq!(version_of("6.1.0-57-amd64"), Some((6, 1)));
        assert_eq!(version_of("6.12.118+deb12-amd64"), Some((6, 12)));
        assert_eq!(version_of("garbage"), None);
        assert!((5, 15) < OLDEST && (6, 12) >= OLDEST);
    }
}
