// A JSON schema as a regular expression over the document's text, so that structured output is
// one automaton (regex-dfa.ts) whatever the request asked for. Properties come in the schema's
// order, optional ones may be left out, and values nest only as deep as the schema says; a value
// the schema leaves open (no type, an object without properties) is any JSON value nested at most
// openValueDepth deep, as a regular language cannot count brackets. Keywords that bound numbers
// (minimum, multipleOf ...) or compare items (uniqueItems) are not enforced.
import { TsvllmError } from "../errors.ts";

export type JsonSchema = boolean | { [keyword: string]: unknown };

/**
 * Between JSON tokens: one optional space, or a line break and up to 16 spaces of indentation, so
 * compact and pretty-printed JSON both fit. vLLM's xgrammar default allows any run of whitespace,
 * which lets a weak model pad with spaces and newlines until max_tokens (stories260K does).
 */
export const defaultWhitespacePattern = String.raw`[ ]?|\n[ ]{0,16}`;

/** How deep a value the schema leaves open may nest. */
const openValueDepth = 2;
/** How many $ref expansions may be open at once (a recursive schema stops here). */
const maxRefDepth = 8;

const stringChar = String.raw`(?:[^"\\\x00-\x1F]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})`;
const integer = String.raw`-?(?:0|[1-9][0-9]*)`;
const number = String.raw`${integer}(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?`;
const hostLabel = String.raw`[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?`;
const formats: Record<string, string> = {
  // Days as each month has them (February to the 28th, as a regex cannot tell leap years).
  date: String.raw`[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))`,
  // RFC 3339 full-time: the offset is required.
  time: String.raw`(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])`,
  uuid: String.raw`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`,
  email: String.raw`[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:${hostLabel}\.)+[A-Za-z]{2,63}`,
};
formats["date-time"] = `${formats.date}T${formats.time}`;

/** A literal as a regex (unicode mode escapes only syntax characters). */
export function escapeRegex(text: string): string {
  return text.replace(/[\^$\\.*+?()[\]{}|/]/g, "\\$&");
}

/** A JSON value written out exactly, as enum and const require. */
function literal(value: unknown): string {
  return escapeRegex(JSON.stringify(value));
}

function anyOfRegex(alternatives: readonly string[]): string {
  return alternatives.length === 1 ? alternatives[0] : `(?:${alternatives.join("|")})`;
}

function invalidSchema(message: string, path: string): never {
  throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `JSON schema at ${path}: ${message}`, "structured_outputs.json");
}

/** A user's pattern inside a bigger expression: anchors mean the whole string, as in vLLM. */
function embeddedPattern(pattern: string): string {
  return `(?:${pattern.replace(/^\^/, "").replace(/(?<!\\)\$$/, "")})`;
}

/** `item` repeated between min and max times (max null: no bound), separated by `separator`. */
function repeated(item: string, separator: string, min: number, max: number | null): string {
  if (max !== null && max < min) throw new RangeError("max below min");
  if (max === 0) return "";
  const rest = `(?:${separator}${item}){${Math.max(0, min - 1)},${max === null ? "" : max - 1}}`;
  return min === 0 ? `(?:${item}${rest})?` : `${item}${rest}`;
}

class SchemaCompiler {
  private refDepth = 0;

  constructor(private readonly root: JsonSchema, private readonly ws: string) {}

