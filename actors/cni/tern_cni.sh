#!/bin/sh
# Runs the tern CNI plugin from a source checkout, with the flags of actors/cni/launch.ts
# (pluginCommand). Put it (or a symbolic link to it) in the CNI bin directory as `tern`. Deno is
# `$TERN_DENO`, else the checkout's .tools/bin/deno, else `deno` on PATH.
root=$(CDPATH='' cd -- "$(dirname -- "$(readlink -f -- "$0")")/../.." && pwd) || exit 1
deno=${TERN_DENO:-$root/.tools/bin/deno}
[ -x "$deno" ] || deno=deno
exec "$deno" run -P=cni --quiet --no-lock --config "$root/deno.json" "$root/roles/cni.ts"
