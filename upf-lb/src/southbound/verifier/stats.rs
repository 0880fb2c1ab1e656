//! The verifier's statistics of a program that loaded.
//!
//! The kernel writes a program's peak verifier states and stack depth only into the verifier's
//! log, and only when the load asks for one (`log_level` BPF_LOG_STATS, Linux 5.2 and newer).
//! aya 0.14 asks for a log only after a refusal, so for a program that loaded these figures
//! come from a second load of the same instructions: the object is parsed and relocated again
//! (aya's own aya-obj, the same steps in the same order as `EbpfLoader::load`) against the maps
//! the first load created, and loaded once more with the statistics asked for. The second
//! load's processed count is kept beside the first's; the two agree when it verified the same
//! program (`tests/tests/verifier_headroom.rs` checks it), and its program is closed at once.

use super::LogStats;
use aya::Ebpf;
use aya_obj::{
    Object,
    generated::{bpf_attach_type, bpf_attr, bpf_cmd, bpf_prog_type},
};
use std::{
    collections::HashSet,
    ffi::c_long,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd},
};

/// BPF_LOG_STATS (include/uapi/linux/bpf.h): only the figures, a few lines.
const BPF_LOG_STATS: u32 = 4;
/// Room for the figures and, on a refusal, the log's last lines.
const LOG_SIZE: usize = 64 * 1024;

/// An object parsed and relocated against the maps of an [`Ebpf`] that loaded it, ready to load
/// any of its programs again.
pub struct Relocated {
    obj: Object,
    btf: Option<OwnedFd>,
}

impl Relocated {
    /// Parses `bytes` (the object `ebpf` was loaded from) and relocates it against `ebpf`'s
    /// maps. The error says which step failed.
    pub fn new(bytes: &[u8], ebpf: &Ebpf) -> Result<Self, String> {
        let mut obj = Object::parse(bytes).map_err(|e| format!("parse: {e}"))?;
        let features = aya::features();
        let btf = match features.btf() {
            Some(f) => match obj
                .fixup_and_sanitize_btf(f)
                .map_err(|e| format!("BTF fix-up: {e}"))?
            {
                Some(btf) => Some(load_btf(&btf.to_bytes()).map_err(|e| format!("BTF_LOAD: {e}"))?),
                None => None,
            },
            None => None,
        };
        if obj.has_btf_relocations() {
            let target = aya::Btf::from_sys_fs().map_err(|e| format!("kernel BTF: {e}"))?;
            obj.relocate_btf(&target)
                .map_err(|e| format!("CO-RE relocation: {e}"))?;
        }
        let text_sections: HashSet<usize> = obj.functions.keys().map(|(s, _)| *s).collect();
        let mut maps = Vec::new();
        for (name, map) in &obj.maps {
            let fd = ebpf
                .map(name)
                .map(map_fd)
                .ok_or_else(|| format!("map {name}: not in the loaded object"))?;
            maps.push((name.clone(), fd, map.clone()));
        }
        obj.relocate_maps(
            maps.iter().map(|(n, fd, m)| (n.as_str(), *fd, m)),
            &text_sections,
        )
        .map_err(|e| format!("map relocation: {e}"))?;
        obj.relocate_calls(&text_sections)
            .map_err(|e| format!("call relocation: {e}"))?;
        obj.sanitize_functions(features);
        Ok(Self { obj, btf })
    }

