/**
 * Hostile input against one running server: every case gets a clear error in the AWS shape (or,
 * below HTTP, a 4xx and a closed connection), nothing lands outside the endpoint's output and
 * failure prefixes, and a normal InvokeEndpointAsync sent alongside and right after still gets
 * its 202 and its output object. The server never answers 500 and never crashes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { InvokeEndpointAsyncCommand, ValidationError, type InvokeEndpointAsyncCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHeaders } from '../src/cli/signed-request.js';
import { controlEndpoint, invocationRows, objectFile, startServer, tempDir, waitFor, waitForObject, type ServerProcess } from './support/server.js';
import { TEST_CREDENTIALS } from './support/signing.js';

let server: ServerProcess;
/** Everything the test and the server write lives under here: the data dir is three levels down,
 * so a path that climbs out of the object store (`../../..`) would still land where we can see it. */
let root: string;
let port: number;
/** OutputLocation of every normal invocation that got a 202; all must end with their object. */
const accepted: string[] = [];

beforeAll(async () => {
  root = tempDir('asyncinfer-hostile-');
  mkdirSync(path.join(root, 'x', 'y'), { recursive: true });
  server = await startServer({ dataDir: path.join(root, 'x', 'y', 'data'), config: { endpoints: [controlEndpoint('ep')] } });
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  // Not one request ended as InternalFailure, and the server still stops cleanly.
  expect(server.logs.filter((l) => l.msg === 'request failed')).toEqual([]);
  expect(await server.stop()).toBe(0);
});

// ---- helpers -------------------------------------------------------------------------------

async function invokeNormally(tag: string): Promise<string> {
  const res = await send({ Body: Buffer.from(JSON.stringify({ tag })) });
  expect(res.$metadata.httpStatusCode).toBe(202);
  accepted.push(res.OutputLocation!);
  return res.OutputLocation!;
}

/** Runs the hostile part with a normal invocation beside it and another right after; both must get their output. */
async function whileServingOthers<T>(hostile: () => Promise<T>): Promise<T> {
  const during = invokeNormally('during');
  const result = await hostile();
  const after = invokeNormally('after');
  for (const location of await Promise.all([during, after])) await waitForObject(server.dataDir, location);
  return result;
}

/** Through the SDK: a ValidationError it parses, with status 400. (Nothing stored: see the last test.) */
async function refusal(input: Partial<InvokeEndpointAsyncCommandInput>): Promise<string> {
  const err = await send(input).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ValidationError);
  expect((err as ValidationError).$metadata.httpStatusCode).toBe(400);
  expect((err as ValidationError).$fault).toBe('client');
  return (err as ValidationError).message;
}

/** Every 202 the server gave, by any route; the queue must hold exactly these. */
let acceptedTotal = 0;

async function send(input: Partial<InvokeEndpointAsyncCommandInput>) {
  const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', ...input } as InvokeEndpointAsyncCommandInput));
  acceptedTotal++;
  return res;
}

interface RawAnswer {
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed (or reset) the connection. */
  closed: boolean;
}

/**
 * Sends bytes on a fresh socket and reads what comes back until the server closes the connection
 * (every request here says `Connection: close`, and a request the parser refuses is closed on).
 */
function rawRequest(bytes: Buffer | string, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseAnswer(received, closed));
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]); });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.write(bytes);
  });
}

function parseAnswer(received: Buffer, closed: boolean): RawAnswer {
  const text = received.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  if (!text.startsWith('HTTP/1.1 ') || end < 0) return { headers: {}, body: '', closed };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(end + 4), closed };
}

/** A request the way the SDK sends InvokeEndpointAsync, with extra header lines (raw bytes allowed). */
function invokeBytes(extraHeaders: Buffer | string = '', target = '/endpoints/ep/async-invocations', body = '{"x":1}'): Buffer {
  return Buffer.concat([
    Buffer.from(`POST ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`, 'latin1'),
    typeof extraHeaders === 'string' ? Buffer.from(extraHeaders, 'latin1') : extraHeaders,
    Buffer.from(`\r\n${body}`),
  ]);
}

/** The header lines that sign a request to `target` with `body` (Host: localhost), as the SDK signs it. */
async function signatureLines(target: string, body: string): Promise<string> {
  const headers = await signHeaders({ method: 'POST', url: `http://localhost${target}`, body, region: 'us-east-1', service: 'sagemaker', credentials: TEST_CREDENTIALS });
  return Object.entries(headers).filter(([name]) => name !== 'host').map(([name, value]) => `${name}: ${value}\r\n`).join('');
}

