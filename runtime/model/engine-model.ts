// A loaded runner as the engine takes it (runtime/engine/model-loader.ts's LoadedModel): with the
// checkpoint's tokenizer, the addon's sampler and, on CUDA, the KV budget. Apart from
// model-loader.ts so that a prebuilt artifact (the GPU check) gets here without the compiler.
import type { LoadedModel as EngineModel, LLMOptions } from "../engine/model-loader.ts";
import { gpuKvCacheMemoryBytes } from "../engine/kv-cache-sizing.ts";
import type { NativeSamplerAddon } from "../engine/sampler-addon.ts";
import type { LoadedModel } from "../loader/types.ts";
import { loadTokenizer, tokenizerFolder } from "../tokenizer/index.ts";
import type { CompiledModelRunner } from "./compiled-runner.ts";

/**
 * What the engine needs beside a loaded runner: the checkpoint's tokenizer (or tokenizerPath's),
 * the addon's sampler, and on CUDA the KV cache budget, gpuMemoryUtilization of the device less
 * what the model holds.
 */
export async function engineModel(runner: CompiledModelRunner, loaded: LoadedModel, options: LLMOptions): Promise<EngineModel> {
  const dir = options.tokenizerPath !== undefined
    ? await tokenizerFolder(options.tokenizerPath, { revision: options.tokenizerRevision, downloadDir: options.downloadDir })
    : loaded.format === "hf" ? loaded.source : undefined;
  const tokenizer = await loadTokenizer(loaded, dir);
  const samplerAddon = runner.addon as unknown as NativeSamplerAddon;
  if (options.device !== "cuda") return { runner, tokenizer, samplerAddon };
  const { total } = runner.deviceMemory();
  const utilization = options.gpuMemoryUtilization ?? 0.9;
  const kvCacheMemoryBytes = gpuKvCacheMemoryBytes(total, utilization, runner.residentBytes(), runner.config, options.blockSize ?? 16);
  const log = options.logger ?? ((m: string) => process.stderr.write(`${m}\n`));
  log(`CUDA device: ${(total / 2 ** 30).toFixed(1)} GiB; KV cache budget ${(kvCacheMemoryBytes / 2 ** 30).toFixed(2)} GiB at gpuMemoryUtilization ${utilization}`);
  return { runner, tokenizer, samplerAddon, kvCacheMemoryBytes };
}
