import { describe, expect, it } from 'vitest';
import { createHttpGuard } from './http-guard.js';

describe('createHttpGuard', () => {
  const guard = createHttpGuard({ bindHost: '127.0.0.1', allowedHosts: ['asyncinfer.internal'], allowedOrigins: ['https://app.example.com'] });

  it.each([
    ['127.0.0.1:8080', true], ['localhost:8080', true], ['LOCALHOST', true], ['[::1]:8080', true], ['asyncinfer.internal:443', true],
    ['evil.example:8080', false], ['127.0.0.1.evil.example', false], ['', false], [undefined, false], ['10.0.0.5:8080', false],
  ])('Host %j is allowed: %s', (host, ok) => {
    expect(guard.check(host === undefined ? {} : { host }).ok).toBe(ok);
  });

  it('lets a request from a configured origin through with CORS headers, from the server itself without, and refuses any other', () => {
    expect(guard.check({ host: 'localhost:8080', origin: 'https://app.example.com' })).toEqual({ ok: true, corsOrigin: 'https://app.example.com' });
    expect(guard.check({ host: 'localhost:8080', origin: 'http://localhost:8080' })).toEqual({ ok: true });
    expect(guard.check({ host: 'localhost:8080', origin: 'http://localhost:9999' }).ok).toBe(false);
    expect(guard.check({ host: 'localhost:8080', origin: 'https://evil.example' }).ok).toBe(false);
    expect(guard.check({ host: 'localhost:8080', origin: 'null' }).ok).toBe(false);
  });

  it('answers a preflight from a configured origin only', () => {
    const ok = guard.preflight('OPTIONS', { host: 'localhost', origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, x-amz-date' });
    expect(ok?.status).toBe(204);
    expect(ok?.headers).toMatchObject({ 'access-control-allow-origin': 'https://app.example.com', 'access-control-allow-headers': 'authorization, x-amz-date' });
    expect(ok?.headers['access-control-expose-headers']).toContain('x-amzn-sagemaker-outputlocation');
    expect(guard.preflight('OPTIONS', { host: 'localhost', origin: 'https://evil.example', 'access-control-request-method': 'POST' })?.status).toBe(403);
    expect(guard.preflight('POST', { host: 'localhost', origin: 'https://app.example.com' })).toBeUndefined();
  });

  it('on a wildcard bind, also takes this machine\'s own addresses', () => {
    const wide = createHttpGuard({ bindHost: '0.0.0.0', allowedHosts: [], allowedOrigins: [] });
    expect(wide.check({ host: '127.0.0.1:8080' }).ok).toBe(true);
    expect(wide.check({ host: '0.0.0.0:8080' }).ok).toBe(false);
    expect(wide.check({ host: 'rebound.example' }).ok).toBe(false);
  });
});
