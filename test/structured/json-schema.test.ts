// JSON schemas as automata, checked against independent oracles: every string the automaton
// accepts (random walks through it) must parse with JSON.parse and validate with ajv against the
// schema, and hand-written documents must be accepted or refused as the schema says.
import { Ajv } from "ajv";
import ajvFormats from "ajv-formats";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TsvllmError } from "../../runtime/errors.ts";
import { jsonObjectRegex, jsonSchemaRegex, type JsonSchema } from "../../runtime/structured/json-schema-regex.ts";
import { compileRegexDfa } from "../../runtime/structured/regex-dfa.ts";
import { dfaAccepts, randomAccepted } from "../support/dfa-walk.ts";
import { seededRandom } from "../support/engine-random.ts";

const ajv = new Ajv({ strict: false });
// ajv-formats is CommonJS: its plugin is the module and, for ESM importers, its default too.
ajvFormats.default(ajv);

const person = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 12 },
    age: { type: "integer" },
    height: { type: "number" },
    tags: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 3 },
    kind: { enum: ["cat", "dog", 3, null] },
    alive: { type: "boolean" },
  },
  required: ["name", "age"],
};

const schemas: Record<string, JsonSchema> = {
  person,
  allOptional: { type: "object", properties: { a: { type: "integer" }, b: { type: "string" }, c: { type: "null" } } },
  nested: { type: "object", properties: { owner: { $ref: "#/$defs/owner" }, pets: { type: "array", items: { $ref: "#/$defs/pet" } } }, required: ["owner", "pets"], $defs: { owner: person, pet: { type: "object", properties: { species: { const: "cat" }, legs: { type: "integer" } }, required: ["species"] } } },
  unions: { anyOf: [{ type: "string", format: "date" }, { type: ["integer", "null"] }, { type: "string", pattern: "^[A-Z]{2}-[0-9]{3}$" }] },
  formats: { type: "object", properties: { id: { type: "string", format: "uuid" }, at: { type: "string", format: "date-time" }, mail: { type: "string", format: "email" } }, required: ["id", "at", "mail"] },
  allOf: { allOf: [{ type: "object", properties: { x: { type: "integer" } }, required: ["x"] }, { properties: { y: { type: "boolean" } }, required: ["y"] }] },
  openValues: { type: "object", properties: { meta: {}, list: { type: "array" } }, required: ["meta", "list"] },
  map: { type: "object", additionalProperties: { type: "integer" } },
};

for (const [name, schema] of Object.entries(schemas)) {
  test(`every document the '${name}' automaton accepts is valid JSON satisfying the schema`, () => {
    const dfa = compileRegexDfa(jsonSchemaRegex(schema), "json");
    const validate = ajv.compile(schema as object);
    const random = seededRandom(name.length * 7919);
    for (let i = 0; i < 150; i++) {
      const text = randomAccepted(dfa, random);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        assert.unreachable(`not JSON: ${JSON.stringify(text)}`);
      }
      assert.ok(validate(value), `${JSON.stringify(text)}: ${ajv.errorsText(validate.errors)}`);
    }
  });
}

test("valid documents are accepted, compact or pretty-printed; whitespace padding is not", () => {
  const dfa = compileRegexDfa(jsonSchemaRegex(person), "json");
  for (const doc of [
    `{"name": "Tom", "age": 3}`,
    `{\n  "name": "Tom",\n  "age": -12,\n  "height": 1.5e3,\n  "tags": ["a", "b"],\n  "kind": null,\n  "alive": true\n}`,
    `{"name":"\\u00e9\\n\\"q\\"","age":0,"kind":3}`,
    `{"name":"Ünïcödé ✓","age":7,"alive":false}`,
  ]) {
    assert.ok(ajv.validate(person, JSON.parse(doc)), doc);
    assert.ok(dfaAccepts(dfa, doc), doc);
  }
  assert.not.ok(dfaAccepts(dfa, `{"name": "Tom",   "age": 3}`));
  assert.not.ok(dfaAccepts(dfa, `{"name": "Tom",\n\n"age": 3}`));
});

test("documents the schema forbids are refused", () => {
  const dfa = compileRegexDfa(jsonSchemaRegex(person), "json");
  for (const doc of [
    `{"age": 3}`,
    `{"name": "Tom"}`,
    `{"name": "", "age": 3}`,
    `{"name": "Tom", "age": 3.5}`,
    `{"name": "Tom", "age": 03}`,
    `{"name": "Tom", "age": 3, "tags": []}`,
    `{"name": "Tom", "age": 3, "tags": ["a","b","c","d"]}`,
    `{"name": "Tom", "age": 3, "kind": "cow"}`,
    `{"name": "Tom", "age": 3,}`,
    `{"name": "a\u0001", "age": 3}`,
    `{"name": "Tom", "age": 3} x`,
  ]) {
    assert.not.ok(dfaAccepts(dfa, doc), doc);
  }
});

test("json_object accepts objects nested three deep and refuses non-objects", () => {
  const dfa = compileRegexDfa(jsonObjectRegex(), "json_object");
  assert.ok(dfaAccepts(dfa, `{"a": {"b": [1, "x", null]}, "d": "e"}`));
  assert.ok(dfaAccepts(dfa, `{}`));
  // The documented limit: a regular language cannot count brackets, so open values nest 2 deep.
  assert.not.ok(dfaAccepts(dfa, `{"a": {"b": [1, {"c": null}]}}`));
  for (const doc of [`[1]`, `"x"`, `{"a": }`, `{"a": [1,]}`, `{a: 1}`]) assert.not.ok(dfaAccepts(dfa, doc), doc);
  const random = seededRandom(5);
  for (let i = 0; i < 100; i++) {
    const value = JSON.parse(randomAccepted(dfa, random));
    assert.ok(typeof value === "object" && value !== null && !Array.isArray(value));
  }
});

test("a whitespace pattern replaces the default between tokens", () => {
  const dfa = compileRegexDfa(jsonSchemaRegex(person, "[ ]?"), "json");
  assert.ok(dfaAccepts(dfa, `{ "name": "Tom", "age": 3 }`));
  assert.not.ok(dfaAccepts(dfa, `{\n"name": "Tom", "age": 3}`));
  assert.not.ok(dfaAccepts(dfa, `{  "name": "Tom", "age": 3}`));
});

test("schemas that cannot be compiled are refused with the place they went wrong", () => {
  const cases: [JsonSchema, RegExp][] = [
    [{ $ref: "#/$defs/missing" }, /does not resolve/],
    [{ $ref: "https://example.com/s.json" }, /only local references/],
    [{ type: "object", properties: { next: { $ref: "#" } }, required: ["next"] }, /recursive schemas/],
    [{ type: "strnig" }, /unknown type 'strnig'/],
    [{ type: "string", minLength: 5, maxLength: 2 }, /maxLength is below minLength/],
    [{ type: "array", minItems: -1 }, /#\/minItems: must be a non-negative integer/],
    [false, /admits no value/],
  ];
  for (const [schema, message] of cases) {
    try {
      jsonSchemaRegex(schema);
      assert.unreachable(JSON.stringify(schema));
    } catch (err) {
      assert.instance(err, TsvllmError);
      assert.is((err as TsvllmError).code, "TSVLLM_ERR_INVALID_ARGUMENT");
      assert.match((err as TsvllmError).message, message);
    }
  }
});

test.run();
