/* The operator console: reads the backend's own routes, shows them, and acts through them. No framework, no CDN. */
'use strict';
/* global csvLine */ // console/csv.js, inlined before this script

const params = new URLSearchParams(location.search);
const functionKey = params.get('code') || '';
// Locally the link `npm start` prints carries the local admin's secret in the fragment (never sent to a server).
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) {
  sessionStorage.setItem('dpsl-token', fragment.get('token'));
  history.replaceState(null, '', location.pathname + location.search);
}
const token = sessionStorage.getItem('dpsl-token');

const $ = (selector) => document.querySelector(selector);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString('en'));

function showError(message) {
  const box = $('#error');
  box.textContent = message;
  box.hidden = !message;
}

/** Runs an operator's action, showing what went wrong instead of dropping it. */
const acting =
  (action) =>
  (...args) =>
    Promise.resolve()
      .then(() => action(...args))
      .catch((err) => showError(err.message));

async function api(path, init = {}) {
  const headers = { 'x-functions-key': functionKey, ...(init.body ? { 'content-type': 'application/json' } : {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`/api/${path}`, { ...init, headers: { ...headers, ...init.headers } });
  if (res.status === 401 && !token) {
    // In Azure: not signed in yet. App Service Authentication signs the operator in and brings them back here.
    location.assign(
      `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(location.pathname + location.search)}`,
    );
    return new Promise(() => undefined);
  }
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  if (!res.ok)
    throw new Error(`${init.method ?? 'GET'} /api/${path}: ${res.status} ${body.reason ?? body.error ?? body}`);
  return body;
}

function table(el, head, rows, onClick) {
  el.innerHTML =
    `<tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>` +
    rows
      .map(
        (r, i) =>
          `<tr data-i="${i}"${onClick ? ' class="selectable"' : ''}>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`,
      )
      .join('');
  // Widths through the CSSOM: the page's CSP allows no style attribute in markup.
  el.querySelectorAll('[data-width]').forEach((span) => {
    span.style.width = `${Number(span.dataset.width)}%`;
  });
  if (onClick)
    el.querySelectorAll('tr[data-i]').forEach((tr) =>
      tr.addEventListener('click', () => onClick(Number(tr.dataset.i))),
    );
}

/** A percentage bar; `filling` marks a full bar as a warning (a hub at capacity), not as progress done. */
const bar = (percent, filling = false) =>
  `<span class="bar${filling && percent >= 100 ? ' full' : ''}"><span data-width="${Math.min(percent ?? 0, 100)}"></span></span> ${percent === undefined ? '' : `${percent}%`}`;

function chart(el, data, series, title) {
  el.innerHTML = '';
  return new uPlot(
    { title, width: 900, height: 260, series: [{}, ...series], scales: { x: { time: true } } },
    data,
    el,
  );
}

/* Allocation: hubs against capacity and weight, rules, the deny list, every instance's decisions, explain. */
const SAMPLE_REQUEST = {
  individualEnrollment: { registrationId: 'sample-device-1', attestation: { type: 'symmetricKey' } },
  deviceRuntimeContext: { registrationId: 'sample-device-1', payload: { region: 'eu' } },
  linkedHubs: [],
};

async function showAllocation() {
  const view = await api('views/allocation');
  table(
    $('#hubs'),
    ['hub', 'devices', 'connected', 'of capacity', 'pools (weight, rotation)'],
    view.hubs.map((h) => [
      esc(h.hostName),
      fmt(h.devices),
      fmt(h.connected),
      h.percentOfCapacity === undefined ? 'no cap' : bar(h.percentOfCapacity, true),
      esc(
        h.pools
          .map((p) => `${p.pool} (${p.weight}${p.inRotation ? '' : ', out'}${p.capacity ? `, cap ${p.capacity}` : ''})`)
          .join('; '),
      ),
    ]),
  );
  table(
    $('#rules'),
    ['rule', 'pool', 'matches'],
    view.rules.map((r) => [esc(r.name), esc(r.pool), esc(r.matches.join(' and '))]),
  );
  $('#deny').textContent =
    `Policy ${view.policyId ?? '(none)'}${view.policyProblem ? ` — ${view.policyProblem}` : ''}; default pool ${view.defaultPool ?? '–'}. ` +
    `Deny list: ${fmt(view.denyList.entries)} entries, refreshed ${view.denyList.refreshedAt ?? 'never'}.`;
  const hours = view.lastDay.map((h) => Date.parse(h.hour) / 1000);
  const rules = [...new Set(view.lastDay.flatMap((h) => Object.keys(h.byRule)))];
  const palette = ['#2f81f7', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0969da'];
  chart(
    $('#allocations-chart'),
    [hours, ...rules.map((r) => view.lastDay.map((h) => h.byRule[r] ?? 0)), view.lastDay.map((h) => h.denied)],
    [
      ...rules.map((r, i) => ({ label: `rule ${r}`, stroke: palette[i % palette.length] })),
      { label: 'deny-list hits', stroke: '#d1242f' },
    ],
    `Allocations per rule and deny-list hits, per hour (all instances; ${view.lastDay.reduce((n, h) => n + Object.values(h.byRule).reduce((a, b) => a + b, 0), 0)} allocations)`,
  );
  const request = { ...SAMPLE_REQUEST, linkedHubs: view.hubs.map((h) => h.hostName) };
  const area = $('#explain textarea');
  if (!area.value) area.value = JSON.stringify(request, null, 2);
}

$('#explain').addEventListener(
  'submit',
  acting(async (e) => {
    e.preventDefault();
    const answer = await api('allocate/explain', { method: 'POST', body: $('#explain textarea').value });
    $('#explained').textContent = JSON.stringify(answer, null, 2);
  }),
);

/* Imports: jobs with live progress, rows by status, bad rows as CSV. */
let jobs = [];
let currentJob;

async function showImports() {
  jobs = (await api('views/imports')).items;
  table(
    $('#jobs'),
    ['job', 'maker', 'file', 'status', 'progress', 'rate', 'ETA'],
    jobs.map((j) => [
      esc(j.jobId),
      esc(j.manufacturerId),
      esc(j.fileName ?? ''),
      esc(j.status),
      bar(j.percent),
      `${fmt(j.ratePerMinute)}/min`,
      j.etaSeconds ? `${Math.ceil(j.etaSeconds / 60)} min` : '–',
    ]),
    acting((i) => openJob(jobs[i])),
  );
  if (currentJob) await openJob(jobs.find((j) => j.jobId === currentJob.jobId) ?? currentJob);
}

async function openJob(job) {
  currentJob = job;
  $('#job').hidden = false;
  $('#job-title').textContent = `${job.jobId} (${job.manufacturerId})`;
  const c = job.counts;
  $('#job-progress').textContent =
    `${job.status}: ${fmt(c.rows)} rows, ${fmt(c.valid)} valid, ${fmt(c.invalid)} invalid, ${fmt(c.duplicate)} duplicate | ${fmt(c.enrolled)} enrolled, ${fmt(c.alreadyEnrolled)} already, ${fmt(c.failed)} failed`;
  const status = $('#row-status').value;
  const page = await api(`views/imports/${encodeURIComponent(job.jobId)}/rows${status ? `?status=${status}` : ''}`);
  table(
    $('#rows'),
    ['line', 'registration ID', 'status', 'reason'],
    page.rows.map((r) => [r.line, esc(r.registrationId), esc(r.status), esc(r.reason)]),
  );
}

$('#row-status').addEventListener(
  'change',
  acting(() => currentJob && openJob(currentJob)),
);

$('#bad-rows').addEventListener(
  'click',
  acting(async () => {
    // csvLine (csv.js): makers' registration IDs must not run as formulas in the operator's spreadsheet.
    const lines = [csvLine(['line', 'registrationId', 'status', 'reason'])];
    for (const status of ['invalid', 'duplicate', 'failed']) {
      let continuationToken;
      do {
        const q = `status=${status}${continuationToken ? `&continuationToken=${encodeURIComponent(continuationToken)}` : ''}`;
        const page = await api(`views/imports/${encodeURIComponent(currentJob.jobId)}/rows?${q}`);
        for (const r of page.rows) lines.push(csvLine([r.line, r.registrationId, r.status, r.reason]));
        continuationToken = page.continuationToken;
      } while (continuationToken);
    }
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }));
    link.download = `${currentJob.jobId}-bad-rows.csv`;
    link.click();
  }),
);

