/** The controller role's flags, pure. */
import { InvalidFlagError } from "../../runtime/mod.ts";
import { LOAD_BALANCER_CLASS } from "../crds/names.ts";

/** Parsed controller flags. */
export interface ControllerFlags {
  kubeconfig?: string;
  namespace: string;
  identity?: string;
  leaseDurationMs: number;
  lbClass: string;
  handleClassless: boolean;
  repair: boolean;
  checkMs: number;
  resyncMs: number;
}

/** Parses a duration: `15`, `15s`, `1500ms`, `2m`. */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new InvalidFlagError(flag, value, "expected a duration such as 15s or 1500ms");
  const n = Number(m[1]);
  const ms = m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000;
  if (ms <= 0) throw new InvalidFlagError(flag, value, "must be positive");
  return Math.round(ms);
}

function bool(flag: string, value: string): boolean {
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new InvalidFlagError(flag, value, "expected true or false");
}

/** Parses the role's own flags (after `takeCommonFlags`). */
export function parseControllerFlags(args: string[]): ControllerFlags {
  const f: ControllerFlags = {
    namespace: "tern-system",
    leaseDurationMs: 15_000,
    lbClass: LOAD_BALANCER_CLASS,
    handleClassless: true,
    repair: false,
    checkMs: 60_000,
    resyncMs: 300_000,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    const name = eq >= 0 ? a.slice(0, eq) : a;
    const inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new InvalidFlagError(name, "", "a value is required");
      return v;
    };
    switch (name) {
      case "--kubeconfig":
        f.kubeconfig = value();
        break;
      case "--namespace":
        f.namespace = value();
        break;
      case "--identity":
        f.identity = value();
        break;
      case "--lease-duration":
        f.leaseDurationMs = parseDuration(name, value());
        break;
      case "--lb-class":
        f.lbClass = value();
        break;
      case "--handle-classless":
        f.handleClassless = inline === undefined ? true : bool(name, inline);
        break;
      case "--repair":
        f.repair = inline === undefined ? true : bool(name, inline);
        break;
      case "--check-interval":
        f.checkMs = parseDuration(name, value());
        break;
      case "--resync":
        f.resyncMs = parseDuration(name, value());
        break;
      default:
        throw new InvalidFlagError(name, inline ?? "", "unknown flag");
    }
  }
  if (f.leaseDurationMs < 1000) {
    throw new InvalidFlagError("--lease-duration", `${f.leaseDurationMs}ms`, "at least 1s");
  }
  return f;
}
