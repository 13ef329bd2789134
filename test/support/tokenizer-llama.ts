// llama.cpp (through node-llama-cpp, CPU build, no download) as the independent tokenizer oracle.
// One llama.cpp instance per process; each model file is loaded once.
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";

let llama: Promise<Llama> | undefined;
const models = new Map<string, Promise<LlamaModel>>();

export function llamaCppModel(modelPath: string): Promise<LlamaModel> {
  llama ??= getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
  let model = models.get(modelPath);
  if (!model) {
    model = llama.then((instance) => instance.loadModel({ modelPath, gpuLayers: 0 }));
    models.set(modelPath, model);
  }
  return model;
}

/** llama.cpp's ids for `text` with special-token texts parsed and no BOS added. */
export async function llamaCppTokenize(modelPath: string, text: string): Promise<number[]> {
  return Array.from((await llamaCppModel(modelPath)).tokenize(text, true));
}

export const models260K = {
  gguf: "/work/shared/models/stories260K/stories260K.gguf",
  hf: "/work/shared/models/stories260K-hf",
  llama2Gguf: "/work/shared/models/llama-2-tiny-random/llama-2-tiny-random.gguf",
};
