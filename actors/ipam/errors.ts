/**
 * Typed errors of tern's address management.
 *
 * Every error carries a `code` discriminator (stable, snake_case, usable as a Kubernetes Event
 * reason after conversion) and quotes the offending value in its message. Throwing one never
 * leaves an allocator half-changed: allocators validate first and mutate last.
 *
 * @module
 */

/** Every code an {@linkcode IpamError} can carry. */
export type IpamErrorCode =
  | "invalid_address"
  | "invalid_cidr"
  | "invalid_range"
  | "invalid_block_size"
  | "family_mismatch"
  | "address_overflow"
  | "invalid_pool"
  | "overlapping_pools"
  | "duplicate_auto_pool"
  | "pool_exhausted"
  | "unknown_pool"
  | "pool_type_mismatch"
  | "pool_not_allowed"
  | "address_outside_pools"
  | "address_taken"
  | "address_not_allocated"
  | "block_conflict"
  | "unknown_block"
  | "bad_annotation"
  | "family_unavailable";

/** Base class of every address-management error. */
export abstract class IpamError extends Error {
  /** Stable discriminator of the failure. */
  abstract readonly code: IpamErrorCode;
  /** The value the failure is about (as given), for logs and Events. */
  readonly value: string;

  constructor(message: string, value: string) {
    super(message);
    this.value = value;
  }

  /** A CamelCase reason suitable for a Kubernetes Event or condition (e.g. `PoolExhausted`). */
  get reason(): string {
    return this.code.split("_").map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  }
}

