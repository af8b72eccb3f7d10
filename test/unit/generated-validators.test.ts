/** The validators under shared/generated/ are the ones their schemas compile to today (npm run generate:validators). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { generatedValidators } from '../../dev/generate-validators';

test.each(Object.entries(generatedValidators()))('shared/generated/%s matches its schema', (file, source) => {
  const committed = readFileSync(join(__dirname, '..', '..', 'shared', 'generated', file), 'utf8');
  if (committed !== source) throw new Error(`shared/generated/${file} is stale: run npm run generate:validators`);
  expect(committed).toBe(source);
});
