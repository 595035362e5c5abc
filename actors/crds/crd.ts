/**
 * The CRD builder: a {@linkcode CrdDefinition} (kind, names, schema of spec and status, printer
 * columns) becomes an apiextensions.k8s.io/v1 CustomResourceDefinition object.
 *
 * @module
 */

import { CATEGORY, GROUP, VERSION } from "./names.ts";
import type { JsonSchema, Schema, ValidationRule } from "./schema.ts";

/** An `additionalPrinterColumns` entry. */
export interface PrinterColumn {
  /** Column header (kubectl upper-cases it). */
  name: string;
  /** Column type. */
  type: "string" | "integer" | "number" | "boolean" | "date";
  /** JSONPath into the object. */
  jsonPath: string;
  /** Column description. */
  description?: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority?: number;
}

/** Everything needed to generate one CRD. */
export interface CrdDefinition<Spec = unknown, Status = unknown> {
  /** Kind, e.g. AddressPool. */
  kind: string;
  /** Plural resource name, e.g. addresspools. */
  plural: string;
  /** Singular resource name. */
  singular: string;
  /** Short names for kubectl. */
  shortNames: string[];
  /** Cluster or Namespaced. */
  scope: "Cluster" | "Namespaced";
  /** What the resource is for (top of its schema and docs). */
  description: string;
  /** Spec schema. */
  spec: Schema<Spec>;
  /** Status schema (gets a status subresource). */
  status: Schema<Status>;
  /** Printer columns (AGE is added last). */
  columns: PrinterColumn[];
  /** Rules on the whole object (e.g. on metadata.name). */
  rootValidations?: ValidationRule[];
}

/** The CRD object name: `<plural>.<group>`. */
export function crdName(def: CrdDefinition): string {
  return `${def.plural}.${GROUP}`;
}

/** Builds the CustomResourceDefinition object of a definition. */
export function toCrd(def: CrdDefinition): Record<string, unknown> {
  const root: JsonSchema = {
    type: "object",
    description: def.description,
    properties: {
      apiVersion: { type: "string", description: "APIVersion of the object (tern.dev/v1alpha1)." },
      kind: { type: "string", description: `Kind of the object (${def.kind}).` },
      metadata: { type: "object" },
      spec: def.spec.json,
      status: def.status.json,
    },
    required: ["spec"],
  };
  if (def.rootValidations?.length) root["x-kubernetes-validations"] = def.rootValidations;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: crdName(def),
      labels: { "app.kubernetes.io/name": "tern", "app.kubernetes.io/part-of": "tern" },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      scope: def.scope,
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          ...def.columns,
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
        ],
        schema: { openAPIV3Schema: root },
      }],
    },
  };
}
