/**
 * A real S3-protocol server for tests: s3rver (an independent S3 implementation from npm), in this
 * process, on a free loopback port, storing in a temporary folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export interface S3Server {
  url: string;
  /** A client with the settings an S3-compatible server needs (path style, dummy keys). */
  client: S3Client;
  close(): Promise<void>;
}

export async function startS3Server(options: { buckets: string[] }): Promise<S3Server> {
  const server = new S3rver({
    address: '127.0.0.1', port: 0, silent: true,
    directory: mkdtempSync(path.join(tmpdir(), 'asyncinfer-s3rver-')),
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  const { port } = await server.run();
  const url = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint: url, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    url, client,
    async close() {
      client.destroy();
      await server.close();
    },
  };
}
