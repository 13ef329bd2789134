// Runs on the GPU machine (bundled into .gpu/main.mjs by prepare.ts, with the bundled Node):
//   kernels             every case in kernel-cases.ts: CUDA vs the DSL reference, then timings
//   model DIR NAME [B P O]  one load of a compiled CUDA model: teacher-forced logits vs
//                       transformers' (ref file written by make_models.py), then (when B > 0)
//                       batch-1 decode tokens/s (replaying CUDA graphs, and eager for comparison)
//                       and batched greedy output tokens/s
//   serve DIR NAME      the OpenAI server on the prebuilt model (KV cache from
//                       gpuMemoryUtilization 0.9): seconds from process start to ready, then
//                       to the first completion
// Prints one JSON line per result, so check.sh can collect them.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fromNative, launch, packArguments, toNative, type NativeKernel } from "../../codegen/build/launch.ts";
import type { KernelIR } from "../../codegen/ir/types.ts";
import { Global } from "../../dsl/global.ts";
import { AsyncLLM } from "../../runtime/engine/async-llm.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { CompiledModelRunner, type ModelArtifact } from "../../runtime/model/compiled-runner.ts";
import { engineModel } from "../../runtime/model/engine-model.ts";
import { nativeTensorMemory, type HostMemoryAddon } from "../../runtime/model/weights.ts";
import { createServer } from "../../server/app.ts";
import { cloneArgs } from "../../test/support/kernel-args.ts";
import { BatchedGreedy, SingleSequence } from "../../test/support/model-driver.ts";
import { kernelCases } from "./kernel-cases.ts";

const here = path.resolve(process.argv[1], "..");
const report = (result: Record<string, unknown>) => process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);

interface KernelAddon {
  kernels: Record<string, NativeKernel>;
  /** The optional cuBLASLt baseline (runtime/native/cublaslt_baseline.cc): seconds per GEMM. */
  cublasLtGemm: (x: ArrayBufferView, w: ArrayBufferView, out: ArrayBufferView, T: number, N: number, K: number, dtype: string, iterations: number) => number;
  timeKernel: Record<string, (b: (ArrayBufferView | ArrayBuffer)[], s: number[], d: number[], iterations: number) => number>;
}

function maxError(actual: Global, expected: Global): { abs: number; rel: number } {
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < expected.data.length; i++) {
    abs = Math.max(abs, Math.abs(actual.data[i] - expected.data[i]));
    scale = Math.max(scale, Math.abs(expected.data[i]));
  }
  return { abs, rel: abs / (scale || 1) };
}

function kernels(): void {
  const irs = JSON.parse(fs.readFileSync(path.join(here, "kernels.json"), "utf8")) as KernelIR[];
  const addon = createRequire(import.meta.url)(path.join(here, "gpu_kernels.node")) as KernelAddon;
  kernelCases.forEach((c, i) => attempt({ kind: "kernel", name: c.name }, () => {
    const ir = irs[i];
    const args = c.check();
    const expected = cloneArgs(args);
    (c.reference.reference as (...a: unknown[]) => void)(...expected);
    const actual = cloneArgs(args);
    launch(addon.kernels[ir.symbol], ir, actual);
    const errors = ir.params.flatMap((p, k) => (p.kind === "global" && p.written ? [{ output: p.name, ...maxError(actual[k] as Global, expected[k] as Global) }] : []));
    const result: Record<string, unknown> = { kind: "kernel", name: c.name, symbol: ir.symbol, errors };
    if (c.timing) {
      const t = c.timing();
      const packed = packArguments(ir, t.args);
      const seconds = addon.timeKernel[ir.symbol](packed.buffers, packed.scalars, packed.dims, 20);
      Object.assign(result, { microseconds: seconds * 1e6, bandwidthTBs: t.bytes / seconds / 1e12, tflops: t.flops / seconds / 1e12 });
      if (c.cublasLt) result.cublasLt = cublasLtBaseline(addon, args, expected[2] as Global, t.args, t.flops, seconds);
    }
    report(result);
  }));
}

/** Runs one part of the check; a failure is reported as a result (with what failed) and the rest goes on. */
function attempt(what: Record<string, unknown>, part: () => void): void {
  try {
    part();
  } catch (e) {
    report({ ...what, failed: (e as Error).stack ?? String(e) });
  }
}

/** The same GEMM through cuBLASLt: its error against the reference on the check arguments, its speed on the timing ones, and ours relative to it. */
function cublasLtBaseline(addon: KernelAddon, check: (Global | number)[], expected: Global, timing: (Global | number)[], flops: number, ours: number): Record<string, unknown> {
  const gemm = (args: (Global | number)[], iterations: number) => {
    const [x, w, out] = args.map((a) => a as Global);
    const dtype = x.dtype.name;
    const buffers = [x, w, out].map((g) => toNative(g, dtype));
    const seconds = addon.cublasLtGemm(buffers[0], buffers[1], buffers[2], x.shape[0], w.shape[0], x.shape[1], dtype, iterations);
    fromNative(buffers[2], dtype, out);
    return seconds;
  };
  try {
    const checked = cloneArgs(check);
    gemm(checked, 0);
    const seconds = gemm(cloneArgs(timing), 20);
    return { error: maxError(checked[2] as Global, expected), microseconds: seconds * 1e6, tflops: flops / seconds / 1e12, oursOverCublasLt: seconds / ours };
  } catch (e) {
    return { unavailable: (e as Error).message };
  }
}

