#!/usr/bin/env bash
# The container image's test (issue 19): builds it (scripts/image.sh), then checks what an
# operator relies on, and runs the demo with the image as the UPF: the namespaces, the SMF and
# the traffic outside the container, upf-lb inside it as user 65532 with CAP_BPF, CAP_PERFMON
# and CAP_NET_ADMIN only. Root; about 10 minutes from a fresh clone (the release build), a
# few seconds after. Not part of scripts/test.sh (the CI's 60 minutes hold no release build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/image.sh target/image
source scripts/env.sh
source scripts/containers-env.sh
img=localhost/upf-lb:latest
fail() { echo "image-test: $*" >&2; exit 1; }

size=$(podman image inspect --format '{{.Size}}' "$img")
[ "$size" -lt 60000000 ] || fail "image is $size bytes, over 60 MB"
labels=$(skopeo inspect oci-archive:target/image/upf-lb.oci.tar)
for l in source revision version licenses created title; do
    echo "$labels" | grep -q "\"org.opencontainers.image.$l\": \"[^\"]" || fail "label org.opencontainers.image.$l missing"
done
[ "$(podman image inspect --format '{{.Config.User}}' "$img")" = "65532:65532" ] || fail "not user 65532"
if podman run --rm --network none --entrypoint /bin/sh "$img" -c true 2>/dev/null; then
    fail "the image has a shell"
fi
# Without the capabilities granted the binary does not even start (file capabilities).
if podman run --rm --network none "$img" --version >/dev/null 2>&1; then
    fail "upf-lb started without CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN in its bounding set"
fi
podman run --rm --network none --cap-drop=all --cap-add=BPF,PERFMON,NET_ADMIN "$img" --version
python3 -c "import json,sys; d=json.load(open('target/image/sbom.spdx.json')); assert d['spdxVersion']=='SPDX-2.3' and len(d['packages'])>50, d['spdxVersion']"
cargo build --locked -p upf-lb-demo
timeout --kill-after=10 300 ./target/debug/upf-lb-demo --count 3 --image "$img"
echo "image-test: ok: $img, $((size / 1000000)) MB, labels, user 65532, no shell, the demo passed with it as the UPF"
