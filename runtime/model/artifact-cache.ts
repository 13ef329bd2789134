// Compiled-model artifacts remembered by what they were compiled from, so a server that starts
// again on the same model skips tracing, the graph passes and emitting the forward pass (1.5 s
// on TinyLlama, cold) and only checks its addon is still there. The key covers the model config,
// the compile options and every source the compiler or the addon is made from, so editing any of
// them compiles afresh; the addon cache (codegen/build/addon.ts) then decides what to rebuild.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { generatedDir, repoRoot } from "../../codegen/build/paths.ts";
import type { ModelConfig } from "../loader/types.ts";
import type { ModelArtifact } from "./compiled-runner.ts";

/** What compiled code can depend on: the compiler, kernels, models, runtime (its native core too) and the pinned packages. */
const sourceRoots = ["codegen", "dsl", "models", "runtime", "package-lock.json"];

let sourcesHash: string | undefined;

function hashSources(): string {
  if (sourcesHash !== undefined) return sourcesHash;
  const h = createHash("sha256");
  const visit = (relative: string) => {
    const full = path.join(repoRoot, relative);
    if (!fs.existsSync(full)) return;
    if (fs.statSync(full).isDirectory()) {
      for (const entry of fs.readdirSync(full).sort()) visit(path.join(relative, entry));
      return;
    }
    h.update(relative).update(fs.readFileSync(full));
  };
  for (const root of sourceRoots) visit(root);
  sourcesHash = h.digest("hex");
  return sourcesHash;
}

/** The cache key of a model compiled with these options from the sources as they are now. */
export function artifactKey(config: ModelConfig, compileOptions: object): string {
  return createHash("sha256").update(JSON.stringify({ config, compileOptions })).update(hashSources()).digest("hex").slice(0, 20);
}

const artifactPath = (key: string) => path.join(generatedDir, "artifacts", `${key}.json`);

function readArtifact(key: string): ModelArtifact | undefined {
  try {
    const artifact = JSON.parse(fs.readFileSync(artifactPath(key), "utf8")) as ModelArtifact;
    return typeof artifact.addonPath === "string" && fs.existsSync(artifact.addonPath) && Array.isArray(artifact.weights) ? artifact : undefined;
  } catch {
    return undefined;
  }
}

/** The artifact remembered under key (whose addon still exists), else compile()'s, remembered for next time. */
export function cachedArtifact(key: string, compile: () => ModelArtifact): ModelArtifact {
  const cached = readArtifact(key);
  if (cached) return cached;
  const artifact = compile();
  const file = artifactPath(key);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Written whole, then renamed: a server starting beside this one never reads half a file.
  const partial = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(partial, JSON.stringify(artifact));
  fs.renameSync(partial, file);
  return artifact;
}
