/**
 * CustomResourceDefinitions: validation of the definition itself, the resource types it
 * serves, and the status the server writes back (`Established`, `NamesAccepted`).
 */

import type { StatusCause } from "./errors.ts";
import { type PrinterColumn, type ResourceType, storageKeyOf } from "./resource_types.ts";
import { isObject, type JsonObject, type KubeObject } from "./types.ts";

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Field causes for a CRD that cannot be served. */
export function validateCrd(crd: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = isObject(crd.spec) ? crd.spec : {};
  const names = isObject(spec.names) ? spec.names : {};
  const group = str(spec.group);
  const plural = str(names.plural);
  const required = (field: string) =>
    causes.push({ reason: "FieldValueRequired", message: "Required value", field });
  if (!group) required("spec.group");
  else if (!group.includes(".")) {
    causes.push({
      reason: "FieldValueInvalid",
      field: "spec.group",
      message: `Invalid value: "${group}": should be a domain with at least one dot`,
    });
  }
  if (!plural) required("spec.names.plural");
  if (!str(names.kind)) required("spec.names.kind");
  if (!str(names.listKind) && !str(names.kind)) required("spec.names.listKind");
  const scope = spec.scope;
  if (scope !== "Namespaced" && scope !== "Cluster") {
    causes.push({
      reason: "FieldValueNotSupported",
      field: "spec.scope",
      message: `Unsupported value: ${
        JSON.stringify(scope ?? "")
      }: supported values: "Cluster", "Namespaced"`,
    });
  }
  if (group && plural && crd.metadata.name !== `${plural}.${group}`) {
    causes.push({
      reason: "FieldValueInvalid",
      field: "metadata.name",
      message: `Invalid value: "${crd.metadata.name}": must be spec.names.plural+"."+spec.group`,
    });
  }
  const versions = Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [];
  if (versions.length === 0) required("spec.versions");
  const storage = versions.filter((v) => v.storage === true).length;
  if (versions.length > 0 && storage !== 1) {
    causes.push({
      reason: "FieldValueInvalid",
      field: "spec.versions",
      message: `Invalid value: ${
        JSON.stringify(versions.map((v) => v.name))
      }: must have exactly one version marked as storage version`,
    });
  }
  versions.forEach((v, i) => {
    if (!str(v.name)) required(`spec.versions[${i}].name`);
    const schema = isObject(v.schema) ? v.schema.openAPIV3Schema : undefined;
    if (!isObject(schema)) required(`spec.versions[${i}].schema.openAPIV3Schema`);
    else if (schema.type !== "object") {
      causes.push({
        reason: "FieldValueInvalid",
        field: `spec.versions[${i}].schema.openAPIV3Schema.type`,
        message: `Invalid value: ${JSON.stringify(schema.type ?? "")}: must be object at the root`,
      });
    }
  });
  return causes;
}

/** The resource types a CRD serves (one per served version). */
export function crdTypes(crd: KubeObject): ResourceType[] {
  const spec = crd.spec as JsonObject;
  const names = spec.names as JsonObject;
  const group = spec.group as string;
  const plural = names.plural as string;
  const kind = names.kind as string;
  const out: ResourceType[] = [];
  for (const v of (spec.versions as unknown[]).filter(isObject)) {
    if (v.served === false) continue;
    const schema = isObject(v.schema) && isObject(v.schema.openAPIV3Schema)
      ? v.schema.openAPIV3Schema
      : undefined;
    const subresources = isObject(v.subresources) ? v.subresources : {};
    const columns = Array.isArray(v.additionalPrinterColumns)
      ? v.additionalPrinterColumns.filter(isObject).map((c): PrinterColumn => ({
        name: String(c.name ?? ""),
        type: String(c.type ?? "string"),
        jsonPath: String(c.jsonPath ?? ""),
        description: typeof c.description === "string" ? c.description : undefined,
        format: typeof c.format === "string" ? c.format : undefined,
        priority: typeof c.priority === "number" ? c.priority : 0,
      }))
      : [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }];
    out.push({
      group,
      version: String(v.name),
      kind,
      listKind: str(names.listKind) ?? `${kind}List`,
      plural,
      singular: str(names.singular) ?? kind.toLowerCase(),
      namespaced: spec.scope === "Namespaced",
      shortNames: strings(names.shortNames),
      categories: strings(names.categories),
      statusSubresource: isObject(subresources.status),
      storageKey: storageKeyOf(group, plural),
      schema,
      printerColumns: columns,
      crd: crd.metadata.name,
      storage: v.storage === true,
    });
  }
  return out;
}

/** The status the server reports for an accepted CRD. */
export function crdStatus(crd: KubeObject, now: string): JsonObject {
  const spec = crd.spec as JsonObject;
  const names = spec.names as JsonObject;
  const accepted: JsonObject = {
    kind: names.kind,
    listKind: str(names.listKind) ?? `${names.kind}List`,
    plural: names.plural,
    singular: str(names.singular) ?? String(names.kind).toLowerCase(),
  };
  if (strings(names.shortNames).length) accepted.shortNames = strings(names.shortNames);
  if (strings(names.categories).length) accepted.categories = strings(names.categories);
  const storage = (spec.versions as JsonObject[]).filter((v) => v.storage === true).map((v) =>
    v.name
  );
  return {
    acceptedNames: accepted,
    conditions: [
      {
        type: "NamesAccepted",
        status: "True",
        reason: "NoConflicts",
        message: "no conflicts found",
        lastTransitionTime: now,
      },
      {
        type: "Established",
        status: "True",
        reason: "InitialNamesAccepted",
        message: "the initial names have been accepted",
        lastTransitionTime: now,
      },
    ],
    storedVersions: storage,
  };
}

/** Apply the defaults the server sets on a CRD (served/storage flags, listKind, singular). */
export function defaultCrd(crd: KubeObject): void {
  const spec = isObject(crd.spec) ? crd.spec : undefined;
  if (!spec) return;
  const names = isObject(spec.names) ? spec.names : undefined;
  if (names && typeof names.kind === "string") {
    names.listKind ??= `${names.kind}List`;
    names.singular ??= names.kind.toLowerCase();
  }
  if (Array.isArray(spec.versions)) {
    for (const v of spec.versions) if (isObject(v)) v.served ??= true;
  }
  spec.conversion ??= { strategy: "None" };
}
