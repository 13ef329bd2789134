// A fresh folder under the OS temp dir for one test suite, removed when the suite ends.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Test } from "uvu";

/** Registers before/after hooks on `suite`; call the returned function inside tests for the path. */
export function useTempDir(suite: Test, prefix: string): () => string {
  let dir: string | undefined;
  suite.before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  suite.after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error("the temp dir exists only while the suite runs");
    return dir;
  };
}