    /// Loads the XDP program `name` once more with the verifier's statistics, closes it, and
    /// returns the figures of its log.
    pub fn stats(&self, name: &str) -> Result<LogStats, String> {
        let prog = self
            .obj
            .programs
            .get(name)
            .ok_or_else(|| format!("{name}: no such program in the object"))?;
        let f = self
            .obj
            .functions
            .get(&prog.function_key())
            .ok_or_else(|| format!("{name}: its function is missing"))?;
        let func_info = f.func_info.func_info_bytes();
        let line_info = f.line_info.line_info_bytes();
        let mut log = vec![0u8; LOG_SIZE];
        // SAFETY: bpf_attr is a C union of integer fields, for which all-zero is valid.
        let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
        // SAFETY: the union's BPF_PROG_LOAD member is written, as the command reads it.
        let u = unsafe { &mut attr.__bindgen_anon_3 };
        u.prog_type = bpf_prog_type::BPF_PROG_TYPE_XDP as u32;
        u.expected_attach_type = bpf_attach_type::BPF_XDP as u32;
        u.insns = f.instructions.as_ptr() as u64;
        u.insn_cnt = f.instructions.len() as u32;
        u.license = prog.license.as_ptr() as u64;
        if let Some(btf) = &self.btf {
            u.prog_btf_fd = btf.as_raw_fd() as u32;
            if f.func_info_rec_size > 0 {
                u.func_info = func_info.as_ptr() as u64;
                u.func_info_cnt = f.func_info.len() as u32;
                u.func_info_rec_size = f.func_info_rec_size as u32;
            }
            if f.line_info_rec_size > 0 {
                u.line_info = line_info.as_ptr() as u64;
                u.line_info_cnt = f.line_info.len() as u32;
                u.line_info_rec_size = f.line_info_rec_size as u32;
            }
        }
        u.log_level = BPF_LOG_STATS;
        u.log_buf = log.as_mut_ptr() as u64;
        u.log_size = log.len() as u32;
        let loaded = sys_bpf_fd(bpf_cmd::BPF_PROG_LOAD, &mut attr);
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        let stats = LogStats::parse(&String::from_utf8_lossy(&log[..end]));
        match loaded {
            // The program is closed here: only its figures were wanted.
            Ok(_fd) => Ok(stats),
            Err(e) => Err(format!(
                "second load: {e}{}",
                stats
                    .last_error
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            )),
        }
    }
}

/// The descriptor of a loaded map, whatever its type.
fn map_fd(map: &aya::maps::Map) -> RawFd {
    use aya::maps::Map as M;
    let data = match map {
        M::Array(d)
        | M::ArrayOfMaps(d)
        | M::BloomFilter(d)
        | M::CgroupArray(d)
        | M::CgroupStorage(d)
        | M::CgrpStorage(d)
        | M::CpuMap(d)
        | M::DevMap(d)
        | M::DevMapHash(d)
        | M::HashMap(d)
        | M::HashOfMaps(d)
        | M::InodeStorage(d)
        | M::LpmTrie(d)
        | M::LruHashMap(d)
        | M::PerCpuArray(d)
        | M::PerCpuCgroupStorage(d)
        | M::PerCpuHashMap(d)
        | M::PerCpuLruHashMap(d)
        | M::PerfEventArray(d)
        | M::ProgramArray(d)
        | M::Queue(d)
        | M::ReusePortSockArray(d)
        | M::RingBuf(d)
        | M::SockHash(d)
        | M::SockMap(d)
        | M::SkStorage(d)
        | M::Stack(d)
        | M::StackTraceMap(d)
        | M::Unsupported(d)
        | M::XskMap(d) => d,
    };
    data.fd().as_fd().as_raw_fd()
}

/// Loads `btf` (BPF_BTF_LOAD).
fn load_btf(btf: &[u8]) -> std::io::Result<OwnedFd> {
    // SAFETY: bpf_attr is a C union of integer fields, for which all-zero is valid.
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    // SAFETY: the union's BPF_BTF_LOAD member is written, as the command reads it.
    let u = unsafe { &mut attr.__bindgen_anon_7 };
    u.btf = btf.as_ptr() as u64;
    u.btf_size = btf.len() as u32;
    sys_bpf_fd(bpf_cmd::BPF_BTF_LOAD, &mut attr)
}

/// bpf(2) for a command that returns a new descriptor on success.
fn sys_bpf_fd(cmd: bpf_cmd, attr: &mut bpf_attr) -> std::io::Result<OwnedFd> {
    // SAFETY: `attr` is a valid, initialised bpf_attr of the size passed, and every pointer in
    // it (instructions, licence, BTF, log) points into memory that outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as c_long,
            std::ptr::from_mut(attr),
            std::mem::size_of::<bpf_attr>() as c_long,
        )
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: on success these commands return a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}
