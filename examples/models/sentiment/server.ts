/**
 * Example model container: lexicon-based English sentiment classifier (VADER-style).
 * Speaks the SageMaker container contract: GET /ping, POST /invocations.
 * Node standard library only, so the compiled file can be copied anywhere and run with `node`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

// ---- The model -------------------------------------------------------------------------------
// Valences on VADER's -4..+4 scale. Kept as text so the "model file" stays easy to read and extend;
// it is parsed once at start-up, before the server listens (that is what /ping readiness means).
const LEXICON_TEXT = `
love:3.2 loved:2.9 loves:2.7 lovely:2.8 liked:1.8 likes:1.8 good:1.9 great:3.1 excellent:2.7 amazing:2.8
awesome:3.1 wonderful:2.7 fantastic:2.6 brilliant:2.8 superb:3.1 outstanding:3.0 perfect:2.7 best:3.2
better:1.9 nice:1.8 happy:2.7 glad:2.0 pleased:1.9 delighted:2.9 enjoy:2.2 enjoyed:2.3 fun:2.3
beautiful:2.9 beautifully:2.7 recommend:1.5 recommended:1.8 impressive:2.3 impressed:2.1 helpful:1.8
useful:1.9 easy:1.9 reliable:1.9 smooth:1.4 comfortable:1.5 satisfied:1.8 satisfying:2.0 thank:1.5
thanks:1.9 grateful:2.0 fine:0.8 ok:0.9 okay:0.9 decent:1.2 solid:1.2 worth:0.9 win:2.8 winner:2.8
success:2.7 successful:2.8 favorite:2.0 favourite:2.0 cool:1.3 exciting:2.2 excited:1.9 charming:2.2
clean:1.7 friendly:2.2 polite:1.7 fair:1.3 safe:1.9 hope:1.9 masterpiece:3.1 gem:2.0
flawless:2.3 joy:2.8 pleasant:2.3 positive:2.3 valuable:2.1 smart:1.7 clever:1.7 elegant:2.1
fabulous:2.4 terrific:2.1 marvelous:2.9 sweet:2.0 cute:2.0 fresh:1.3 accurate:1.2 improved:2.1
improve:1.9 incredible:2.3 superior:2.2 generous:2.3 fast:1.0 quick:1.0 calm:1.3 proud:2.1 wow:2.8
yay:2.4 glorious:3.0 gorgeous:3.0 excellence:3.1 admire:2.1 appreciate:1.7 appreciated:2.3
bad:-2.5 terrible:-2.5 awful:-2.0 horrible:-2.5 worst:-3.1 worse:-2.1 hate:-2.7 hated:-3.2 hates:-1.9
poor:-2.1 disappointing:-2.2 disappointed:-1.9 disappointment:-2.3 useless:-1.8 broken:-1.9
boring:-1.3 bored:-1.1 sad:-2.1 angry:-2.3 annoying:-1.7 annoyed:-1.6 frustrating:-1.9 frustrated:-2.0
ugly:-2.3 stupid:-2.4 dumb:-2.3 waste:-1.8 wasted:-2.2 slow:-1.0 fail:-2.5 failed:-2.3 failure:-2.3
fails:-2.1 problem:-1.7 problems:-1.7 buggy:-1.6 crash:-1.7 crashed:-1.9 error:-1.4 wrong:-2.1
mess:-1.5 nasty:-2.6 painful:-1.9 pain:-2.3 hurt:-2.4 rude:-2.0 scary:-2.2 fear:-2.2 afraid:-2.0
worried:-1.2 worry:-1.9 unhappy:-1.8 miserable:-2.2 mediocre:-1.0 lame:-1.8 pathetic:-2.2
disgusting:-2.4 gross:-2.1 dreadful:-1.9 ridiculous:-1.5 overpriced:-1.8 regret:-1.8
unfortunately:-1.5 lost:-1.3 lose:-1.7 loser:-2.4 negative:-2.7 dirty:-1.9 dangerous:-2.1
confusing:-1.3 confused:-1.3 difficult:-1.5 dislike:-1.6 disliked:-1.7 avoid:-1.2 unacceptable:-2.0
incompetent:-2.1 inferior:-1.7 weak:-1.9 flawed:-1.4 garbage:-2.0 trash:-1.8 junk:-1.7 sucks:-1.5
suck:-1.9 nightmare:-2.7 disaster:-3.1 catastrophe:-3.4 tragic:-3.4 lonely:-1.5 stress:-1.8
stressful:-2.3 tired:-1.9 sick:-2.3 insult:-2.3 offensive:-2.1 cry:-2.1 crying:-2.1 dead:-3.3
`;
const LEXICON = new Map<string, number>(
  LEXICON_TEXT.trim().split(/\s+/).map((pair): [string, number] => {
    const [word = '', score = ''] = pair.split(':');
    return [word, Number(score)];
  }),
);

// Intensifiers push a sentiment word further from zero ("very good"); dampeners pull it in ("slightly
// bad"). 0.293 is VADER's empirically derived booster increment.
const BOOST = 0.293;
const INTENSIFIERS = new Set(('absolutely amazingly completely deeply especially exceptionally extremely ' +
  'fully greatly highly hugely incredibly particularly quite really remarkably so super thoroughly totally ' +
  'tremendously truly utterly very').split(' '));
const DAMPENERS = new Set('almost barely hardly kinda marginally partly scarcely slightly somewhat'.split(' '));
const NEGATIONS = new Set(('not no never none nobody nothing neither nor nowhere without cannot ' +
  'dont doesnt didnt isnt wasnt arent werent wont cant couldnt shouldnt wouldnt aint').split(' '));
const NEGATION_SCALAR = -0.74; // VADER: a negated word flips and loses about a quarter of its strength
const ALPHA = 15; // normaliser so that the compound score approaches ±1 smoothly as evidence accumulates
const THRESHOLD = 0.05; // VADER's conventional neutral band

interface Prediction { label: 'positive' | 'negative' | 'neutral'; score: number; tokens: number }

function isNegation(token: string): boolean {
  return NEGATIONS.has(token) || token.endsWith("n't");
}

function classify(text: string): Prediction {
  // Punctuation is kept as tokens because it ends a clause: in "not good, terrible" the negation
  // must not reach "terrible".
  const tokens = text.toLowerCase().replace(/[\u2018\u2019]/g, "'").match(/[a-z]+(?:'[a-z]+)*|[.,;:!?]/g) ?? [];
  const words = tokens.filter((t) => /^[a-z]/.test(t)).length;
  const valences: number[] = [];
  let butAt = -1; // index into valences where a "but" clause starts
  tokens.forEach((token, i) => {
    if (token === 'but') butAt = valences.length;
    let v = LEXICON.get(token);
    if (v === undefined) return;
    // Look back up to three words inside the same clause; nearer modifiers count more (VADER decay).
    for (let d = 1; d <= 3; d++) {
      const prev = tokens[i - d];
      if (prev === undefined || /^[.,;:!?]$/.test(prev)) break;
      const decay = 1 - 0.05 * (d - 1);
      if (INTENSIFIERS.has(prev)) v += Math.sign(v) * BOOST * decay;
      else if (DAMPENERS.has(prev)) v -= Math.sign(v) * BOOST * decay;
      else if (isNegation(prev)) { v *= NEGATION_SCALAR; break; }
    }
    valences.push(v);
  });
  // "X but Y": the clause after "but" usually carries the writer's real opinion.
  if (butAt >= 0) valences.forEach((v, i) => { valences[i] = v * (i < butAt ? 0.5 : 1.5); });
  let sum = valences.reduce((a, b) => a + b, 0);
  // Exclamation marks amplify whatever direction the text already has (capped, as in VADER).
  const bangs = Math.min((text.match(/!/g) ?? []).length, 4);
  if (sum !== 0) sum += Math.sign(sum) * bangs * 0.292;
  const score = sum / Math.sqrt(sum * sum + ALPHA);
  const label = score >= THRESHOLD ? 'positive' : score <= -THRESHOLD ? 'negative' : 'neutral';
  return { label, score: Math.round(score * 10000) / 10000, tokens: words };
}

// ---- The container contract -------------------------------------------------------------------
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const MAX_TEXTS = 10_000;
const EXPECTED = 'Send Content-Type application/json with {"text": "..."} or {"texts": ["...", ...]}, ' +
  'or text/plain with one text per line.';

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  // Explicit Content-Length (never chunked): the asyncinfer worker reads the whole response.
  const buf = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': body === undefined ? 'text/plain' : 'application/json',
    'Content-Length': buf.length,
  });
  res.end(buf);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `payload larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseTexts(contentType: string, body: string): { texts: string[]; batch: boolean } {
  if (contentType === 'text/plain') {
    const texts = body.split(/\r?\n/).filter((line) => line.trim() !== '');
    if (texts.length === 0) throw new HttpError(400, `the text/plain body has no non-empty line. ${EXPECTED}`);
    return { texts, batch: true };
  }
  let json: unknown;
  try { json = JSON.parse(body); } catch (e) {
    throw new HttpError(400, `body is not valid JSON (${(e as Error).message}). ${EXPECTED}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new HttpError(400, `the JSON body must be an object. ${EXPECTED}`);
  }
  const { text, texts } = json as { text?: unknown; texts?: unknown };
  if (text !== undefined && texts !== undefined) throw new HttpError(400, `give either "text" or "texts", not both. ${EXPECTED}`);
  if (typeof text === 'string') return { texts: [text], batch: false };
  if (text !== undefined) throw new HttpError(400, `"text" must be a string, got ${typeof text}. ${EXPECTED}`);
  if (!Array.isArray(texts)) throw new HttpError(400, `missing "text" (string) or "texts" (array of strings). ${EXPECTED}`);
  if (texts.length === 0 || texts.length > MAX_TEXTS) {
    throw new HttpError(400, `"texts" must hold 1 to ${MAX_TEXTS} strings, got ${texts.length}. ${EXPECTED}`);
  }
  const bad = texts.findIndex((t) => typeof t !== 'string');
  if (bad >= 0) throw new HttpError(400, `"texts"[${bad}] is ${typeof texts[bad]}, not a string. ${EXPECTED}`);
  return { texts: texts as string[], batch: true };
}

function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((part) => {
    const type = (part.split(';')[0] ?? '').trim().toLowerCase();
    return type === 'application/json' || type === 'application/*' || type === '*/*' || type === '';
  });
}