/** invokeBytes, signed: for requests that must get past authentication to the checks under test. */
async function signedInvokeBytes(extraHeaders: Buffer | string = '', target = '/endpoints/ep/async-invocations', body = '{"x":1}'): Promise<Buffer> {
  const extra = typeof extraHeaders === 'string' ? Buffer.from(extraHeaders, 'latin1') : extraHeaders;
  return invokeBytes(Buffer.concat([Buffer.from(await signatureLines(target, body), 'latin1'), extra]), target, body);
}

/** The runtime API's error shape: the code in x-amzn-ErrorType, the same message in message and Message. */
function expectAwsError(answer: RawAnswer, status: number, code: string): string {
  expect(answer.status).toBe(status);
  expect(answer.headers['x-amzn-errortype']).toBe(code);
  expect(answer.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
  const payload = JSON.parse(answer.body) as { message: string; Message: string };
  expect(payload.Message).toBe(payload.message);
  return payload.message;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

/** Every file under the test's root is the server's own or an object under the endpoint's prefixes. */
function expectNothingOutsideThePrefixes(): void {
  const allowed = [
    /^x\/y\/data(-config\.json|\.log)$/,
    /^x\/y\/data\/(queue|catalog)\.db(-wal|-shm)?$/,
    /^x\/y\/data\/queue\.lock$/,
    /^x\/y\/data\/run\/[^/]+$/,
    /^x\/y\/data\/s3\/bucket\/ep\/(out|fail)\/./,
    // The store's own bookkeeping: sidecars (named by hash) and files being written.
    /^x\/y\/data\/s3\/\.(meta|tmp)\//,
    // Planted by the InputLocation test, outside the store, to prove it is never read.
    /^x\/y\/secret\.txt$/,
  ];
  const strays = filesUnder(root).filter((f) => !allowed.some((a) => a.test(f)));
  expect(strays).toEqual([]);
}

function rowOf(location: string) {
  const id = /([0-9a-f-]{36})(-error)?\.out$/.exec(location)?.[1];
  return invocationRows(server.dataDir).find((r) => r.id === id);
}

// ---- the cases -----------------------------------------------------------------------------

describe('malformed HTTP below the API', () => {
  it.each([
    ['a garbage request line', Buffer.from('\x00\x01GARBAGE \xff\r\n\r\n', 'latin1'), 400],
    ['a header name with a space and a colon-less line', invokeBytes('Bad Header: x\r\nno colon here\r\n'), 400],
    ['a header name with non-token characters', invokeBytes('X-\xe9\xff: 1\r\n'), 400],
    ['a control character in a header value', invokeBytes('X-Amzn-SageMaker-Custom-Attributes: a\x01b\r\n'), 400],
    ['a NUL in X-Amzn-SageMaker-Filename', invokeBytes('X-Amzn-SageMaker-Filename: a\x00b\r\n'), 400],
    ['Content-Length that is not a number', Buffer.from('POST /endpoints/ep/async-invocations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'), 400],
    ['both Content-Length and chunked Transfer-Encoding', Buffer.from('POST /endpoints/ep/async-invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), 400],
  ] as const)('answers %s with a 400 in the AWS shape and closes', async (_name, bytes, status) => {
    const answer = await whileServingOthers(() => rawRequest(bytes));
    expect(expectAwsError(answer, status, 'ValidationError')).toMatch(/^The request is not valid HTTP\/1\.1 \(Parse Error: .+\); nothing was accepted/);
    expect(answer.closed).toBe(true);
  });

  it.each([
    ['one 100 KB header', invokeBytes(`X-Big: ${'a'.repeat(100 * 1024)}\r\n`)],
    ['10,000 headers', invokeBytes(Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join(''))],
  ])('answers %s with 431 (or a reset while it is still sending) and closes', async (_name, bytes) => {
    const answer = await whileServingOthers(() => rawRequest(bytes));
    expect(answer.closed).toBe(true);
    // The server stops reading at its limit; a client still sending may see the reset before the answer.
    if (answer.status !== undefined) {
      expect(expectAwsError(answer, 431, 'ValidationError')).toMatch(/header section is larger than \d+ bytes/);
    }
  });
});

describe('slow clients', () => {
  it('a body sent one byte every 200 ms holds up no one, and is answered when it completes', async () => {
    const body = Buffer.from('{"slow":"0123456789"}');
    const socket: Socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (c: Buffer) => { answer += c.toString(); });
    socket.on('error', () => undefined);
    socket.write(`POST /endpoints/ep/async-invocations HTTP/1.1\r\nHost: localhost\r\n${await signatureLines('/endpoints/ep/async-invocations', body.toString())}Content-Length: ${body.length}\r\n\r\n`);
    let sent = 0;
    const dribble = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        socket.write(body.subarray(sent, sent + 1));
        if (++sent === body.length) {
          clearInterval(timer);
          resolve();
        }
      }, 200);
    });
    try {
      // While the slow body trickles in (about 4 s), other clients are served at full speed.
      while (sent < body.length - 3) {
        const started = Date.now();
        await waitForObject(server.dataDir, await invokeNormally('beside-slowloris'));
        expect(Date.now() - started).toBeLessThan(2000);
      }
      await dribble;
      await waitFor(() => answer.includes('"InferenceId"'), 5000, 'the slow request to be answered');
      expect(answer).toMatch(/^HTTP\/1\.1 202 /);
      acceptedTotal++;
      const location = /x-amzn-sagemaker-outputlocation: (\S+)/i.exec(answer)![1]!;
      const output = JSON.parse((await waitForObject(server.dataDir, location)).toString()) as { bodyBase64: string };
      expect(Buffer.from(output.bodyBase64, 'base64')).toEqual(body);
    } finally {
      socket.destroy();
    }
  });

  it('cuts off a client that stalls in the middle of its body after requestTimeout, with a 408 in the AWS shape, storing nothing', async () => {
    const strict = await startServer({ config: { requestTimeout: '2s', endpoints: [controlEndpoint('ep')] } });
    try {
      const { port: strictPort } = new URL(strict.url);
      const socket = connect(Number(strictPort), '127.0.0.1');
      let answer = '';
      socket.on('data', (d: Buffer) => { answer += d.toString('latin1'); });
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      // Signed, so it gets past authentication to the body that never comes.
      const signature = await signatureLines('/endpoints/ep/async-invocations', `{"x":1${' '.repeat(94)}}`);
      socket.write(`POST /endpoints/ep/async-invocations HTTP/1.1\r\nHost: localhost\r\n${signature}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"x":1`);
      const started = Date.now();
      await closed;
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThan(1500);
      expect(elapsed).toBeLessThan(6000);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toMatch(/x-amzn-ErrorType: RequestTimeout/i);
      expect(answer).toContain('requestTimeout');
      expect(invocationRows(strict.dataDir)).toHaveLength(0);
    } finally {
      expect(await strict.stop()).toBe(0);
    }
  });
});

