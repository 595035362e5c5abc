#!/bin/sh
# tern-install-cni: the agent DaemonSet's init container. Installs the tern CNI plugin binary
# and tern's conflist on the node, atomically and in place:
#
#   - each file is copied to a temporary name in the destination directory, then renamed over
#     the old one (rename(2) is atomic on one filesystem: a container runtime executing the
#     plugin or reading the conflist sees the old file or the new one, never half of one);
#   - nothing else in the directories is touched (sart's installer wiped /etc/cni/net.d; tern
#     never removes another plugin's files);
#   - an identical file is left alone, so a restart changes nothing.
#
# Environment (defaults for the DaemonSet's mounts):
#   TERN_CNI_SOURCE     the plugin binary in the image      (/usr/local/bin/tern-cni)
#   TERN_CNI_BIN_DIR    the node's CNI binary directory     (/host/opt/cni/bin)
#   TERN_CNI_NAME       the installed binary's name = the conflist's "type" (tern)
#   TERN_CONFLIST       the conflist to install (from the ConfigMap) (/etc/tern/cni/10-tern.conflist)
#   TERN_CNI_CONF_DIR   the node's CNI configuration directory (/host/etc/cni/net.d)
set -eu

src="${TERN_CNI_SOURCE:-/usr/local/bin/tern-cni}"
bin_dir="${TERN_CNI_BIN_DIR:-/host/opt/cni/bin}"
name="${TERN_CNI_NAME:-tern}"
conflist="${TERN_CONFLIST:-/etc/tern/cni/10-tern.conflist}"
conf_dir="${TERN_CNI_CONF_DIR:-/host/etc/cni/net.d}"

log() { printf '{"level":"info","msg":"%s","file":"%s"}\n' "$1" "$2"; }
fail() { printf '{"level":"error","msg":"%s","file":"%s"}\n' "$1" "$2" >&2; exit 1; }

# install SRC DIR NAME MODE: copy SRC to DIR/.NAME.tern-tmp, then rename it to DIR/NAME.
install_atomic() {
  s="$1"; dir="$2"; n="$3"; mode="$4"
  [ -f "$s" ] || fail "source missing" "$s"
  case "$n" in */*|.*|"") fail "bad target name" "$n" ;; esac
  mkdir -p "$dir"
  if [ -f "$dir/$n" ] && cmp -s "$s" "$dir/$n"; then
    log "already installed, unchanged" "$dir/$n"
    return 0
  fi
  tmp="$dir/.$n.tern-tmp"
  rm -f "$tmp"
  cp "$s" "$tmp" || { rm -f "$tmp"; fail "copy failed" "$tmp"; }
  chmod "$mode" "$tmp"
  sync "$tmp" 2>/dev/null || sync
  mv -f "$tmp" "$dir/$n" || { rm -f "$tmp"; fail "rename failed" "$dir/$n"; }
  log "installed" "$dir/$n"
}

install_atomic "$src" "$bin_dir" "$name" 0755
install_atomic "$conflist" "$conf_dir" "$(basename "$conflist")" 0644
