/**
 * The example model containers in examples/models/ honour the SageMaker container contract:
 * /ping readiness, real predictions, batch inputs, explicit Content-Length, helpful 400/415 errors,
 * concurrency, and a clean exit 0 on SIGTERM. Runs the BUILT sentiment model (npm test builds first)
 * and the Python iris model as real child processes.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SENTIMENT_JS = 'dist/examples/models/sentiment/server.js';
const IRIS_PY = 'examples/models/iris/serve.py';
const HAS_PYTHON = spawnSync('python3', ['--version']).status === 0;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

interface Model {
  proc: ChildProcess;
  base: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startModel(command: string, args: string[]): Promise<Model> {
  const port = await freePort();
  const proc = spawn(command, args, {
    cwd: ROOT,
    // HOST is set explicitly: some shells export HOST=<hostname>, which would move the bind address.
    env: { ...process.env, SAGEMAKER_BIND_TO_PORT: String(port), PORT: '', HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let exited = false;
  void exit.then(() => { exited = true; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`${command} ${args.join(' ')} exited before answering /ping:\n${stderr}`);
    try {
      const res = await fetch(`${base}/ping`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`no 200 from ${base}/ping within 15 s:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { proc, base, stderr: () => stderr, exit };
}

function stopModel(model: Model | undefined): void {
  if (model && model.proc.exitCode === null && model.proc.signalCode === null) model.proc.kill('SIGKILL');
}

async function post(base: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${base}/invocations`, { method: 'POST', body, headers });
  const text = await res.text();
  return { res, text, json: () => JSON.parse(text) as unknown };
}

/** Every response must be length-delimited: the asyncinfer worker relies on Content-Length. */
function expectFramed(res: Response, contentType: string): void {
  expect(res.headers.get('content-length')).toMatch(/^\d+$/);
  expect(res.headers.get('transfer-encoding')).toBeNull();
  expect(res.headers.get('content-type')).toContain(contentType);
}

async function expectSigtermExitsZero(model: Model): Promise<void> {
  const started = Date.now();
  model.proc.kill('SIGTERM');
  // Keep-alive sockets from earlier fetches are still open: the model must not wait for them.
  await expect(model.exit).resolves.toEqual({ code: 0, signal: null });
  expect(Date.now() - started).toBeLessThan(3000);
}

