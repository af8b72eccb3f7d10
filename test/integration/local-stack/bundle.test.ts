/**
 * The deployment bundle (npm run bundle): esbuild's ES-module chunks load in a fresh Node process and register the
 * same functions, with the same triggers, as the compiled sources. (bench:allocate answers allocations through it.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { bundle } from '../../../dev/bundle';
import { registeredFunctions } from '../../../functions/index';

// Importing the sources' entry point warms the webhook up when a stack's settings are in process.env (left there by an
// earlier test file of this worker): its refresh timers must not outlive the file.
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
});

const describeAll = (list: ReadonlyArray<{ name: string; trigger: string }>) =>
  list.map((r) => `${r.name}:${r.trigger}`).sort();

test('the bundled app loads on its own and registers every function the sources do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dpsl-bundle-'));
  try {
    const entry = await bundle(join(__dirname, '..', '..', '..', 'functions', 'index.ts'), dir);
    const script = `import(${JSON.stringify(pathToFileURL(entry).href)}).then((m) => console.log(JSON.stringify(m.registeredFunctions().map((r) => ({ name: r.name, trigger: r.trigger })))))`;
    // A process of its own, started outside the project so that nothing resolves from node_modules.
    const out = execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' });
    expect(describeAll(JSON.parse(out))).toEqual(describeAll(registeredFunctions()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
