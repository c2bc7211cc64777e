// The dispatch benchmark's model: the cheapest server that honours the container contract.
// GET /ping → 200; POST /invocations → reads the body whole, then answers 200 {"ok":true} with a
// Content-Length (asynchronous inference rejects chunked answers). No work, no delay.
// Usage: node bench/null-model.mjs [--port N]   (default 0: any free port)
// Prints one JSON line {"msg":"null model listening","url":"http://127.0.0.1:PORT"} on stdout.
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

const OK = Buffer.from('{"ok":true}');
const OK_HEADERS = { 'content-type': 'application/json', 'content-length': OK.byteLength };

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/ping') {
    req.resume();
    res.writeHead(200, { 'content-length': 0 });
    res.end();
    return;
  }
  if (req.method === 'POST' && req.url === '/invocations') {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      Buffer.concat(chunks); // the body is read whole, as a model would, then dropped
      res.writeHead(200, OK_HEADERS);
      res.end(OK);
    });
    return;
  }
  req.resume();
  res.writeHead(404, { 'content-length': 0 });
  res.end();
});
server.keepAliveTimeout = 60_000;

server.listen(Number(values.port), values.host, () => {
  const { address, port } = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'null model listening', url: `http://${address}:${port}` })}\n`);
});

process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
