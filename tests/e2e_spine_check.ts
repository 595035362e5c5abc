/** Checks shared by the spine-configuration tests: FRR and BIRD accept what the sim generates. */
import assert from "node:assert/strict";
import type { makePlan } from "../actors/sim/plan.ts";
import { zebraConfig } from "../actors/sim/spine_config.ts";
import { run } from "../actors/sim/exec.ts";

/** Writes `bird` and `frr` into `dir` and asserts `bird -p` and `bgpd -C` accept them. */
export async function assertSpinesAccept(
  dir: string,
  plan: ReturnType<typeof makePlan>,
  frr: string,
  bird: string,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/bird.conf`, bird);
  const b = await run(["bird", "-p", "-c", `${dir}/bird.conf`], { check: false });
  assert.equal(b.code, 0, `bird -p: ${b.stderr}`);
  await Deno.writeTextFile(`${dir}/frr.conf`, frr);
  await Deno.writeTextFile(`${dir}/zebra.conf`, zebraConfig(plan.spines[0], `${dir}/z.log`));
  await Deno.chmod(dir, 0o777);
  const f = await run([
    "/usr/lib/frr/bgpd",
    ...["-C", "-f", `${dir}/frr.conf`, "-u", "frr", "-g", "frr", "--vty_socket", dir],
    ...["-z", `${dir}/zs`, "-i", `${dir}/x.pid`],
  ], { check: false });
  assert.equal(f.code, 0, `bgpd -C: ${f.stdout}${f.stderr}`);
}
