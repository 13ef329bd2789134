// A model runner that plays a script, for stop-condition tests where the exact tokens matter:
// the row of the token at position p strongly prefers script[p + 1] (EOS past the end), so a
// prompt equal to the script's first k tokens makes greedy decoding continue with the rest.
import type { ModelInput, ModelRunner, ModelRunnerConfig } from "../../runtime/engine/model-runner.ts";

export class ScriptedModelRunner implements ModelRunner {
  readonly config: ModelRunnerConfig;
  private readonly script: readonly number[];
  private readonly eosTokenId: number;

  constructor(script: readonly number[], vocabSize: number, eosTokenId: number) {
    this.script = script;
    this.eosTokenId = eosTokenId;
    this.config = { vocabSize, maxModelLen: 256, numLayers: 1, numKvHeads: 1, headDim: 4, dtypeBytes: 4 };
  }

  initializeKvCache(): void {}

  execute(input: ModelInput): Float32Array {
    const V = this.config.vocabSize;
    const logits = new Float32Array(input.logitsIndices.length * V);
    input.logitsIndices.forEach((t, row) => {
      const next = this.script[input.positions[t] + 1] ?? this.eosTokenId;
      logits[row * V + next] = 10;
    });
    return logits;
  }
}
