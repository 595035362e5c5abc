/** Starting per-object actors under a supervisor. */
import {
  type ActorRef,
  type ChildSpec,
  DuplicateChildError,
  type SupervisorHandle,
} from "../../runtime/mod.ts";

/**
 * Starts a child; if an actor of the same id is still finishing (an object deleted and created
 * again at once), waits for it to go first (up to about a second).
 */
export async function startChild<M>(sup: SupervisorHandle, spec: ChildSpec): Promise<ActorRef<M>> {
  for (let attempt = 0;; attempt++) {
    try {
      return await sup.startChild<M>(spec);
    } catch (e) {
      if (!(e instanceof DuplicateChildError) || attempt >= 100) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
