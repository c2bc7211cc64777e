import { request } from 'undici';

/** Failed pings in a row after which a ready instance counts as lost (replaced, or taken out of use). */
export const UNHEALTHY_AFTER_FAILED_PINGS = 3;

/** The container contract's health check: `GET /ping` answered 200 within the timeout (2 s on SageMaker). */
export async function ping(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await request(`${url}/ping`, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}
