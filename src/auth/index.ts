export { createAuthenticator, type Authenticator, type Caller, type VerifiedCaller } from './authenticator.js';
export { createKeyRing, type AccessKey, type KeyRing } from './key-ring.js';
export { KeyStatuses, credentialsFileText, newAccessKey, type KeyStatus, type StoredKey } from './access-keys.js';
export { CREDENTIALS_PROFILE, ensureRootKey, rootKeyInstructions, type MadeRootKey } from './root-key.js';
export { PolicyDocumentSchema, compilePolicy, denialMessage, evaluatePolicy, s3Arn, sagemakerArn, type CompiledPolicy, type Decision, type PolicyDocument } from './policy.js';
export { ChunkSignatureChain } from './chunk-signature.js';
export { isS3PayloadHash, sha256Hex, SigV4Error, type SigV4Failure, type SigV4Service, type SignedRequest } from './sigv4.js';

/** What the verifier reads of a Node request: method, the URL as sent, and the headers as sent. */
export function signedRequestOf(request: { raw: { method?: string; url?: string; rawHeaders: string[] } }): { method: string; rawUrl: string; rawHeaders: readonly string[] } {
  return { method: request.raw.method ?? 'GET', rawUrl: request.raw.url ?? '/', rawHeaders: request.raw.rawHeaders };
}
export { startAccessControl, type AccessControl } from './access-control.js';
