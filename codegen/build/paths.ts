import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "../..");
export const generatedDir = path.join(repoRoot, "generated");
export const preludeDir = path.join(repoRoot, "codegen/prelude");
export const nativeDir = path.join(repoRoot, "runtime/native");
