// Compiles a model for its config (a cache hit when unchanged, and no compiling at all when its
// artifact is remembered) and loads it as a ModelRunner. Kept apart from compiled-runner.ts so
// that running a prebuilt artifact never loads the compiler.
import type { LoadedModel } from "../loader/types.ts";
import { artifactKey, cachedArtifact } from "./artifact-cache.ts";
import { compileModel, type CompileOptions } from "./compile-model.ts";
import { CompiledModelRunner, type CompiledRunnerOptions } from "./compiled-runner.ts";

export function createModelRunner(loaded: LoadedModel, options: CompiledRunnerOptions & Pick<CompileOptions, "target" | "kernelPlan" | "kvCacheDtype" | "lora">): CompiledModelRunner {
  const compileOptions = { dtype: options.dtype, blockSize: options.blockSize, target: options.target, kernelPlan: options.kernelPlan, kvCacheDtype: options.kvCacheDtype, ...(options.lora ? { lora: options.lora } : {}), ...(options.pooling ? { pooling: true } : {}) };
  const artifact = cachedArtifact(artifactKey(loaded.config, compileOptions), () => {
    const { addon, program, dtypes, blockSize, rotaryDim } = compileModel(loaded.config, { ...compileOptions, onProgress: options.onProgress });
    return { addonPath: addon.path, weights: program.weights, dtypes, blockSize, rotaryDim, buffers: program.buffers };
  });
  return CompiledModelRunner.fromArtifact(loaded, artifact, options);
}