/* Certificates: the expiry timeline by horizon, and findings with suppression. */
async function showCertificates() {
  const view = await api('views/certificates?weeks=52');
  const horizons = [...view.horizons].filter((h) => h > 0).sort((a, b) => a - b);
  const now = Date.now();
  const bandOf = (start) => horizons.find((h) => Date.parse(start) - now < h * 86_400_000) ?? Infinity;
  const bands = [...horizons, Infinity];
  const colours = ['#d1242f', '#bc4c00', '#9a6700', '#1a7f37'];
  chart(
    $('#timeline'),
    [
      view.weeks.map((w) => Date.parse(w.start) / 1000),
      ...bands.map((b) => view.weeks.map((w) => (bandOf(w.start) === b ? w.count : null))),
    ],
    bands.map((b, i) => ({
      label: b === Infinity ? `beyond ${horizons.at(-1) ?? 0} days` : `within ${b} days`,
      stroke: colours[i % colours.length],
      fill: colours[i % colours.length],
      paths: uPlot.paths.bars({ size: [0.8, 40] }),
      points: { show: false },
    })),
    `Certificates ending per week: ${fmt(view.weeks.reduce((n, w) => n + w.count, 0))} in ${view.weeks.length} weeks`,
  );
  const issued = await api('views/certificates/issued?pageSize=200');
  table(
    $('#issued'),
    ['device', 'hub', 'policy', 'valid until', 'renewal point', 'state', 'renewed'],
    issued.items.map((c) => [
      esc(c.deviceId),
      esc(c.hub),
      esc(c.policy ?? (c.issuer ? `issuer ${c.issuer}` : '–')),
      esc(c.validUntil),
      esc(c.renewalPoint),
      esc(c.state === 'current' ? 'current' : c.state === 'renewalDue' ? 'past its renewal point' : 'expired'),
      c.renewals ? `${fmt(c.renewals)}×, last ${esc(c.renewedAt)}` : 'not yet',
    ]),
  );
  const { findings } = await api('findings?kind=expiry');
  table(
    $('#findings'),
    ['finding', 'certificate', 'ends', 'used by', ''],
    findings.map((f) => [
      esc(f.code),
      esc(f.certificate?.subject),
      esc(f.certificate?.notAfter),
      esc((f.usages ?? []).map((u) => u.registrationId ?? u.enrollmentGroupId ?? u.kind).join(', ')),
      `<button data-suppress="${esc(f.id)}">Suppress</button>`,
    ]),
  );
  document.querySelectorAll('[data-suppress]').forEach((b) =>
    b.addEventListener(
      'click',
      acting(async () => {
        const reason = prompt('Why is this finding suppressed? (required)');
        if (!reason?.trim()) return showError('A suppression needs a reason.');
        await api(`findings/expiry/${encodeURIComponent(b.dataset.suppress)}/suppress`, {
          method: 'POST',
          body: JSON.stringify({ reason }),
        });
        await showCertificates();
      }),
    ),
  );
}

