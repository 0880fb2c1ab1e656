#!/usr/bin/env python3
"""Per-source-line profile of a loaded eBPF program, from perf samples.

bpftool here has no libbfd (no jited dump) and perf cannot annotate BPF, so this maps the
samples itself: perf gives `bpf_prog_<tag>_<name>+0xOFF`; the program's jited line info
(BPF_OBJ_GET_INFO_BY_FD) maps OFF to an xlated instruction; `bpftool prog dump xlated linum`
maps that to its source line.

Usage (as root, while the program is loaded, e.g. during `upf-lb-bench gtp --runs 2000000`):
  perf record -F 25000 -a -o /tmp/perf.data -- sleep 5
  python3 scripts/bpf-lineprof.py PROG_ID /tmp/perf.data [TOP]
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


def main():
    prog_id, data = int(sys.argv[1]), sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 30
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
    for l in script.splitlines():
        parts = l.split()
        if len(parts) < 2 or not re.match(rf"bpf_prog_[0-9a-f]+_{name}\+0x", parts[1]):
            continue
        off = int(parts[1].rsplit("+0x", 1)[1], 16)
        i = bisect.bisect_right(offs, off) - 1
        counts[src.get(lines[i][1], "?") if i >= 0 else "?"] += 1
    total = sum(counts.values())
    print(f"{name} (id {prog_id}): {total} samples")
    for k, v in counts.most_common(top):
        print(f"{v:6d} {100 * v / total:5.1f}%  {k[:140]}")


if __name__ == "__main__":
    main()
