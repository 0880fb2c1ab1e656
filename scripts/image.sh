#!/usr/bin/env bash
# Builds the upf-lb OCI image from this checkout, with Debian's buildah (no registry, no base
# image): the release binaries upf-lb (eBPF objects embedded) and upf-lbctl, the C libraries
# they link (glibc, libgcc_s) copied from this machine, the default configuration, a passwd
# entry for the user upf-lb (65532), nothing else: no shell, no package manager.
# upf-lb carries file capabilities CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, so it runs as that
# user when the runtime grants those three (and no more).
#
#   bash scripts/image.sh [OUT]        OUT (default target/image) receives
#     upf-lb.oci.tar        the image as an OCI archive (skopeo, podman load, a registry push)
#     sbom.spdx.json        the SBOM of the Rust crates in upf-lb (also in the image, under
#                           /usr/share/doc/upf-lb/)
#   and the image is in the local store as localhost/upf-lb:VERSION and localhost/upf-lb:latest.
#
# The store and the runtime settings are this checkout's own (target/containers, through
# CONTAINERS_STORAGE_CONF and CONTAINERS_CONF from scripts/containers-env.sh): nothing of the
# machine's container configuration is used or changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=$(realpath -m "${1:-target/image}")
mkdir -p "$out"

need=()
for c in buildah skopeo podman runc setcap; do command -v "$c" >/dev/null || need+=("$c"); done
if [ ${#need[@]} -gt 0 ]; then
    pkgs=$(printf '%s\n' "${need[@]}" | sed 's/^setcap$/libcap2-bin/' | sort -u | tr '\n' ' ')
    echo "[image] apt-get install $pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
bash scripts/bootstrap.sh
source scripts/env.sh
source scripts/containers-env.sh

echo "[image] cargo build --release -p upf-lb"
cargo build --release --locked -p upf-lb --bins
version=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json,sys; print([p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="upf-lb"][0])')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain 2>/dev/null)" ] || revision="$revision-dirty"
source_url=$(sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -1)
licence=$(sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -1)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

python3 scripts/sbom.py upf-lb "$revision" >"$out/sbom.spdx.json"

ctr=$(buildah from --quiet scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
root=$(buildah mount "$ctr")
install -d "$root/usr/bin" "$root/etc/upf-lb" "$root/usr/share/doc/upf-lb" "$root/tmp"
install -d -o 65532 -g 65532 "$root/var/lib/upf-lb"
chmod 1777 "$root/tmp"
for b in upf-lb upf-lbctl; do
    strip -o "$root/usr/bin/$b" "target/release/$b"
done
# The C libraries they link, at the paths the dynamic linker looks for them.
for lib in $(ldd target/release/upf-lb target/release/upf-lbctl | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
    install -D -m 0755 "$(realpath "$lib")" "$root$lib"
done
cp config/upf-lb.toml "$root/etc/upf-lb/upf-lb.toml"
cp "$out/sbom.spdx.json" "$root/usr/share/doc/upf-lb/sbom.spdx.json"
printf 'root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nupf-lb:x:65532:65532:upf-lb:/var/lib/upf-lb:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nupf-lb:x:65532:\n' >"$root/etc/group"
setcap cap_bpf,cap_net_admin,cap_perfmon+ep "$root/usr/bin/upf-lb"
buildah umount "$ctr" >/dev/null

buildah config \
    --entrypoint '["/usr/bin/upf-lb"]' \
    --cmd 'run --config /etc/upf-lb/upf-lb.toml' \
    --user 65532:65532 \
    --workingdir /var/lib/upf-lb \
    --port 8805/udp --port 50051/tcp --port 9464/tcp \
    --label "org.opencontainers.image.title=upf-lb" \
    --label "org.opencontainers.image.description=5G user plane (GTP-U, SRv6) and L4 load balancer on eBPF/XDP" \
    --label "org.opencontainers.image.source=$source_url" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.licenses=$licence" \
    --label "org.opencontainers.image.created=$created" \
    "$ctr"
buildah commit --quiet --format oci --rm "$ctr" "localhost/upf-lb:$version" >/dev/null
trap - EXIT
buildah tag "localhost/upf-lb:$version" localhost/upf-lb:latest
rm -f "$out/upf-lb.oci.tar"
buildah push --quiet "localhost/upf-lb:$version" "oci-archive:$out/upf-lb.oci.tar:upf-lb:$version"
size=$(podman image inspect --format '{{.Size}}' "localhost/upf-lb:$version")
echo "[image] localhost/upf-lb:$version ($revision): $((size / 1000000)) MB; $out/upf-lb.oci.tar $(( $(stat -c %s "$out/upf-lb.oci.tar") / 1000000 )) MB; SBOM $out/sbom.spdx.json ($(python3 -c "import json; print(len(json.load(open('$out/sbom.spdx.json'))['packages']))" ) crates)"
