// Chat templates render the model's Jinja template, fall back to a simple default, and a rendered
// prompt is encoded with exactly one BOS.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TsvllmError } from "../../runtime/errors.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { encodeChatPrompt, loadTokenizer } from "../../runtime/tokenizer/index.ts";
import type { ChatMessage, Tokenizer } from "../../runtime/tokenizer/types.ts";
import { models260K } from "../support/tokenizer-llama.ts";

const messages: ChatMessage[] = [
  { role: "user", content: "  Tell me a story. " },
  { role: "assistant", content: "Once upon a time" },
];
let hf: Tokenizer;
let gguf: Tokenizer;

test.before(async () => {
  hf = await loadTokenizer(await loadModel(models260K.hf));
  gguf = await loadTokenizer(await loadModel(models260K.gguf));
});

function count(ids: number[], id: number): number {
  return ids.filter((x) => x === id).length;
}

test("the model's template renders BOS and trimmed contents", () => {
  assert.is(hf.applyChatTemplate(messages), "<s>Tell me a story.\nOnce upon a time");
});

test("a prompt whose template wrote BOS gets no second BOS", () => {
  const prompt = hf.applyChatTemplate(messages);
  const ids = encodeChatPrompt(hf, prompt);
  assert.is(ids[0], 1);
  assert.is(count(ids, 1), 1);
  assert.equal(ids, hf.encode("Tell me a story.\nOnce upon a time"));
});

test("a template without BOS gets the one BOS the tokenizer wants", () => {
  const prompt = hf.applyChatTemplate(messages, { chatTemplate: "{% for m in messages %}{{ m.content }}{% endfor %}" });
  assert.not.ok(prompt.startsWith("<s>"));
  const ids = encodeChatPrompt(hf, prompt);
  assert.is(ids[0], 1);
  assert.is(count(ids, 1), 1);
});

test("a model without a template uses the default one; GGUF and HF tokenizers agree", () => {
  const prompt = gguf.applyChatTemplate(messages, { addGenerationPrompt: true });
  assert.is(prompt, "<s>user:   Tell me a story. \nassistant: Once upon a time\nassistant:");
  const ids = encodeChatPrompt(gguf, prompt);
  assert.is(count(ids, 1), 1);
  assert.equal(ids, encodeChatPrompt(hf, prompt));
});

test("continueFinalMessage ends the prompt at the last message's content", () => {
  const prompt = gguf.applyChatTemplate(messages, { continueFinalMessage: true });
  assert.is(prompt, "<s>user:   Tell me a story. \nassistant: Once upon a time");
});

test("template kwargs reach the template; raise_exception and a request template that does not parse are invalid arguments", () => {
  assert.is(hf.applyChatTemplate(messages, { chatTemplate: "{{ greeting }}", chatTemplateKwargs: { greeting: "hi" } }), "hi");
  try {
    hf.applyChatTemplate(messages, { chatTemplate: "{{ raise_exception('roles must alternate') }}" });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).code, "TSVLLM_ERR_INVALID_ARGUMENT");
    assert.match((error as TsvllmError).message, "roles must alternate");
  }
  try {
    hf.applyChatTemplate(messages, { chatTemplate: "{% for %}" });
    assert.unreachable();
  } catch (error) {
    assert.is((error as TsvllmError).code, "TSVLLM_ERR_INVALID_ARGUMENT");
    assert.is((error as TsvllmError).param, "chat_template");
  }
});

test.run();
