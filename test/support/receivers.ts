/**
 * Receivers for notification tests, run in the test process: a webhook receiver that records
 * every request and can be told, per path, to fail, redirect or hang; and a stand-in for SNS that
 * speaks the Query protocol's Publish (it is not AWS: it only parses and records).
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  atMs: number;
  /** What the receiver answered (undefined: it hung). */
  status?: number;
}

export interface Behaviour {
  /** Answer `failStatus` (500) this many times, then 200. */
  failTimes?: number;
  failStatus?: number;
  /** Always answer this status. */
  status?: number;
  /** Answer 302 with this Location. */
  redirectTo?: string;
  /** Never answer. */
  hang?: boolean;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  requests: Received[];
  on(path: string, behaviour: Behaviour): void;
  at(path: string): Received[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(port = 0): Promise<WebhookReceiver> {
  const requests: Received[] = [];
  const behaviours = new Map<string, Behaviour>();
  const hanging = new Set<ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const entry: Received = { path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), atMs: Date.now() };
      requests.push(entry);
      const b = behaviours.get(path) ?? {};
      const answer = (status: number, headers: Record<string, string> = {}) => {
        entry.status = status;
        res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status < 300 ? 'ok' : `no (${status})`);
      };
      if (b.hang) {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
      } else if (b.redirectTo !== undefined) {
        answer(302, { location: b.redirectTo });
      } else if ((b.failTimes ?? 0) > 0) {
        b.failTimes!--;
        answer(b.failStatus ?? 500);
      } else {
        answer(b.status ?? 200);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    on: (path, behaviour) => behaviours.set(path, behaviour),
    at: (path) => requests.filter((r) => r.path === path),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Published {
  params: URLSearchParams;
  headers: IncomingHttpHeaders;
}

/** Answers `Action=Publish` as SNS's Query protocol does; anything else is a 400 in its error shape. */
export async function startSnsStandIn(): Promise<{ url: string; published: Published[]; close(): Promise<void> }> {
  const published: Published[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (req.method !== 'POST' || params.get('Action') !== 'Publish') {
        res.writeHead(400, { 'content-type': 'text/xml' }).end(
          '<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>stand-in knows only Publish</Message></Error><RequestId>x</RequestId></ErrorResponse>');
        return;
      }
      published.push({ params, headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/xml' }).end(
        `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    published,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