/* Incidents: the plan awaiting approval, decisions, live step progress, its devices connected then and now. */
let incidents = [];
let currentIncident;
/**
 * The connected counts are read from the hubs on each call: fetched for the incident on screen when it is opened or
 * changes status, and otherwise at most every 15 s.
 */
let connected = { id: undefined, status: undefined, at: 0, body: undefined };

async function showIncidents() {
  incidents = (await api('views/incidents')).items;
  table(
    $('#incident-list'),
    ['incident', 'status', 'mode', 'source', 'received'],
    incidents.map((i) => [esc(i.id), esc(i.status), esc(i.request.mode), esc(i.source), esc(i.receivedAt)]),
    acting((n) => openIncident(incidents[n].id)),
  );
  if (currentIncident) await openIncident(currentIncident.id);
}

async function openIncident(id) {
  currentIncident = await api(`incidents/${encodeURIComponent(id)}`);
  const i = currentIncident;
  $('#incident').hidden = false;
  $('#incident-title').textContent = `${i.id}: ${i.request.reason ?? ''}`;
  // Who submitted, and who may approve: four eyes are the server's rule, the page only says it.
  const approver = i.approval?.otherAdmin ? `an admin other than ${i.submittedBy}` : 'any admin';
  const waiting = i.status === 'awaitingApproval' && i.approval ? ` — approved by ${approver} (${i.approval.why})` : '';
  $('#incident-status').textContent =
    `${i.status} — ${i.request.mode}, submitted by ${i.submittedBy}${i.approvedBy ? `, approved by ${i.approvedBy}` : ''}${waiting}`;
  // Only the decisions this status allows are offered (the server refuses the others with its reason anyway).
  const allowed = {
    approve: ['awaitingApproval'],
    cancel: ['received', 'planning', 'awaitingApproval'],
    release: ['quarantined', 'contained', 'failed', 'nothingFound'],
  };
  document.querySelectorAll('#incident-actions button').forEach((b) => {
    b.hidden = !allowed[b.dataset.action].includes(i.status);
  });
  const plan = i.plan;
  table(
    $('#plan'),
    ['what', 'how many'],
    plan
      ? [
          ['devices reached', fmt(plan.devices)],
          ...Object.entries(plan.perHub).map(([hub, n]) => [`devices on ${esc(hub)}`, fmt(n)]),
          ['devices on no hub', fmt(plan.withoutHub)],
          ['enrollments to disable', fmt(plan.enrollmentsToDisable)],
          ['group devices to block', fmt(plan.groupDevicesToBlock)],
          ['groups to disable', esc(plan.groupsToDisable.join(', ') || '–')],
          ...plan.hubActions.map((a) => [`${esc(a.action)} on ${esc(a.hub)} (${esc(a.path)})`, fmt(a.devices)]),
          ['registration records to delete', fmt(plan.deleteRegistrationRecords)],
          ['CA disallowed in DPS', esc(plan.disallowCa ? plan.disallowCa.enrollmentGroupId : '–')],
          ...(plan.adr
            ? [
                [
                  `registry devices checked in ADR (${esc(plan.adr.namespaceName)}); disabled where found`,
                  fmt(plan.adr.devicesToCheck),
                ],
                ...(plan.adr.revokeAndRotate
                  ? [
                      [
                        `<strong class="irreversible">revoke and rotate ${esc(plan.adr.revokeAndRotate.certificatePolicy)}</strong>`,
                        `<strong class="irreversible">${esc(plan.adr.revokeAndRotate.warning)}</strong>`,
                      ],
                    ]
                  : []),
              ]
            : []),
          ['for example', esc(plan.sample.join(', '))],
          ['not found', esc(plan.notFound?.count ? `${plan.notFound.count}: ${plan.notFound.sample.join(', ')}` : '–')],
        ]
      : [['no plan yet', esc(i.resolution?.phase ?? '')]],
  );
  await showConnected(i);
  table(
    $('#steps'),
    ['step', 'state', 'progress'],
    (i.steps ?? []).map((s) => [
      esc(
        s.kind === 'hub'
          ? `${s.action} on ${s.hub}`
          : s.kind === 'adrRotate'
            ? `revoke and rotate ${s.certificatePolicy} (irreversible)`
            : s.kind === 'adrDevices'
              ? `registry devices disabled in ${s.namespaceName}`
              : s.kind,
      ),
      esc(s.state),
      `${bar(s.total ? Math.floor((s.done / s.total) * 100) : s.state === 'done' ? 100 : 0)} ${fmt(s.done)} of ${fmt(s.total)}`,
    ]),
  );
}

