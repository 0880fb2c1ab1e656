#!/usr/bin/env python3
"""Checks a rendered manifests/ overlay beyond Kubernetes' own schemas: the custom resources
against their schemas (nad.schema.json, servicemonitor.schema.json, beside this file), each
NetworkAttachmentDefinition's CNI configuration, and that the objects agree with the UPF's
configuration (the ConfigMap's upf-lb.toml): the interfaces the pod attaches are the ones the
configuration names, N4 listens on the n4 attachment's address, the NetworkPolicy admits N4
from the configured SMF peers, the probes ask the API's port and health service, the metrics
port is the configured one.

usage: check.py RENDERED.yaml HEALTH_SERVICE CONFIG_OUT
Writes the ConfigMap's upf-lb.toml to CONFIG_OUT (the caller parses it as `upf-lb` does);
prints one line per problem and exits 1 if there is any.
"""

import ipaddress
import json
import pathlib
import sys
import tomllib

import jsonschema
import yaml

HERE = pathlib.Path(__file__).parent
SCHEMAS = {
    "NetworkAttachmentDefinition": json.loads((HERE / "nad.schema.json").read_text()),
    "ServiceMonitor": json.loads((HERE / "servicemonitor.schema.json").read_text()),
}

problems = []


def problem(msg):
    problems.append(msg)


def main():
    rendered, health_service, config_out = sys.argv[1], sys.argv[2], sys.argv[3]
    docs = [d for d in yaml.safe_load_all(pathlib.Path(rendered).read_text()) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
        schema = SCHEMAS.get(d["kind"])
        if schema is not None:
            v = jsonschema.Draft202012Validator(schema)
            for e in v.iter_errors(d):
                path = "/".join(str(p) for p in e.absolute_path)
                problem(f"{d['kind']} {d['metadata'].get('name')}: {path}: {e.message}")
    for k in ("NetworkAttachmentDefinition", "ServiceMonitor", "ConfigMap", "NetworkPolicy"):
        if k not in by_kind:
            problem(f"no {k} rendered")
    workloads = by_kind.get("Deployment", []) + by_kind.get("DaemonSet", [])
    if len(workloads) != 1:
        problem(f"{len(workloads)} workloads (Deployment or DaemonSet), one expected")
    if problems:
        return

    # The configuration the pod runs with.
    (cm,) = by_kind["ConfigMap"]
    text = cm["data"]["upf-lb.toml"]
    pathlib.Path(config_out).write_text(text)
    cfg = tomllib.loads(text)

    # Attachments: their CNI configurations, and their addresses.
    nad_addr = {}
    for nad in by_kind["NetworkAttachmentDefinition"]:
        name = nad["metadata"]["name"]
        try:
            cni = json.loads(nad["spec"]["config"])
        except ValueError as e:
            problem(f"NetworkAttachmentDefinition {name}: spec.config is not JSON: {e}")
            continue
        if "cniVersion" not in cni or not ("type" in cni or "plugins" in cni):
            problem(f"NetworkAttachmentDefinition {name}: CNI config without cniVersion and type/plugins")
        addrs = [a["address"] for a in cni.get("ipam", {}).get("addresses", [])]
        nad_addr[name] = [ipaddress.ip_interface(a) for a in addrs]

    w = workloads[0]
    pod = w["spec"]["template"]
    nets = json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"])
    ifaces = {n["interface"]: n["name"] for n in nets}
    for section in ("n3", "n6"):
        want = cfg[section]["interface"]
        if want not in ifaces:
            problem(f"{section}.interface {want!r} is not among the pod's attachments {sorted(ifaces)}")
            continue
        addr = cfg[section].get("ipv4")
        got = [str(a.ip) for a in nad_addr.get(ifaces[want], [])]
        if addr and addr not in got:
            problem(f"{section}.ipv4 {addr} is not the address of attachment {ifaces[want]} {got}")
    n4_addrs = [str(a.ip) for a in nad_addr.get(ifaces.get("n4", ""), [])]
    for listen in cfg["n4"]["listen"]:
        host = listen.rsplit(":", 1)[0].strip("[]")
        if host not in n4_addrs:
            problem(f"n4.listen {listen} is not on the n4 attachment {n4_addrs}")

    # The NetworkPolicy's N4 rule admits exactly the configured peers.
    (np,) = by_kind["NetworkPolicy"]
    n4_from = sorted(
        f["ipBlock"]["cidr"]
        for rule in np["spec"]["ingress"]
        if any(p.get("protocol") == "UDP" and p.get("port") == 8805 for p in rule.get("ports", []))
        for f in rule.get("from", [])
        if "ipBlock" in f
    )
    peers = sorted(str(ipaddress.ip_network(p, strict=False)) for p in cfg["n4"]["allowed_peers"])
    if n4_from != peers:
        problem(f"NetworkPolicy admits N4 from {n4_from}, n4.allowed_peers is {peers}")

    # Probes and ports.
    (c,) = [c for c in pod["spec"]["containers"] if c["name"] == "upf-lb"]
    api_port = int(cfg["api"]["listen"].rsplit(":", 1)[1])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = c.get(probe)
        if p is None or "grpc" not in p:
            problem(f"{probe}: not a gRPC probe")
            continue
        if p["grpc"]["port"] != api_port:
            problem(f"{probe} asks port {p['grpc']['port']}, api.listen is port {api_port}")
    ready = c.get("readinessProbe", {}).get("grpc", {}).get("service")
    if ready != health_service:
        problem(f"readinessProbe asks service {ready!r}, the daemon serves {health_service!r}")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    metrics = int(cfg["telemetry"]["prometheus_listen"].rsplit(":", 1)[1])
    if ports.get("metrics") != metrics or ports.get("grpc") != api_port:
        problem(f"container ports {ports} differ from api.listen {api_port} / prometheus_listen {metrics}")
    caps = c["securityContext"]["capabilities"]
    if caps.get("drop") != ["ALL"] or sorted(caps.get("add", [])) != ["BPF", "NET_ADMIN", "PERFMON"]:
        problem(f"capabilities {caps}: drop ALL, add BPF, NET_ADMIN, PERFMON expected")
    if c["securityContext"].get("privileged"):
        problem("the container is privileged")
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    if "/sys/fs/bpf" not in mounts or not str(cfg.get("state", {}).get("pin_dir", "")).startswith("/sys/fs/bpf"):
        problem("bpffs (/sys/fs/bpf) not mounted, or state.pin_dir not under it")


main()
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
