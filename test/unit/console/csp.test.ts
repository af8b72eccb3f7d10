/**
 * The console's Content-Security-Policy: no 'unsafe-inline' — the page's own inline scripts and styles are allowed by
 * their SHA-256 (computed here independently of the generator), so a script or style someone injects does not run.
 */
import { createHash } from 'node:crypto';

import { HttpRequest, InvocationContext } from '@azure/functions';

import { consoleCsp, consolePage as generatedPage } from '../../../dev/generate-console';
import { consolePage } from '../../../functions/console';
import { CONSOLE_CSP, CONSOLE_PAGE } from '../../../shared/generated/console-page';

const served = async () => {
  const res = await consolePage(
    new HttpRequest({ url: 'http://localhost/api/console', method: 'GET' }),
    new InvocationContext(),
  );
  return { csp: String((res.headers as Record<string, string>)['content-security-policy']), body: String(res.body) };
};
const directive = (csp: string, name: string) =>
  csp
    .split(';')
    .map((d) => d.trim().split(/\s+/))
    .find(([n]) => n === name)
    ?.slice(1) ?? [];
const inlineHashes = (html: string, tag: string) =>
  [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map(
    (m) => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`,
  );

test("the page is served with a CSP that allows no inline code but its own, by hash (no 'unsafe-inline')", async () => {
  const { csp, body } = await served();
  expect(body).toBe(CONSOLE_PAGE);
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes/);
  expect(directive(csp, 'default-src')).toEqual(["'none'"]);
  const scripts = inlineHashes(body, 'script');
  const styles = inlineHashes(body, 'style');
  expect(scripts).toHaveLength(2); // uPlot, then the console's own script
  expect(styles).toHaveLength(2);
  expect(directive(csp, 'script-src').sort()).toEqual([...scripts].sort());
  expect(directive(csp, 'style-src').sort()).toEqual([...styles].sort());
  expect(directive(csp, 'frame-ancestors')).toEqual(["'none'"]);
});

test('nothing in the page needs an inline exception: no style or event-handler attributes in its markup or script', () => {
  expect(CONSOLE_PAGE).not.toMatch(/\sstyle=["'$]/);
  expect(CONSOLE_PAGE).not.toMatch(/<[^>]+\son[a-z]+=/);
});

test('the generated policy is the one for the generated page (npm run generate:console)', () => {
  expect(CONSOLE_CSP).toBe(consoleCsp(generatedPage()));
});
