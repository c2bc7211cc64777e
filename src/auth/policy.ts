/**
 * IAM-style identity policies for access keys: the document schema, a compiler, and the evaluator
 * that runs on every request. Semantics are IAM's for the subset we support: an explicit Deny wins,
 * otherwise a matching Allow allows, otherwise the answer is the default (implicit) deny.
 *
 * Deliberately unsupported: Condition, Principal/NotPrincipal and policy variables. They are refused
 * at parse time rather than ignored, because an ignored condition would grant more than the author
 * meant and an ignored variable would silently grant nothing.
 */
import { z } from 'zod';
import { AppError } from '../errors.js';

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
}

export interface PolicyDocument {
  Version: '2012-10-17' | '2008-10-17';
  Statement: Statement | Statement[];
  Id?: string;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

// Only the services we serve: a policy naming any other (or a typo such as "sagemkaer") would
// otherwise be accepted and quietly match nothing.
const SERVICES = ['sagemaker', 's3', 'asyncinfer'] as const;
const ACTION_SHAPE = new RegExp(`^(?:\\*|(?:${SERVICES.join('|')}):[A-Za-z0-9*?]+)$`, 'i');

const UNSUPPORTED_KEYS: Record<string, string> = {
  Condition: '"Condition" is not supported: asyncinfer evaluates Effect, Action and Resource only, and ignoring a condition would grant more than intended',
  Principal: '"Principal" is not supported: this is an identity-based policy, so the access key it is attached to is the principal',
  NotPrincipal: '"NotPrincipal" is not supported: this is an identity-based policy, so the access key it is attached to is the principal',
};

const action = z.string().superRefine((value, ctx) => {
  if (!ACTION_SHAPE.test(value)) {
    ctx.addIssue({ code: 'custom', message: `must be "*" or "service:ActionName" where service is one of ${SERVICES.join(', ')} (the name may use * and ? wildcards); got ${JSON.stringify(value)}` });
  }
});

const resource = z.string().superRefine((value, ctx) => {
  if (value !== '*' && !value.startsWith('arn:')) {
    ctx.addIssue({ code: 'custom', message: `must be "*" or an ARN such as arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint or arn:aws:s3:::bucket/*; got ${JSON.stringify(value)}` });
  } else if (value.includes('${')) {
    ctx.addIssue({ code: 'custom', message: `policy variables such as \${aws:username} are not supported; got ${JSON.stringify(value)}` });
  }
});

/**
 * IAM's "one value or a list of them". Not z.union: when both branches fail on a hard error (say a
 * missing Effect) it reports only "Invalid input", so pick the branch by shape and pass its issues on.
 */
function oneOrMany<T extends z.ZodType>(item: T, emptyMessage: string) {
  const list = z.array(item).min(1, emptyMessage);
  return z.unknown().transform((value, ctx): z.output<T> | z.output<T>[] => {
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is required: one value or a list of them' });
      return z.NEVER;
    }
    const result = Array.isArray(value) ? list.safeParse(value) : item.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.addIssue(issue as z.core.$ZodSuperRefineIssue); // same issue, path relative to here
    return z.NEVER;
  });
}