  value(schema: JsonSchema, path: string): string {
    if (schema === true) return this.anyValue(openValueDepth);
    if (schema === false) invalidSchema("the schema 'false' admits no value", path);
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) invalidSchema("a schema must be an object or a boolean", path);
    if (typeof schema.$ref === "string") return this.reference(schema.$ref, path);
    if (schema.const !== undefined) return literal(schema.const);
    if (Array.isArray(schema.enum)) {
      if (schema.enum.length === 0) invalidSchema("enum is empty", path);
      return anyOfRegex(schema.enum.map(literal));
    }
    for (const keyword of ["anyOf", "oneOf"] as const) {
      const branches = schema[keyword];
      if (Array.isArray(branches) && branches.length > 0) return anyOfRegex(branches.map((b, i) => this.value(b as JsonSchema, `${path}/${keyword}/${i}`)));
    }
    if (Array.isArray(schema.allOf)) return this.value(mergeAllOf(schema, path), path);
    const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [impliedType(schema)] : [schema.type];
    if (types.length === 0) invalidSchema("type is an empty list", path);
    return anyOfRegex(types.map((type) => this.typed(String(type), schema, path)));
  }

  private typed(type: string, schema: { [keyword: string]: unknown }, path: string): string {
    switch (type) {
      case "string":
        return this.string(schema, path);
      case "integer":
        return integer;
      case "number":
        return number;
      case "boolean":
        return "(?:true|false)";
      case "null":
        return "null";
      case "array":
        return this.array(schema, path);
      case "object":
        return this.object(schema, path);
      case "any":
        return this.anyValue(openValueDepth);
      default:
        return invalidSchema(`unknown type '${type}'`, path);
    }
  }

  private string(schema: { [keyword: string]: unknown }, path: string): string {
    if (typeof schema.pattern === "string") return `"${embeddedPattern(schema.pattern)}"`;
    if (typeof schema.format === "string" && formats[schema.format] !== undefined) return `"${formats[schema.format]}"`;
    const min = nonNegativeInteger(schema.minLength, 0, `${path}/minLength`);
    const max = schema.maxLength === undefined ? null : nonNegativeInteger(schema.maxLength, 0, `${path}/maxLength`);
    if (max !== null && max < min) invalidSchema("maxLength is below minLength", path);
    return `"${stringChar}{${min},${max ?? ""}}"`;
  }

  private array(schema: { [keyword: string]: unknown }, path: string): string {
    const { ws } = this;
    const item = schema.items === undefined ? this.anyValue(openValueDepth) : this.value(schema.items as JsonSchema, `${path}/items`);
    const min = nonNegativeInteger(schema.minItems, 0, `${path}/minItems`);
    const max = schema.maxItems === undefined ? null : nonNegativeInteger(schema.maxItems, 0, `${path}/maxItems`);
    if (max !== null && max < min) invalidSchema("maxItems is below minItems", path);
    return `\\[${ws}${repeated(item, `${ws},${ws}`, min, max)}${ws}\\]`;
  }

  private object(schema: { [keyword: string]: unknown }, path: string): string {
    const { ws } = this;
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const names = Object.keys(properties);
    if (names.length === 0) {
      const additional = schema.additionalProperties;
      const value = additional === undefined || additional === true ? this.anyValue(openValueDepth) : additional === false ? null : this.value(additional as JsonSchema, `${path}/additionalProperties`);
      if (value === null) return `\\{${ws}\\}`;
      return `\\{${ws}${repeated(`"${stringChar}*"${ws}:${ws}${value}`, `${ws},${ws}`, 0, null)}${ws}\\}`;
    }
    const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
    const members = names.map((name) => `${literal(name)}${ws}:${ws}${this.value(properties[name], `${path}/properties/${name}`)}`);
    // After the first member present, each later one is ",member" (optional unless required);
    // the first present member is any one up to and including the first required one.
    const tail = (from: number) => members.slice(from).map((m, i) => (required.has(names[from + i]) ? `${ws},${ws}${m}` : `(?:${ws},${ws}${m})?`)).join("");
    const firstRequired = names.findIndex((n) => required.has(n));
    const lastFirst = firstRequired < 0 ? names.length - 1 : firstRequired;
    const starts = Array.from({ length: lastFirst + 1 }, (_, j) => `${members[j]}${tail(j + 1)}`);
    const body = firstRequired < 0 ? `(?:${starts.join("|")})?` : anyOfRegex(starts);
    return `\\{${ws}${body}${ws}\\}`;
  }

  private reference(ref: string, path: string): string {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    if (match === null) {
      if (ref === "#") return this.expand(this.root, ref, path);
      return invalidSchema(`only local references (#/$defs/... or #/definitions/...) are supported, got '${ref}'`, path);
    }
    const defs = typeof this.root === "object" ? (this.root[match[1]] as Record<string, JsonSchema> | undefined) : undefined;
    const target = defs?.[match[2].replace(/~1/g, "/").replace(/~0/g, "~")];
    if (target === undefined) invalidSchema(`reference '${ref}' does not resolve`, path);
    return this.expand(target, ref, path);
  }

  private expand(target: JsonSchema, ref: string, path: string): string {
    if (this.refDepth >= maxRefDepth) invalidSchema(`reference '${ref}' nests more than ${maxRefDepth} deep (recursive schemas are not supported)`, path);
    this.refDepth++;
    try {
      return this.value(target, ref);
    } finally {
      this.refDepth--;
    }
  }

  /** Any JSON value whose objects and arrays nest at most `depth` deep. */
  anyValue(depth: number): string {
    const { ws } = this;
    const scalar = `(?:"${stringChar}*"|${number}|true|false|null)`;
    if (depth <= 0) return scalar;
    const inner = this.anyValue(depth - 1);
    const object = `\\{${ws}${repeated(`"${stringChar}*"${ws}:${ws}${inner}`, `${ws},${ws}`, 0, null)}${ws}\\}`;
    const array = `\\[${ws}${repeated(inner, `${ws},${ws}`, 0, null)}${ws}\\]`;
    return `(?:${scalar}|${object}|${array})`;
  }
}

function impliedType(schema: { [keyword: string]: unknown }): string {
  if (schema.properties !== undefined || schema.additionalProperties !== undefined || schema.required !== undefined) return "object";
  if (schema.items !== undefined || schema.minItems !== undefined || schema.maxItems !== undefined) return "array";
  if (schema.pattern !== undefined || schema.format !== undefined || schema.minLength !== undefined || schema.maxLength !== undefined) return "string";
  return "any";
}

function nonNegativeInteger(value: unknown, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) invalidSchema(`must be a non-negative integer, got ${JSON.stringify(value)}`, path);
  return value;
}

/** allOf of object schemas: one schema with every branch's properties and required names. */
function mergeAllOf(schema: { [keyword: string]: unknown }, path: string): JsonSchema {
  const { allOf, ...rest } = schema;
  const merged: { [keyword: string]: unknown } = { ...rest };
  for (const [i, branch] of (allOf as unknown[]).entries()) {
    if (typeof branch !== "object" || branch === null) invalidSchema("allOf branches must be schema objects", `${path}/allOf/${i}`);
    const b = branch as { [keyword: string]: unknown };
    merged.properties = { ...(merged.properties as object | undefined), ...(b.properties as object | undefined) };
    merged.required = [...((merged.required as unknown[] | undefined) ?? []), ...((b.required as unknown[] | undefined) ?? [])];
    for (const [key, value] of Object.entries(b)) if (key !== "properties" && key !== "required" && !(key in merged)) merged[key] = value;
  }
  return merged;
}

/** The regex whose matches are the JSON documents the schema admits. */
export function jsonSchemaRegex(schema: JsonSchema, whitespacePattern: string = defaultWhitespacePattern): string {
  return new SchemaCompiler(schema, `(?:${whitespacePattern})`).value(schema, "#");
}

/** response_format json_object: any JSON object, its values nested at most openValueDepth deep. */
export function jsonObjectRegex(whitespacePattern: string = defaultWhitespacePattern): string {
  return jsonSchemaRegex({ type: "object" }, whitespacePattern);
}
