// The ingest benchmark's baseline: a bare node:http server that answers what asyncinfer answers
// on the accept path (202, JSON content type, x-amzn-RequestId, {"InferenceId": "<uuid>"}) but does
// none of the work (no routing framework, no validation, no SQLite, no fsync).
// It reads each request body fully, like asyncinfer must, before answering.
// Usage: node bench/baseline-server.mjs [--port N]   (default 0: any free port)
// Prints one JSON line {"msg":"baseline listening","url":"http://127.0.0.1:PORT"} on stdout.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    Buffer.concat(chunks); // the body is read whole, as asyncinfer reads it, then dropped
    const body = JSON.stringify({ InferenceId: randomUUID() });
    res.writeHead(202, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-amzn-RequestId': randomUUID(),
    });
    res.end(body);
  });
});

server.listen(Number(values.port), values.host, () => {
  const { address, port } = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'baseline listening', url: `http://${address}:${port}` })}\n`);
});

process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