describe('path tricks in the naming headers', () => {
  it.each(['../x', 'a/../../b', '/etc/passwd', '%2e%2e/', '..', 'a/b', '.hidden'])('refuses Filename %j, naming the field and its pattern', async (filename) => {
    const message = await whileServingOthers(() => refusal({ Body: Buffer.from('{}'), Filename: filename }));
    expect(message).toContain(`Value '${filename}' at 'filename' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?!.*\\..*\\.)[a-zA-Z0-9][a-zA-Z0-9-_\\.]*$`);
  });

  it.each(['../../other-bucket', 'a/../../b', '..', './x', 'a/.', `${'../'.repeat(8)}etc`])('refuses S3OutputPathExtension %j: it would step out of S3OutputPath', async (ext) => {
    const message = await whileServingOthers(() => refusal({ Body: Buffer.from('{}'), S3OutputPathExtension: ext }));
    expect(message).toContain(`Value '${ext}' at 's3OutputPathExtension' failed to satisfy constraint: Member must not have a "." or ".." path segment`);
  });

  it('refuses an S3OutputPathExtension past 512 characters, and one that starts with s3:', async () => {
    expect(await refusal({ Body: Buffer.from('{}'), S3OutputPathExtension: 'e'.repeat(513) }))
      .toContain("at 's3OutputPathExtension' failed to satisfy constraint: Member must have length less than or equal to 512");
    expect(await refusal({ Body: Buffer.from('{}'), S3OutputPathExtension: 's3://other-bucket/x' }))
      .toContain("at 's3OutputPathExtension' failed to satisfy constraint: Member must satisfy regular expression pattern");
  });

  it('keeps "//" and a 512-character extension of short segments under the output prefix', async () => {
    const long = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(63)).join('/'); // 8 × 63 + 7 slashes = 511
    for (const ext of ['//', `${long}/`]) {
      const res = await send({ Body: Buffer.from('{}'), S3OutputPathExtension: ext });
      expect(res.OutputLocation).toMatch(/^s3:\/\/bucket\/ep\/out\/(?!\/)/);
      await waitForObject(server.dataDir, res.OutputLocation!);
    }
    expectNothingOutsideThePrefixes();
  });

  it('a 512-character single-segment extension: refused, or failed with a reason — never written elsewhere', async () => {
    // S3 allows it; a file name cannot be longer than 255 bytes, so the embedded store cannot hold it.
    const res = await send({ Body: Buffer.from('{}'), S3OutputPathExtension: 'e'.repeat(512) })
      .then((r) => r, (e: unknown) => e as ValidationError);
    if (res instanceof ValidationError) {
      expect(res.message).toContain("'s3OutputPathExtension'");
    } else {
      // Today: a 202, then the outcome cannot be written anywhere (output nor failure object).
      await waitFor(() => rowOf(res.OutputLocation!)?.state === 'failed', 15_000, 'the invocation to fail');
      expect(rowOf(res.OutputLocation!)!.failure_reason).toContain('longer than 255 bytes');
    }
    expectNothingOutsideThePrefixes();
  });

  it.each([
    ['file:///etc/passwd'],
    ['http://169.254.169.254/latest/meta-data/'],
    ['s3://'],
    ['ftp://bucket/x'],
  ])('refuses InputLocation %j by the pattern ^(https|s3)://([^/]+)/?(.*)$', async (inputLocation) => {
    const message = await whileServingOthers(() => refusal({ InputLocation: inputLocation }));
    expect(message).toContain("at 'inputLocation' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$");
  });

  it.each([
    ['s3://bucket/../../../secret.txt', 'path segment'],
    ['s3://bucket/../x', 'path segment'],
    ['s3://../y/secret.txt', 'bucket name'],
    ['s3://bucket', 'the key is empty'],
    ['s3://bucket/', 'the key is empty'],
  ])('accepts InputLocation %j as the spec does (existence is checked later), then fails it without reading outside the store', async (inputLocation, why) => {
    // A file where a naive join of data/s3 and the key would land: it must never become an input.
    writeFileSync(path.join(root, 'x', 'y', 'secret.txt'), 'SENTINEL');
    const res = await whileServingOthers(() => send({ InputLocation: inputLocation }));
    const failure = JSON.parse((await waitForObject(server.dataDir, res.FailureLocation!)).toString()) as { message: string };
    expect(failure.message).toMatch(new RegExp(`^ClientError: Could not read the input at ${inputLocation.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*${why}`));
    expect(rowOf(res.OutputLocation!)?.state).toBe('failed');
    expect(existsSync(objectFile(server.dataDir, res.OutputLocation!))).toBe(false);
    expectNothingOutsideThePrefixes();
  });
});

