import { describe, expect, it } from 'vitest';
import { checkShape, type Shape } from './shapes.js';

const shape: Shape = {
  type: 'structure', required: ['Name'],
  members: {
    Name: { type: 'string', rule: { min: 1, max: 5 } },
    Items: { type: 'list', min: 1, max: 2, member: { type: 'structure', members: { Count: { type: 'integer', min: 0, max: 3, limitText: 'the limit' } } } },
    Env: { type: 'map', key: { pattern: /^[A-Z]+$/, patternText: '[A-Z]+' }, value: { type: 'string' }, max: 1 },
  },
};

describe('checkShape', () => {
  it('reports wrong JSON types by member path, apart from constraint problems', () => {
    const p = checkShape(shape, { Name: 'ok', Items: 'x', Env: { A: 1 } });
    expect(p.types).toEqual(["Value at 'items' must be a JSON array (list), not a string", "Value at 'env.value' must be a string, not a number"]);
    expect(p.constraints.message()).toBeUndefined();
  });

  it('words constraint problems as AWS does, nulls in lists included', () => {
    const p = checkShape(shape, { Items: [null, { Count: 4 }, {}], Env: { a: 'x', B: 'y' } });
    expect(p.types).toEqual([]);
    expect(p.constraints.message()).toBe('6 validation errors detected: ' + [
      "Value null at 'name' failed to satisfy constraint: Member must not be null",
      "Value at 'items' failed to satisfy constraint: Member must have length less than or equal to 2",
      "Value null at 'items.1.member' failed to satisfy constraint: Member must not be null",
      "Value '4' at 'items.2.member.count' failed to satisfy constraint: Member must have value less than or equal to 3 (the limit)",
      "Value at 'env' failed to satisfy constraint: Member must have length less than or equal to 1",
      "Value 'a' at 'env.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Z]+",
    ].join('; '));
  });

  it('ignores members it does not know, and inherited names', () => {
    const p = checkShape(shape, JSON.parse('{"Name":"a","Other":[1],"__proto__":{"Name":7},"constructor":1}'));
    expect(p.types).toEqual([]);
    expect(p.constraints.message()).toBeUndefined();
    expect(checkShape(shape, []).types).toEqual(["Value at 'body' must be a JSON object (structure), not a list"]);
  });
});
