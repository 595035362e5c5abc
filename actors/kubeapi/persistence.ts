/** Saving the store to a file (atomically: write a temporary file, then rename) and loading it. */

import type { StoreSnapshot } from "./store.ts";
import { isObject } from "./types.ts";

/** A typed error for a state file that cannot be read. */
export class StateFileError extends Error {
  /** Discriminator. */
  readonly code = "bad_state_file";
  /** Build one for `path`. */
  constructor(path: string, why: string) {
    super(`State file "${path}" cannot be loaded: ${why}`);
    this.name = "StateFileError";
  }
}

/** Write a snapshot to `path` atomically. */
export async function saveSnapshot(path: string, snap: StoreSnapshot): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, JSON.stringify({ format: "tern-kubeapi/v1", ...snap }), {
    mode: 0o600,
  });
  await Deno.rename(tmp, path);
}

/** Read a snapshot, or undefined when the file does not exist. */
export async function loadSnapshot(path: string): Promise<StoreSnapshot | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new StateFileError(path, "not JSON");
  }
  if (!isObject(data) || data.format !== "tern-kubeapi/v1") {
    throw new StateFileError(path, "unknown format");
  }
  if (typeof data.resourceVersion !== "number" || !Array.isArray(data.objects)) {
    throw new StateFileError(path, "missing resourceVersion or objects");
  }
  return {
    resourceVersion: data.resourceVersion,
    objects: data.objects as StoreSnapshot["objects"],
    serviceAccountTokens: Array.isArray(data.serviceAccountTokens)
      ? data.serviceAccountTokens as StoreSnapshot["serviceAccountTokens"]
      : [],
  };
}
