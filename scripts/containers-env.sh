# Sourced by scripts/image.sh and the image's test: a container store and runtime settings of
# this checkout's own under target/containers (the machine's are neither read nor changed).
# vfs (works on any filesystem, no fuse or overlay module), runc with cgroupfs (crun refuses
# a hybrid cgroup v1/v2 host, as this kind of machine has), and resource limits at or below
# this shell's own (raising them needs CAP_SYS_RESOURCE, which a sandboxed root may lack).
_ct="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/containers"
mkdir -p "$_ct"
cat >"$_ct/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$_ct/storage"
runroot = "$_ct/run"
CONF
_nofile=$(ulimit -n)
[ "$_nofile" = unlimited ] && _nofile=65536
cat >"$_ct/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$_nofile:$_nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_STORAGE_CONF="$_ct/storage.conf"
export CONTAINERS_CONF="$_ct/containers.conf"
unset _ct _nofile

# A seccomp profile for upf-lb's container: the runtime's default (containers-common's
# seccomp.json, as installed) with bpf(2) allowed to a holder of CAP_BPF and perf_event_open(2)
# to a holder of CAP_PERFMON; the default admits them only with CAP_SYS_ADMIN, which upf-lb
# neither needs nor gets. Written to $UPF_LB_SECCOMP.
export UPF_LB_SECCOMP
UPF_LB_SECCOMP="$(dirname "$CONTAINERS_CONF")/seccomp-upf-lb.json"
if [ -f /usr/share/containers/seccomp.json ]; then
    python3 - /usr/share/containers/seccomp.json "$UPF_LB_SECCOMP" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["syscalls"] = [
    {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_BPF"]}},
    {"names": ["perf_event_open"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_PERFMON"]}},
] + d["syscalls"]
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY
fi
