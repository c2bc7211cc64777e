/**
 * `asyncinfer keys create|list|enable|disable|delete`: manages the access keys kept in the catalog
 * (the data dir's catalog.db, or Redis when the config or --redis-url says so). A running server
 * re-reads them every second, so a change needs no restart. Output is IAM's JSON shapes
 * (`aws iam create-access-key`, `list-access-keys`), secrets only at creation.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { newAccessKey, PolicyDocumentSchema, type StoredKey } from '../auth/index.js';
import { createRedisCatalog, createSqliteCatalog, type Catalog } from '../catalog/index.js';
import { loadConfig, type ResolvedConfig } from '../config/index.js';
import { KEYS_HELP } from './help.js';
import { EXIT_USAGE, usageError } from './usage.js';


export async function keysCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: {
        config: { type: 'string' }, 'data-dir': { type: 'string' }, 'redis-url': { type: 'string' },
        'access-key-id': { type: 'string' }, policy: { type: 'string' }, description: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usageError('keys', `${(err as Error).message}.`);
  }
  const { values, positionals } = parsed;
  const [action, ...extra] = positionals;
  if (values.help || action === 'help' || action === undefined) {
    process.stdout.write(KEYS_HELP);
    return action === undefined && !values.help ? EXIT_USAGE : 0;
  }
  if (extra.length > 0) return usageError('keys', `unexpected argument "${extra[0]}".`);
  const id = values['access-key-id'];
  if (['enable', 'disable', 'delete'].includes(action) && id === undefined) return usageError('keys', `"${action}" needs --access-key-id.`);
  if (action !== 'create' && (values.policy !== undefined || values.description !== undefined)) return usageError('keys', '--policy and --description are for "create".');

  let config: ResolvedConfig;
  try {
    config = loadConfig({ file: values.config, env: process.env, flags: { dataDir: values['data-dir'], redisUrl: values['redis-url'] } });
  } catch (err) {
    process.stderr.write(`asyncinfer keys: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const catalog: Catalog = config.queue.type === 'redis'
    ? createRedisCatalog({ url: config.queue.url, cluster: config.queue.cluster, prefix: config.queue.prefix })
    : createSqliteCatalog({ dir: config.dataDir });
  try {
    await catalog.start();
    switch (action) {
      case 'create': return await create(catalog, values.policy, values.description);
      case 'list': return await list(catalog, config);
      case 'enable':
      case 'disable': return await setStatus(catalog, id!, action === 'enable' ? 'Active' : 'Inactive', config);
      case 'delete': return await remove(catalog, id!, config);
      default: return usageError('keys', `unknown subcommand "${action}"; use create, list, enable, disable or delete.`);
    }
  } catch (err) {
    process.stderr.write(`asyncinfer keys: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await catalog.stop();
  }
}

async function create(catalog: Catalog, policyArg: string | undefined, description: string | undefined): Promise<number> {
  let policy: StoredKey['Policy'];
  if (policyArg !== undefined) {
    let text = policyArg;
    if (policyArg.startsWith('file://')) {
      try {
        text = readFileSync(policyArg.slice('file://'.length), 'utf8');
      } catch (err) {
        return usageError('keys', `cannot read the policy file: ${(err as Error).message}.`);
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return usageError('keys', `--policy is not JSON (${(err as Error).message}); give the document, or file://path/to/policy.json.`);
    }
    const checked = PolicyDocumentSchema.safeParse(json);
    if (!checked.success) {
      return usageError('keys', `--policy is not a valid policy:\n${checked.error.issues.map((i) => `  - ${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n')}\n`);
    }
    policy = checked.data;
  }
  const key = newAccessKey();
  const doc: StoredKey = { SecretAccessKey: key.secretAccessKey, Status: 'Active', CreateDate: new Date().toISOString(), ...(description !== undefined && { Description: description }), ...(policy && { Policy: policy }) };
  if (!(await catalog.create('access-key', key.accessKeyId, doc))) throw new Error('a key with the new id exists already; run the command again');
  print({ AccessKey: { AccessKeyId: key.accessKeyId, SecretAccessKey: key.secretAccessKey, Status: doc.Status, CreateDate: doc.CreateDate, ...(description !== undefined && { Description: description }) } });
  return 0;
}

async function list(catalog: Catalog, config: ResolvedConfig): Promise<number> {
  const stored = (await catalog.list('access-key')).map((r) => {
    const doc = r.doc as unknown as StoredKey;
    return { AccessKeyId: r.name, Status: doc.Status, CreateDate: doc.CreateDate, Source: 'catalog', ...(doc.Description !== undefined && { Description: doc.Description }), ...(doc.Policy && { Policy: doc.Policy }) };
  });
  const configured = config.auth.keys.map((k) => ({ AccessKeyId: k.accessKeyId, Status: 'Active', Source: 'config', ...(k.description !== undefined && { Description: k.description }), ...(k.policy && { Policy: k.policy }) }));
  print({ AccessKeyMetadata: [...configured, ...stored] });
  return 0;
}

async function setStatus(catalog: Catalog, id: string, status: StoredKey['Status'], config: ResolvedConfig): Promise<number> {
  const found = await catalog.get('access-key', id);
  if (!found) return notFound(id, config);
  await catalog.update('access-key', id, { ...found.doc, Status: status });
  return 0;
}

async function remove(catalog: Catalog, id: string, config: ResolvedConfig): Promise<number> {
  if (!(await catalog.delete('access-key', id))) return notFound(id, config);
  return 0;
}

function notFound(id: string, config: ResolvedConfig): number {
  const inConfig = config.auth.keys.some((k) => k.accessKeyId === id);
  process.stderr.write(`asyncinfer keys: ${inConfig
    ? `${id} is a key of the config file; change it there (and restart the server).`
    : `there is no access key ${id} in ${config.queue.type === 'redis' ? 'the Redis catalog' : `${config.dataDir}/catalog.db`}. "asyncinfer keys list" shows them.`}\n`);
  return 1;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 4)}\n`);
}
