/**
 * Conversion between core `v1` Events and `events.k8s.io/v1` Events. As on the real server, both
 * APIs serve the same stored objects (stored in the core shape), so an event a controller records
 * through either API shows up in the other (and in `kubectl describe`).
 */

import { dropUndefined, type JsonObject, type KubeObject } from "./types.ts";

/** events.k8s.io/v1 → core v1 (the stored shape). */
export function eventToCore(ev: KubeObject): KubeObject {
  const core: JsonObject = {
    apiVersion: "v1",
    kind: "Event",
    metadata: ev.metadata,
    involvedObject: ev.regarding ?? {},
    related: ev.related,
    reason: ev.reason,
    message: ev.note,
    type: ev.type,
    action: ev.action,
    eventTime: ev.eventTime,
    series: ev.series,
    reportingComponent: ev.reportingController ?? "",
    reportingInstance: ev.reportingInstance ?? "",
    source: ev.deprecatedSource ??
      (typeof ev.reportingController === "string"
        ? { component: ev.reportingController }
        : undefined),
    firstTimestamp: ev.deprecatedFirstTimestamp,
    lastTimestamp: ev.deprecatedLastTimestamp,
    count: ev.deprecatedCount,
  };
  return dropUndefined(core) as KubeObject;
}

/** core v1 (the stored shape) → events.k8s.io/v1. */
export function eventFromCore(core: KubeObject): KubeObject {
  const ev: JsonObject = {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: core.metadata,
    eventTime: core.eventTime ?? null,
    series: core.series,
    reportingController: core.reportingComponent ||
      (core.source as JsonObject | undefined)?.component,
    reportingInstance: core.reportingInstance || (core.source as JsonObject | undefined)?.host,
    action: core.action,
    reason: core.reason,
    regarding: core.involvedObject,
    related: core.related,
    note: core.message,
    type: core.type,
    deprecatedSource: core.source,
    deprecatedFirstTimestamp: core.firstTimestamp,
    deprecatedLastTimestamp: core.lastTimestamp,
    deprecatedCount: core.count,
  };
  return dropUndefined(ev) as KubeObject;
}
