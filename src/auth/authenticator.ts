/**
 * Who is calling: SigV4 verification against the key ring, in two steps so that a surface can
 * refuse early and verify late.
 *
 * - `identify` runs before the body is read: it parses the signature, checks its scope and time,
 *   and finds the key. An unsigned request, an unknown or disabled key, a skewed clock are refused
 *   here, before a byte of body is read (and never queued).
 * - `verify` runs once the payload hash is known (the SageMaker APIs hash the body they buffered;
 *   S3 signs a declared hash that the body is then checked against as it streams).
 *
 * With `auth.mode` off both return undefined: there is no caller to check (loopback only, see
 * the config). Every refusal is a SigV4Error; each surface names it in its own error shape.
 */
import { SigV4Error, parseSignature, verifySignature, type ParsedSignature, type SigV4Service, type SignedRequest } from './sigv4.js';
import type { AccessKey, KeyRing } from './key-ring.js';
import { evaluatePolicy, type Decision } from './policy.js';

export interface Caller {
  key: AccessKey;
  signature: ParsedSignature;
}

export interface VerifiedCaller extends Caller {
  /** What a streamed aws-chunked body's chunk signatures chain from. */
  signingKey: Buffer;
  scope: string;
  seedSignature: string;
}

export interface Authenticator {
  readonly enabled: boolean;
  identify(req: SignedRequest, service: SigV4Service): Caller | undefined;
  verify(req: SignedRequest, caller: Caller, payloadHash: string, service: SigV4Service): VerifiedCaller;
  decide(caller: Caller | undefined, action: string, resource: string): Decision;
}

export function createAuthenticator(options: { mode: 'sigv4' | 'off'; keys: KeyRing; region: string; now?: () => number }): Authenticator {
  const now = options.now ?? Date.now;
  const enabled = options.mode === 'sigv4';
  return {
    enabled,
    identify(req, service) {
      if (!enabled) return undefined;
      const signature = parseSignature(req, { service, region: options.region, nowMs: now() });
      if (!signature) throw new SigV4Error('MissingAuthentication', 'The request is not signed. Sign it with AWS Signature Version 4 and an access key of this server (docs/security.md).');
      const key = options.keys.find(signature.accessKeyId);
      if (!key || !key.active) {
        throw new SigV4Error('UnknownKey', key
          ? `The access key ${signature.accessKeyId} is disabled (asyncinfer keys list shows its status).`
          : `The access key ${signature.accessKeyId} is not known to this server. Use a key from its config or from asyncinfer keys create.`);
      }
      return { key, signature };
    },
    verify(req, caller, payloadHash, service) {
      const proof = verifySignature(req, caller.signature, caller.key.secretAccessKey, payloadHash, service);
      return { ...caller, ...proof };
    },
    decide(caller, action, resource) {
      if (!enabled) return 'allow';
      // Fail closed: with auth on, a request nobody identified may do nothing.
      if (!caller) return 'implicit-deny';
      return evaluatePolicy(caller.key.policy, action, resource);
    },
  };
}
