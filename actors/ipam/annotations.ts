/**
 * Parsing of tern's Service, Pod and Namespace annotations, with typed errors naming the
 * annotation and quoting its value.
 *
 * @module
 */

import {
  ANNOTATION_ADDRESS_POOL,
  ANNOTATION_ALLOW_SHARED_IP,
  ANNOTATION_LOAD_BALANCER_IPS,
  ANNOTATION_PEER_GROUPS,
  ANNOTATION_SHARED_IP_NAMESPACES,
} from "../crds/names.ts";
import { IpAddress } from "./address.ts";
import { BadAnnotationError, IpamError } from "./errors.ts";
import { isValidObjectName } from "./pool.ts";

/** Annotations of an object. */
export type Annotations = Record<string, string | undefined>;

function list(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/**
 * The comma-separated items of the annotation `key` with its raw value, or undefined when it is
 * absent; a list with no item is a {@linkcode BadAnnotationError} saying no `what` was given.
 */
function listAnnotation(
  annotations: Annotations,
  key: string,
  what: string,
): { value: string; items: string[] } | undefined {
  const value = annotations[key];
  if (value === undefined) return undefined;
  const items = list(value);
  if (items.length === 0) throw new BadAnnotationError(key, value, `no ${what} given`);
  return { value, items };
}

/**
 * `tern.dev/addresspool` on a Service: pool names, comma-separated, tried in order. Undefined
 * when absent. Throws {@linkcode BadAnnotationError} for an empty list, a bad or repeated name.
 */
export function parseServicePools(annotations: Annotations): string[] | undefined {
  const got = listAnnotation(annotations, ANNOTATION_ADDRESS_POOL, "pool name");
  if (!got) return undefined;
  const { value, items: names } = got;
  const seen = new Set<string>();
  for (const n of names) {
    if (!isValidObjectName(n)) {
      throw new BadAnnotationError(
        ANNOTATION_ADDRESS_POOL,
        value,
        `${JSON.stringify(n)} is not a valid pool name`,
      );
    }
    if (seen.has(n)) {
      throw new BadAnnotationError(ANNOTATION_ADDRESS_POOL, value, `pool ${n} is listed twice`);
    }
    seen.add(n);
  }
  return names;
}

/**
 * `tern.dev/addresspool` on a Pod or Namespace: exactly one pool name, or undefined when absent.
 */
export function parsePodPool(annotations: Annotations): string | undefined {
  const value = annotations[ANNOTATION_ADDRESS_POOL];
  if (value === undefined) return undefined;
  const name = value.trim();
  if (!isValidObjectName(name)) {
    throw new BadAnnotationError(
      ANNOTATION_ADDRESS_POOL,
      value,
      "expected one valid pool name for a pod or namespace",
    );
  }
  return name;
}

/**
 * `tern.dev/loadBalancerIPs`: comma-separated addresses, at most one per IP family, canonical
 * order as written. Throws {@linkcode BadAnnotationError} for a bad address, an empty list or
 * two addresses of one family.
 */
export function parseLoadBalancerIPs(annotations: Annotations): IpAddress[] | undefined {
  const got = listAnnotation(annotations, ANNOTATION_LOAD_BALANCER_IPS, "address");
  if (!got) return undefined;
  const { value, items } = got;
  const out: IpAddress[] = [];
  for (const item of items) {
    let a: IpAddress;
    try {
      a = IpAddress.parse(item);
    } catch (e) {
      if (e instanceof IpamError) {
        throw new BadAnnotationError(ANNOTATION_LOAD_BALANCER_IPS, value, e.message);
      }
      throw e;
    }
    if (out.some((b) => b.family === a.family)) {
      throw new BadAnnotationError(
        ANNOTATION_LOAD_BALANCER_IPS,
        value,
        `more than one IPv${a.family} address (a Service gets at most one per family)`,
      );
    }
    out.push(a);
  }
  return out;
}

const SHARING_KEY = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** `tern.dev/allow-shared-ip`: the sharing key, or undefined when absent. */
export function parseSharingKey(annotations: Annotations): string | undefined {
  const value = annotations[ANNOTATION_ALLOW_SHARED_IP];
  if (value === undefined) return undefined;
  const key = value.trim();
  if (!SHARING_KEY.test(key)) {
    throw new BadAnnotationError(
      ANNOTATION_ALLOW_SHARED_IP,
      value,
      "a sharing key is 1 to 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
    );
  }
  return key;
}

/**
 * `tern.dev/allow-shared-ip-namespaces`: namespaces (or `*`) whose Services may share this
 * Service's address; undefined when absent (same namespace only).
 */
export function parseSharingNamespaces(annotations: Annotations): string[] | undefined {
  const got = listAnnotation(annotations, ANNOTATION_SHARED_IP_NAMESPACES, "namespace");
  if (!got) return undefined;
  const { value, items: names } = got;
  for (const n of names) {
    if (n !== "*" && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n)) {
      throw new BadAnnotationError(
        ANNOTATION_SHARED_IP_NAMESPACES,
        value,
        `${JSON.stringify(n)} is neither a namespace name nor "*"`,
      );
    }
  }
  return [...new Set(names)];
}

/** `tern.dev/peer-groups`: group names, or undefined when absent (every peer). */
export function parsePeerGroups(annotations: Annotations): string[] | undefined {
  const got = listAnnotation(annotations, ANNOTATION_PEER_GROUPS, "group");
  if (!got) return undefined;
  const { value, items: groups } = got;
  for (const g of groups) {
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(g)) {
      throw new BadAnnotationError(
        ANNOTATION_PEER_GROUPS,
        value,
        `${JSON.stringify(g)} is not a valid group name (DNS-1123 label)`,
      );
    }
  }
  return [...new Set(groups)];
}
