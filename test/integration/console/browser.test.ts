/**
 * The operator console in a real browser (Debian's chromium through playwright-core) against the local stack: each
 * view shows live data the backend made — a device allocated through the webhook, a maker's import, certificates
 * learnt from X.509 registrations, an incident awaiting approval — and an admin approves the incident in the page and
 * sees it run. Screenshots of each view are saved to test-output/console/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Browser, chromium, type Page } from 'playwright-core';

import { deriveDeviceKey, registerSymmetricKeyDevice, registerX509Device } from '../../../dev/device';
import { randomEk } from '../../../dev/ek-factory';
import type { RunningHost } from '../../../dev/host/host';
import { type ConnectedDevice, connectHubDevice } from '../../../dev/hub-device';
import { issue } from '../../../dev/pki';
import { seedDemo } from '../../../dev/seed';
import { CONSOLE_KEY, startFunctionApp } from '../../support/app-host';
import { runCli } from '../../support/cli';
import { startTestStack, type TestStack } from '../../support/stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(__dirname, '..', '..', '..', 'test-output', 'console');
const ADMIN = 'dev-admin-secret-not-a-secret';
const DAY = 86_400_000;

let stack: TestStack;
let host: RunningHost;
let browser: Browser;
let page: Page;
let device: ConnectedDevice;
let deviceHub: string;
const refusedByCsp: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`the console test needs chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  stack = await startTestStack({ withStorage: true });
  // Every HTTP incident waits for an approval here, so the page has one to approve.
  Object.assign(process.env, stack.env, { INCIDENT_AUTO_APPROVE_MAX_DEVICES: '0' });
  host = await startFunctionApp();

  // Live data, made the way production makes it.
  const { primaryKey } = await seedDemo(stack.services.enrollments, `${host.baseUrl}/api/allocate?code=fk`);
  const deviceKey = deriveDeviceKey(primaryKey, 'console-dev-1');
  deviceHub = (await registerSymmetricKeyDevice(stack.env, 'console-dev-1', deviceKey, { region: 'eu' })).assignedHub;
  // Connected to its hub, and reporting a certificate it was issued (as devices with ADR certificates do).
  device = await connectHubDevice(stack.env, deviceHub, 'console-dev-1', { type: 'sas', key: deviceKey });
  await device.report({
    certificate: {
      validFrom: new Date(Date.now() - DAY).toISOString(),
      validUntil: new Date(Date.now() + 29 * DAY).toISOString(),
      issuer: 'CN=console-ica',
    },
  });
  const root = await issue({ subject: 'CN=Console Root CA', isCa: true });
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'console-x509',
    attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: root.certPem } } } },
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: `${host.baseUrl}/api/allocate?code=fk`, apiVersion: '2021-10-01' },
  });
  for (const [i, days] of [20, 100].entries()) {
    const cert = await issue({
      subject: `CN=console-x509-${i}`,
      issuer: root,
      notAfter: new Date(Date.now() + days * DAY),
    });
    await registerX509Device(stack.env, `console-x509-${i}`, cert.certPem, cert.keyPem);
  }
  const csv = [
    'registrationId,endorsementKey',
    `acme-console-1,${randomEk().toString('base64')}`,
    'acme-console-2,AAAA',
    // A maker's value that Excel would run as a formula: the bad-rows download must hold it as text.
    '"=HYPERLINK(""http://evil.example/"",""x"")",AAAA',
  ];
  const file = join(mkdtempSync(join(tmpdir(), 'console-')), 'console.csv');
  writeFileSync(file, csv.join('\n'));
  await runCli(host.baseUrl, { token: 'dev-acme-tpm-secret-not-a-secret' }, [
    'import',
    file,
    '--manufacturer',
    'acme-tpm',
    '--follow',
  ]);
  // Submitted by the second local admin: the plan waits for an admin other than its submitter, and the page's is one.
  const incident = await fetch(`${host.baseUrl}/api/incidents`, {
    method: 'POST',
    headers: {
      'x-functions-key': 'fk',
      authorization: 'Bearer dev-admin2-secret-not-a-secret',
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      id: 'console-inc-1',
      reason: 'tamper alarm on the line',
      mode: 'quarantine',
      scope: { registrationIds: ['console-dev-1'] },
    }),
  });
  expect(incident.status).toBe(202);

  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  // Every wait below is for the page to catch up (a read, a refresh): bounded only against a hang, not for speed.
  page.setDefaultTimeout(120_000);
  // The page runs under a CSP without 'unsafe-inline': anything it refuses to run or apply is reported here.
  page.on('console', (m) => void (/Content Security Policy/i.test(m.text()) && refusedByCsp.push(m.text())));
});
afterAll(async () => {
  await device?.close().catch(() => undefined);
  await browser?.close();
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

const view = async (name: string) => {
  await page.click(`nav button[data-view="${name}"]`);
  await page.waitForSelector(`#${name}.view.active`);
};
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

test('the console shows every view live, and an admin approves an incident from it', async () => {
  // Signed in through the link npm start prints: the console's own key in the query (it opens the console's functions
  // only), the local admin's secret in the fragment.
  await page.goto(`${host.baseUrl}/api/console?code=${CONSOLE_KEY}#token=${ADMIN}`);
  expect(page.url()).not.toContain('token='); // the secret leaves the address bar at once

  // Allocation: the hub the device landed on counts it; the rule that placed it is in the chart.
  await page.waitForSelector('#hubs tr:nth-child(4)');
  const hubRows = await page.locator('#hubs tr').allInnerTexts();
  expect(hubRows.slice(1).some((row) => /\t[1-9]\d*\t/.test(row))).toBe(true);
  // Connected devices per hub, from the hubs' service statistics: the one device connected, on its hub.
  const connectedColumn = Object.fromEntries(hubRows.slice(1).map((row) => [row.split('\t')[0], row.split('\t')[2]]));
  expect(connectedColumn).toEqual(
    Object.fromEntries(stack.services.hubs.hostNames().map((h) => [h, h === deviceHub ? '1' : '0'])),
  );
  await expect(page.locator('#allocations-chart .u-title').innerText()).resolves.toMatch(
    /all instances; 3 allocations/,
  );
  await page.click('#explain button');
  await page.locator('#explained', { hasText: '"outcome"' }).waitFor();
  await shot('allocation');

  // Imports: the maker's job, done; its rows, the refused one among them.
  await view('imports');
  await page.locator('#jobs tr', { hasText: 'acme-tpm' }).first().click();
  await page.waitForSelector('#rows tr:nth-child(3)');
  await expect(page.locator('#job-progress').innerText()).resolves.toMatch(/done: 3 rows, 1 valid, 2 invalid/);
  await expect(page.locator('#rows').innerText()).resolves.toContain('acme-console-2');
  // The progress bar's width is set through the CSSOM (a style attribute in markup would be refused by the CSP).
  await expect(page.locator('#jobs .bar > span').first().getAttribute('style')).resolves.toBe('width: 100%;');
  await shot('imports');
  const download = page.waitForEvent('download');
  await page.click('#bad-rows');
  const csv = readFileSync(await (await download).path(), 'utf8');
  expect(csv.trim().split('\n')).toEqual([
    '"line","registrationId","status","reason"',
    expect.stringMatching(/^"3","acme-console-2","invalid",/),
    expect.stringMatching(/^"4","'=HYPERLINK\(""http:\/\/evil\.example\/"",""x""\)","invalid",/),
  ]);

  // Certificates: the two device certificates on the year's timeline; the expiry sweep's finding, suppressible.
  await fetch(`${host.baseUrl}/admin/functions/expiry-sweep`, {
    method: 'POST',
    headers: { 'x-functions-key': 'mk' },
    body: '{}',
  });
  await view('certificates');
  await page.locator('#timeline .u-title', { hasText: /: [1-9]\d* in 52 weeks/ }).waitFor();
  await page.waitForSelector('#findings tr:nth-child(2)');
  await expect(page.locator('#findings').innerText()).resolves.toContain('CERT_EXPIRES_WITHIN_30D');
  // Issued certificates, as the device reported its own: its end, its renewal point (80 %), not renewed yet.
  await page.waitForSelector('#issued tr:nth-child(2)'); // its own read, after the timeline's
  const issued = (await page.locator('#issued tr').allInnerTexts()).slice(1);
  expect(issued).toEqual([expect.stringMatching(/^console-dev-1\t.*\tissuer CN=console-ica\t.*\tcurrent\tnot yet$/)]);
  await shot('certificates');
  // A suppression needs a reason: an empty one is refused in the page, a real one silences the finding.
  page.once('dialog', (d) => void d.accept(''));
  await page.click('#findings button[data-suppress]');
  await page.locator('#error', { hasText: 'needs a reason' }).waitFor();
  page.once('dialog', (d) => void d.accept('renewal already ordered for this lot'));
  await page.click('#findings button[data-suppress]');
  await page.locator('#findings tr:nth-child(2)').waitFor({ state: 'detached' });

  // Incidents: the plan awaiting approval; approved in the page, it runs to its end.
  await view('incidents');
  await page.locator('#incident-list tr', { hasText: 'console-inc-1' }).click();
  await page.locator('#incident-status', { hasText: /^awaitingApproval/ }).waitFor();
  await expect(page.locator('#incident-status').innerText()).resolves.toMatch(
    /submitted by local admin 2 — approved by an admin other than local admin 2/,
  );
  await expect(page.locator('#plan').innerText()).resolves.toMatch(/devices reached\t1/);
  // Its devices connected per hub: when it was planned and now (the device is still on its hub).
  // Read from the hubs after the incident is on screen: waited for, not read at once.
  const connectedRow = JSON.stringify(`${deviceHub}\t1\t1\t1`);
  await page.waitForFunction(`document.querySelector('#connected')?.innerText.includes(${connectedRow})`);
  await expect(page.locator('#incident-actions button:visible').allInnerTexts()).resolves.toEqual([
    'Approve',
    'Cancel',
  ]);
  await shot('incident-awaiting-approval');
  await page.click('#incident-actions button[data-action="approve"]');
  await page.locator('#incident-status', { hasText: /^quarantined/ }).waitFor();
  await expect(page.locator('#steps').innerText()).resolves.toMatch(/done/);
  // Quarantined: its device was disconnected, and the view says so beside the count when it started.
  // (read again on each refresh: the page asks for the counts anew when the incident's status changes)
  const fallen = JSON.stringify(`${deviceHub}\t1\t1\t0`);
  await page.waitForFunction(`document.querySelector('#connected')?.innerText.includes(${fallen})`, undefined, {
    polling: 300,
  });
  // Once it has run, it can be released, no longer approved or cancelled.
  await expect(page.locator('#incident-actions button:visible').allInnerTexts()).resolves.toEqual(['Release']);
  await shot('incident-approved');
  await page.locator('#error').waitFor({ state: 'hidden' });
  expect(refusedByCsp).toEqual([]);
});