async function loadRunner(dir: string, name: string, maxTokens: number, maxNumSeqs: number) {
  const artifact = JSON.parse(fs.readFileSync(path.join(here, "models", `${name}.json`), "utf8")) as ModelArtifact;
  artifact.addonPath = path.join(here, "models", `${name}.node`);
  // Map the checkpoint through the addon, as the serving loader does.
  const host = createRequire(import.meta.url)(artifact.addonPath) as HostMemoryAddon;
  const loaded = await loadModel(dir, nativeTensorMemory(host));
  const options = { maxNumBatchedTokens: maxTokens, maxNumSeqs, maxLogitRows: maxTokens };
  return {
    loaded,
    runner: CompiledModelRunner.fromArtifact(loaded, artifact, options),
    /** The same weights in a runner that launches every kernel (no CUDA graphs), for comparison. */
    eager: () => CompiledModelRunner.fromArtifact(loaded, artifact, { ...options, enforceEager: true }),
  };
}

/** Greedy-shaped batch-1 decode: the prompt, then outputLen single-token steps; tokens/s of the steps and the last step's logits. */
function batch1Decode(runner: CompiledModelRunner, prompt: number[], outputLen: number, numBlocks: number): { tokS: number; logits: Float32Array } {
  runner.initializeKvCache(numBlocks, 16);
  const single = new SingleSequence(runner, 16, numBlocks);
  single.feed(prompt, false);
  let logits: Float32Array = new Float32Array(0);
  const t0 = performance.now();
  for (let i = 0; i < outputLen; i++) logits = single.feed([5 + (i % 100)], false);
  return { tokS: outputLen / ((performance.now() - t0) / 1000), logits };
}

function parity(runner: CompiledModelRunner, dir: string, name: string, loadSeconds: number): void {
  const ref = JSON.parse(fs.readFileSync(path.join(dir, "reference.json"), "utf8")) as { ids: number[]; vocab: number };
  const logitsFile = (file: string) => new Float32Array(fs.readFileSync(path.join(dir, file)).buffer.slice(0));
  runner.initializeKvCache(256, 16);
  const ours = new SingleSequence(runner, 16, 256).feed(ref.ids, true);
  const result: Record<string, unknown> = { kind: "parity", model: name, positions: ref.ids.length, ...compareLogits(ours, logitsFile("reference_logits.f32"), ref.vocab), loadSeconds };
  // A 16-bit checkpoint also has transformers' logits with f32 compute over the same weights: the
  // arithmetic tsvllm does, so the tight comparison.
  if (fs.existsSync(path.join(dir, "reference_logits_f32_compute.f32"))) result.f32Compute = compareLogits(ours, logitsFile("reference_logits_f32_compute.f32"), ref.vocab);
  report(result);
}

function compareLogits(ours: Float32Array, theirs: Float32Array, vocab: number): { maxAbsLogitDiff: number; maxAbsProbDiff: number; argmaxAgree: number } {
  let maxLogit = 0;
  let maxProb = 0;
  let argmaxAgree = 0;
  for (let r = 0; r < theirs.length / vocab; r++) {
    const a = ours.subarray(r * vocab, (r + 1) * vocab);
    const b = theirs.subarray(r * vocab, (r + 1) * vocab);
    const pa = softmax(a);
    const pb = softmax(b);
    let ia = 0;
    let ib = 0;
    for (let v = 0; v < vocab; v++) {
      maxLogit = Math.max(maxLogit, Math.abs(a[v] - b[v]));
      maxProb = Math.max(maxProb, Math.abs(pa[v] - pb[v]));
      if (a[v] > a[ia]) ia = v;
      if (b[v] > b[ib]) ib = v;
    }
    if (ia === ib) argmaxAgree++;
  }
  return { maxAbsLogitDiff: maxLogit, maxAbsProbDiff: maxProb, argmaxAgree };
}

