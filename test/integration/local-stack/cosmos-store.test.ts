/** The Cosmos adapter (@azure/cosmos underneath) against the embedded server the local stack runs. */
import { CONTAINERS } from '../../../shared/containers';
import { ConflictError } from '../../../shared/errors';
import type { StoredDocument } from '../../../shared/ports';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

interface Job extends StoredDocument {
  jobId: string;
  status: string;
  rows: number;
}

test('the stack creates every container with the partition key the code uses', async () => {
  const db = stack.cosmos.client.database(stack.env.COSMOS_DATABASE);
  for (const spec of Object.values(CONTAINERS)) {
    const { resource } = await db.container(spec.name).read();
    expect(resource?.partitionKey?.paths).toEqual([spec.partitionKeyPath]);
  }
});

test('CRUD, conflicts and etag preconditions', async () => {
  const jobs = stack.services.store.container<Job>(CONTAINERS.imports.name);
  const created = await jobs.create({ id: 'job-1', jobId: 'job-1', status: 'validating', rows: 0 });
  await expect(jobs.create({ id: 'job-1', jobId: 'job-1', status: 'x', rows: 0 })).rejects.toBeInstanceOf(
    ConflictError,
  );
  const replaced = await jobs.replace({ ...created, status: 'enrolling' });
  expect(replaced._etag).not.toBe(created._etag);
  await expect(jobs.replace({ ...created, status: 'lost update' })).rejects.toMatchObject({ status: 412 });
  expect((await jobs.read('job-1', 'job-1'))?.status).toBe('enrolling');
  await expect(jobs.delete('job-1', 'job-1', created._etag)).rejects.toMatchObject({ status: 412 }); // not that version
  expect(await jobs.read('job-1', 'job-1')).toBeDefined();
  await jobs.delete('job-1', 'job-1', replaced._etag);
  expect(await jobs.read('job-1', 'job-1')).toBeUndefined();
  await jobs.delete('job-1', 'job-1'); // gone already: fine
});

test('parameterised queries page with continuation tokens', async () => {
  const jobs = stack.services.store.container<Job>(CONTAINERS.imports.name);
  for (let i = 0; i < 25; i++)
    await jobs.upsert({ id: `row-${i}`, jobId: 'job-2', status: i % 5 === 0 ? 'invalid' : 'valid', rows: i });
  const seen: number[] = [];
  let token: string | undefined;
  do {
    const page = await jobs.query(
      'SELECT * FROM c WHERE c.jobId = @job AND c.status = @status ORDER BY c.rows',
      { '@job': 'job-2', '@status': 'valid' },
      { maxItems: 7, continuationToken: token, partitionKey: 'job-2' },
    );
    seen.push(...page.items.map((d) => d.rows));
    token = page.continuationToken;
  } while (token);
  expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i).filter((i) => i % 5 !== 0));
});
