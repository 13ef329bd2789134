// Start-up of a model on CPU: mapping the checkpoint (loadModel) and creating its runner
// (compiling or reusing the addon, preparing every weight: for a GGUF in blocks, packing its
// quantized panels), with the process's resident memory after. Each round runs in a fresh process,
// so no run reuses another's prepared weights; the first round may also build the addon, so the
// rounds after it are the start-up a server sees with the addon cached. For a GGUF, llama.cpp
// (node-llama-cpp, CPU) loads the same file and creates a context in the same rounds, each in its
// own process too.
//   npx tsx bench/runner-startup.bench.ts <model> [rounds]
import { execFileSync } from "node:child_process";
import { loadModel } from "../runtime/loader/index.ts";
import { createModelRunner } from "../runtime/model/load-runner.ts";

const [model, roundsArg = "3", child] = process.argv.slice(2);
if (!model) throw new Error("usage: npx tsx bench/runner-startup.bench.ts <model> [rounds]");

if (child === "--peer") {
  const { getLlama } = await import("node-llama-cpp");
  const started = performance.now();
  const llama = await getLlama({ gpu: false, build: "never", skipDownload: true });
  const peer = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
  const loadedAt = performance.now();
  await peer.createContext({ contextSize: 1024, threads: 2 });
  const ready = performance.now();
  console.log(JSON.stringify({ load: (loadedAt - started) / 1000, runner: (ready - loadedAt) / 1000, rssGiB: process.memoryUsage().rss / 2 ** 30 }));
} else if (child === "--child") {
  const started = performance.now();
  const loaded = await loadModel(model);
  const loadedAt = performance.now();
  createModelRunner(loaded, { maxNumBatchedTokens: 64, threads: 2 });
  const ready = performance.now();
  console.log(JSON.stringify({ load: (loadedAt - started) / 1000, runner: (ready - loadedAt) / 1000, rssGiB: process.memoryUsage().rss / 2 ** 30 }));
} else {
  const run = (flag: string) => {
    const out = execFileSync(process.execPath, ["--import", "tsx", new URL(import.meta.url).pathname, model, roundsArg, flag], { encoding: "utf8" });
    return JSON.parse(out.trim().split("\n").pop()!) as { load: number; runner: number; rssGiB: number };
  };
  for (let round = 0; round < Number(roundsArg); round++) {
    const ours = run("--child");
    const line = `round ${round + 1}: tsvllm load ${ours.load.toFixed(1)} s + runner ${ours.runner.toFixed(1)} s, resident ${ours.rssGiB.toFixed(2)} GiB`;
    if (!model.endsWith(".gguf")) {
      console.log(line);
      continue;
    }
    const peer = run("--peer");
    const ratio = (peer.load + peer.runner) / (ours.load + ours.runner);
    console.log(`${line}; llama.cpp load ${peer.load.toFixed(1)} s + context ${peer.runner.toFixed(1)} s, resident ${peer.rssGiB.toFixed(2)} GiB; ready ${ratio.toFixed(2)}x llama.cpp's speed`);
  }
}
