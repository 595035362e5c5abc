# syntax=docker/dockerfile:1
#
# tern: one image holding every role's binary (tern-controller, tern-agent, tern-speaker, tern-cni,
# tern-ctl), each compiled by `deno compile` with its own permission set from deno.json.
#
#   docker build -t tern:dev .                                         # this machine's arch
#   docker buildx build --platform linux/amd64,linux/arm64 -t tern:dev .  # both arches
#
# The build stage runs on the build machine's platform and cross-compiles for the target one with
# `deno compile --target` (the `compile:<role>:<arch>` tasks), so a multi-arch build needs no
# emulation. The image runs as the unprivileged user 65532 by default (controller, ctl,
# speaker); the agent's DaemonSet runs it as root with NET_ADMIN/SYS_ADMIN, and its init
# container uses /usr/local/bin/tern-install-cni.

ARG DENO_VERSION=2.9.6
ARG DEBIAN_RELEASE=bookworm

FROM --platform=$BUILDPLATFORM denoland/deno:${DENO_VERSION} AS build
ARG TARGETARCH
WORKDIR /src
# Dependencies first, so a code change does not download npm packages again.
COPY deno.json deno.lock ./
RUN deno install
COPY . .
RUN case "${TARGETARCH}" in amd64|arm64) ;; *) echo "unsupported arch ${TARGETARCH}" >&2; exit 1;; esac \
 && for role in controller agent speaker cni ctl; do \
      echo "compiling ${role} for linux/${TARGETARCH}" \
      && deno task "compile:${role}:${TARGETARCH}" || exit 1; \
    done \
 && ls -l "dist/linux-${TARGETARCH}"

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG TARGETARCH
# libmnl0: the agent and the speaker talk netlink through libmnl (FFI).
# ca-certificates: the controller and the agent talk TLS to the API server.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmnl0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 tern \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tern
COPY --from=build /src/dist/linux-${TARGETARCH}/ /usr/local/bin/
COPY hack/install_cni.sh /usr/local/bin/tern-install-cni
RUN chmod 0755 /usr/local/bin/tern-* \
 && test -x /usr/local/bin/tern-controller -a -x /usr/local/bin/tern-agent \
      -a -x /usr/local/bin/tern-speaker -a -x /usr/local/bin/tern-cni -a -x /usr/local/bin/tern-ctl
USER 65532:65532
# No entrypoint: every workload names its binary (`command:` in the manifests).
CMD ["/usr/local/bin/tern-ctl", "--help"]