const StatementSchema = z.strictObject({
  Sid: z.string().optional(),
  Effect: z.enum(['Allow', 'Deny'], {
    error: (issue) => (issue.input === undefined ? 'Effect is required: "Allow" or "Deny"' : 'Effect must be "Allow" or "Deny" (case-sensitive)'),
  }),
  Action: oneOrMany(action, 'must not be an empty list').optional(),
  NotAction: oneOrMany(action, 'must not be an empty list').optional(),
  Resource: oneOrMany(resource, 'must not be an empty list').optional(),
  NotResource: oneOrMany(resource, 'must not be an empty list').optional(),
}, {
  error: (issue) => (issue.code === 'unrecognized_keys'
    ? issue.keys.map((key) => UNSUPPORTED_KEYS[key] ?? `unknown key ${JSON.stringify(key)}`).join('; ')
    : undefined),
}).superRefine((statement, ctx) => {
  if ((statement.Action === undefined) === (statement.NotAction === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of "Action" or "NotAction"' });
  }
  if ((statement.Resource === undefined) === (statement.NotResource === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of "Resource" or "NotResource" (IAM requires one in identity-based policies; use "Resource": "*" for all)' });
  }
  // Run even when a field failed, so every problem is reported at once; this only looks at which keys are present.
}, { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) });

/** zod schema for a policy document; used by the config schema and the `asyncinfer keys create --policy` command. */
export const PolicyDocumentSchema: z.ZodType<PolicyDocument> = z.strictObject({
  Version: z.enum(['2012-10-17', '2008-10-17'], { error: 'Version must be "2012-10-17" (or the older "2008-10-17")' }),
  Id: z.string().optional(),
  Statement: oneOrMany(StatementSchema, 'Statement must hold at least one statement'),
});

/** A matcher is a compiled RegExp, or a constant for a bare "*" so the common root-like case costs nothing. */
interface Matcher { test(value: string): boolean }
const MATCH_ALL: Matcher = { test: () => true };

interface CompiledStatement {
  readonly effect: 'Allow' | 'Deny';
  readonly action: Matcher;
  /** True for NotAction: the statement applies when the action does NOT match. */
  readonly notAction: boolean;
  readonly resource: Matcher;
  readonly notResource: boolean;
}

export interface CompiledPolicy {
  /** Deny statements first, so evaluation can stop at the first statement that applies. */
  readonly statements: readonly CompiledStatement[];
}

/** Validates again (a typed document may still hold a malformed pattern) and compiles every pattern once. */
export function compilePolicy(doc: PolicyDocument): CompiledPolicy {
  const parsed = PolicyDocumentSchema.safeParse(doc);
  if (!parsed.success) throw new AppError('ConfigInvalid', `invalid policy document:\n${z.prettifyError(parsed.error)}`);
  const list = Array.isArray(parsed.data.Statement) ? parsed.data.Statement : [parsed.data.Statement];
  const statements = list.map((s): CompiledStatement => ({
    effect: s.Effect,
    // Actions are validated ASCII, so plain 'i' suffices; without 'u' it also avoids Unicode case
    // folding (e.g. "ſ" matching "s"). Resources are case-sensitive; 'u' makes "?" one code point.
    action: compileMatcher(s.Action ?? s.NotAction ?? [], 'i'),
    notAction: s.Action === undefined,
    resource: compileMatcher(s.Resource ?? s.NotResource ?? [], 'u'),
    notResource: s.Resource === undefined,
  }));
  statements.sort((a, b) => Number(a.effect === 'Allow') - Number(b.effect === 'Allow'));
  return Object.freeze({ statements: Object.freeze(statements) });
}

/** `policy` undefined means the key may do everything (a root key) → 'allow'. */
export function evaluatePolicy(policy: CompiledPolicy | undefined, action: string, resource: string): Decision {
  if (policy === undefined) return 'allow';
  for (const s of policy.statements) {
    if (s.action.test(action) === s.notAction || s.resource.test(resource) === s.notResource) continue;
    // Denies come first, so a matching Allow here means no Deny applies.
    return s.effect === 'Deny' ? 'explicit-deny' : 'allow';
  }
  return 'implicit-deny';
}

/**
 * The AWS-style message for a refusal. It names only the action and resource: never the policy,
 * its statements or Sids, which would tell a caller what else the key may do.
 */
export function denialMessage(p: { accountId: string; accessKeyId: string; action: string; resource: string; decision: Exclude<Decision, 'allow'> }): string {
  const why = p.decision === 'explicit-deny'
    ? 'with an explicit deny in an identity-based policy'
    : `because no identity-based policy allows the ${p.action} action`;
  return `User: arn:aws:iam::${p.accountId}:user/${p.accessKeyId} is not authorized to perform: ${p.action} on resource: ${p.resource} ${why}`;
}

/** SageMaker lower-cases the resource name in ARNs: arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint */
export function sagemakerArn(p: { region: string; accountId: string; type: 'endpoint' | 'model' | 'endpoint-config'; name: string }): string {
  return `arn:aws:sagemaker:${p.region}:${p.accountId}:${p.type}/${p.name.toLowerCase()}`;
}

/** arn:aws:s3:::bucket, arn:aws:s3:::bucket/key, or arn:aws:s3:::* when no bucket is named (ListBuckets). */
export function s3Arn(bucket?: string, key?: string): string {
  if (!bucket) return 'arn:aws:s3:::*';
  return key ? `arn:aws:s3:::${bucket}/${key}` : `arn:aws:s3:::${bucket}`;
}

function compileMatcher(patterns: string | string[], flags: 'i' | 'u'): Matcher {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  if (list.includes('*')) return MATCH_ALL;
  const groups = { next: 1 };
  return new RegExp(`^(?:${list.map((p) => globSource(p, groups)).join('|')})$`, flags);
}

/**
 * A glob as regex source, `*` matching any run (across "/" and ":", as in IAM) and `?` one character.
 *
 * The naive `.*` translation backtracks polynomially: `*a*a*a*a*b` against a long key of "a"s would
 * stall the request path. Every segment between two stars has a fixed length, so taking its leftmost
 * occurrence is always safe; `(?=(.*?seg))\N` finds it and commits (a lookahead is atomic in JS), so
 * matching stays O(pattern × input). Only the last segment uses a plain `.*`: one linear backtrack.
 */
function globSource(pattern: string, groups: { next: number }): string {
  const segments = pattern.split('*').map(literalSource);
  const first = segments.shift() ?? '';
  const last = segments.pop();
  if (last === undefined) return first;
  let source = first;
  for (const middle of segments) {
    if (middle === '') continue; // "**" means the same as "*"
    const group = groups.next++;
    source += `(?=([\\s\\S]*?${middle}))\\${group}`;
  }
  return `${source}[\\s\\S]*${last}`;
}

/** Everything but `?` is literal: ARNs and S3 keys may hold ".", "+", "(", "$" and the like. */
function literalSource(segment: string): string {
  return segment.split('?').map((text) => text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')).join('[\\s\\S]');
}
