#!/usr/bin/env python3
"""Per-source-line profile of a loaded eBPF program, from perf samples.

bpftool here has no libbfd (no jited dump) and perf cannot annotate BPF, so this maps the
samples itself: perf gives `bpf_prog_<tag>_<name>+0xOFF`; the program's jited line info
(BPF_OBJ_GET_INFO_BY_FD) maps OFF to an xlated instruction; `bpftool prog dump xlated linum`
maps that to its source line.

Usage (as root, while the program is loaded, e.g. during `upf-lb-bench gtp --runs 2000000`;
bpftool from Debian's bpftool package):
  perf record -F 25000 -a -g -o /tmp/perf.data -- sleep 5
  python3 scripts/bpf-lineprof.py PROG_ID /tmp/perf.data [TOP] [--by-fn]

With call chains (-g), a sample in a kernel helper or map function the program called (a hash
lookup, bpf_fib_lookup, bpf_redirect) counts at the program's line that called it, so a line's
share includes the helpers it calls. --by-fn sums the lines by the Rust function around them
(the source is read from the workspace; `file:fn` with the function's first line). --stages
sums them by the user-plane stage their file or function belongs to (STAGES below; the first
rule that matches `file:line code` or `file:fn` wins), for docs/benchmarks.md's table.
"""
import bisect, collections, ctypes, re, struct, subprocess, sys

BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD, SYS_BPF = 13, 15, 321
libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    if libc.syscall(SYS_BPF, cmd, buf, len(attr)) < 0:
        raise OSError(ctypes.get_errno(), f"bpf cmd {cmd}")


def prog_info(fd, info):
    attr = bytearray(128)
    struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
    bpf(BPF_OBJ_GET_INFO_BY_FD, attr)


def jited_lines(prog_id):
    """[(jited offset, xlated insn)] of the program, sorted."""
    attr = bytearray(128)
    struct.pack_into("<I", attr, 0, prog_id)
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    fd = libc.syscall(SYS_BPF, BPF_PROG_GET_FD_BY_ID, buf, len(attr))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "no such program")
    # struct bpf_prog_info offsets (include/uapi/linux/bpf.h).
    first = ctypes.create_string_buffer(256)
    prog_info(fd, first)
    nli, = struct.unpack_from("<I", first.raw, 148)
    njli, lirs, jlirs = struct.unpack_from("<III", first.raw, 168)
    li = ctypes.create_string_buffer(nli * lirs)
    jli = ctypes.create_string_buffer(njli * jlirs)
    ask = bytearray(256)
    struct.pack_into("<II", ask, 144, 0, nli)
    struct.pack_into("<Q", ask, 152, ctypes.addressof(li))
    struct.pack_into("<Q", ask, 160, ctypes.addressof(jli))
    struct.pack_into("<III", ask, 168, njli, lirs, jlirs)
    prog_info(fd, ctypes.create_string_buffer(bytes(ask), 256))
    base, = struct.unpack_from("<Q", jli.raw, 0)
    out = []
    for i in range(njli):
        addr, = struct.unpack_from("<Q", jli.raw, i * jlirs)
        insn, = struct.unpack_from("<I", li.raw, i * lirs)
        out.append((addr - base, insn))
    return out


# (regex on "file:line code" and on "file:fn", stage), in order: the first match wins.
STAGES = [
    (r"^helpers\.rs:\d+ fun\(map, key\)", "map lookups not inlined (bpf_map_lookup_elem)"),
    (r"^helpers\.rs:\d+ fun\(xdp_md, delta\)", "decap/encap: bpf_xdp_adjust_head"),
    (r"^helpers\.rs:\d+ fun\(ifindex, flags\)", "redirect: bpf_redirect"),
    (r"^helpers\.rs:\d+ fun\(\)", "clock: bpf_ktime_get_coarse_ns (QER, URR, next-hop expiry)"),
    (r"^(xdp|cursor|common_gpdu|ipv4|ipv6|eth|udp|gtpu)\.rs", "parse (cursor, headers)"),
    (r"^csum\.rs:.*|^uplink\.rs:ttl|^downlink\.rs:inner_ttl", "checksums, TTL"),
    (r"^gtp\.rs|^uplink\.rs:(session|teid\w*)|^downlink\.rs:(common|ue\w*)", "TEID / UE lookup"),
    (r"^(pdr|flow)\.rs|^downlink\.rs:rules|^uplink\.rs:pdus", "PDR/SDF, FAR"),
    (r"^(qer|bucket)\.rs", "QER"),
    (r"^urr\.rs", "URR"),
    (r"^(encap|reply)\.rs|^uplink\.rs:decap|^downlink\.rs:(forward|encap\w*)", "decap/encap"),
    (r"^fib\.rs", "next hop (cache, FIB)"),
    (r"^counters\.rs|^reason\.rs|^main\.rs", "outcome counters"),
    (r"^downlink\.rs:buffers", "buffering check"),
    (r".*", "inlined core/aya code (not attributed)"),
]


