# tern: run `./ternw <recipe>` (the wrapper puts deno and just on PATH).
set shell := ["bash", "-euo", "pipefail", "-c"]

deno := "deno"

# List the recipes.
default:
    @just --list

# Run the demo (prints the inspection URL of every process it starts).
demo *ARGS:
    {{deno}} run -P=demo roles/demo.ts {{ARGS}}

# The simulated cluster, as root: `just sim up [--nodes N]`, `just sim status`, `just sim down PREFIX|--all`.
sim *ARGS:
    {{deno}} run -P=sim roles/sim.ts {{ARGS}}

# The whole suite: format, lint, type check, then every test. CI runs exactly this.
test: fmt-check lint check
    {{deno}} task test

# Tests whose file names match a pattern, e.g. `just test-only runtime`.
test-only PATTERN:
    {{deno}} test -A --sanitize-ops --sanitize-resources tests/ --filter '{{PATTERN}}'

fmt:
    {{deno}} fmt

fmt-check:
    {{deno}} fmt --check

lint:
    {{deno}} lint

check:
    {{deno}} task check

# Benchmarks, side by side with the reference tools; results go to stdout.
bench *NAMES:
    {{deno}} run -A bench/run_all.ts {{NAMES}}

# Start one role with the same permission set its compiled binary gets.
run ROLE *ARGS:
    {{deno}} run -P={{ROLE}} roles/{{ROLE}}.ts {{ARGS}}

# Compile every role into dist/ (needs internet access for the Deno runtime binary).
build:
    for role in controller agent speaker cni ctl; do {{deno}} task compile:$role; done

# Cross-compile every role for Linux ARCH (amd64 or arm64) into dist/linux-ARCH/.
build-linux ARCH:
    for role in controller agent speaker cni ctl; do {{deno}} task compile:$role:{{ARCH}}; done

# Both Linux targets (x86_64 and aarch64).
build-all: (build-linux "amd64") (build-linux "arm64")

# ---- shipping: images, manifests, a local kind cluster --------------------------------------

image := "tern"
tag := "dev"
cluster := "tern"
run_dir := ".run-local"
fabric := "tern-fabric"
fabric_subnet := "192.0.2.0/24"
fabric_gateway := "192.0.2.254"
pod_subnet := "198.18.0.0/16"
frr_image := "quay.io/frrouting/frr:9.1.0"
# NAME:FABRIC-ADDRESS:ASN, in kind's order (control plane, then workers).
nodes := "tern-control-plane:192.0.2.11:65101 tern-worker:192.0.2.12:65102 tern-worker2:192.0.2.13:65103"
# The spines the samples' BGPPeerTemplates point at (manifests/samples/peer_templates.yaml).
spines := "spine0:192.0.2.1:65001 spine1:192.0.2.2:65002"
samples := "peer_templates.yaml cluster_bgp_spine0.yaml cluster_bgp_spine1.yaml pod_pools.yaml service_pools.yaml test_pods.yaml lb_services.yaml"
kubectl := "kubectl --context kind-" + cluster

# Build the container image holding every binary (multi-stage; see the Dockerfile).
images:
    @echo "==> [3/9] building the image {{image}}:{{tag}} (deno compile of every role, on debian-slim)"
    docker build -t {{image}}:{{tag}} .

# Build and push the image for x86_64 and aarch64 Linux (docker buildx; the build stage cross-compiles).
images-multiarch REF:
    @echo "==> building {{REF}} for linux/amd64 and linux/arm64 and pushing it"
    docker buildx build --platform linux/amd64,linux/arm64 -t {{REF}} --push .

# Regenerate the RBAC manifests from actors/ship/rbac.ts and render every overlay into dist/manifests/.
manifests:
    {{deno}} run -P=ship actors/ship/generate.ts
    mkdir -p dist/manifests
    for mode in cni lb dual; do kubectl kustomize manifests/overlays/$mode > dist/manifests/tern-$mode.yaml && echo "    wrote dist/manifests/tern-$mode.yaml"; done

# Write the kind and FRR configuration files of run-local into {{run_dir}}/.
run-local-config:
    @echo "==> [2/9] writing the kind config and one FRR config per spine into {{run_dir}}/"
    {{deno}} run -P=ship actors/ship/run_local_main.ts --out {{run_dir}} --cluster {{cluster}} --pod-subnet {{pod_subnet}} --fabric-subnet {{fabric_subnet}} --nodes "{{nodes}}" --spines "{{spines}}"

