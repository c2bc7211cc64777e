/**
 * The first start with no key anywhere (none in the config, none in the catalog) makes a root key,
 * so the server is never open, and says how to use it: the key goes into the catalog, and into
 * `<data-dir>/credentials` (owner-only) in the AWS shared-credentials format under the profile
 * `asyncinfer`. The secret is never logged: the instructions read it from that file.
 */
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/index.js';
import { credentialsFileText, newAccessKey, type StoredKey } from './access-keys.js';

export const CREDENTIALS_PROFILE = 'asyncinfer';

export interface MadeRootKey {
  accessKeyId: string;
  credentialsFile: string;
}

/** How to use a root key just made: what the log line says and the CLI prints. */
export function rootKeyInstructions(key: MadeRootKey): string {
  const file = key.credentialsFile;
  return `No access key was configured, so this first start made a root key (${key.accessKeyId}); every request must be signed with it. ` +
    `Its credentials are in ${file} (owner-only). Point the AWS SDKs and CLI at it with\n` +
    `  export AWS_SHARED_CREDENTIALS_FILE=${file} AWS_PROFILE=${CREDENTIALS_PROFILE}\n` +
    `or\n  export AWS_ACCESS_KEY_ID=${key.accessKeyId}\n  export AWS_SECRET_ACCESS_KEY=$(sed -n 's/^aws_secret_access_key = //p' ${file})\n` +
    'More keys, with policies: asyncinfer keys create --help (docs/security.md).';
}

/** Makes the root key when there is no key anywhere; says which key it made, if it made one. */
export async function ensureRootKey(p: {
  catalog: Pick<Catalog, 'list' | 'create'>; dataDir: string; configuredKeys: number; logger: Logger;
}): Promise<MadeRootKey | undefined> {
  if (p.configuredKeys > 0 || (await p.catalog.list('access-key')).length > 0) return undefined;
  const key = newAccessKey();
  const doc: StoredKey = { SecretAccessKey: key.secretAccessKey, Status: 'Active', CreateDate: new Date().toISOString(), Description: 'root key made at the first start' };
  // Another node sharing the catalog may make one at the same moment: both keys are valid.
  if (!(await p.catalog.create('access-key', key.accessKeyId, doc))) return undefined;
  const file = path.join(p.dataDir, 'credentials');
  await writeFile(file, credentialsFileText(CREDENTIALS_PROFILE, key), { mode: 0o600 });
  await chmod(file, 0o600);
  const made = { accessKeyId: key.accessKeyId, credentialsFile: file };
  p.logger.warn(made, rootKeyInstructions(made));
  return made;
}
