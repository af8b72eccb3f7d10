/** A configuration document kept in a local JSON file; its modification time is its version. */
import { readFile, stat } from 'node:fs/promises';

import type { ConfigDocument } from '../ports';

export function jsonFileDocument(path: string): ConfigDocument {
  return {
    async read() {
      const { mtimeMs } = await stat(path);
      return { doc: JSON.parse(await readFile(path, 'utf8')), version: `file:${mtimeMs}` };
    },
  };
}