# run-local's first step: the tools it calls.
run-local-tools:
    @echo "==> [1/9] checking for docker, kind and kubectl"
    for tool in docker kind kubectl; do command -v $tool >/dev/null || { echo "run-local needs $tool on PATH" >&2; exit 1; }; done

# A kind cluster running tern (dual mode) with two FRR spines peering with every node.
run-local: run-local-tools run-local-config images
    @echo "==> [4/9] creating the kind cluster {{cluster}} (default CNI disabled, pod subnet {{pod_subnet}})"
    kind get clusters 2>/dev/null | grep -qx {{cluster}} || kind create cluster --name {{cluster}} --config {{run_dir}}/kind.yaml --wait 0s
    @echo "==> [5/9] fabric network {{fabric}} ({{fabric_subnet}}): every node gets its fixed address"
    docker network inspect {{fabric}} >/dev/null 2>&1 || docker network create --driver bridge --subnet {{fabric_subnet}} --gateway {{fabric_gateway}} {{fabric}}
    for n in {{nodes}}; do IFS=: read -r name addr asn <<< "$n"; echo "    $name: $addr (AS $asn)"; docker network connect --ip "$addr" {{fabric}} "$name" 2>/dev/null || docker inspect -f '{{{{json .NetworkSettings.Networks}}' "$name" | grep -q "\"IPAddress\":\"$addr\""; done
    @echo "==> [6/9] starting the FRR spines"
    for s in {{spines}}; do IFS=: read -r name addr asn <<< "$s"; echo "    {{cluster}}-$name: $addr (AS $asn)"; docker rm -f "{{cluster}}-$name" >/dev/null 2>&1 || true; docker run -d --name "{{cluster}}-$name" --hostname "$name" --network {{fabric}} --ip "$addr" --cap-add NET_ADMIN --cap-add NET_RAW --cap-add SYS_ADMIN --sysctl net.ipv4.ip_forward=1 -v "$PWD/{{run_dir}}/frr/$name:/etc/frr" {{frr_image}} >/dev/null; done
    @echo "==> [7/9] loading {{image}}:{{tag}} into the nodes"
    kind load docker-image {{image}}:{{tag}} --name {{cluster}}
    @echo "==> [8/9] applying the CRDs, tern (manifests/overlays/kind) and the samples"
    {{kubectl}} apply --server-side -f crds/
    {{kubectl}} wait --for condition=established --timeout=60s -f crds/
    kubectl kustomize manifests/overlays/kind | {{kubectl}} apply --server-side -f -
    for f in {{samples}}; do {{kubectl}} apply -f manifests/samples/$f; done
    @echo "==> [9/9] waiting for tern, the sample pods and every BGP session"
    {{kubectl}} -n tern-system rollout status daemonset/tern-agent --timeout=300s
    {{kubectl}} -n tern-system rollout status deployment/tern-controller --timeout=300s
    {{kubectl}} wait --for=condition=Ready pod --all -n test --timeout=300s
    for s in {{spines}}; do IFS=: read -r sname saddr sasn <<< "$s"; for n in {{nodes}}; do IFS=: read -r name addr asn <<< "$n"; printf '    %s <-> %s (%s): ' "$sname" "$name" "$addr"; ok=; for i in $(seq 1 120); do if docker exec "{{cluster}}-$sname" vtysh -c "show bgp neighbors $addr json" | grep -Eq '"bgpState": ?"Established"'; then ok=1; break; fi; sleep 2; done; [ -n "$ok" ] && echo Established || { echo "not Established after 240 s" >&2; exit 1; }; done; done
    {{kubectl}} get nodes -o wide
    {{kubectl}} get bgppeers,addressblocks
    {{kubectl}} get pods -A -o wide
    @echo "==> run-local is up: kubectl --context kind-{{cluster}} ...; tear down with: just kind-down"

# Remove everything run-local created: the cluster, the spines, the fabric network, the configs.
kind-down:
    @echo "==> deleting the kind cluster {{cluster}}"
    kind delete cluster --name {{cluster}}
    @echo "==> removing the FRR spines and the fabric network {{fabric}}"
    for s in {{spines}}; do IFS=: read -r name addr asn <<< "$s"; docker rm -f "{{cluster}}-$name" >/dev/null 2>&1 || true; done
    docker network rm {{fabric}} >/dev/null 2>&1 || true
    rm -rf {{run_dir}}
