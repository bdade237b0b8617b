import type { z } from 'zod';
import { closest } from './suggest.js';

/**
 * A config's problems worded for the technician who wrote it (config.ts finds them): where each is, what was
 * probably meant, and a JSON mistake's place as an editor shows it.
 */

/**
 * One problem zod found, as a technician reads it: where, and what — a key the schema does not know with
 * the one it probably meant (`farm.timezome`), a setting left out as missing rather than zod's "expected
 * object, received undefined". `input` is what was parsed (undefined: every setting has a default).
 */
export function describeIssue(i: z.core.$ZodIssue, prefix: string, input: unknown, knownKeys: (path: PropertyKey[]) => string[]): string[] {
  const at = [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(top level)';
  if (i.code === 'unrecognized_keys') {
    return i.keys.map((key) => {
      const meant = closest(key, knownKeys(i.path));
      return `${at}: unknown key "${key}"${meant ? ` (did you mean "${meant}"?)` : ''}`;
    });
  }
  // Left out, or left empty (a YAML key with nothing after it reads null).
  if (input !== undefined && i.path.length && valueAt(input, i.path) == null) {
    const what = i.message.replace(/^Invalid (input|option)(: )?/, '').replace(/, received (undefined|null)$/, '');
    return [`${at}: missing${what ? ` (${what})` : ''}`];
  }
  return [`${at}: ${i.message}`];
}

export function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

export function keysOfValue(value: unknown): string[] {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
}

/** What keysOfSchema reads of a zod schema's definition. */
type SchemaDef = { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType; options?: z.core.$ZodType[] };

/** The keys an object schema at `path` knows, through optional, default, array and pipe wrappers. */
export function keysOfSchema(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  const defOf = (start: z.core.$ZodType | undefined): SchemaDef | undefined => {
    let def = start?._zod.def as unknown as SchemaDef | undefined;
    while (def && (def.innerType || (def.type === 'pipe' && def.in))) def = (def.innerType ?? def.in)!._zod.def as unknown as SchemaDef;
    return def;
  };
  // A union (a source's kinds, a secret given inline or from the environment) knows what any of its objects knows.
  const keysOf = (def: SchemaDef | undefined): string[] =>
    def?.type === 'object' && def.shape ? Object.keys(def.shape) : def?.type === 'union' ? [...new Set(def.options!.flatMap((o) => keysOf(defOf(o))))] : [];
  const step = (def: SchemaDef | undefined, key: string): SchemaDef | undefined =>
    def?.type === 'object' ? defOf(def.shape?.[key]) : def?.type === 'array' ? defOf(def.element) : def?.type === 'union' ? def.options!.map((o) => step(defOf(o), key)).find((d) => d) : undefined;
  let def = defOf(schema);
  for (const key of path) def = step(def, String(key));
  return keysOf(def);
}

/**
 * JSON.parse's "at position 71", as the line and column a technician's editor shows (Node 21 and later add
 * their own "(line 4 column 1)" after it: replaced, not said twice).
 */
export function withLine(message: string, text: string): string {
  const at = /at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
  if (!at) return message;
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  return message.replace(at[0], `at line ${line}, column ${before.length - before.lastIndexOf('\n')}`);
}
