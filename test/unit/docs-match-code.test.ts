/** The README's layout table names every use case and trigger file that exists, and nothing that does not. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const row = (folder: string) => readme.split('\n').find((line) => line.startsWith(`| \`${folder}\``)) ?? '';
const named = (line: string) => [...line.matchAll(/`([a-z][a-z-]*)`/g)].map((m) => m[1]);
const files = (folder: string) =>
  readdirSync(join(ROOT, folder))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3));
/** Modules of a folder: its files, and its sub-folders (a module of several files). */
const modules = (folder: string) => [
  ...files(folder),
  ...readdirSync(join(ROOT, folder), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name),
];

test.each([
  ['shared/use-cases/', 'shared/use-cases'],
  ['functions/*.ts', 'functions'],
])('the layout row %s names exactly the files in %s', (label, folder) => {
  const exist = modules(folder).filter((f) => f !== 'index' && f !== 'edge');
  expect(
    named(row(label))
      .filter((n) => exist.includes(n))
      .sort(),
  ).toEqual(exist.sort());
  // Names inside a sub-folder's module count as existing too.
  const nested = modules(folder)
    .filter((m) => !files(folder).includes(m) && m !== 'edge')
    .flatMap((m) => files(join(folder, m)));
  expect(named(row(label)).filter((n) => !exist.includes(n) && !nested.includes(n))).toEqual([]);
});

test('the code cites docs/architecture.md, which exists, and no plan outside the repository', () => {
  expect(readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8')).toContain('## Layers');
  const sources = ['functions', 'functions/edge', 'shared', 'shared/use-cases', 'shared/allocation', 'dev', 'dev/sim'];
  for (const folder of sources)
    for (const f of files(folder))
      expect(readFileSync(join(ROOT, folder, `${f}.ts`), 'utf8')).not.toMatch(/DESIGN\.md/);
});
