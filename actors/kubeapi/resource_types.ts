/**
 * The registry of served resource types: built-in kinds plus the ones CRDs add.
 *
 * A resource type is one (group, version, plural). Versions of the same (group, plural) share
 * storage (the `storageKey`); objects are served in the version they are asked for (no
 * conversion: the CRD `None` strategy, and built-ins here serve one version each).
 */

import type { JsonObject, KubeObject } from "./types.ts";

/** One printer column (CRD `additionalPrinterColumns` or a built-in default). */
export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

/** A served resource type. */
export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Whether a `status` subresource is served. */
  statusSubresource: boolean;
  /** Storage shared by all versions of (group, plural). */
  storageKey: string;
  /** Structural schema (CRDs), used for validation, defaulting and pruning. */
  schema?: JsonObject;
  /** Table columns after Name (Age included where wanted). */
  printerColumns: PrinterColumn[];
  /** Name of the CRD that defines this type, if any. */
  crd?: string;
  /** Is this the storage version (preferred in discovery)? */
  storage: boolean;
  /** Extra subresources served (e.g. `token` for serviceaccounts). */
  extraSubresources?: string[];
  /** For a type sharing another's storage in a different shape: the conversions. */
  convert?: {
    toStorage(o: KubeObject): KubeObject;
    fromStorage(o: KubeObject): KubeObject;
  };
}

/** `group/version`, or `version` for the core group. */
export function groupVersion(t: { group: string; version: string }): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** Storage key for (group, plural). */
export function storageKeyOf(group: string, plural: string): string {
  return `${group}/${plural}`;
}

/** Lookup of resource types by (group, version, plural), by kind and by short name. */
export class ResourceRegistry {
  #types = new Map<string, ResourceType>();
  #listeners: Array<() => void> = [];

  /** Add or replace a type. */
  add(t: ResourceType): void {
    this.#types.set(`${t.group}/${t.version}/${t.plural}`, t);
    this.#changed();
  }

  /** Remove every type defined by the named CRD. */
  removeCrd(crdName: string): void {
    for (const [k, t] of this.#types) if (t.crd === crdName) this.#types.delete(k);
    this.#changed();
  }

  /** The type for (group, version, plural), if served. */
  get(group: string, version: string, plural: string): ResourceType | undefined {
    return this.#types.get(`${group}/${version}/${plural}`);
  }

  /** Any served version of (group, plural), preferring the storage version. */
  byStorageKey(storageKey: string): ResourceType | undefined {
    let found: ResourceType | undefined;
    for (const t of this.#types.values()) {
      if (t.storageKey !== storageKey) continue;
      if (t.storage) return t;
      found ??= t;
    }
    return found;
  }

  /** The type serving `apiVersion` + `kind`, if any. */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    for (const t of this.#types.values()) {
      if (t.kind === kind && groupVersion(t) === apiVersion) return t;
    }
    return undefined;
  }

  /** Every served type. */
  all(): ResourceType[] {
    return [...this.#types.values()];
  }

  /** Called after any change (used to invalidate discovery/OpenAPI caches). */
  onChange(fn: () => void): void {
    this.#listeners.push(fn);
  }

  #changed(): void {
    for (const fn of this.#listeners) fn();
  }
}
