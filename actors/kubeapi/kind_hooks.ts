/**
 * Per-kind behaviour of built-in types: the defaults the real API server fills in, the fields
 * it resets on create, and the validation that makes `kubectl` and client libraries see the
 * same `Invalid` errors. Pure functions over objects.
 */

import type { StatusCause } from "./errors.ts";
import type { ResourceType } from "./resource_types.ts";
import { isObject, type JsonObject, type KubeObject } from "./types.ts";

const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Validate metadata.name for a type. */
export function validateName(t: ResourceType, name: string): StatusCause[] {
  const invalid = (ok: boolean, why: string): StatusCause[] =>
    ok ? [] : [{
      reason: "FieldValueInvalid",
      field: "metadata.name",
      message: `Invalid value: "${name}": ${why}`,
    }];
  if (t.group === "rbac.authorization.k8s.io") {
    return invalid(
      !(name.includes("/") || name.includes("%") || name === "." || name === ".."),
      "may not contain '/' or '%'",
    );
  }
  if (t.plural === "namespaces" && t.group === "") {
    return invalid(
      label.test(name) && name.length <= 63,
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    );
  }
  if (t.plural === "services" && t.group === "") {
    return invalid(
      dns1035.test(name) && name.length <= 63,
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
  }
  return invalid(
    subdomain.test(name) && name.length <= 253,
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  );
}

const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Validate labels and annotations keys/values. */
export function validateMeta(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (!labelKey.test(k) || k.split("/").pop()!.length > 63) {
      causes.push({
        reason: "FieldValueInvalid",
        field: "metadata.labels",
        message:
          `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
    }
    if (typeof v !== "string" || !labelValue.test(v) || v.length > 63) {
      causes.push({
        reason: "FieldValueInvalid",
        field: "metadata.labels",
        message: `Invalid value: ${
          JSON.stringify(v)
        }: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
    }
  }
  for (const [k, v] of Object.entries(obj.metadata.annotations ?? {})) {
    if (!labelKey.test(k)) {
      causes.push({
        reason: "FieldValueInvalid",
        field: "metadata.annotations",
        message:
          `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
    }
    if (typeof v !== "string") {
      causes.push({
        reason: "FieldValueTypeInvalid",
        field: `metadata.annotations.${k}`,
        message: `Invalid value: ${JSON.stringify(v)}: must be a string`,
      });
    }
  }
  return causes;
}

/** Allocator hooks the store gives to the kind hooks (service IPs and node ports). */
export interface Allocators {
  allocateClusterIP(): string;
  clusterIPInUse(ip: string): boolean;
  allocateNodePort(): number;
}

function req(field: string): StatusCause {
  return { reason: "FieldValueRequired", message: "Required value", field };
}

const workloads = new Set(["deployments", "daemonsets", "replicasets", "statefulsets"]);

/** Defaults and validation of apps/v1 workloads (no controllers run them here). */
function prepareWorkload(
  t: ResourceType,
  obj: KubeObject,
  old: KubeObject | undefined,
): StatusCause[] {
  if (!isObject(obj.spec)) return [req("spec.selector"), req("spec.template")];
  const spec = obj.spec;
  const causes: StatusCause[] = [];
  if (!isObject(spec.selector)) causes.push(req("spec.selector"));
  if (!isObject(spec.template)) {
    causes.push(req("spec.template"));
    return causes;
  }
  const template = spec.template as JsonObject;
  const tmeta = isObject(template.metadata) ? template.metadata : {};
  const labels = isObject(tmeta.labels) ? tmeta.labels as Record<string, string> : {};
  const sel = isObject(spec.selector) ? spec.selector : {};
  const matchLabels = isObject(sel.matchLabels) ? sel.matchLabels as Record<string, string> : {};
  if (isObject(spec.selector) && !Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) {
    causes.push({
      reason: "FieldValueInvalid",
      field: "spec.template.metadata.labels",
      message: `Invalid value: ${
        JSON.stringify(labels)
      }: \`selector\` does not match template \`labels\``,
    });
  }
  if (
    old && isObject(old.spec) && JSON.stringify(old.spec.selector) !== JSON.stringify(spec.selector)
  ) {
    causes.push({
      reason: "FieldValueInvalid",
      field: "spec.selector",
      message: `Invalid value: ${JSON.stringify(spec.selector)}: field is immutable`,
    });
  }
  const pod = { apiVersion: "v1", kind: "Pod", metadata: {}, spec: template.spec } as KubeObject;
  causes.push(
    ...preparePodSpec(pod).map((c) => ({
      ...c,
      field: c.field?.replace(/^spec/, "spec.template.spec"),
    })),
  );
  template.spec = pod.spec;
  if (t.plural !== "daemonsets") spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  if (t.plural === "deployments") {
    const strategy = isObject(spec.strategy) ? spec.strategy : {};
    strategy.type ||= "RollingUpdate";
    if (strategy.type === "RollingUpdate") {
      strategy.rollingUpdate ??= { maxUnavailable: "25%", maxSurge: "25%" };
    }
    spec.strategy = strategy;
    spec.progressDeadlineSeconds ??= 600;
  }
  if (t.plural === "daemonsets") {
    const update = isObject(spec.updateStrategy) ? spec.updateStrategy : {};
    update.type ||= "RollingUpdate";
    if (update.type === "RollingUpdate") {
      update.rollingUpdate ??= { maxUnavailable: 1, maxSurge: 0 };
    }
    spec.updateStrategy = update;
  }
  if (t.plural === "statefulsets") {
    spec.podManagementPolicy ??= "OrderedReady";
    const update = isObject(spec.updateStrategy) ? spec.updateStrategy : {};
    update.type ||= "RollingUpdate";
    if (update.type === "RollingUpdate") update.rollingUpdate ??= { partition: 0 };
    spec.updateStrategy = update;
  }
  if (!old) obj.status = {};
  return causes;
}

/** Defaults and resets on create; returns field causes for invalid objects. */
export function prepareCreate(t: ResourceType, obj: KubeObject, alloc: Allocators): StatusCause[] {
  if (t.group === "apps" && workloads.has(t.plural)) return prepareWorkload(t, obj, undefined);
  if (t.group === "" && t.plural === "pods") return preparePod(obj);
  if (t.group === "" && t.plural === "services") return prepareService(obj, undefined, alloc);
  if (t.group === "" && t.plural === "namespaces") {
    obj.spec = { finalizers: ["kubernetes"] };
    obj.status = { phase: "Active" };
    return [];
  }
  if (t.group === "" && t.plural === "secrets") return prepareSecret(obj);
  if (t.group === "discovery.k8s.io" && t.plural === "endpointslices") {
    const causes: StatusCause[] = [];
    if (!["IPv4", "IPv6", "FQDN"].includes(String(obj.addressType))) {
      causes.push(
        obj.addressType === undefined ? req("addressType") : {
          reason: "FieldValueNotSupported",
          field: "addressType",
          message: `Unsupported value: ${
            JSON.stringify(obj.addressType)
          }: supported values: "FQDN", "IPv4", "IPv6"`,
        },
      );
    }
    obj.endpoints ??= [];
    return causes;
  }
  if (
    t.group === "rbac.authorization.k8s.io" &&
    (t.plural === "rolebindings" || t.plural === "clusterrolebindings")
  ) {
    const ref = obj.roleRef;
    if (!isObject(ref) || typeof ref.name !== "string" || ref.name === "") {
      return [req("roleRef.name")];
    }
    if (ref.kind !== "Role" && ref.kind !== "ClusterRole") {
      return [{
        reason: "FieldValueNotSupported",
        field: "roleRef.kind",
        message: `Unsupported value: ${
          JSON.stringify(ref.kind ?? "")
        }: supported values: "ClusterRole", "Role"`,
      }];
    }
    if (t.plural === "clusterrolebindings" && ref.kind !== "ClusterRole") {
      return [{
        reason: "FieldValueNotSupported",
        field: "roleRef.kind",
        message: `Unsupported value: "Role": supported values: "ClusterRole"`,
      }];
    }
  }
  return [];
}

/** Defaults and immutability checks on update. */
export function prepareUpdate(
  t: ResourceType,
  obj: KubeObject,
  old: KubeObject,
  alloc: Allocators,
): StatusCause[] {
  if (t.group === "apps" && workloads.has(t.plural)) return prepareWorkload(t, obj, old);
  if (t.group === "" && t.plural === "services") return prepareService(obj, old, alloc);
  if (t.group === "" && t.plural === "secrets") return prepareSecret(obj);
  if (t.group === "" && t.plural === "namespaces") {
    obj.spec = old.spec;
    return [];
  }
  if (t.group === "" && t.plural === "pods") {
    const causes = preparePodSpec(obj);
    const oldSpec = isObject(old.spec) ? old.spec : {};
    const newSpec = isObject(obj.spec) ? obj.spec : {};
    if (oldSpec.nodeName && newSpec.nodeName !== oldSpec.nodeName) {
      causes.push({
        reason: "FieldValueForbidden",
        field: "spec",
        message:
          "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
      });
    }
    return causes;
  }
  if (
    t.group === "rbac.authorization.k8s.io" &&
    (t.plural === "rolebindings" || t.plural === "clusterrolebindings")
  ) {
    if (JSON.stringify(obj.roleRef) !== JSON.stringify(old.roleRef)) {
      return [{
        reason: "FieldValueInvalid",
        field: "roleRef",
        message: `Invalid value: ${JSON.stringify(obj.roleRef)}: cannot change roleRef`,
      }];
    }
  }
  return [];
}

function prepareSecret(obj: KubeObject): StatusCause[] {
  obj.type ??= "Opaque";
  if (isObject(obj.stringData)) {
    const data: JsonObject = isObject(obj.data) ? obj.data : {};
    for (const [k, v] of Object.entries(obj.stringData)) {
      data[k] = btoa(String.fromCharCode(...new TextEncoder().encode(String(v))));
    }
    obj.data = data;
    delete obj.stringData;
  }
  return [];
}

function preparePodSpec(obj: KubeObject): StatusCause[] {
  if (!isObject(obj.spec)) return [req("spec.containers")];
  const spec = obj.spec;
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (containers.length === 0) return [req("spec.containers")];
  const causes: StatusCause[] = [];
  containers.forEach((c, i) => {
    if (!isObject(c) || typeof c.name !== "string" || c.name === "") {
      causes.push(req(`spec.containers[${i}].name`));
    }
    if (!isObject(c) || typeof c.image !== "string" || c.image === "") {
      causes.push(req(`spec.containers[${i}].image`));
    }
    if (isObject(c)) {
      c.terminationMessagePath ??= "/dev/termination-log";
      c.terminationMessagePolicy ??= "File";
      c.imagePullPolicy ??=
        typeof c.image === "string" && (c.image.endsWith(":latest") || !c.image.includes(":"))
          ? "Always"
          : "IfNotPresent";
      if (Array.isArray(c.ports)) {
        for (const p of c.ports) if (isObject(p)) p.protocol ??= "TCP";
      }
    }
  });
  spec.restartPolicy ??= "Always";
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.serviceAccountName ??= "default";
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= "PreemptLowerPriority";
  return causes;
}

function preparePod(obj: KubeObject): StatusCause[] {
  const causes = preparePodSpec(obj);
  obj.status = { phase: "Pending", qosClass: "BestEffort" };
  return causes;
}

function prepareService(
  obj: KubeObject,
  old: KubeObject | undefined,
  alloc: Allocators,
): StatusCause[] {
  if (!isObject(obj.spec)) obj.spec = {};
  const spec = obj.spec as JsonObject;
  const oldSpec = old && isObject(old.spec) ? old.spec : undefined;
  const causes: StatusCause[] = [];
  spec.type ??= "ClusterIP";
  if (!["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].includes(String(spec.type))) {
    causes.push({
      reason: "FieldValueNotSupported",
      field: "spec.type",
      message: `Unsupported value: ${
        JSON.stringify(spec.type)
      }: supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
    });
    return causes;
  }
  spec.sessionAffinity ??= "None";
  if (spec.type !== "ExternalName") {
    if (oldSpec && typeof oldSpec.clusterIP === "string" && oldSpec.clusterIP !== "") {
      if (spec.clusterIP === undefined || spec.clusterIP === "") spec.clusterIP = oldSpec.clusterIP;
      else if (spec.clusterIP !== oldSpec.clusterIP) {
        causes.push({
          reason: "FieldValueInvalid",
          field: "spec.clusterIPs[0]",
          message: `Invalid value: ${JSON.stringify(spec.clusterIP)}: may not change once set`,
        });
      }
    } else if (spec.clusterIP === undefined || spec.clusterIP === "") {
      spec.clusterIP = alloc.allocateClusterIP();
    } else if (spec.clusterIP !== "None" && alloc.clusterIPInUse(String(spec.clusterIP))) {
      causes.push({
        reason: "FieldValueInvalid",
        field: "spec.clusterIPs",
        message: `Invalid value: [${
          JSON.stringify(spec.clusterIP)
        }]: failed to allocate IP ${spec.clusterIP}: provided IP is already allocated`,
      });
    }
    spec.clusterIPs = [spec.clusterIP];
    if (spec.clusterIP !== "None") {
      spec.ipFamilies ??= [String(spec.clusterIP).includes(":") ? "IPv6" : "IPv4"];
      spec.ipFamilyPolicy ??= "SingleStack";
    }
    spec.internalTrafficPolicy ??= "Cluster";
  }
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  const wantsNodePort = spec.type === "NodePort" ||
    (spec.type === "LoadBalancer" && spec.allocateLoadBalancerNodePorts !== false);
  ports.forEach((p, i) => {
    if (!isObject(p)) return;
    if (typeof p.port !== "number") causes.push(req(`spec.ports[${i}].port`));
    p.protocol ??= "TCP";
    p.targetPort ??= p.port;
    if (wantsNodePort && p.nodePort === undefined) {
      const prev = Array.isArray(oldSpec?.ports)
        ? oldSpec.ports.find((o) => isObject(o) && o.port === p.port && o.protocol === p.protocol)
        : undefined;
      p.nodePort = isObject(prev) && typeof prev.nodePort === "number"
        ? prev.nodePort
        : alloc.allocateNodePort();
    }
  });
  if (ports.length > 1) {
    ports.forEach((p, i) => {
      if (isObject(p) && (p.name === undefined || p.name === "")) {
        causes.push(req(`spec.ports[${i}].name`));
      }
    });
  }
  if (spec.type === "LoadBalancer" || spec.type === "NodePort") {
    spec.externalTrafficPolicy ??= "Cluster";
  }
  if (spec.type === "LoadBalancer") spec.allocateLoadBalancerNodePorts ??= true;
  if (!old) obj.status = { loadBalancer: {} };
  return causes;
}
