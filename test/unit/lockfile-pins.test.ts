/**
 * Versions the lock must never hold again. es5-ext before 0.10.63 has a ReDoS (CVE-2024-27088) and the IoT SDKs pin
 * 0.10.53 exactly — the DPS service SDK puts it in the production path — so package.json overrides it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const read = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8'));
const lock = read('package-lock.json') as { packages: Record<string, { version?: string }> };

/** Negative, zero or positive as `a` is below, equal to or above `b` (plain x.y.z versions). */
function compare(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

test('every es5-ext in the lock is at least 0.10.63', () => {
  const copies = Object.entries(lock.packages).filter(([path]) => /(^|\/)node_modules\/es5-ext$/.test(path));
  expect(copies.length).toBeGreaterThan(0);
  const tooOld = copies.filter(([, p]) => compare(p.version ?? '0.0.0', '0.10.63') < 0);
  expect(tooOld.map(([path, p]) => `${path}@${p.version}`)).toEqual([]);
});

test('package.json overrides es5-ext, so an install does not bring the pinned 0.10.53 back', () => {
  const override = (read('package.json') as { overrides?: Record<string, string> }).overrides?.['es5-ext'];
  expect(override).toEqual(expect.any(String));
  expect(compare(override ?? '0.0.0', '0.10.63')).toBeGreaterThanOrEqual(0);
});
