/**
 * Access keys made by the server or by `asyncinfer keys`, kept in the catalog (kind `access-key`,
 * named by the access key id) so that every gateway and worker sharing the catalog reads the same
 * ones. SigV4 needs the plaintext secret on the verifying side, so it is stored as it is; what
 * protects it is who can read the catalog: `catalog.db` and the data dir are owner-only, and on
 * Redis its ACL (docs/security.md).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { PolicyDocument } from './policy.js';

export const KeyStatuses = ['Active', 'Inactive'] as const;
export type KeyStatus = (typeof KeyStatuses)[number];

/** The catalog document of one key; names as in IAM's AccessKey. */
export interface StoredKey {
  SecretAccessKey: string;
  Status: KeyStatus;
  CreateDate: string;
  Description?: string;
  Policy?: PolicyDocument;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A new key shaped like AWS's: a 20-character id starting "AKIA", a 40-character secret (240 random bits). */
export function newAccessKey(): { accessKeyId: string; secretAccessKey: string } {
  let id = 'AKIA';
  while (id.length < 20) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return { accessKeyId: id, secretAccessKey: randomBytes(30).toString('base64') };
}

/** The AWS shared-credentials file format, read by every SDK and the CLI (AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE). */
export function credentialsFileText(profile: string, key: { accessKeyId: string; secretAccessKey: string }): string {
  return `[${profile}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`;
}