describe('bytes that are not UTF-8', () => {
  it('refuses invalid UTF-8 in CustomAttributes with a 400 naming the field and its rule', async () => {
    const bytes = await signedInvokeBytes(Buffer.from('X-Amzn-SageMaker-Custom-Attributes: a\xff\xfe\xc3\r\n', 'latin1'));
    const answer = await whileServingOthers(() => rawRequest(bytes));
    expect(expectAwsError(answer, 400, 'ValidationError'))
      .toBe("1 validation error detected: Value at 'customAttributes' failed to satisfy constraint: Member must satisfy regular expression pattern: \\p{ASCII}*");
  });

  it('refuses invalid UTF-8 in InferenceId with a 400 naming the field and its rule', async () => {
    const bytes = await signedInvokeBytes(Buffer.from('X-Amzn-SageMaker-Inference-Id: id-\xff\xfe\r\n', 'latin1'));
    const answer = await whileServingOthers(() => rawRequest(bytes));
    expect(expectAwsError(answer, 400, 'ValidationError'))
      .toContain("at 'inferenceId' failed to satisfy constraint: Member must satisfy regular expression pattern: \\A\\S[\\p{Print}]*\\z");
  });

  it.each(['%ff%fe', 'ep%c0%ae', '%e2%82'])('refuses the endpoint name %j (not UTF-8 once decoded) with a 400 in the AWS shape', async (name) => {
    const bytes = await signedInvokeBytes('', `/endpoints/${name}/async-invocations`);
    const answer = await whileServingOthers(() => rawRequest(bytes));
    const message = expectAwsError(answer, 400, 'ValidationError');
    expect(message).toContain('is not valid percent-encoded UTF-8, so the EndpointName in it cannot be read');
    expect(message).toContain('EndpointName must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*');
  });

  it('refuses raw non-ASCII bytes in the path, and a valid but non-ASCII or NUL endpoint name', async () => {
    const raw = await whileServingOthers(() => rawRequest(invokeBytes('', '/endpoints/\xff\xfe/async-invocations')));
    expect(expectAwsError(raw, 400, 'ValidationError')).toContain('The request is not valid HTTP/1.1');
    for (const name of ['%C3%A9p', 'ep%00']) {
      const answer = await rawRequest(await signedInvokeBytes('', `/endpoints/${name}/async-invocations`));
      expect(expectAwsError(answer, 400, 'ValidationError')).toContain("at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern");
    }
  });
});

