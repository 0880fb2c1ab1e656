#!/usr/bin/env bash
# Runs a command under another Linux kernel: one of Debian 12's kernel packages, booted by QEMU with
# this machine's root file system shared read-only over 9p (the build, the tools and the test
# binaries are the host's own) and OUTDIR shared read-write. The kernel's modules (veth, vrf, sctp,
# gtp, dummy, bridge and what they need) are loaded from the package before the command runs, in a
# chroot of the host's root, as root, with /run, /tmp (unless the checkout lives there),
# /sys/fs/bpf and /run/netns fresh.
#
#   scripts/vm.sh KERNEL OUTDIR 'CMD'
#
# KERNEL: 6.1 or 6.12 (the newest linux-image-6.1.0-N-amd64 / linux-image-6.12.N+deb12-amd64 that
# apt knows), or a package name. The command's output is OUTDIR/guest.log, its exit status
# OUTDIR/guest.rc; this script exits with that status (2 when the guest never ran it).
#
# Acceleration: TCG (`-accel tcg -cpu max`). /dev/kvm exists on these machines but nested KVM
# faults ("failed to set MSR 0x10a"); VM_KVM=1 tries it anyway. TCG timings are not timings:
# nothing measured in a guest is reported as one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
want=${1:?kernel: 6.1, 6.12 or a linux-image package}
out=$(realpath -m "${2:?outdir}")
cmd=${3:?command}
mods=${VM_MODULES:-virtio_pci 9pnet_virtio 9p veth vrf sctp gtp dummy bridge}
# Modules of that list left unloaded at boot (their dependencies are loaded): each one's file is
# in /run/modules/NAME.ko for the command to load (insmod) when it wants, after running what
# must not see it (usrsctp's raw-socket peers need a kernel without SCTP sockets, and a
# loaded sctp module cannot be unloaded: every namespace's control socket holds it).
defer=${VM_DEFER_MODULES:-}

log() { printf '[vm] %s\n' "$*" >&2; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v depmod >/dev/null || need+=(kmod)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

case "$want" in
    6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
    linux-image-*) pattern="^${want//./\\.}\$" ;;
    *) echo "vm.sh: unknown kernel '$want' (6.1, 6.12 or a linux-image package)" >&2; exit 2 ;;
esac
pkg=$(apt-cache search --names-only "$pattern" | awk '{print $1}' | sort -V | tail -n1)
if [ -z "$pkg" ]; then
    apt-get update -qq
    pkg=$(apt-cache search --names-only "$pattern" | awk '{print $1}' | sort -V | tail -n1)
fi
[ -n "$pkg" ] || { echo "vm.sh: apt knows no package matching $pattern" >&2; exit 2; }

cache="$UPF_LB_TOOLS/kernels"
mkdir -p "$cache"
fetch() { # package -> $cache/package.deb
    [ -s "$cache/$1.deb" ] && return
    (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$1" >/dev/null &&
        mv "$1"_*.deb "$1.deb")
}
fetch "$pkg"
fetch busybox-static

work=$(mktemp -d /var/tmp/upf-lb-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -f "$out/guest.rc" "$out/guest.log"
dpkg-deb -x "$cache/$pkg.deb" "$work/x"
dpkg-deb -x "$cache/busybox-static.deb" "$work/x"
kv=$(ls "$work/x/lib/modules")
depmod -b "$work/x" "$kv"
files=$(for m in $mods; do modprobe -d "$work/x" -S "$kv" --show-depends "$m" 2>/dev/null || true; done |
    awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
i="$work/i"
mkdir -p "$i/bin" "$i/lib" "$i/proc" "$i/sys" "$i/dev" "$i/host"
cp "$work/x/bin/busybox" "$i/bin/"
order=()
for f in $files; do
    b=$(basename "$f")
    case "$b" in
        *.ko.xz) xz -dc "$f" >"$i/lib/${b%.xz}"; b=${b%.xz} ;;
        *.ko.zst) zstd -qdc "$f" >"$i/lib/${b%.zst}"; b=${b%.zst} ;;
        *) cp "$f" "$i/lib/" ;;
    esac
    order+=("$b")
done
# /tmp in the guest: a fresh tmpfs, unless the checkout (or OUTDIR) lives under it.
repo=$(cd "$here/.." && pwd)
tmpfs_tmp=1
case "$repo/ $out/" in */tmp/*) tmpfs_tmp=0 ;; esac
printf '%s\n' "$cmd" >"$out/guest.cmd"
cat >"$i/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc p /proc; mount -t sysfs s /sys; mount -t devtmpfs d /dev
for m in ${order[*]}; do
    case " $defer " in *" \${m%.ko} "*) continue ;; esac
    insmod /lib/\$m 2>/dev/null
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose root /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 out /host$out
mount -t proc p /host/proc; mount -t sysfs s /host/sys; mount -t devtmpfs d /host/dev
mount -t devpts pts /host/dev/pts 2>/dev/null
mount -t tmpfs r /host/run; mkdir -p /host/run/netns /host/run/modules
for m in $defer; do cp /lib/\$m.ko /host/run/modules/ 2>/dev/null; done
[ $tmpfs_tmp = 1 ] && mount -t tmpfs t /host/tmp
mount -t bpf b /host/sys/fs/bpf; mount -t debugfs d /host/sys/kernel/debug 2>/dev/null
ip link set lo up 2>/dev/null
chroot /host /usr/bin/env -i HOME=/run TMPDIR=/run USER=root LANG=C.UTF-8 \
    UPF_LB_TOOLS=$UPF_LB_TOOLS UPF_LB_VENV=$UPF_LB_VENV UPF_LB_GUEST=$want \
    PATH=$UPF_LB_TOOLS/bin:/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c 'cd "$repo" && bash "$out/guest.cmd"' >/host$out/guest.log 2>&1
echo \$? >/host$out/guest.rc
sync
poweroff -f
INIT
chmod +x "$i/init"
(cd "$i" && find . | "$work/x/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd.gz")
accel="-accel tcg -cpu max"
[ -n "${VM_KVM:-}" ] && accel="-accel kvm -cpu host,-arch-capabilities"
log "$pkg ($kv): $(echo "$cmd" | head -c 120)"
t0=$(date +%s)
timeout "${VM_TIMEOUT:-2400}" qemu-system-x86_64 $accel -m "${VM_MEM:-8192}" -smp 2 -nographic -no-reboot \
    -kernel "$work/x/boot/vmlinuz-$kv" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet" \
    -virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$out,mount_tag=out,security_model=none" >"$work/console.log" 2>&1 || true
echo "$pkg $kv" >"$out/guest.kernel"
if [ ! -s "$out/guest.rc" ]; then
    log "the guest did not finish the command ($(( $(date +%s) - t0 )) s); its console:"
    tail -n 30 "$work/console.log" >&2
    exit 2
fi
rc=$(cat "$out/guest.rc")
log "$pkg: exit $rc after $(( $(date +%s) - t0 )) s"
exit "$rc"
