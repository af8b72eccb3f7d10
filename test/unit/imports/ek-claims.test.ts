/**
 * Giving an EK back from the attacker's side: a refused row gives back only the claim it read. Between its read and
 * its delete, the claim may have been given back and taken again (a second delivery of the chunk, then another maker's
 * row): that claim is not the row's to give, and deleting it would let a third party claim the other maker's EK.
 */
import { CONTAINERS } from '../../../shared/containers';
import { CosmosEkClaimRepository } from '../../../shared/imports/store/cosmos-ek-claims';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const EK = 'a'.repeat(64);

test('a claim is given back only as it was read: one taken again meanwhile stays', async () => {
  const claims = new CosmosEkClaimRepository(new MemoryStore(partitionKeys));
  await claims.create({ id: EK, registrationId: 'dev-a', manufacturerId: 'maker-a', jobId: 'job-1', line: 2 });
  const readByFirst = await claims.read(EK);
  const readBySecond = await claims.read(EK);
  // The second delivery gives it back first, and maker B claims the EK.
  await claims.delete(EK, readBySecond?._etag as string);
  await claims.create({ id: EK, registrationId: 'dev-b', manufacturerId: 'maker-b', jobId: 'job-9', line: 5 });
  // The first delivery's delete, under what it read, leaves maker B's claim alone.
  await claims.delete(EK, readByFirst?._etag as string);
  expect(await claims.read(EK)).toMatchObject({ manufacturerId: 'maker-b', registrationId: 'dev-b' });
  // Its own claim, as read, is given back; one already gone is no error.
  const current = await claims.read(EK);
  await claims.delete(EK, current?._etag as string);
  expect(await claims.read(EK)).toBeUndefined();
  await expect(claims.delete(EK, current?._etag as string)).resolves.toBeUndefined();
});
