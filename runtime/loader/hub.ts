// Hugging Face hub ids -> a local model folder, in huggingface_hub's cache layout so both tools share
// downloads: <cache>/models--<org>--<name>/refs/<revision> holds a commit sha and
// snapshots/<sha>/ holds the files. Downloads resume from a partial ".incomplete" file with a Range
// request. Environment: HF_HUB_CACHE, HF_HOME, HF_HUB_OFFLINE, HF_TOKEN, HF_ENDPOINT (as huggingface_hub);
// vLLM's download_dir replaces the cache folder (hubEnv).
import cliProgress from "cli-progress";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { TsvllmError } from "../errors.ts";

type Env = Readonly<Record<string, string | undefined>>;

// An id is "name" or "org/name" of letters, digits, "-", "_" and "."; anything else is a path.
const hubIdPattern = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export function isHubId(id: string): boolean {
  return hubIdPattern.test(id) && !id.includes("..");
}

export function hubCacheDir(env: Env = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, "hub");
  return join(homedir(), ".cache", "huggingface", "hub");
}

/** The environment with vLLM's download_dir, when given, as the hub cache (it outranks HF_HUB_CACHE and HF_HOME). */
export function hubEnv(downloadDir: string | undefined, env: Env = process.env): Env {
  return downloadDir === undefined ? env : { ...env, HF_HUB_CACHE: downloadDir };
}

function isOffline(env: Env): boolean {
  return ["1", "true", "yes", "on"].includes((env.HF_HUB_OFFLINE ?? "").toLowerCase());
}

function repoDir(cacheDir: string, id: string): string {
  return join(cacheDir, `models--${id.replaceAll("/", "--")}`);
}

/**
 * What to take from a repo: a model's configs, tokenizer and safetensors weights (PyTorch .bin files
 * are not loaded), or only the tokenizer files (vLLM's --tokenizer, e.g. for a GGUF model).
 */
const hubFiles = {
  model: { marker: "config.json", wanted: (name: string) => tokenizerFile(name) || /^(config|generation_config)\.json$/.test(name) || /^[^/]+\.safetensors$/.test(name) || name === "model.safetensors.index.json" },
  tokenizer: { marker: "tokenizer.json", wanted: tokenizerFile },
} as const;

type HubFiles = keyof typeof hubFiles;

function tokenizerFile(name: string): boolean {
  return /^(tokenizer|tokenizer_config|special_tokens_map)\.json$/.test(name);
}

/** The cached snapshot folder of `id` at `revision`, or null when it is not cached (with a config.json, or a tokenizer.json for "tokenizer"). */
export async function cachedSnapshot(id: string, revision = "main", env: Env = process.env, files: HubFiles = "model"): Promise<string | null> {
  const repo = repoDir(hubCacheDir(env), id);
  let sha = revision;
  const ref = join(repo, "refs", revision);
  if (existsSync(ref)) sha = (await readFile(ref, "utf8")).trim();
  const snapshot = join(repo, "snapshots", sha);
  return existsSync(join(snapshot, hubFiles[files].marker)) ? snapshot : null;
}

function hubError(message: string, param?: string): TsvllmError {
  return new TsvllmError("TSVLLM_ERR_MODEL_FILE", message, param);
}

interface RepoInfo {
  sha: string;
  files: string[];
}

async function fetchRepoInfo(endpoint: string, id: string, revision: string, headers: Record<string, string>, kind: HubFiles): Promise<RepoInfo> {
  const url = `${endpoint}/api/models/${id}/revision/${encodeURIComponent(revision)}`;
  const response = await request(url, headers);
  const info = (await response.json()) as { sha?: unknown; siblings?: { rfilename?: unknown }[] };
  if (typeof info.sha !== "string" || !Array.isArray(info.siblings)) throw hubError(`${url}: unexpected response (no sha or siblings)`);
  const files = info.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === "string" && hubFiles[kind].wanted(f));
  if (kind === "model" && !files.some((f) => f.endsWith(".safetensors"))) throw hubError(`${id} has no .safetensors weights; tsvllm does not load PyTorch .bin checkpoints`);
  if (kind === "tokenizer" && !files.includes("tokenizer.json")) throw hubError(`${id} has no tokenizer.json`, "tokenizerPath");
  return { sha: info.sha, files };
}

async function request(url: string, headers: Record<string, string>, alsoOk: readonly number[] = []): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { headers, redirect: "follow" });
  } catch (error) {
    throw hubError(`cannot reach ${url} (${(error as Error).message}); set HF_HUB_OFFLINE=1 to use only the local cache`);
  }
  if (response.ok || alsoOk.includes(response.status)) return response;
  const hint = response.status === 401 || response.status === 403 ? "; a gated or private model needs HF_TOKEN" : "";
  throw hubError(`${url}: HTTP ${response.status}${hint}`);
}

/** Downloads one file to `target`, continuing a previous partial download when there is one. */
async function downloadFile(url: string, target: string, headers: Record<string, string>): Promise<void> {
  const partial = `${target}.incomplete`;
  await mkdir(dirname(target), { recursive: true });
  const have = existsSync(partial) ? (await stat(partial)).size : 0;
  const response = await request(url, have > 0 ? { ...headers, Range: `bytes=${have}-` } : headers, [416]);
  // 416: the range starts at the end of the file, so the partial file is already complete.
  if (response.status === 416) {
    await rename(partial, target);
    return;
  }
  // 206 continues the partial file; a server that ignores Range answers 200 with the whole file.
  const resumed = response.status === 206;
  const start = resumed ? have : 0;
  const total = start + Number(response.headers.get("content-length") ?? 0);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: `${target.split("/").pop()} [{bar}] {percentage}% {value}/{total} bytes` }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(total, start);
  const handle = await open(partial, resumed ? "a" : "w");
  try {
    let written = start;
    for await (const chunk of response.body ?? []) {
      await handle.write(chunk);
      written += chunk.byteLength;
      bar?.update(written);
    }
  } finally {
    await handle.close();
    bar?.stop();
  }
  await rename(partial, target);
}

/**
 * The local folder of a hub model (or, with files "tokenizer", of its tokenizer alone): the cached
 * snapshot when there is one, otherwise a fresh download into the cache (refused when
 * HF_HUB_OFFLINE is set).
 */
export async function resolveHubModel(id: string, options: { revision?: string; env?: Env; files?: HubFiles } = {}): Promise<string> {
  const revision = options.revision ?? "main";
  const env = options.env ?? process.env;
  const kind = options.files ?? "model";
  const cached = await cachedSnapshot(id, revision, env, kind);
  if (cached) return cached;
  const cacheDir = hubCacheDir(env);
  if (isOffline(env)) {
    throw hubError(`${id}: not in the Hugging Face cache (${repoDir(cacheDir, id)}) and HF_HUB_OFFLINE is set, so it cannot be downloaded`, "model");
  }
  const endpoint = (env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/$/, "");
  const token = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const { sha, files } = await fetchRepoInfo(endpoint, id, revision, headers, kind);
  const snapshot = join(repoDir(cacheDir, id), "snapshots", sha);
  for (const file of files) {
    const target = join(snapshot, file);
    if (!existsSync(target)) await downloadFile(`${endpoint}/${id}/resolve/${sha}/${file}`, target, headers);
  }
  await mkdir(join(repoDir(cacheDir, id), "refs"), { recursive: true });
  await writeFile(join(repoDir(cacheDir, id), "refs", revision), sha);
  return snapshot;
}