def stage_of(line_key, fn_key):
    for rx, st in STAGES:
        if re.search(rx, line_key) or re.search(rx, fn_key):
            return st
    return "?"


def enclosing_fn(path_cache, file, line):
    """The Rust function whose body holds `file:line`, as `file:fn` (searched for by name)."""
    if file not in path_cache:
        found = subprocess.run(["git", "ls-files", f"*{file}"], capture_output=True, text=True,
                               cwd=sys.path[0] + "/..").stdout.split()
        text = open(sys.path[0] + "/../" + found[0]).read().splitlines() if len(found) == 1 else []
        path_cache[file] = text
    text = path_cache[file]
    for i in range(min(line, len(text)) - 1, -1, -1):
        m = re.match(r"\s*(?:pub(?:\([a-z]+\))? )?(?:unsafe )?fn (\w+)", text[i])
        if m:
            return f"{file}:{m.group(1)}"
    return f"{file}:?"


def main():
    by_fn = "--by-fn" in sys.argv
    stages = "--stages" in sys.argv
    args = [a for a in sys.argv[1:] if a not in ("--by-fn", "--stages")]
    prog_id, data = int(args[0]), args[1]
    top = int(args[2]) if len(args) > 2 else 30
    lines = jited_lines(prog_id)
    offs = [o for o, _ in lines]
    xlated = subprocess.run(["bpftool", "prog", "dump", "xlated", "id", str(prog_id), "linum"],
                            capture_output=True, text=True, check=True).stdout
    src, cur = {}, "?"
    for l in xlated.splitlines():
        if l.lstrip().startswith(";"):
            m = re.search(r"\[file:(?:.*/)?(\S+) line_num:(\d+)", l)
            code = l.strip()[1:].split("[file:")[0].strip()
            cur = f"{m.group(1)}:{m.group(2)} {code}" if m else l.strip()
            continue
        m = re.match(r"\s*(\d+):", l)
        if m:
            src[int(m.group(1))] = cur
    name = xlated.splitlines()[0].split("(")[0].split()[-1]
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,symoff"],
                            capture_output=True, text=True).stdout
    counts = collections.Counter()
    cache = {}
    ours = re.compile(rf"bpf_prog_[0-9a-f]+_{name}\+0x([0-9a-f]+)")
    # A sample is a block of frames, innermost first (one line without -g); its first frame in
    # the program is where its time counts.
    blocks = re.split(r"\n\s*\n", script) if "\n\n" in script else script.splitlines()
    for block in blocks:
        m = ours.search(block)
        if not m:
            continue
        off = int(m.group(1), 16)
        i = bisect.bisect_right(offs, off) - 1
        where = src.get(lines[i][1], "?") if i >= 0 else "?"
        if by_fn or stages:
            fm = re.match(r"(\S+):(\d+) ", where)
            fn = enclosing_fn(cache, fm.group(1), int(fm.group(2))) if fm else where
            where = stage_of(where, fn) if stages else fn
        counts[where] += 1
    total = sum(counts.values())
    print(f"{name} (id {prog_id}): {total} samples")
    for k, v in counts.most_common(top):
        print(f"{v:6d} {100 * v / total:5.1f}%  {k[:140]}")


if __name__ == "__main__":
    main()
