/**
 * A real redis-server for tests (the OS package, /usr/bin/redis-server), on a free loopback port,
 * persisting to an append-only file in a temporary folder, so a restart on the same port and
 * folder finds the data again. Nothing is mocked: tests see Redis as production does.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** SIGTERM and wait for the exit (Redis flushes the AOF first). */
  stop(): Promise<void>;
  /** SIGKILL: a crash; only what was fsync'd to the AOF survives. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and folder (stopping it first if it runs). */
  restart(): Promise<void>;
}

export interface RedisServerOptions {
  appendfsync?: 'always' | 'everysec';
  /** More redis-server arguments (cluster mode, say). */
  extraArgs?: string[];
}

const BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'asyncinfer-redis-'));
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'always', '--save', '', '--daemonize', 'no',
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  async function launch(): Promise<void> {
    const proc = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', reject);
      proc.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) before answering PING:\n${output}`)));
    });
    exited.catch(() => undefined);
    await Promise.race([waitForPing(port, 10_000), exited]);
  }

  async function end(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await done;
  }

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      await end('SIGTERM');
      process.off('exit', killOnExit);
    },
    kill9: () => end('SIGKILL'),
    async restart() {
      await end('SIGTERM');
      await launch();
    },
  };
}

/**
 * A real Redis Cluster of `masters` nodes (no replicas), made with `redis-cli --cluster create`,
 * resolved once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<{ nodes: RedisServer[]; stop(): Promise<void> }> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(await startRedisServer({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }));
  }
  const cli = (args: string[]) => execFileSync('/usr/bin/redis-cli', args, { encoding: 'utf8', timeout: 30_000 });
  cli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  const deadline = Date.now() + 20_000;
  while (!nodes.every((n) => cli(['-p', String(n.port), 'cluster', 'info']).includes('cluster_state:ok'))) {
    if (Date.now() > deadline) throw new Error('the Redis Cluster did not reach cluster_state:ok within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { nodes, stop: async () => { await Promise.all(nodes.map((n) => n.stop())); } };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Speaks just enough RESP to see `+PONG` (and not `-LOADING`), retrying until the deadline. */
async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}