async function invocations(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (contentType !== 'application/json' && contentType !== 'text/plain') {
    throw new HttpError(415, `unsupported Content-Type "${contentType || '(none)'}". ${EXPECTED}`);
  }
  if (!acceptsJson(req.headers.accept)) {
    throw new HttpError(406, `cannot produce "${req.headers.accept}"; this model only answers application/json`);
  }
  const body = await readBody(req);
  let decoded: string;
  try { decoded = new TextDecoder('utf-8', { fatal: true }).decode(body); } catch {
    throw new HttpError(400, `body is not valid UTF-8. ${EXPECTED}`);
  }
  const { texts, batch } = parseTexts(contentType, decoded);
  const predictions = texts.map(classify);
  send(res, 200, batch ? { predictions } : predictions[0]);
}

function envPort(): number {
  // Empty strings count as unset, so `PORT=` in a shell does not turn into port 0.
  const raw = process.env.SAGEMAKER_BIND_TO_PORT || process.env.PORT || '8080';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`sentiment: invalid port ${JSON.stringify(raw)} in SAGEMAKER_BIND_TO_PORT/PORT`);
    process.exit(1);
  }
  return port;
}

const server = createServer((req, res) => {
  const started = process.hrtime.bigint();
  const path = (req.url ?? '/').split('?')[0];
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const id = req.headers['x-amzn-sagemaker-inference-id'] ?? '-';
    process.stderr.write(`${new Date().toISOString()} ${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)}ms id=${id}\n`);
  });
  const handle = async (): Promise<void> => {
    if (path === '/ping') {
      if (req.method !== 'GET') throw new HttpError(405, 'use GET /ping');
      req.resume(); // drain any body so the keep-alive connection stays usable
      return send(res, 200, undefined);
    }
    if (path === '/invocations') {
      if (req.method !== 'POST') throw new HttpError(405, 'use POST /invocations');
      return invocations(req, res);
    }
    throw new HttpError(404, `no such path ${path}; this container serves GET /ping and POST /invocations`);
  };
  handle().catch((err: unknown) => {
    const status = err instanceof HttpError ? err.status : 500;
    const message = err instanceof Error ? err.message : String(err);
    if (status === 500) console.error(err);
    if (res.headersSent) return void res.destroy();
    // On an early error the rest of the body is unread; closing beats draining megabytes we will ignore.
    if (!req.complete) res.setHeader('Connection', 'close');
    send(res, status, { error: message });
  });
});

// Only listen once the lexicon is loaded, so a 200 from /ping always means "ready to predict".
const host = process.env.HOST || '127.0.0.1';
server.listen(envPort(), host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : '?';
  console.error(`sentiment: ${LEXICON.size} lexicon words loaded; listening on http://${host}:${port}`);
});

function shutdown(signal: string): void {
  console.error(`sentiment: ${signal} received, closing`);
  // close() stops accepting and lets in-flight requests finish; idle keep-alive sockets are closed at
  // once so they cannot hold the process open. A short timer bounds the wait for slow requests.
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
