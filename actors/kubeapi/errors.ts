/**
 * Kubernetes API errors as real `Status` objects.
 *
 * Every failure the server answers with is an {@link ApiError}: it carries the HTTP code, the
 * machine-readable `reason` (the discriminator clients switch on) and the `details` the real
 * kube-apiserver puts in its `Status` body, so client libraries and kubectl print the same
 * messages they print against a real cluster.
 */

/** The `reason` values of a failed `Status`, as the real API server uses them. */
export type StatusReason =
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Gone"
  | "Expired"
  | "Invalid"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "UnsupportedMediaType"
  | "RequestEntityTooLarge"
  | "TooManyRequests"
  | "InternalError"
  | "Timeout"
  | "ServiceUnavailable";

/** One cause of an `Invalid` (or conflict) status. */
export interface StatusCause {
  /** e.g. `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`. */
  reason: string;
  /** Human readable message for this cause. */
  message: string;
  /** The path of the offending field, e.g. `spec.replicas`. */
  field?: string;
}

/** The `details` of a `Status`. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** The JSON shape of a `Status` object. */
export interface StatusObject {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** An API failure: maps one-to-one onto a `Status` response. */
export class ApiError extends Error {
  /** The HTTP status code. */
  readonly code: number;
  /** The Kubernetes reason (the discriminator). */
  readonly reason: StatusReason;
  /** Optional details (name, kind, causes, retryAfterSeconds). */
  readonly details: StatusDetails | undefined;

  /** Build an error from its parts. */
  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** The `Status` object for this error. */
  toStatus(): StatusObject {
    const status: StatusObject = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
  }
}

/** Qualified resource text as the real server prints it: `pods`, `foos.example.com`. */
export function qualifiedResource(group: string, plural: string): string {
  return group ? `${plural}.${group}` : plural;
}

/** 404 NotFound for one object. */
export function notFound(group: string, plural: string, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualifiedResource(group, plural)} "${name}" not found`, {
    name,
    group: group || undefined,
    kind: plural,
  });
}

/** 409 AlreadyExists. */
export function alreadyExists(group: string, plural: string, name: string): ApiError {
  return new ApiError(
    409,
    "AlreadyExists",
    `${qualifiedResource(group, plural)} "${name}" already exists`,
    { name, group: group || undefined, kind: plural },
  );
}

/** 409 Conflict for a stale resourceVersion (or another precondition). */
export function conflict(group: string, plural: string, name: string, why?: string): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(group, plural)} "${name}": ${
      why ??
        "the object has been modified; please apply your changes to the latest version and try again"
    }`,
    { name, group: group || undefined, kind: plural },
  );
}

/** 422 Invalid with field causes. `kind` is the Kind (e.g. `Pod`). */
export function invalid(
  group: string,
  kind: string,
  name: string,
  causes: StatusCause[],
): ApiError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const list = causes.map((c) => c.field ? `${c.field}: ${c.message}` : c.message);
  const body = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
  return new ApiError(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${body}`, {
    name,
    group: group || undefined,
    kind,
    causes,
  });
}

/** 400 BadRequest. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

/** 401 Unauthorized. */
export function unauthorized(): ApiError {
  return new ApiError(401, "Unauthorized", "Unauthorized");
}

/** 403 Forbidden with the real message shape. */
export function forbidden(
  group: string,
  plural: string,
  name: string | undefined,
  why: string,
): ApiError {
  const what = name !== undefined && name !== ""
    ? `${qualifiedResource(group, plural)} "${name}"`
    : qualifiedResource(group, plural);
  return new ApiError(403, "Forbidden", `${what} is forbidden: ${why}`, {
    name: name || undefined,
    group: group || undefined,
    kind: plural,
  });
}

/** 405 MethodNotAllowed. */
export function methodNotAllowed(message: string): ApiError {
  return new ApiError(405, "MethodNotAllowed", message);
}

/** 415 UnsupportedMediaType. */
export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got "${contentType}")`,
  );
}

/** 410 Expired: the requested resourceVersion is older than the kept history. */
export function expired(requested: number, oldest: number): ApiError {
  return new ApiError(410, "Expired", `too old resource version: ${requested} (${oldest})`);
}

/** 500 InternalError. */
export function internalError(message: string): ApiError {
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`, {
    causes: [{ reason: "UnexpectedServerResponse", message }],
  });
}

/** 429 TooManyRequests with a retry delay. */
export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(
    429,
    "TooManyRequests",
    "the server has received too many requests and has asked us to try again later",
    { retryAfterSeconds },
  );
}
