// Compiles a model for its config (a cache hit when unchanged) and loads it as a ModelRunner. Kept
// apart from compiled-runner.ts so that running a prebuilt artifact never loads the compiler.
import type { LoadedModel } from "../loader/types.ts";
import { compileModel, type CompileOptions } from "./compile-model.ts";
import { CompiledModelRunner, type CompiledRunnerOptions } from "./compiled-runner.ts";

export function createModelRunner(loaded: LoadedModel, options: CompiledRunnerOptions & Pick<CompileOptions, "target" | "kernelPlan" | "kvCacheDtype">): CompiledModelRunner {
  const { addon, program, dtypes, blockSize, rotaryDim } = compileModel(loaded.config, {
    dtype: options.dtype,
    blockSize: options.blockSize,
    target: options.target,
    kernelPlan: options.kernelPlan,
    kvCacheDtype: options.kvCacheDtype,
    onProgress: options.onProgress,
  });
  return CompiledModelRunner.fromArtifact(loaded, { addonPath: addon.path, weights: program.weights, dtypes, blockSize, rotaryDim, buffers: program.buffers }, options);
}