/** An IP address could not be parsed. */
export class InvalidAddressError extends IpamError {
  override readonly name = "InvalidAddressError";
  readonly code = "invalid_address" as const;
  constructor(value: string, detail: string) {
    super(`Invalid IP address ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** A CIDR could not be parsed or is not canonical (host bits set). */
export class InvalidCidrError extends IpamError {
  override readonly name = "InvalidCidrError";
  readonly code = "invalid_cidr" as const;
  constructor(value: string, detail: string) {
    super(`Invalid CIDR ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** An explicit range `first-last` could not be parsed. */
export class InvalidRangeError extends IpamError {
  override readonly name = "InvalidRangeError";
  readonly code = "invalid_range" as const;
  constructor(value: string, detail: string) {
    super(`Invalid address range ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** A block size (prefix length of blocks) does not fit its pool. */
export class InvalidBlockSizeError extends IpamError {
  override readonly name = "InvalidBlockSizeError";
  readonly code = "invalid_block_size" as const;
  constructor(value: string, detail: string) {
    super(`Invalid block size ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** Two values of different IP families were combined. */
export class FamilyMismatchError extends IpamError {
  override readonly name = "FamilyMismatchError";
  readonly code = "family_mismatch" as const;
  constructor(value: string, detail: string) {
    super(`IP family mismatch for ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** Address arithmetic left the address space. */
export class AddressOverflowError extends IpamError {
  override readonly name = "AddressOverflowError";
  readonly code = "address_overflow" as const;
  constructor(value: string, detail: string) {
    super(`Address arithmetic overflow at ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** A pool definition is invalid as a whole (empty, mixed types, bad options). */
export class InvalidPoolError extends IpamError {
  override readonly name = "InvalidPoolError";
  readonly code = "invalid_pool" as const;
  constructor(value: string, detail: string) {
    super(`Invalid address pool ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** Two pools share addresses. */
export class OverlappingPoolsError extends IpamError {
  override readonly name = "OverlappingPoolsError";
  readonly code = "overlapping_pools" as const;
  /** The pool that already holds the addresses. */
  readonly other: string;
  constructor(value: string, other: string, detail: string) {
    super(
      `Address pool ${JSON.stringify(value)} overlaps pool ${JSON.stringify(other)}: ${detail}`,
      value,
    );
    this.other = other;
  }
}

/** A second auto-assign pool for the same type and family. */
export class DuplicateAutoPoolError extends IpamError {
  override readonly name = "DuplicateAutoPoolError";
  readonly code = "duplicate_auto_pool" as const;
  /** The pool that is already the auto pool. */
  readonly other: string;
  constructor(value: string, other: string, detail: string) {
    super(
      `Address pool ${
        JSON.stringify(value)
      } cannot auto-assign: ${detail} already auto-assigns in ${JSON.stringify(other)}`,
      value,
    );
    this.other = other;
  }
}

/** No free block or address is left. */
export class PoolExhaustedError extends IpamError {
  override readonly name = "PoolExhaustedError";
  readonly code = "pool_exhausted" as const;
  constructor(value: string, detail: string) {
    super(`Address pool ${JSON.stringify(value)} is exhausted: ${detail}`, value);
  }
}

/** A pool name that does not exist. */
export class UnknownPoolError extends IpamError {
  override readonly name = "UnknownPoolError";
  readonly code = "unknown_pool" as const;
  constructor(value: string, detail = "no such pool") {
    super(`Unknown address pool ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** A pool of the wrong type (pod versus service) was named. */
export class PoolTypeMismatchError extends IpamError {
  override readonly name = "PoolTypeMismatchError";
  readonly code = "pool_type_mismatch" as const;
  constructor(value: string, detail: string) {
    super(`Address pool ${JSON.stringify(value)} has the wrong type: ${detail}`, value);
  }
}

/** A pool's namespace or service selector excludes the requester. */
export class PoolNotAllowedError extends IpamError {
  override readonly name = "PoolNotAllowedError";
  readonly code = "pool_not_allowed" as const;
  constructor(value: string, detail: string) {
    super(`Address pool ${JSON.stringify(value)} is not allowed here: ${detail}`, value);
  }
}

/** A requested address lies in no pool. */
export class AddressOutsidePoolsError extends IpamError {
  override readonly name = "AddressOutsidePoolsError";
  readonly code = "address_outside_pools" as const;
  constructor(value: string, detail = "it is in no address pool") {
    super(`Requested address ${JSON.stringify(value)} cannot be used: ${detail}`, value);
  }
}

/** A requested address is already held (and cannot be shared). */
export class AddressTakenError extends IpamError {
  override readonly name = "AddressTakenError";
  readonly code = "address_taken" as const;
  /** Who holds the address. */
  readonly holder: string;
  constructor(value: string, holder: string, detail = "") {
    super(
      `Address ${JSON.stringify(value)} is already held by ${JSON.stringify(holder)}${
        detail ? `: ${detail}` : ""
      }`,
      value,
    );
    this.holder = holder;
  }
}

/** An address to release was not allocated. */
export class AddressNotAllocatedError extends IpamError {
  override readonly name = "AddressNotAllocatedError";
  readonly code = "address_not_allocated" as const;
  constructor(value: string, detail = "it is not allocated") {
    super(`Address ${JSON.stringify(value)} cannot be released: ${detail}`, value);
  }
}

/** An existing block conflicts with the pool or with another block. */
export class BlockConflictError extends IpamError {
  override readonly name = "BlockConflictError";
  readonly code = "block_conflict" as const;
  constructor(value: string, detail: string) {
    super(`Address block ${JSON.stringify(value)} conflicts: ${detail}`, value);
  }
}

/** A block that does not exist. */
export class UnknownBlockError extends IpamError {
  override readonly name = "UnknownBlockError";
  readonly code = "unknown_block" as const;
  constructor(value: string, detail = "no such block") {
    super(`Unknown address block ${JSON.stringify(value)}: ${detail}`, value);
  }
}

/** A tern annotation could not be understood. */
export class BadAnnotationError extends IpamError {
  override readonly name = "BadAnnotationError";
  readonly code = "bad_annotation" as const;
  /** The annotation key. */
  readonly key: string;
  constructor(key: string, value: string, detail: string) {
    super(`Bad annotation ${key}=${JSON.stringify(value)}: ${detail}`, value);
    this.key = key;
  }
}

/** A requested IP family has no pool to allocate from. */
export class FamilyUnavailableError extends IpamError {
  override readonly name = "FamilyUnavailableError";
  readonly code = "family_unavailable" as const;
  constructor(value: string, detail: string) {
    super(`No address of family ${JSON.stringify(value)} available: ${detail}`, value);
  }
}