describe('thousands of connections at once', () => {
  it('keeps answering a normal client, and completes every request it accepted', async () => {
    // One socket per connection on each side; stay well inside the open-file limit (20,000 on our
    // machines; on a box with 1,024 this opens about 500).
    const limit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 1024;
    const total = Math.min(2000, Math.floor((limit - 200) / 2) * 2);
    const sockets: Socket[] = [];
    const answers: string[] = [];
    const sending = Math.floor(total / 4);
    const requests = new Map<number, string>();
    for (let i = 0; i < total; i += 4) requests.set(i, (await signedInvokeBytes('', undefined, JSON.stringify({ flood: i }))).toString('latin1').replace('Connection: close\r\n', ''));
    try {
      await Promise.all(Array.from({ length: total }, (_, i) => new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        sockets.push(socket);
        let text = '';
        socket.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.endsWith('}')) answers.push(text);
        });
        socket.on('error', reject);
        socket.on('connect', () => {
          // A quarter send a whole request, a quarter stall in their headers, half send nothing.
          if (i % 4 === 0) socket.write(requests.get(i)!);
          else if (i % 4 === 1) socket.write('POST /endpoints/ep/async-invocations HTTP/1.1\r\nHost: x\r\nX-Amzn-Sage');
          resolve();
        });
      })));
      expect(sockets.filter((s) => !s.destroyed)).toHaveLength(total);

      // With all of them open, a normal client is answered promptly and gets its output.
      const started = Date.now();
      await waitForObject(server.dataDir, await invokeNormally('beside-the-flood'));
      expect(Date.now() - started).toBeLessThan(10_000);

      await waitFor(() => answers.length === sending, 20_000, `answers to all ${sending} requests`);
      expect(answers.every((a) => a.startsWith('HTTP/1.1 202 '))).toBe(true);
      acceptedTotal += answers.length;
      // The idle and stalled ones are still connected: nothing was dropped to make room.
      expect(sockets.filter((s) => !s.destroyed).length).toBe(total);
    } finally {
      for (const s of sockets) s.destroy();
    }
    expect(server.child.exitCode).toBeNull();
    const locations = answers.map((a) => /x-amzn-sagemaker-outputlocation: (\S+)/i.exec(a)![1]!);
    await waitFor(() => locations.every((l) => existsSync(objectFile(server.dataDir, l))), 30_000, 'every flood invocation\'s output');
    // And the server is still fine afterwards.
    await waitForObject(server.dataDir, await invokeNormally('after-the-flood'));
  }, 60_000);
});

describe('afterwards', () => {
  it('stored exactly the requests it answered 202, completed every normal one, and wrote nothing outside the prefixes', async () => {
    // Every refusal above stored nothing: the queue holds the 202s and only those.
    expect(invocationRows(server.dataDir)).toHaveLength(acceptedTotal);
    expect(accepted.length).toBeGreaterThan(40);
    for (const location of accepted) await waitForObject(server.dataDir, location);
    for (const location of accepted) expect(rowOf(location)?.state).toBe('completed');
    expectNothingOutsideThePrefixes();
    expect(server.child.exitCode).toBeNull();
  });
});
