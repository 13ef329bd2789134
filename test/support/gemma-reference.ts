// A float64 reference forward pass of Gemma, Gemma-2 and Gemma-3 over one sequence, straight from the Hugging
// Face modeling semantics (no paging, no fusion, no compiler), with the GELU passed in. It lets the
// architecture tests tell apart the two ways tsvllm and llama.cpp can differ: with the exact tanh
// GELU it is what tsvllm must compute; with llama.cpp's CPU GELU (an f16 lookup table) it is what
// llama.cpp computes, so it shows that the table is the only difference between the two.
import { float16 } from "../../dsl/dtype.ts";
import { tensorToF32 } from "../../runtime/loader/convert.ts";
import type { LoadedModel } from "../../runtime/loader/types.ts";

export type Gelu = (x: number) => number;

/** gelu_pytorch_tanh, as transformers computes it. */
export const geluTanh: Gelu = (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/**
 * ggml's CPU GELU (built with GGML_GELU_FP16): x rounded to f16 indexes a table of f16 results of
 * its f32 formula 0.5x(1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))); inputs beyond +-10 bypass it.
 */
export const llamaCppGelu: Gelu = (x) => {
  if (x <= -10) return 0;
  if (x >= 10) return x;
  const f = Math.fround;
  const h = float16.round(x);
  return float16.round(f(f(0.5 * h) * f(1 + f(Math.tanh(f(f(0.7978845608028654 * h) * f(1 + f(f(0.044715 * h) * h))))))));
};

type Rows = Float64Array[];

export function gemmaReference(model: LoadedModel, ids: readonly number[], gelu: Gelu): Rows {
  const c = model.config;
  const gemma3 = c.architecture === "Gemma3ForCausalLM";
  // Gemma-3 has Gemma-2's layout (sandwich norms, query_pre_attn_scalar).
  const gemma2 = c.architecture === "Gemma2ForCausalLM" || gemma3;
  const weight = (name: string) => Float64Array.from(tensorToF32(model.tensors.get(name)!));
  const linear = (x: Rows, name: string): Rows => {
    const w = weight(name);
    const inFeatures = x[0].length;
    return x.map((row) => Float64Array.from({ length: w.length / inFeatures }, (_, n) => row.reduce((s, v, k) => s + v * w[n * inFeatures + k], 0)));
  };
  /** (1 + w) RMSNorm over each `size` values of a row: the hidden state, or Gemma-3's q/k heads. */
  const norm = (x: Rows, name: string, size = x[0].length): Rows => {
    const w = weight(name);
    return x.map((row) =>
      row.map((v, i) => {
        const group = row.subarray(i - (i % size), i - (i % size) + size);
        const inv = 1 / Math.sqrt(group.reduce((s, g) => s + g * g, 0) / size + c.rmsNormEps);
        return v * inv * (1 + w[i % size]);
      }),
    );
  };
  const add = (a: Rows, b: Rows): Rows => a.map((row, t) => row.map((v, i) => v + b[t][i]));
  const { headDim, numAttentionHeads: heads, numKeyValueHeads: kvHeads } = c;
  /** Gemma-3's sliding layers rotate by rope_local_base_freq, its global ones by rope_theta divided by a linear factor. */
  const sliding = (layer: number) => (gemma3 ? c.layerTypes![layer] === "sliding_attention" : gemma2 && layer % 2 === 0);
  const rope = (x: Rows, numHeads: number, layer: number) => {
    const half = headDim / 2;
    const local = gemma3 && sliding(layer);
    const theta = local ? c.ropeLocalTheta! : c.ropeTheta;
    const factor = !local && c.ropeScaling?.ropeType === "linear" ? c.ropeScaling.factor : 1;
    x.forEach((row, position) => {
      for (let h = 0; h < numHeads; h++) {
        for (let i = 0; i < half; i++) {
          const angle = (position * theta ** (-(2 * i) / headDim)) / factor;
          const [a, b] = [row[h * headDim + i], row[h * headDim + i + half]];
          row[h * headDim + i] = a * Math.cos(angle) - b * Math.sin(angle);
          row[h * headDim + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
        }
      }
    });
  };
  const softcap = (v: number, cap: number | null) => (cap ? cap * Math.tanh(v / cap) : v);
  const softmax = (row: Float64Array) => {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const z = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / z);
  };

  const attention = (x: Rows, layer: number): Rows => {
    const p = `model.layers.${layer}.self_attn`;
    let [q, k] = [linear(x, `${p}.q_proj.weight`), linear(x, `${p}.k_proj.weight`)];
    const v = linear(x, `${p}.v_proj.weight`);
    if (gemma3) [q, k] = [norm(q, `${p}.q_norm.weight`, headDim), norm(k, `${p}.k_norm.weight`, headDim)];
    rope(q, heads, layer);
    rope(k, kvHeads, layer);
    const scale = (gemma2 ? c.queryPreAttnScalar! : headDim) ** -0.5;
    const window = sliding(layer) ? c.slidingWindow! : Infinity;
    const out = q.map((qRow, t) => {
      const o = new Float64Array(heads * headDim);
      for (let h = 0; h < heads; h++) {
        const kv = Math.floor(h / (heads / kvHeads)) * headDim;
        const keys = Array.from({ length: t + 1 }, (_, j) => j).filter((j) => t - j < window);
        const scores = Float64Array.from(keys, (j) => {
          const dot = qRow.subarray(h * headDim, (h + 1) * headDim).reduce((s, qv, d) => s + qv * k[j][kv + d], 0);
          return softcap(dot * scale, gemma2 ? c.attnLogitSoftcapping : null);
        });
        softmax(scores).forEach((pj, n) => {
          for (let d = 0; d < headDim; d++) o[h * headDim + d] += pj * v[keys[n]][kv + d];
        });
      }
      return o;
    });
    return linear(out, `${p}.o_proj.weight`);
  };
  const mlp = (x: Rows, layer: number): Rows => {
    const p = `model.layers.${layer}.mlp`;
    const up = linear(x, `${p}.up_proj.weight`);
    return linear(linear(x, `${p}.gate_proj.weight`).map((row, t) => row.map((g, i) => gelu(g) * up[t][i])), `${p}.down_proj.weight`);
  };

  const embedding = weight("model.embed_tokens.weight");
  const hidden = c.hiddenSize;
  let x: Rows = ids.map((id) => embedding.slice(id * hidden, (id + 1) * hidden).map((v) => v * Math.sqrt(hidden)));
  for (let layer = 0; layer < c.numHiddenLayers; layer++) {
    const p = `model.layers.${layer}`;
    if (gemma2) {
      x = add(x, norm(attention(norm(x, `${p}.input_layernorm.weight`), layer), `${p}.post_attention_layernorm.weight`));
      x = add(x, norm(mlp(norm(x, `${p}.pre_feedforward_layernorm.weight`), layer), `${p}.post_feedforward_layernorm.weight`));
    } else {
      x = add(x, attention(norm(x, `${p}.input_layernorm.weight`), layer));
      x = add(x, mlp(norm(x, `${p}.post_attention_layernorm.weight`), layer));
    }
  }
  const logits = linear(norm(x, "model.norm.weight"), "model.embed_tokens.weight");
  return logits.map((row) => softmax(row.map((v) => softcap(v, c.finalLogitSoftcapping))));
}
