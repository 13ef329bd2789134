// tsvllm <command>: compile | serve | generate | chat | bench. Each command lives in its own file.
import { TsvllmError } from "../runtime/errors.ts";

const commands: Record<string, () => Promise<{ run(argv: string[]): Promise<void> }>> = {
  compile: () => import("./compile.ts"),
  serve: () => import("./serve.ts"),
  generate: () => import("./generate.ts"),
  chat: () => import("./chat.ts"),
  bench: () => import("./bench.ts"),
};

const usage = `usage: tsvllm <command> [options]

commands:
  compile   compile a model's kernels and forward pass (--arch <name> | --model <path>) --target cpu|cuda
  serve     OpenAI-compatible server: tsvllm serve --model <dir|hub id|file.gguf> [--port 8000]
  generate  one completion: tsvllm generate --model M --prompt P
  chat      interactive chat: tsvllm chat --model M
  bench     tsvllm bench throughput|serve [options]
`;

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    process.stdout.write(usage);
    return;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`tsvllm: unknown command "${name}"\n${usage}`);
    process.exitCode = 2;
    return;
  }
  await (await load()).run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof TsvllmError) {
    process.stderr.write(`tsvllm: ${err.code}: ${err.message}\n`);
  } else {
    process.stderr.write(`tsvllm: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exitCode = 1;
});
