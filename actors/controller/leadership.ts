/**
 * The controller's root: a leader elector over a Lease and the leadership actor, which starts
 * the "controllers" subtree as a dynamic child when this replica starts leading and terminates
 * it at once when it stops. Two replicas never act at once: the elector stops leading when it
 * could not renew within the renew deadline, before the lease can expire for the others.
 */
import {
  actor,
  type ActorDef,
  type ActorRef,
  supervisor,
  type SupervisorDef,
} from "../../runtime/mod.ts";
import { type ElectorMsg, leaderElector } from "../kube/mod.ts";
import type { Api } from "./api.ts";
import { controllers, type ControllersOptions, Readiness } from "./controllers.ts";

/** Messages of the leadership actor. */
export type LeadershipMsg = { type: "leading"; value: boolean } | { type: "sync" };

/** Options of {@link controllerRoot}. */
export interface ControllerRootOptions
  extends Omit<ControllersOptions, "path" | "readiness" | "lookup"> {
  /** Root name (path segment), default `controller`. */
  name?: string;
  api: Api;
  identity: string;
  /** Lease name (default `tern-controller`). */
  leaseName?: string;
  /** Default 15,000 ms. */
  leaseDurationMs?: number;
  /** Shared readiness (for `/readyz`). */
  state: LeaderState;
}

/** Leadership and readiness, for `/readyz` and tests. */
export class LeaderState {
  leading = false;
  readonly readiness: Readiness = new Readiness();
  /** Ready: following, or leading with every domain synced and rebuilt. */
  get ready(): boolean {
    return !this.leading || this.readiness.all;
  }
}

/** The leadership actor. */
export function leadership(
  makeControllers: () => SupervisorDef,
  state: LeaderState,
  onStart?: (lookup: (path: string) => ActorRef<unknown> | undefined) => void,
  electorPath?: string,
): ActorDef<LeadershipMsg> {
  return actor<LeadershipMsg>("leadership", (ctx) => {
    onStart?.((path) => ctx.lookup(path));
    let running = false;
    let transitions = 0;
    // The elector may have decided before this incarnation could hear it: ask.
    ctx.self.tell({ type: "sync" });
    return {
      async receive(msg) {
        if (msg.type === "sync") {
          const elector = electorPath ? ctx.lookup<ElectorMsg>(electorPath) : undefined;
          if (!elector) return;
          const st = await elector.ask<{ leading: boolean; holder: string }>(
            (replyTo) => ({ type: "status", replyTo }),
            { timeoutMs: 10_000 },
          );
          msg = { type: "leading", value: st.leading };
        }
        if (msg.value && !running) {
          state.readiness.reset();
          state.leading = true;
          await ctx.parent!.startChild({
            id: "controllers",
            def: makeControllers(),
            restart: "transient",
          });
          running = true;
          transitions++;
        } else if (!msg.value && running) {
          running = false;
          state.leading = false;
          await ctx.parent!.terminateChild("controllers");
          state.readiness.reset();
          transitions++;
        } else state.leading = msg.value && running;
      },
      inspect: () => ({ leading: running, transitions }),
    };
  });
}

/** The controller role's root supervisor. */
export function controllerRoot(options: ControllerRootOptions): SupervisorDef {
  const name = options.name ?? "controller";
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  // The leadership actor lends its lookup (for the elector and the controllers subtree).
  let lookup: (path: string) => ActorRef<unknown> | undefined = () => undefined;
  const makeControllers = () =>
    controllers({
      ...options,
      path: `/${name}/controllers`,
      readiness: options.state.readiness,
      lookup: (path) => lookup(path),
    });
  return supervisor(name, {
    strategy: "one_for_one",
    intensity: { maxRestarts: 5, withinMs: 30_000 },
    children: [
      {
        id: "elector",
        def: leaderElector({
          client: options.api.client,
          namespace: options.namespace,
          name: options.leaseName ?? "tern-controller",
          identity: options.identity,
          leaseDurationMs,
          renewDeadlineMs: Math.round(leaseDurationMs * 2 / 3),
          retryPeriodMs: Math.max(200, Math.round(leaseDurationMs / 7)),
          onChange: (leading) =>
            (lookup(`/${name}/leadership`) as ActorRef<LeadershipMsg> | undefined)
              ?.tell({ type: "leading", value: leading }),
        }),
      },
      // After the elector, so it stops first: the elector's last word finds nobody to act.
      {
        id: "leadership",
        def: leadership(makeControllers, options.state, (l) => lookup = l, `/${name}/elector`),
      },
    ],
  });
}
