// What a checkpoint folder says about pooling, read as vLLM reads it (transformers_utils/config.py
// get_pooling_config, ModelConfig.is_matryoshka): sentence-transformers' modules.json names a
// Pooling module whose folder's config.json switches one pooling_mode_* on, and a Normalize module
// if the embeddings are normalized (with a Pooling module but no Normalize one, they are not);
// config.json's is_matryoshka / matryoshka_dimensions allow Matryoshka `dimensions`.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { poolingTypes, type CheckpointPooling, type PoolingType } from "../engine/pooling.ts";
import { modelFileError } from "./file-io.ts";

interface SentenceTransformersModule {
  type?: unknown;
  path?: unknown;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw modelFileError(file, `is not valid JSON: ${(error as Error).message}`);
  }
}

/** vLLM's parse_pooling_type: pooling_mode_mean_tokens -> MEAN, pooling_mode_cls_token -> CLS, pooling_mode_lasttoken -> LAST. */
function parsePoolingMode(key: string): string {
  const name = key.replace("pooling_mode_", "").split("_", 1)[0];
  return (name.includes("lasttoken") ? "last" : name).toUpperCase();
}

/** The Pooling module's type and the Normalize module's presence; null without modules.json or a Pooling module. */
function sentenceTransformersPooling(dir: string): Pick<CheckpointPooling, "poolingType" | "normalize"> | null {
  const modulesFile = join(dir, "modules.json");
  if (!existsSync(modulesFile)) return null;
  const modules = readJson(modulesFile);
  if (!Array.isArray(modules)) throw modelFileError(modulesFile, "must be a list of sentence-transformers modules");
  const ofType = (type: string) => (modules as SentenceTransformersModule[]).find((m) => m?.type === `sentence_transformers.models.${type}`);
  const pooling = ofType("Pooling");
  if (pooling === undefined) return null;
  const configFile = join(dir, String(pooling.path ?? ""), "config.json");
  const modes = existsSync(configFile) ? readJson(configFile) : {};
  let poolingType: PoolingType | undefined;
  // As vLLM: every mode switched on is read, and the sequence pooling types among them count.
  for (const [key, on] of Object.entries(modes as Record<string, unknown>)) {
    const type = parsePoolingMode(key);
    if (on === true && poolingTypes.includes(type as PoolingType)) poolingType = type as PoolingType;
  }
  return { ...(poolingType ? { poolingType } : {}), normalize: ofType("Normalize") !== undefined };
}

/** The checkpoint folder's pooling settings; null for anything but a folder (a GGUF file, an unknown hub id). */
export function readCheckpointPooling(dir: string): CheckpointPooling | null {
  if (!existsSync(join(dir, "config.json"))) return null;
  const config = readJson(join(dir, "config.json")) as { matryoshka_dimensions?: unknown; is_matryoshka?: unknown };
  const dims = config.matryoshka_dimensions;
  const matryoshkaDimensions = Array.isArray(dims) && dims.length > 0 && dims.every((d) => Number.isInteger(d)) ? (dims as number[]) : null;
  return { ...sentenceTransformersPooling(dir), matryoshkaDimensions, isMatryoshka: matryoshkaDimensions !== null || config.is_matryoshka === true };
}
