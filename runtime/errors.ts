/** Typed errors raised by the actor runtime. */

/** An `ask` got no reply within its timeout. */
export class AskTimeoutError extends Error {
  override readonly name = "AskTimeoutError";
  constructor(readonly path: string, readonly timeoutMs: number) {
    super(`Ask to "${path}" got no reply within ${timeoutMs} ms`);
  }
}

/** A message was refused because the target's mailbox was full (overflow policy `fail_sender`). */
export class MailboxFullError extends Error {
  override readonly name = "MailboxFullError";
  constructor(readonly path: string, readonly capacity: number) {
    super(`Mailbox of "${path}" is full (capacity ${capacity})`);
  }
}

/** An `ask` went to an actor that has stopped for good; the message became a dead letter. */
export class ActorStoppedError extends Error {
  override readonly name = "ActorStoppedError";
  constructor(readonly path: string) {
    super(`Actor "${path}" is stopped`);
  }
}

/** The actor crashed while handling the message of an `ask`. */
export class ActorCrashedError extends Error {
  override readonly name = "ActorCrashedError";
  constructor(readonly path: string, override readonly cause: unknown) {
    super(`Actor "${path}" crashed while handling the request: ${describeError(cause)}`);
  }
}

/** A supervisor saw more restarts than its intensity allows and gave up. */
export class RestartIntensityError extends Error {
  override readonly name = "RestartIntensityError";
  constructor(
    readonly path: string,
    readonly maxRestarts: number,
    readonly withinMs: number,
    readonly lastChild: string,
    readonly lastError: string,
  ) {
    super(
      `Supervisor "${path}" exceeded ${maxRestarts} restarts within ${withinMs} ms ` +
        `(last: "${lastChild}": ${lastError})`,
    );
  }
}

/** A child with this id already runs under the supervisor. */
export class DuplicateChildError extends Error {
  override readonly name = "DuplicateChildError";
  constructor(readonly path: string) {
    super(`An actor already runs at "${path}"`);
  }
}

/** No child with this id runs under the supervisor. */
export class UnknownChildError extends Error {
  override readonly name = "UnknownChildError";
  constructor(readonly supervisor: string, readonly id: string) {
    super(`Supervisor "${supervisor}" has no child "${id}"`);
  }
}

/** A child id that cannot be a path segment. */
export class InvalidChildIdError extends Error {
  override readonly name = "InvalidChildIdError";
  constructor(readonly id: string) {
    super(`Invalid actor id "${id}": use letters, digits and . _ : - (no "/")`);
  }
}

/** One line describing any thrown value. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
