// TSVLLM_DUMP=ast,ir,passes,cpp,cuda prints each compiler stage to stderr, Triton-style.
const stages = new Set((process.env.TSVLLM_DUMP ?? "").split(",").map((s) => s.trim()).filter(Boolean));

export type Stage = "ast" | "ir" | "passes" | "cpp" | "cuda" | "graph";

export function dumping(stage: Stage): boolean {
  return stages.has(stage) || stages.has("all");
}

export function dump(stage: Stage, title: string, text: string): void {
  if (dumping(stage)) process.stderr.write(`\n===== ${stage}: ${title} =====\n${text}\n`);
}
