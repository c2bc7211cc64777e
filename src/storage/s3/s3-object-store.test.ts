import { afterAll, beforeAll } from 'vitest';
import { startS3Server, type S3Server } from '../../../test/support/s3-server.js';
import { objectStoreConformance } from '../conformance.js';
import { createS3ObjectStore } from './s3-object-store.js';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server({ buckets: ['test-bucket'] });
});
afterAll(() => s3.close());

objectStoreConformance('s3 (against s3rver)', async () => ({
  store: await createS3ObjectStore({
    endpoint: s3.url, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  }),
  bucket: 'test-bucket',
}));