function softmax(row: Float32Array): Float64Array {
  let m = -Infinity;
  for (const x of row) m = Math.max(m, x);
  const e = Float64Array.from(row, (x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

function throughput(runner: CompiledModelRunner, eager: () => CompiledModelRunner, name: string, batch: number, promptLen: number, outputLen: number): void {
  const vocab = runner.config.vocabSize;
  const blocksPerSeq = Math.ceil((promptLen + outputLen) / 16) + 1;
  const numBlocks = batch * blocksPerSeq + 16;
  const prompts = Array.from({ length: batch }, (_, s) => Array.from({ length: promptLen }, (_, i) => (s * 7919 + i * 104729) % (vocab - 10) + 5));
  const graphs = batch1Decode(runner, prompts[0], outputLen, numBlocks);
  const decodeTokS = graphs.tokS;
  // The same kernels in the same order: the graph's last logits must equal the eager run's bits.
  attempt({ kind: "eager decode", model: name }, () => {
    const direct = batch1Decode(eager(), prompts[0], outputLen, numBlocks);
    const maxAbsDiff = direct.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - graphs.logits[i])), 0);
    report({ kind: "eager decode", model: name, batch1DecodeTokS: direct.tokS, withGraphs: decodeTokS, graphVsEagerMaxAbsLogitDiff: maxAbsDiff });
  });
  // batched greedy, fresh cache
  runner.initializeKvCache(numBlocks, 16);
  const driver = new BatchedGreedy(runner, 16, blocksPerSeq);
  const t0 = performance.now();
  const outputs = driver.generate(prompts, outputLen);
  const seconds = (performance.now() - t0) / 1000;
  const generated = outputs.reduce((a, o) => a + o.length, 0);
  report({ kind: "throughput", model: name, batch, promptLen, outputLen, batch1DecodeTokS: decodeTokS, batchedOutputTokS: generated / seconds, batchedSeconds: seconds, firstOutput: outputs[0].slice(0, 8) });
  // Where a decode step's time goes: the cache now holds every sequence's prompt and output.
  for (const S of [1, batch]) attempt({ kind: "profile", model: name, seqs: S }, () => profileDecode(runner, name, S, promptLen + outputLen - 1, blocksPerSeq));
}

/** One decode step of S sequences at `position` (blocks as BatchedGreedy laid them out), profiled per launch and summed per kind of launch. */
function profileDecode(runner: CompiledModelRunner, name: string, S: number, position: number, blocksPerSeq: number): void {
  const input = new BatchedGreedy(runner, 16, blocksPerSeq).input(Array.from({ length: S }, (_, s) => [5 + s]), new Array<number>(S).fill(position + 1));
  runner.profile(input);  // warm-up
  const started = performance.now();
  const { launches } = runner.profile(input);
  const wallMs = performance.now() - started;
  const byKind = new Map<string, { milliseconds: number; launches: number }>();
  for (const l of launches) {
    const kind = l.what.replace(/^layer \d+: /, "").replace(/layers\.\d+\./, "").replace(/model\.|\.weight/g, "");
    const k = byKind.get(kind) ?? { milliseconds: 0, launches: 0 };
    k.milliseconds += l.milliseconds;
    k.launches++;
    byKind.set(kind, k);
  }
  const kernelMs = launches.reduce((a, l) => a + l.milliseconds, 0);
  const top = [...byKind].sort((a, b) => b[1].milliseconds - a[1].milliseconds).map(([kind, v]) => ({ kind, ...v }));
  report({ kind: "profile", model: name, seqs: S, position, launches: launches.length, kernelMs, wallMs, byKind: top });
}

async function model(dir: string, name: string, batch: number, promptLen: number, outputLen: number): Promise<void> {
  const started = performance.now();
  const { runner, eager } = await loadRunner(dir, name, Math.max(batch * promptLen, 512), Math.max(batch, 1));
  const loadSeconds = (performance.now() - started) / 1000;
  attempt({ kind: "parity", model: name }, () => parity(runner, dir, name, loadSeconds));
  if (batch > 0) attempt({ kind: "throughput", model: name }, () => throughput(runner, eager, name, batch, promptLen, outputLen));
}

/** Serving readiness as vLLM users see it: process start to a server taking requests (checkpoint
 *  read, weights uploaded, KV cache sized and allocated), then one short completion. */
async function serve(dir: string, name: string): Promise<void> {
  const limits = { maxNumSeqs: 32, maxNumBatchedTokens: 2048 };
  const { loaded, runner } = await loadRunner(dir, name, limits.maxNumBatchedTokens, limits.maxNumSeqs);
  const engine = await AsyncLLM.create({ model: dir, device: "cuda", gpuMemoryUtilization: 0.9, ...limits, loadModel: (o) => engineModel(runner, loaded, o), logger: (m) => process.stderr.write(`${m}\n`) });
  const app = createServer({ engine, servedModelName: [name] });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const health = await fetch(`${url}/health`);
  const readySeconds = performance.now() / 1000;
  const response = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: name, prompt: [1, 2, 3, 4, 5, 6, 7, 8], max_tokens: 8, temperature: 0 }) });
  const body = (await response.json()) as Record<string, unknown>;
  report({ kind: "serve", model: name, healthStatus: health.status, readySeconds, firstCompletionSeconds: performance.now() / 1000, completionStatus: response.status, completion: body });
  await app.close();
  await engine.shutdown();
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "kernels") kernels();
else if (mode === "serve") await serve(rest[0], rest[1]);
else if (mode === "model") await model(rest[0], rest[1], Number(rest[2] ?? 0), Number(rest[3] ?? 128), Number(rest[4] ?? 64));
else throw new Error(`unknown mode ${mode}`);
