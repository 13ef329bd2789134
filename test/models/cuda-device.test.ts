// `--device cuda` through the default model loader: the model compiles for CUDA (sm_80, sm_90a) and
// the loader asks the device for its memory to size the KV cache from gpuMemoryUtilization. Where
// there is no usable device (CI, this project's machines) that is a clear error naming the device,
// not a misleading allocation failure; where there is one, the budget is a positive number of
// bytes within the device's memory.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TsvllmError } from "../../runtime/errors.ts";
import { loadCompiledModel } from "../../runtime/model/model-loader.ts";

test("device cuda: the KV budget from the device's memory, or a clear no-device error", async () => {
  const messages: string[] = [];
  try {
    const loaded = await loadCompiledModel({ model: "../shared/models/stories260K-hf", device: "cuda", maxNumBatchedTokens: 64, maxNumSeqs: 4, gpuMemoryUtilization: 0.5, logger: (m) => messages.push(m) });
    const total = (loaded.runner as unknown as { deviceMemory(): { total: number } }).deviceMemory().total;
    assert.ok(loaded.kvCacheMemoryBytes! > 0 && loaded.kvCacheMemoryBytes! < 0.5 * total, `${loaded.kvCacheMemoryBytes} bytes of a ${total}-byte device`);
    assert.ok(messages.some((m) => m.startsWith("CUDA device:")), messages.join("\n"));
  } catch (e) {
    assert.ok(e instanceof TsvllmError, String(e));
    assert.is(e.code, "TSVLLM_ERR_NATIVE");
    assert.is(e.param, "device");
    assert.match(e.message, /^no usable CUDA device \(cuda\w+: .+\)$/);
  }
});

test.run();
