/** The command line cuts a big file into Blob blocks of one size (the last shorter), losing and adding nothing. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { blocksOf } from '../../../cli/upload';

test.each([0, 1, 999, 1000, 1001, 2503, 300_000])('a file of %i bytes in blocks of 1,000', async (size) => {
  const dir = mkdtempSync(join(tmpdir(), 'blocks-'));
  try {
    const bytes = randomBytes(size);
    writeFileSync(join(dir, 'f'), bytes);
    const blocks: Buffer[] = [];
    for await (const block of blocksOf(join(dir, 'f'), 1000)) blocks.push(Buffer.from(block));
    expect(blocks.map((b) => b.length)).toEqual([
      ...Array(Math.floor(size / 1000)).fill(1000),
      ...(size % 1000 ? [size % 1000] : []),
    ]);
    expect(Buffer.concat(blocks).equals(bytes)).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
