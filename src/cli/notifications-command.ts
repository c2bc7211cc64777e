/**
 * `asyncinfer notifications list|replay`: the command-line client of the admin API of a running
 * server (GET /admin/notifications, POST /admin/notifications/replay). Prints the server's JSON
 * answer, like the AWS CLI's default output; resolves to the exit code.
 */
import { parseArgs } from 'node:util';
import { NOTIFICATIONS_HELP } from './help.js';
import { signedRequest } from './signed-request.js';
import { usageError } from './usage.js';

const DEFAULT_ENDPOINT_URL = 'http://127.0.0.1:8080';

export async function notificationsCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: {
        'endpoint-url': { type: 'string' }, state: { type: 'string' }, ids: { type: 'string' },
        'endpoint-name': { type: 'string' }, limit: { type: 'string' }, help: { type: 'boolean', short: 'h' },
        profile: { type: 'string' }, region: { type: 'string' },
      },
    });
  } catch (err) {
    return usageError('notifications', `${(err as Error).message}.`);
  }
  const { values, positionals } = parsed;
  const [action, ...extra] = positionals;
  if (values.help || action === 'help') {
    process.stdout.write(NOTIFICATIONS_HELP);
    return 0;
  }
  if (extra.length > 0) return usageError('notifications', `unexpected argument "${extra[0]}".`);
  const base = (values['endpoint-url'] ?? DEFAULT_ENDPOINT_URL).replace(/\/+$/, '');
  const signing = { region: values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1', ...(values.profile !== undefined && { profile: values.profile }) };
  const call = (method: 'GET' | 'POST', url: string, body?: string) => send(signing, method, url, body);

  if (action === 'list') {
    if (values.ids !== undefined) return usageError('notifications', '--ids is for "replay"; "list" takes --state, --endpoint-name and --limit.');
    const query = new URLSearchParams();
    if (values.state !== undefined) query.set('state', values.state);
    if (values['endpoint-name'] !== undefined) query.set('endpoint', values['endpoint-name']);
    if (values.limit !== undefined) query.set('limit', values.limit);
    return call('GET', `${base}/admin/notifications${query.size > 0 ? `?${query}` : ''}`);
  }
  if (action === 'replay') {
    if (values.state !== undefined && values.state !== 'failed') return usageError('notifications', '"replay" replays failed notifications only; leave out --state, or give --state failed.');
    if (values['endpoint-name'] !== undefined || values.limit !== undefined) return usageError('notifications', '"replay" takes --ids (or nothing, for every failed notification).');
    const ids = values.ids?.split(',').map((id) => id.trim()).filter((id) => id !== '');
    if (values.ids !== undefined && ids!.length === 0) return usageError('notifications', '--ids needs at least one notification id, e.g. --ids result-0190...,test-0190...');
    return call('POST', `${base}/admin/notifications/replay`, JSON.stringify(ids ? { ids } : {}));
  }
  return usageError('notifications', action === undefined ? 'give a subcommand: list or replay.' : `unknown subcommand "${action}"; use list or replay.`);
}

async function send(signing: { region: string; profile?: string }, method: 'GET' | 'POST', url: string, body?: string): Promise<number> {
  let res;
  try {
    res = await signedRequest({ method, url, ...signing, ...(body !== undefined && { body }) });
  } catch (err) {
    const name = (err as Error).name;
    process.stderr.write(name === 'CredentialsProviderError'
      ? `asyncinfer notifications: no credentials to sign with: ${(err as Error).message}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE (the server printed them at its first start).\n`
      : `asyncinfer notifications: could not reach ${url}: ${(err as Error).message}. Is the server running? Give its URL with --endpoint-url.\n`);
    return 1;
  }
  const text = await res.body.text();
  if (res.statusCode !== 200) {
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // Not our JSON: print it as it came.
    }
    process.stderr.write(`asyncinfer notifications: ${method} ${url} answered ${res.statusCode}: ${message}\n`);
    return 1;
  }
  try {
    process.stdout.write(`${JSON.stringify(JSON.parse(text), null, 4)}\n`);
  } catch {
    process.stdout.write(`${text}\n`);
  }
  return 0;
}
