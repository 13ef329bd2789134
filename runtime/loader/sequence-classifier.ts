// Sequence-classification checkpoints (transformers' *ForSequenceClassification: reward models such
// as Skywork-Reward, classifiers such as Qwen2.5-1.5B-apeach): the CausalLM family's decoder
// (`model.*` tensors) and, in place of the LM head, `score.weight` [num_labels, hidden]. The decoder
// compiles as a pooling model; the head is taken out of the tensors here and handed to the engine
// (runtime/engine/classifier.ts), with what config.json says about the labels: num_labels (else the
// size of id2label, else the head's rows), id2label, and problem_type, which picks the activation.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { classifyActivation, type ClassifierHead } from "../engine/classifier.ts";
import { tensorToF32 } from "./convert.ts";
import { modelFileError } from "./file-io.ts";
import type { LoadedModel } from "./types.ts";

const headTensor = "score.weight";

/** Whether the config names a transformers sequence classifier, which runs as vLLM's classify runner does. */
export function isSequenceClassifier(architecture: string): boolean {
  return architecture.endsWith("ForSequenceClassification");
}

interface LabelConfig {
  num_labels?: unknown;
  id2label?: unknown;
  problem_type?: unknown;
}

function readLabelConfig(loaded: LoadedModel): LabelConfig {
  const file = join(loaded.source, "config.json");
  if (loaded.format !== "hf" || !existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LabelConfig;
  } catch (error) {
    throw modelFileError(file, `is not valid JSON: ${(error as Error).message}`);
  }
}

/** Where a missing head should have been, for the error: the folder's weights files, or the GGUF file. */
function weightsFiles(loaded: LoadedModel): string {
  if (loaded.format !== "hf") return loaded.source;
  const index = join(loaded.source, "model.safetensors.index.json");
  return existsSync(index) ? index : join(loaded.source, "model.safetensors");
}

/**
 * Takes the classification head out of the loaded tensors (the forward pass never reads it) with
 * its labels; throws, naming the file and the tensor, when the checkpoint has no head of the right shape.
 */
export function takeClassifierHead(loaded: LoadedModel): ClassifierHead {
  const tensor = loaded.tensors.get(headTensor);
  const hiddenSize = loaded.config.hiddenSize;
  if (tensor === undefined) {
    throw modelFileError(weightsFiles(loaded), `tensor "${headTensor}" not found: a ${loaded.config.architecture} model (task "classify") needs its classification head`, "task");
  }
  const config = readLabelConfig(loaded);
  const id2label = typeof config.id2label === "object" && config.id2label !== null ? (config.id2label as Record<string, unknown>) : null;
  const numLabels = Number.isInteger(config.num_labels) ? (config.num_labels as number) : id2label !== null ? Object.keys(id2label).length : tensor.shape[0];
  if (tensor.shape.length !== 2 || tensor.shape[0] !== numLabels || tensor.shape[1] !== hiddenSize) {
    throw modelFileError(weightsFiles(loaded), `tensor "${headTensor}" has shape [${tensor.shape.join(", ")}]; num_labels ${numLabels} and hidden_size ${hiddenSize} need [${numLabels}, ${hiddenSize}]`);
  }
  loaded.tensors.delete(headTensor);
  return {
    weight: Float32Array.from(tensorToF32(tensor)),
    numLabels,
    hiddenSize,
    labels: Array.from({ length: numLabels }, (_, i) => String(id2label?.[String(i)] ?? `LABEL_${i}`)),
    activation: classifyActivation(typeof config.problem_type === "string" ? config.problem_type : null, numLabels),
  };
}
