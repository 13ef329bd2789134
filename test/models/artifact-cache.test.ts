// The compiled-artifact cache (runtime/model/artifact-cache.ts): a remembered artifact is used
// without compiling while its addon exists; a corrupt entry or a missing addon compiles again;
// the key follows the model config and the compile options; and a runner made from a remembered
// artifact computes what the freshly compiled one does.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { generatedDir } from "../../codegen/build/paths.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { artifactKey, cachedArtifact } from "../../runtime/model/artifact-cache.ts";
import type { ModelArtifact } from "../../runtime/model/compiled-runner.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { SingleSequence } from "../support/model-driver.ts";

const key = `test-${process.pid}-${Date.now()}`;
const entry = path.join(generatedDir, "artifacts", `${key}.json`);
const addonStandIn = path.join(generatedDir, "artifacts", `${key}.node`);
const artifact: ModelArtifact = { addonPath: addonStandIn, weights: [], dtypes: { activation: "f32", weight: "f32", kvCache: "f32" } as ModelArtifact["dtypes"], blockSize: 16, rotaryDim: 8 };

test.after(() => {
  for (const file of [entry, addonStandIn]) fs.rmSync(file, { force: true });
});

test("a remembered artifact is used without compiling while its addon exists; a corrupt entry or a missing addon compiles again", () => {
  fs.mkdirSync(path.dirname(addonStandIn), { recursive: true });
  fs.writeFileSync(addonStandIn, "");
  let compiles = 0;
  const compile = () => (compiles++, artifact);
  assert.equal(cachedArtifact(key, compile), artifact);
  assert.equal(cachedArtifact(key, compile), artifact);
  assert.is(compiles, 1, "the second call reads the entry");
  fs.writeFileSync(entry, "{ not json");
  cachedArtifact(key, compile);
  assert.is(compiles, 2, "a corrupt entry is compiled again and rewritten");
  cachedArtifact(key, compile);
  assert.is(compiles, 2);
  fs.rmSync(addonStandIn);
  cachedArtifact(key, compile);
  assert.is(compiles, 3, "an entry whose addon is gone is compiled again");
});

test("the key follows the model config and the compile options", async () => {
  const { config } = await loadModel("../shared/models/stories260K-hf");
  const base = artifactKey(config, { blockSize: 16 });
  assert.is(artifactKey(config, { blockSize: 16 }), base);
  assert.is.not(artifactKey(config, { blockSize: 32 }), base);
  assert.is.not(artifactKey({ ...config, rmsNormEps: config.rmsNormEps * 2 }, { blockSize: 16 }), base);
});

test("a runner from a remembered artifact computes what a freshly compiled one does", async () => {
  const loaded = await loadModel("../shared/models/stories260K-hf");
  const options = { maxNumBatchedTokens: 64, threads: 1 };
  const prompt = [1, 403, 407, 261, 378];
  const logits = () => {
    const runner = createModelRunner(loaded, options);
    runner.initializeKvCache(8, 16);
    return new SingleSequence(runner, 16, 8).feed(prompt, true);
  };
  const remembered = path.join(generatedDir, "artifacts", `${artifactKey(loaded.config, {})}.json`);
  fs.rmSync(remembered, { force: true });
  const first = logits();
  assert.ok(fs.existsSync(remembered), "the artifact is remembered");
  assert.equal([...logits()], [...first]);
});

test.run();
