/**
 * Request shapes as the AWS service models write them (structure, list, map, string, integer,
 * float, boolean, timestamp), and one checker for a parsed JSON body against a shape.
 *
 * Two kinds of problem, answered as AWS answers them on awsJson1_1:
 * - a value of the wrong JSON type (a string where a structure goes, a list of numbers where a
 *   list of structures goes) is a `SerializationException`; unlike AWS, the message names the
 *   member path, so a caller can find it;
 * - a value of the right type that breaks a constraint (length, range, pattern, enum, required,
 *   null in a list) is a `ValidationException`, worded by `constraints()`.
 * Members the shape does not know are ignored, as AWS ignores them (they may be from a newer model).
 */
import { constraints, type Constraints, type StringRule } from './constraints.js';

export type Shape =
  | { type: 'structure'; members: Readonly<Record<string, Shape>>; required?: readonly string[] }
  | { type: 'list'; member: Shape; min?: number; max?: number }
  | { type: 'map'; key: StringRule; value: Shape; max?: number }
  | { type: 'string'; rule?: StringRule; enum?: readonly string[] }
  | { type: 'integer'; min?: number; max?: number; limitText?: string }
  | { type: 'float'; min?: number; max?: number }
  | { type: 'boolean' }
  /** Epoch seconds, as awsJson1_1 sends timestamps. */
  | { type: 'timestamp' }
  /** Any JSON (a member this server keeps but does not interpret). */
  | { type: 'document' };

export interface ShapeProblems {
  /** Wrong JSON types, by member path: answered as SerializationException. */
  types: string[];
  /** Constraint problems: answered as ValidationException. */
  constraints: Constraints;
}

export function checkShape(shape: Shape, value: unknown): ShapeProblems {
  const problems: ShapeProblems = { types: [], constraints: constraints() };
  walk(shape, value, '', problems);
  return problems;
}

/** Coral's member names: `productionVariants.1.member.initialInstanceCount`. */
const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);
const join = (path: string, name: string) => (path === '' ? name : `${path}.${name}`);

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function walk(shape: Shape, value: unknown, path: string, p: ShapeProblems): void {
  const c = p.constraints;
  const wrongType = (expected: string) => void p.types.push(`Value at '${path || 'body'}' must be ${expected}, not ${jsonType(value)}`);
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return wrongType('a JSON object (structure)');
      const record = value as Record<string, unknown>;
      for (const name of shape.required ?? []) {
        c.required(join(path, lowerFirst(name)), Object.hasOwn(record, name) ? record[name] : undefined);
      }
      for (const [name, member] of Object.entries(shape.members)) {
        if (!Object.hasOwn(record, name)) continue;
        const v = record[name];
        // null is an absent member (required ones were reported above).
        if (v !== null && v !== undefined) walk(member, v, join(path, lowerFirst(name)), p);
      }
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) return wrongType('a JSON array (list)');
      c.length(path, value, shape.min ?? 0, shape.max ?? Number.MAX_SAFE_INTEGER);
      value.forEach((item, i) => {
        const at = `${path}.${i + 1}.member`;
        if (item === null || item === undefined) c.required(at, undefined);
        else walk(shape.member, item, at, p);
      });
      return;
    }
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return wrongType('a JSON object (map)');
      const entries = Object.entries(value as Record<string, unknown>);
      if (shape.max !== undefined && entries.length > shape.max) c.add(`Value at '${path}' failed to satisfy constraint: Member must have length less than or equal to ${shape.max}`);
      for (const [k, v] of entries) {
        c.string(`${path}.key`, k, shape.key);
        if (v === null || v === undefined) c.required(`${path}.value`, undefined);
        else walk(shape.value, v, `${path}.value`, p);
      }
      return;
    }
    case 'string':
      if (typeof value !== 'string') return wrongType('a string');
      if (shape.rule) c.string(path, value, shape.rule);
      if (shape.enum) c.oneOf(path, value, shape.enum);
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return wrongType('an integer');
      c.number(path, value, shape.min ?? Number.MIN_SAFE_INTEGER, shape.max ?? Number.MAX_SAFE_INTEGER, shape.limitText === undefined ? undefined : { maxText: shape.limitText });
      return;
    case 'float':
    case 'timestamp':
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrongType(shape.type === 'float' ? 'a number' : 'a timestamp (epoch seconds)');
      if (shape.type === 'float') c.number(path, value, shape.min ?? -Number.MAX_VALUE, shape.max ?? Number.MAX_VALUE, { integer: false });
      return;
    case 'boolean':
      if (typeof value !== 'boolean') return wrongType('a boolean');
      return;
    case 'document':
      return;
  }
}
