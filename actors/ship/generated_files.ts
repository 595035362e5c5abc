/**
 * Generated files kept in the repository (CRDs, their docs, RBAC manifests): which of them
 * differ on disk from what their generator renders. Shared by `actors/crds/generate.ts` and
 * `actors/ship/generate.ts`.
 *
 * @module
 */

/**
 * Paths (relative to `root`) of `files` (path → rendered content) whose content on disk
 * differs, a missing file included.
 */
export async function staleOnDisk(root: string, files: Map<string, string>): Promise<string[]> {
  const stale: string[] = [];
  for (const [path, content] of files) {
    let onDisk: string | undefined;
    try {
      onDisk = await Deno.readTextFile(`${root}/${path}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (onDisk !== content) stale.push(path);
  }
  return stale;
}