describe('examples/models/sentiment (TypeScript, built)', () => {
  let model: Model | undefined;
  const json = { 'Content-Type': 'application/json' };

  beforeAll(async () => {
    if (!existsSync(`${ROOT}/${SENTIMENT_JS}`)) throw new Error(`${SENTIMENT_JS} is missing: run \`npm run build\` first`);
    model = await startModel(process.execPath, [SENTIMENT_JS]);
  });
  afterAll(() => stopModel(model));

  it('answers /ping with 200 and an empty, length-delimited body', async () => {
    const res = await fetch(`${model!.base}/ping`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(res.headers.get('content-length')).toBe('0');
  });

  it('classifies single texts, with negation scoped to its clause', async () => {
    const pos = await post(model!.base, JSON.stringify({ text: 'I love this, it is wonderful' }), json);
    expect(pos.res.status).toBe(200);
    expectFramed(pos.res, 'application/json');
    expect(pos.json()).toMatchObject({ label: 'positive', tokens: 6 });
    expect((pos.json() as { score: number }).score).toBeGreaterThan(0.5);

    const neg = await post(model!.base, JSON.stringify({ text: 'this is not good, terrible' }), json);
    expect(neg.json()).toMatchObject({ label: 'negative' });
    expect((neg.json() as { score: number }).score).toBeLessThan(-0.5);

    const neutral = await post(model!.base, JSON.stringify({ text: 'The meeting is on Tuesday.' }), json);
    expect(neutral.json()).toEqual({ label: 'neutral', score: 0, tokens: 5 });
  });

  it('handles negation, intensifiers and "but"', async () => {
    const { json: body } = await post(model!.base, JSON.stringify({
      texts: ['good', 'very good', 'not bad', 'the food was good but the service was terrible'],
    }), json);
    const [good, veryGood, notBad, butClause] = (body() as { predictions: { label: string; score: number }[] }).predictions;
    expect(veryGood!.score).toBeGreaterThan(good!.score);
    expect(notBad!.label).toBe('positive');
    expect(butClause!.label).toBe('negative');
  });

  it('scores JSON batches and text/plain lines as batches', async () => {
    const batch = await post(model!.base, JSON.stringify({ texts: ['great product', 'awful support', 'a chair'] }), json);
    expect(batch.res.status).toBe(200);
    expect((batch.json() as { predictions: { label: string }[] }).predictions.map((p) => p.label))
      .toEqual(['positive', 'negative', 'neutral']);

    const plain = await post(model!.base, 'I am happy\n\nI am sad\r\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    expect(plain.res.status).toBe(200);
    expectFramed(plain.res, 'application/json');
    expect((plain.json() as { predictions: { label: string }[] }).predictions.map((p) => p.label))
      .toEqual(['positive', 'negative']);
  });

  it('rejects bad input with 400 and a helpful JSON error', async () => {
    for (const body of ['{not json', '{"txt": "typo"}', '{"texts": []}', '{"texts": ["ok", 3]}', '[]']) {
      const { res, json: parsed } = await post(model!.base, body, json);
      expect(res.status, body).toBe(400);
      expectFramed(res, 'application/json');
      const { error } = parsed() as { error: string };
      expect(error, body).toMatch(/text/);
      expect(error, body).toContain('application/json');
    }
    const empty = await post(model!.base, '\n \n', { 'Content-Type': 'text/plain' });
    expect(empty.res.status).toBe(400);
  });

  it('answers 415 for unsupported content types and 404 for unknown paths', async () => {
    const res = await post(model!.base, '<text>hi</text>', { 'Content-Type': 'application/xml' });
    expect(res.res.status).toBe(415);
    expectFramed(res.res, 'application/json');
    expect((res.json() as { error: string }).error).toMatch(/application\/xml.*application\/json/);

    const missing = await fetch(`${model!.base}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toContain('/invocations');
  });

  it('serves 20 concurrent requests and logs one line per request with the inference id', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      post(model!.base, JSON.stringify({ text: i % 2 ? 'really great' : 'truly horrible' }),
        { ...json, 'X-Amzn-SageMaker-Inference-Id': `conc-${i}` })));
    results.forEach(({ res, json: parsed }, i) => {
      expect(res.status).toBe(200);
      expect((parsed() as { label: string }).label).toBe(i % 2 ? 'positive' : 'negative');
    });
    await expect.poll(() => model!.stderr()).toMatch(/POST \/invocations 200 [\d.]+ms id=conc-19/);
  });

  it('exits 0 promptly on SIGTERM', async () => {
    await expectSigtermExitsZero(model!);
  });
});

describe.skipIf(!HAS_PYTHON)('examples/models/iris (Python)', () => {
  let model: Model | undefined;
  const csv = { 'Content-Type': 'text/csv' };
  type Predictions = { predictions: { label: string; probabilities: Record<string, number> }[] };

  beforeAll(async () => {
    model = await startModel('python3', [IRIS_PY]);
  });
  afterAll(() => stopModel(model));

  it('trains before listening and reports a high training accuracy', () => {
    const match = /training accuracy ([\d.]+) \((\d+)\/150\)/.exec(model!.stderr());
    expect(match, model!.stderr()).not.toBeNull();
    expect(Number(match![1])).toBeGreaterThanOrEqual(0.93);
    // The accuracy line comes before the "listening" line: nothing listens until the model is ready.
    expect(model!.stderr().indexOf('training accuracy')).toBeLessThan(model!.stderr().indexOf('listening'));
  });

  it('predicts the three species from CSV (header row tolerated) with probabilities', async () => {
    const body = 'sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n';
    const { res, json } = await post(model!.base, body, csv);
    expect(res.status).toBe(200);
    expectFramed(res, 'application/json');
    const { predictions } = json() as Predictions;
    expect(predictions.map((p) => p.label)).toEqual(['setosa', 'virginica', 'versicolor']);
    // A UTF-8 byte-order mark (spreadsheet exports) must not turn the first data row into a "header".
    const bom = await post(model!.base, '\ufeff5.1,3.5,1.4,0.2\r\n6.7,3.0,5.2,2.3\r\n', { ...csv, Accept: 'text/csv' });
    expect(bom.text).toBe('setosa\nvirginica\n');
    for (const p of predictions) {
      expect(Object.keys(p.probabilities).sort()).toEqual(['setosa', 'versicolor', 'virginica']);
      expect(Object.values(p.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(p.probabilities[p.label]).toBeGreaterThan(0.9);
    }
  });

  it('accepts JSON instances and answers text/csv when asked', async () => {
    const body = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]] });
    const asJson = await post(model!.base, body, { 'Content-Type': 'application/json' });
    expect((asJson.json() as Predictions).predictions.map((p) => p.label)).toEqual(['setosa', 'virginica', 'versicolor']);

    const asCsv = await post(model!.base, body, { 'Content-Type': 'application/json', Accept: 'text/csv' });
    expect(asCsv.res.status).toBe(200);
    expectFramed(asCsv.res, 'text/csv');
    expect(asCsv.text).toBe('setosa\nvirginica\nversicolor\n');
  });

  it('rejects bad input with 400 and a JSON error naming the problem', async () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['5.1,3.5,1.4\n', csv, /line 1 has 3 values/],
      ['5.1,3.5,1.4,0.2\nfoo,bar,baz,qux\n', csv, /line 2/],
      ['5.1,3.5,1.4,0.2x\n6.7,3.0,5.2,2.3\n', csv, /line 1/], // a typo in line 1 is not mistaken for a header
      ['', csv, /no rows/],
      ['{"instances": [[5.1, 3.5, "x", 0.2]]}', { 'Content-Type': 'application/json' }, /instances\[0\]\[2\]/],
      ['{"rows": []}', { 'Content-Type': 'application/json' }, /instances/],
      ['{bad json', { 'Content-Type': 'application/json' }, /not valid JSON/],
    ];
    for (const [body, headers, pattern] of cases) {
      const { res, json } = await post(model!.base, body, headers);
      expect(res.status, body).toBe(400);
      expectFramed(res, 'application/json');
      const { error } = json() as { error: string };
      expect(error, body).toMatch(pattern);
      expect(error, body).toContain('4 numbers');
    }
  });

  it('answers 415 for unsupported content types and 404 for unknown paths', async () => {
    const res = await post(model!.base, 'x', { 'Content-Type': 'image/png' });
    expect(res.res.status).toBe(415);
    expectFramed(res.res, 'application/json');
    expect((res.json() as { error: string }).error).toMatch(/image\/png.*text\/csv/);

    const missing = await fetch(`${model!.base}/nope`);
    expect(missing.status).toBe(404);
    expectFramed(missing, 'application/json');
    await missing.arrayBuffer();
  });

  it('serves 20 concurrent requests and logs one line per request with the inference id', async () => {
    const rows = ['5.1,3.5,1.4,0.2', '6.7,3.0,5.2,2.3', '5.9,3.0,4.2,1.5'];
    const expected = ['setosa', 'virginica', 'versicolor'];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      post(model!.base, `${rows[i % 3]}\n`, { ...csv, Accept: 'text/csv', 'X-Amzn-SageMaker-Inference-Id': `iris-${i}` })));
    results.forEach(({ res, text }, i) => {
      expect(res.status).toBe(200);
      expect(text).toBe(`${expected[i % 3]}\n`);
    });
    await expect.poll(() => model!.stderr()).toMatch(/POST \/invocations 200 [\d.]+ms id=iris-19/);
  });

  it('exits 0 promptly on SIGTERM', async () => {
    await expectSigtermExitsZero(model!);
  });
});
