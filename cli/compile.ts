// tsvllm compile: builds a model's compiled artifact ahead of time (serve would otherwise build it
// on first start). --model takes the config from a checkpoint; --arch alone compiles the
// architecture at its test shape. --target cuda emits the CUDA sources and compiles them with nvcc.
import { loadModel } from "../runtime/loader/index.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import { compileModel } from "../runtime/model/compile-model.ts";
import { TsvllmError } from "../runtime/errors.ts";
import { architectureConfig } from "../models/test-shapes.ts";
import { dtypeFlag, intFlag, parseFlags } from "./args.ts";

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, {
    arch: { type: "string" },
    model: { type: "string" },
    target: { type: "string", default: "cpu" },
    dtype: { type: "string" },
    "block-size": { type: "string" },
    quant: { type: "string" },
  });
  if (values.quant) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--quant ${values.quant}: quantized model compilation is not available yet`, "quant");
  let config: ModelConfig;
  if (values.model) config = (await loadModel(values.model)).config;
  else if (values.arch) config = architectureConfig(values.arch);
  else throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "tsvllm compile needs --arch <name> or --model <path>", "arch");
  const target = values.target;
  if (target !== "cpu" && target !== "cuda") throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--target must be cpu or cuda, got "${target}"`, "target");
  const started = performance.now();
  const compiled = compileModel(config, {
    dtype: dtypeFlag(values.dtype),
    blockSize: intFlag(values["block-size"], "block-size", 16),
    target,
    onProgress: (m: string) => process.stderr.write(`tsvllm compile: ${m}\n`),
  });
  const a = compiled.addon;
  const where = target === "cuda" ? "CUDA (sm_80, sm_90a)" : "CPU";
  process.stdout.write(`compiled ${a.kernelCount} kernels + forward pass of ${config.architecture} for ${where} (${compiled.dtypes.weight} weights) in ${((performance.now() - started) / 1000).toFixed(1)} s${a.cacheHit ? " (cache hit)" : ""}\n${a.path}\n`);
}
