// GPTQ checkpoints (AutoGPTQ's layout, dsl/kernels/int4-matmul.ts): a quantized linear `<p>.weight`
// [N, K] is stored as
//   <p>.qweight [K / 8, N] i32: nibble i of qweight[r, n] is the 4-bit value of input k = 8r + i;
//   <p>.qzeros  [K / G, N / 8] i32: nibble n % 8 of qzeros[g, n / 8] is column n's zero point in group g;
//   <p>.scales  [K / G, N] (f16): weight[n, k] = (q[k, n] - zero[k / G, n]) * scale[k / G, n];
//   <p>.g_idx   [K] i32 (optional): the group of each input, k / G unless act-order reorders them.
// "gptq" (v1) files store each zero point minus 1 (mod 16); "gptq_v2" files store it as used.
// AWQ's GEMM layout holds the same values packed along the outputs: qweight [K, N / 8] and qzeros
// [K / G, N / 8], column c of each 8 in nibble (c % 2) * 4 + c / 2; zero points as used; no g_idx.
import { TsvllmError } from "../errors.ts";
import { tensorToF32 } from "./convert.ts";
import type { LoadedModel, LoadedTensor, ModelConfig } from "./types.ts";

const fail = (source: string, name: string, what: string) => new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${source}: tensor "${name}" ${what}`, name);

/** The three tensors of a quantized linear `<base>.weight`, if the checkpoint holds them. */
export function gptqTensors(model: Pick<LoadedModel, "tensors">, base: string): { qweight: LoadedTensor; qzeros: LoadedTensor; scales: LoadedTensor } | undefined {
  const qweight = model.tensors.get(`${base}.qweight`);
  const qzeros = model.tensors.get(`${base}.qzeros`);
  const scales = model.tensors.get(`${base}.scales`);
  return qweight && qzeros && scales ? { qweight, qzeros, scales } : undefined;
}

/** The group size of a linear with `inputs` inputs (group_size -1: one group). */
export const gptqGroupSize = (config: ModelConfig, inputs: number) => config.gptq?.groupSize ?? inputs;

/**
 * Checks every quantized linear's tensors against each other (dtypes, shapes, a plain g_idx) and
 * brings v1 zero points to the values used, so the rest of the engine sees "gptq_v2" only.
 */
export function normalizeGptq(source: string, config: ModelConfig, tensors: Map<string, LoadedTensor>): void {
  const gptq = config.gptq;
  if (!gptq) return;
  for (const name of tensors.keys()) {
    if (!name.endsWith(".qweight")) continue;
    const base = name.slice(0, -".qweight".length);
    const t = gptqTensors({ tensors }, base);
    if (!t) throw fail(source, name, `has no ${base}.qzeros or ${base}.scales beside it`);
    if (gptq.checkpointFormat === "awq") repackAwq(source, t.qweight, t.qzeros);
    const [K8, N] = t.qweight.shape;
    const K = K8 * 8;
    const G = gptqGroupSize(config, K);
    const expect = (tensor: LoadedTensor, dtypes: string[], shape: number[]) => {
      if (!dtypes.includes(tensor.dtype) || tensor.shape.join() !== shape.join()) throw fail(source, tensor.name, `is ${tensor.dtype} [${tensor.shape}], expected ${dtypes.join(" or ")} [${shape}]`);
    };
    expect(t.qweight, ["i32"], [K8, N]);
    if (N % 8 !== 0 || K % G !== 0) throw fail(source, name, `has ${N} outputs and ${K} inputs: outputs must be a multiple of 8 and inputs of the group size ${G}`);
    expect(t.qzeros, ["i32"], [K / G, N / 8]);
    expect(t.scales, ["f16", "bf16", "f32"], [K / G, N]);
    const gIdx = tensors.get(`${base}.g_idx`);
    if (gIdx) {
      expect(gIdx, ["i32"], [K]);
      const groups = gIdx.data as Int32Array;
      for (let k = 0; k < K; k++) if (groups[k] !== Math.floor(k / G)) throw fail(source, gIdx.name, `puts input ${k} in group ${groups[k]}: act-order checkpoints are not supported`);
    }
    if (gptq.checkpointFormat === "gptq") {
      const zeros = t.qzeros.data as Int32Array;
      for (let i = 0; i < zeros.length; i++) {
        let word = 0;
        for (let j = 0; j < 8; j++) word |= (((zeros[i] >>> (4 * j)) + 1) & 15) << (4 * j);
        zeros[i] = word;
      }
    }
  }
  gptq.checkpointFormat = "gptq_v2";
}

/** AWQ's qweight and qzeros to GPTQ's layout (qweight becomes [K / 8, N]; qzeros keeps its shape). */
function repackAwq(source: string, qweight: LoadedTensor, qzeros: LoadedTensor): void {
  const [K, N8] = qweight.shape;
  if (qweight.dtype !== "i32" || qzeros.dtype !== "i32" || qweight.shape.length !== 2 || K % 8 !== 0) throw fail(source, qweight.name, `is ${qweight.dtype} [${qweight.shape}], expected AWQ's i32 [inputs (a multiple of 8), outputs / 8]`);
  const N = N8 * 8;
  const nibble = (c: number) => (c % 2) * 4 + (c >> 1);
  const packed = qweight.data as Int32Array;
  const out = new Int32Array((K / 8) * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) out[(k >> 3) * N + n] |= ((packed[k * N8 + (n >> 3)] >>> (4 * nibble(n & 7))) & 15) << (4 * (k & 7));
  }
  qweight.data = out;
  qweight.shape = [K / 8, N];
  const zeros = qzeros.data as Int32Array;
  for (let i = 0; i < zeros.length; i++) {
    let word = 0;
    for (let c = 0; c < 8; c++) word |= ((zeros[i] >>> (4 * nibble(c))) & 15) << (4 * c);
    zeros[i] = word;
  }
}

/** A quantized linear widened to its f32 weight [N, K] (row n, input k), for kernels that read weights as stored. */
export function widenGptq(model: Pick<LoadedModel, "tensors" | "config">, base: string): Float32Array | undefined {
  const t = gptqTensors(model, base);
  if (!t) return undefined;
  const [K8, N] = t.qweight.shape;
  const K = K8 * 8;
  const G = gptqGroupSize(model.config, K);
  const qweight = t.qweight.data as Int32Array;
  const qzeros = t.qzeros.data as Int32Array;
  const scales = tensorToF32(t.scales);
  const out = new Float32Array(N * K);
  for (let k = 0; k < K; k++) {
    const g = Math.floor(k / G);
    for (let n = 0; n < N; n++) {
      const q = (qweight[(k >> 3) * N + n] >>> (4 * (k & 7))) & 15;
      const zero = (qzeros[g * (N / 8) + (n >> 3)] >>> (4 * (n & 7))) & 15;
      out[n * K + k] = (q - zero) * scales[g * N + n];
    }
  }
  return out;
}
