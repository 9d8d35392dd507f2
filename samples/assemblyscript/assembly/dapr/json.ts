// JSON helpers on top of json-as.
//
// json-as parses fast but trusts its input: malformed text (or text of the
// wrong kind for the target type) makes JSON.parse abort the module. State
// values come from outside, so check them with `jsonKind` before parsing, or
// use `parseJson`, which does that and returns a Result instead of aborting.

import { JSON } from "json-as";
// json-as's own RFC 8259 validator (what its JSON_STRICT builds run first).
// Not re-exported from the package root; json-as is pinned to ~1.6.0 for it.
import { validateJSON } from "json-as/assembly/util/validateJson";
import { Result } from "./result";

export { JSON };

/** The kind of the top-level value of a JSON text. */
export enum JsonKind {
  Invalid = 0,
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** A JSON text that is not valid, or not the kind the caller wanted. */
export class JsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JsonError";
  }
}

/** True when `text` is one complete, valid JSON value (RFC 8259). */
export function isValidJson(text: string): bool {
  return validateJSON(text);
}

/** Validates `text` and tells the kind of its top-level value. */
export function jsonKind(text: string): JsonKind {
  if (!validateJSON(text)) return JsonKind.Invalid;
  const t = text.trimStart();
  const c = t.charCodeAt(0);
  if (c == 0x22 /* " */) return JsonKind.String;
  if (c == 0x7b /* { */) return JsonKind.Object;
  if (c == 0x5b /* [ */) return JsonKind.Array;
  if (c == 0x74 /* t */ || c == 0x66 /* f */) return JsonKind.Bool;
  if (c == 0x6e /* n */) return JsonKind.Null;
  return JsonKind.Number;
}

/** Name of a JsonKind, for messages. */
export function jsonKindName(kind: JsonKind): string {
  switch (kind) {
    case JsonKind.Null: return "null";
    case JsonKind.Bool: return "boolean";
    case JsonKind.Number: return "number";
    case JsonKind.String: return "string";
    case JsonKind.Array: return "array";
    case JsonKind.Object: return "object";
  }
  return "invalid JSON";
}

/** Serializes any value json-as can serialize; a string becomes a JSON string. */
export function toJson<T>(value: T): string {
  return JSON.stringify<T>(value);
}

/** Pre-serialized JSON, passed through unchanged by `toJson` and the client. */
export function rawJson(text: string): JSON.Raw {
  return new JSON.Raw(text);
}

/**
 * Parses `text` as T without aborting on bad input: the text must be valid JSON
 * and its top-level kind must fit T (string, array, object). T must be a
 * reference type: string, an array, JSON.Obj, JSON.Arr, JSON.Value or a @json
 * class.
 */
export function parseJson<T>(text: string): Result<T, JsonError> {
  const kind = jsonKind(text);
  if (kind == JsonKind.Invalid) {
    return Result.fail<T, JsonError>(new JsonError("not valid JSON: " + preview(text)));
  }
  let want = JsonKind.Invalid; // Invalid here means "any kind fits"
  if (isString<T>()) {
    want = JsonKind.String;
  } else if (isArray<T>()) {
    want = JsonKind.Array;
  } else if (idof<T>() == idof<JSON.Arr>()) {
    want = JsonKind.Array;
  } else if (idof<T>() != idof<JSON.Value>() && idof<T>() != idof<JSON.Raw>()) {
    want = JsonKind.Object; // JSON.Obj, @json classes, maps
  }
  if (want != JsonKind.Invalid && kind != want) {
    return Result.fail<T, JsonError>(new JsonError(
      "expected a JSON " + jsonKindName(want) + ", got " + jsonKindName(kind) + ": " + preview(text)));
  }
  return Result.ok<T, JsonError>(JSON.parse<T>(text));
}

/**
 * The raw JSON text of member `name` of the object `text` (the last one if
 * the name repeats, as JSON.parse does), without parsing or re-serializing
 * it; null when `text` is not a JSON object or has no such member. Handy to
 * pass a nested value on as is (e.g. a CloudEvent's "data").
 */
export function rawMember(text: string, name: string): string | null {
  if (jsonKind(text) != JsonKind.Object) return null;
  let found: string | null = null;
  let i = skipSpace(text, 0) + 1; // past '{'
  while (true) {
    i = skipSpace(text, i);
    if (text.charCodeAt(i) != 0x22 /* " */) break; // '}': the end
    const keyEnd = stringEnd(text, i);
    let key = text.substring(i + 1, keyEnd - 1);
    if (key.includes("\\")) key = JSON.parse<string>(text.substring(i, keyEnd));
    i = skipSpace(text, skipSpace(text, keyEnd) + 1); // past ':'
    const end = valueEnd(text, i);
    if (key == name) found = text.substring(i, end);
    i = skipSpace(text, end);
    if (text.charCodeAt(i) != 0x2c /* , */) break;
    i++;
  }
  return found;
}

function skipSpace(text: string, i: i32): i32 {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
    i++;
  }
  return i;
}

/** Index just past the string starting at `i` (a '"'). */
function stringEnd(text: string, i: i32): i32 {
  i++;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c == 0x5c /* \ */) {
      i += 2;
      continue;
    }
    i++;
    if (c == 0x22) break;
  }
  return i;
}

/** Index just past the (valid) JSON value starting at `i`. */
function valueEnd(text: string, i: i32): i32 {
  const c = text.charCodeAt(i);
  if (c == 0x22) return stringEnd(text, i);
  if (c == 0x7b /* { */ || c == 0x5b /* [ */) {
    let depth = 0;
    while (i < text.length) {
      const d = text.charCodeAt(i);
      if (d == 0x22) {
        i = stringEnd(text, i);
        continue;
      }
      i++;
      if (d == 0x7b || d == 0x5b) depth++;
      else if ((d == 0x7d || d == 0x5d) && --depth == 0) break;
    }
    return i;
  }
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d == 0x2c || d == 0x7d || d == 0x5d || d == 0x20 || d == 0x09 || d == 0x0a || d == 0x0d) break;
    i++;
  }
  return i;
}

function preview(text: string): string {
  return text.length <= 80 ? text : text.substring(0, 77) + "...";
}
