import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { outboxConformance } from '../../notify/conformance.js';
import { createSqliteQueue } from './sqlite-queue.js';

function harness() {
  const dir = mkdtempSync(path.join(tmpdir(), 'asyncinfer-outbox-'));
  return {
    dir,
    async open(workerId = 'w') {
      const queue = createSqliteQueue({ dir, workerId });
      await queue.start();
      return { queue, outbox: queue.outbox, stop: () => queue.stop() };
    },
  };
}

outboxConformance('sqlite', async () => harness());

it('offers a dead process\'s claims at once after a restart (it held the data-dir lock)', async () => {
  const h = harness();
  const first = await h.open('dead');
  await first.outbox.add([{ eventId: 'e1', topicArn: 'arn:aws:sns:us-east-1:123456789012:t', endpointName: 'ep', variantName: 'v', message: '{}' }]);
  expect(await first.outbox.claimDue(Date.now() + 10, 10, 3_600_000)).toHaveLength(1);
  await first.stop();
  const second = await h.open('alive');
  expect(await second.outbox.claimDue(Date.now() + 10, 10, 1000)).toHaveLength(1);
  await second.stop();
});