/** Its devices connected per hub when it was planned, and now (read from the hubs: see `connected` above). */
async function showConnected(i) {
  if (connected.id !== i.id || connected.status !== i.status || Date.now() - connected.at > 15_000) {
    const body = await api(`incidents/${encodeURIComponent(i.id)}/connected`);
    connected = { id: i.id, status: i.status, at: Date.now(), body };
  }
  const { atStart, now } = connected.body;
  const hubs = [...new Set([...Object.keys(atStart?.perHub ?? {}), ...Object.keys(now.perHub)])].sort();
  const cell = (counts, hub) => {
    const c = counts?.perHub[hub];
    if (!c) return '–';
    if (counts.unavailable?.[hub]) return `unavailable: ${esc(counts.unavailable[hub])}`;
    return `${fmt(c.connected)}${c.read < c.targeted ? ` of ${fmt(c.read)} read` : ''}`;
  };
  table(
    $('#connected'),
    [
      'hub',
      'its devices',
      `connected when planned${atStart ? ` (${esc(atStart.at)})` : ''}`,
      `connected now (${esc(now.at)})`,
    ],
    hubs.map((hub) => [
      esc(hub),
      fmt(now.perHub[hub]?.targeted ?? atStart?.perHub[hub]?.targeted),
      cell(atStart, hub),
      cell(now, hub),
    ]),
  );
}

document.querySelectorAll('#incident-actions button').forEach((b) =>
  b.addEventListener(
    'click',
    acting(async () => {
      await api(`incidents/${encodeURIComponent(currentIncident.id)}/${b.dataset.action}`, {
        method: 'POST',
        body: '{}',
      });
      await showIncidents();
    }),
  ),
);

/* Navigation, and live refresh of the view on screen. */
const views = {
  allocation: showAllocation,
  imports: showImports,
  certificates: showCertificates,
  incidents: showIncidents,
};
let current = 'allocation';

async function refresh() {
  try {
    await views[current]();
    showError('');
  } catch (err) {
    showError(err.message);
  }
}

document.querySelectorAll('nav button').forEach((b) =>
  b.addEventListener('click', () => {
    document.querySelectorAll('nav button, .view').forEach((el) => el.classList.remove('active'));
    b.classList.add('active');
    $(`#${b.dataset.view}`).classList.add('active');
    current = b.dataset.view;
    void refresh();
  }),
);

$('#who').textContent = token ? 'signed in with the local secret' : 'signed in with Entra ID';
void refresh();
setInterval(() => current !== 'certificates' && void refresh(), 3000);
