// Model.profile (runtime/native/model.cc): one step with the device's queue marked after every
// kernel launch. On CPU it runs the same generated forward as execute(), so its logits must be
// the same bits, and its launches must be the forward's own, in order: the embedding first, one
// paged attention per layer, and times that add up to no more than the call took.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import type { CompiledModelRunner } from "../../runtime/model/compiled-runner.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { SingleSequence } from "../support/model-driver.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-profile-"));

test("profile gives execute's logits and one timed entry per kernel launch, in launch order", async () => {
  const { hfDir } = writeRandomModel({ arch: "llama", outDir: workDir, seed: 3 });
  const loaded = await loadModel(hfDir);
  const runner = createModelRunner(loaded, { maxNumBatchedTokens: 32, threads: 1 }) as CompiledModelRunner;
  const prompt = Array.from({ length: 21 }, (_, i) => 3 + ((i * 29) % 300));
  const logits = (profiled: boolean) => {
    runner.initializeKvCache(8, 16);
    const seq = new SingleSequence(runner, 16, 8);
    const first = seq.next(prompt, true);
    const decode = seq.next([17], false);
    if (!profiled) return { logits: [runner.execute(first), runner.execute(decode)], launches: [] };
    const started = performance.now();
    const steps = [runner.profile(first), runner.profile(decode)];
    return { logits: steps.map((s) => s.logits), launches: steps.map((s) => s.launches), wall: performance.now() - started };
  };
  const plain = logits(false);
  const profiled = logits(true);
  profiled.logits.forEach((l, i) => assert.equal(Buffer.from(l.buffer).equals(Buffer.from(plain.logits[i].buffer)), true, `step ${i}: the same logits bits`));
  const numLayers = loaded.config.numHiddenLayers;
  for (const launches of profiled.launches) {
    assert.ok(launches.length > numLayers * 5, `${launches.length} launches for ${numLayers} layers`);
    assert.is(launches[0].what, "embedding");
    assert.is(launches.filter((l) => l.what.endsWith(": paged attention")).length, numLayers);
    launches.forEach((l, i) => {
      if (i > 0) assert.ok(l.launch > launches[i - 1].launch, "launch indices increase");
      assert.ok(l.milliseconds >= 0 && Number.isFinite(l.milliseconds), `${l.what}: ${l.milliseconds} ms`);
    });
  }
  const total = profiled.launches.flat().reduce((a, l) => a + l.milliseconds, 0);
  assert.ok(total > 0 && total <= profiled.wall!, `launch times add up to ${total} ms of a ${profiled.wall} ms call`);
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));
test.run();
