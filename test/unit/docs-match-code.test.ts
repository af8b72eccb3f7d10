/**
 * The README's layout table names every capability folder of shared/ and every trigger file, and nothing that does
 * not exist.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const layout = readme.slice(readme.indexOf('## Layout'), readme.indexOf('\n## ', readme.indexOf('## Layout') + 1));
const rows = layout.split('\n').filter((line) => line.startsWith('| `'));
const firstCell = (line: string) => /^\| `([^`]+)`/.exec(line)?.[1] ?? '';
const row = (folder: string) => rows.find((line) => firstCell(line) === folder) ?? '';
const named = (line: string) => [...line.matchAll(/`([a-z][a-z-]*)`/g)].map((m) => m[1]);
const files = (folder: string) =>
  readdirSync(join(ROOT, folder))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3));
const folders = (folder: string) =>
  readdirSync(join(ROOT, folder), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);

test('every folder of shared/ has a row of its own', () => {
  for (const folder of folders('shared')) expect(row(`shared/${folder}/`)).not.toBe('');
});

test('every row names a path that exists, and every folder it names inside it exists', () => {
  expect(rows.length).toBeGreaterThan(5);
  for (const line of rows) {
    const path = firstCell(line).replace(/\*\.ts$/, '');
    expect(existsSync(join(ROOT, path))).toBe(true);
    // `name/` in a row is a folder inside the row's folder (or, for the root's row, a folder at the root).
    if (!path.endsWith('/')) continue;
    for (const [, inner] of line.slice(line.indexOf('|', 2)).matchAll(/`([a-z][a-z-]*)\/`/g))
      expect([inner, existsSync(join(ROOT, path, inner))]).toEqual([inner, true]);
  }
});

test('the layout row functions/*.ts names exactly the trigger files', () => {
  const exist = files('functions').filter((f) => f !== 'index');
  const names = named(row('functions/*.ts'));
  expect(names.filter((n) => exist.includes(n)).sort()).toEqual(exist.sort());
  expect(names.filter((n) => !exist.includes(n))).toEqual([]);
});

test('the code cites docs/architecture.md, which exists, and no plan outside the repository', () => {
  expect(readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8')).toContain('## Layers');
  const sources = (folder: string): string[] => [
    ...files(folder).map((f) => join(folder, `${f}.ts`)),
    ...folders(folder)
      .filter((d) => d !== 'generated')
      .flatMap((d) => sources(join(folder, d))),
  ];
  for (const file of [...sources('functions'), ...sources('shared'), ...sources('dev'), ...sources('cli')])
    expect(readFileSync(join(ROOT, file), 'utf8')).not.toMatch(/DESIGN\.md/);
});

test('every source path the README and docs/architecture.md cite exists', () => {
  for (const doc of ['README.md', join('docs', 'architecture.md')]) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    const cited = [...text.matchAll(/`((?:shared|functions|dev|cli|test)\/[A-Za-z0-9_./-]+)`/g)].map((m) => m[1]);
    expect(cited.length).toBeGreaterThan(5);
    expect([doc, cited.filter((path) => !existsSync(join(ROOT, path)))]).toEqual([doc, []]);
  }
});
