/**
 * Coral-style constraint checking, as the AWS services word it:
 *   `2 validation errors detected: Value 'x' at 'member' failed to satisfy constraint: Member must ...; ...`
 * Every check adds to one list, so a request learns all its problems at once. Sensitive members
 * never have their value echoed.
 */
export interface StringRule {
  min?: number;
  max?: number;
  pattern?: RegExp;
  /** The pattern as the service model writes it, quoted in the message. */
  patternText?: string;
  sensitive?: boolean;
}

const MAX_ECHOED_VALUE = 256;

export interface Constraints {
  problems: string[];
  /** Adds `problem` as it is (for rules that are not about one member's value). */
  add(problem: string): void;
  string(member: string, value: string | undefined, rule: StringRule): void;
  required(member: string, value: unknown): boolean;
  /** `maxText` says where `max` comes from (a server limit, say), after the AWS wording. */
  number(member: string, value: number | undefined, min: number, max: number, options?: { integer?: boolean; maxText?: string }): void;
  length(member: string, items: readonly unknown[] | undefined, min: number, max: number): void;
  oneOf(member: string, value: string | undefined, allowed: readonly string[]): void;
  /** The summary message, or undefined when every check passed. */
  message(): string | undefined;
}

export function constraints(): Constraints {
  const problems: string[] = [];
  const at = (member: string, value: unknown, sensitive = false) =>
    sensitive || value === undefined ? `Value at '${member}'` : `Value ${quote(value)} at '${member}'`;
  const fail = (member: string, value: unknown, rule: string, sensitive?: boolean) =>
    problems.push(`${at(member, value, sensitive)} failed to satisfy constraint: Member must ${rule}`);

  return {
    problems,
    add: (problem) => void problems.push(problem),
    string(member, value, rule) {
      if (value === undefined) return;
      if (typeof value !== 'string') {
        fail(member, value, 'be a string', rule.sensitive);
        return;
      }
      if (rule.min !== undefined && value.length < rule.min) fail(member, value, `have length greater than or equal to ${rule.min}`, rule.sensitive);
      if (rule.max !== undefined && value.length > rule.max) fail(member, value, `have length less than or equal to ${rule.max}`, rule.sensitive);
      if (rule.pattern && !rule.pattern.test(value)) fail(member, value, `satisfy regular expression pattern: ${rule.patternText ?? rule.pattern.source}`, rule.sensitive);
    },
    required(member, value) {
      if (value !== undefined && value !== null) return true;
      problems.push(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
      return false;
    },
    number(member, value, min, max, options) {
      if (value === undefined) return;
      if (typeof value !== 'number' || !Number.isFinite(value) || (options?.integer !== false && !Number.isInteger(value))) {
        fail(member, value, options?.integer === false ? 'be a number' : 'be an integer');
        return;
      }
      if (value < min) fail(member, value, `have value greater than or equal to ${min}`);
      if (value > max) fail(member, value, `have value less than or equal to ${max}${options?.maxText === undefined ? '' : ` (${options.maxText})`}`);
    },
    length(member, items, min, max) {
      if (items === undefined) return;
      if (!Array.isArray(items)) {
        fail(member, undefined, 'be a list');
        return;
      }
      if (items.length < min) fail(member, undefined, `have length greater than or equal to ${min}`);
      if (items.length > max) fail(member, undefined, `have length less than or equal to ${max}`);
    },
    oneOf(member, value, allowed) {
      if (value !== undefined && !allowed.includes(value)) fail(member, value, `satisfy enum value set: [${allowed.join(', ')}]`);
    },
    message() {
      const n = problems.length;
      return n === 0 ? undefined : `${n} validation error${n === 1 ? '' : 's'} detected: ${problems.join('; ')}`;
    },
  };
}

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `'${text.length > MAX_ECHOED_VALUE ? `${text.slice(0, MAX_ECHOED_VALUE)}...` : text}'`;
}
