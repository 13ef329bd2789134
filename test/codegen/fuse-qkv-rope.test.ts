// The fuseQkvRope graph pass on every architecture's test shape: where q, k and v are slices of one
// projection roped with no norm between, each layer runs one ropeKvWrite launch and none of the
// slices, ropes or kvWrite it replaces; Qwen3, Qwen3-MoE, Gemma-3 and OLMo 2 and 3 (q_norm/k_norm before the rope) keep them, and the NoPE layers of SmolLM3 and Cohere2 have no rope to fuse. The
// numbers are the model tests' business (architectures.test.ts, against llama.cpp).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { archNames, architectureConfig } from "../../models/test-shapes.ts";
import { planModel } from "../../runtime/model/compile-model.ts";

const launches = (arch: string) => {
  const config = architectureConfig(arch);
  const comments = planModel(config).source.split("\n").flatMap((l) => l.match(/^ {2}(?:if \(.*\) )?\{ {2}\/\/ (.*)$/)?.[1] ?? []);
  return { comments, layers: config.numHiddenLayers };
};

/** The families that RMS-normalize q and k per head before the rope. */
const qkNormed = ["qwen3", "qwen3_moe", "gemma3", "olmo2", "olmo3"];

/** NoPE layers store k/v unrotated (the test shapes: SmolLM3's layer 1, Cohere2's global layer 3). */
const withNoPeLayers = ["smollm3", "cohere2"];

for (const arch of Object.keys(archNames).filter((a) => !qkNormed.includes(a) && !withNoPeLayers.includes(a) && a !== "exaone4")) {
  test(`${arch}: one fused rope + KV store per layer, no slices, ropes or separate stores`, () => {
    const { comments, layers } = launches(arch);
    assert.is(comments.filter((c) => /^layer \d+: rope (neox|gptj) q, k; store k\/v$/.test(c)).length, layers);
    assert.is(comments.filter((c) => /^slice |^rope |store k\/v$/.test(c) && !c.includes("q, k;")).length, 0, comments.join("\n"));
  });
}

for (const arch of qkNormed) {
  test(`${arch}: q_norm and k_norm sit between the slices and the ropes, so nothing fuses`, () => {
    const { comments, layers } = launches(arch);
    assert.is(comments.filter((c) => c.includes("q, k; store")).length, 0);
    assert.is(comments.filter((c) => c.startsWith("slice ")).length, 3 * layers);
    assert.is(comments.filter((c) => c.startsWith("rope ")).length, 2 * layers);
    assert.is(comments.filter((c) => c.endsWith(": store k/v")).length, layers);
  });
}

test("smollm3: its RoPE layer fuses; its NoPE layer stores k and v straight from the slices", () => {
  const { comments } = launches("smollm3");
  assert.equal(comments.filter((c) => / store k\/v$/.test(c)), ["layer 0: rope neox q, k; store k/v", "layer 1: store k/v"]);
  assert.is(comments.filter((c) => c.startsWith("rope ")).length, 0, "no rope launch for the NoPE layer");
  assert.is(comments.filter((c) => c.startsWith("slice ")).length, 3);
});

test("cohere2: its sliding layers fuse a GPT-J rope; its global layer stores k and v straight from the slices", () => {
  const { comments } = launches("cohere2");
  assert.equal(comments.filter((c) => / store k\/v$/.test(c)), [0, 1, 2].map((l) => `layer ${l}: rope gptj q, k; store k/v`).concat("layer 3: store k/v"));
  assert.is(comments.filter((c) => c.startsWith("rope ")).length, 0);
});

test("exaone4: per-head q/k norms keep its sliding layer's rope apart; its global layer has no rope at all", () => {
  const { comments } = launches("exaone4");
  assert.is(comments.filter((c) => c.startsWith("rope ")).length, 2, "q and k of layer 0 only");
  assert.is(comments.filter((c) => c.endsWith(": store k/v")).length, 2);
  assert.is(comments.filter((c) => c.includes("q, k; store")).length, 0);
});

test.run();
