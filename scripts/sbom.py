#!/usr/bin/env python3
"""The SBOM of a binary of this workspace as SPDX 2.3 JSON, from `cargo metadata`: every
crate the binary's package links on the host (normal dependencies, resolved for the target,
build and dev dependencies left out), each with its version, licence expression as declared,
source (crates.io or the workspace) and the dependency edges.

usage: sbom.py PACKAGE REVISION > sbom.spdx.json
"""

import datetime
import json
import re
import subprocess
import sys

package, revision = sys.argv[1], sys.argv[2]
meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked",
         "--filter-platform", "x86_64-unknown-linux-gnu"],
        check=True, capture_output=True, text=True,
    ).stdout
)
pkgs = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
(root,) = [p["id"] for p in meta["packages"] if p["name"] == package and p["source"] is None]

# The crates reachable from the package by normal dependencies.
seen, todo, edges = set(), [root], []
while todo:
    i = todo.pop()
    if i in seen:
        continue
    seen.add(i)
    for d in nodes[i]["deps"]:
        if any(k["kind"] is None for k in d["dep_kinds"]):
            edges.append((i, d["pkg"]))
            todo.append(d["pkg"])


def spdx_id(i):
    p = pkgs[i]
    return "SPDXRef-Crate-" + re.sub(r"[^A-Za-z0-9.-]", "-", f"{p['name']}-{p['version']}")


def entry(i):
    p = pkgs[i]
    src = p["source"] or ""
    e = {
        "SPDXID": spdx_id(i),
        "name": p["name"],
        "versionInfo": p["version"],
        "downloadLocation": (
            f"https://crates.io/api/v1/crates/{p['name']}/{p['version']}/download"
            if src.startswith("registry+") else "NOASSERTION"
        ),
        "licenseDeclared": p.get("license") or "NOASSERTION",
        "licenseConcluded": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "filesAnalyzed": False,
    }
    if src.startswith("registry+"):
        e["externalRefs"] = [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": f"pkg:cargo/{p['name']}@{p['version']}",
        }]
    else:
        e["sourceInfo"] = f"this workspace at revision {revision}"
    return e


doc = {
    "spdxVersion": "SPDX-2.3",
    "dataLicense": "CC0-1.0",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": f"{package}-{pkgs[root]['version']}",
    "documentNamespace": f"https://example.invalid/upf-lb/sbom/{package}/{revision}",
    "creationInfo": {
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "creators": ["Tool: upf-lb scripts/sbom.py"],
    },
    "documentDescribes": [spdx_id(root)],
    "packages": [entry(i) for i in sorted(seen, key=lambda i: (pkgs[i]["name"], pkgs[i]["version"]))],
    "relationships": [
        {"spdxElementId": spdx_id(a), "relationshipType": "DEPENDS_ON", "relatedSpdxElement": spdx_id(b)}
        for a, b in sorted(set(edges))
    ],
}
json.dump(doc, sys.stdout, indent=1)
print()
