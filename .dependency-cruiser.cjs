/**
 * The layers of docs/architecture.md, checked on every `npm run lint` (`depcruise`). Each rule names what it protects.
 */
/** The capabilities of shared/: each a folder with its pure `rules/`, its use cases and stores, and `index.ts`, its face. */
const CAPABILITY = '(allocation|imports|certificates|incidents|findings|webhook-keys|groups|auth|pacing)';
/** Pure folders: every capability's `rules/`, and the capabilities that are rules only. */
const PURE = ['^shared/[^/]+/rules/', '^shared/(auth|events)/'];
const IO = ['^(node:)?(fs|http|https|net|child_process)(/|$)'];
const SDK = '(^|/)node_modules/(@azure/(?!functions/)[^/]+|@opentelemetry/[^/]+|azure-iot[^/]*|azure-iothub|tss\\.js)/';

module.exports = {
  forbidden: [
    {
      name: 'trigger-imports-trigger',
      comment:
        'A trigger file (functions/*.ts) stays thin and stands alone: what two triggers share lives in functions/edge/ or shared/.',
      severity: 'error',
      from: { path: '^functions/[^/]+\\.ts$', pathNot: '^functions/index\\.ts$' },
      to: { path: '^functions/[^/]+\\.ts$' },
    },
    {
      name: 'use-case-picks-its-adapters',
      comment: 'Use cases and stores get their ports handed in; only the composition root chooses and builds adapters.',
      severity: 'error',
      from: { path: `^shared/${CAPABILITY}/` },
      to: { path: '^shared/(composition/|azure/|local/)' },
    },
    {
      name: 'use-case-reads-the-disk',
      comment: 'A use case reads configuration through a ConfigDocument, never a file: in Azure there is no file.',
      severity: 'error',
      from: { path: `^shared/${CAPABILITY}/` },
      to: { dependencyTypes: ['core'], path: '^(node:)?fs' },
    },
    {
      name: 'rules-are-pure',
      comment:
        "A capability's rules/ (and auth/, events/) are pure: no SDK, no I/O, no adapter, none of the capability's own use cases or stores; time is passed in.",
      severity: 'error',
      from: { path: '^shared/([^/]+)/rules/' },
      to: {
        path: [
          '^shared/$1/(?!rules/)',
          '^shared/(azure|local)/',
          '^shared/composition/',
          '^(functions|dev|cli)/',
          SDK,
          ...IO,
        ],
      },
    },
    {
      name: 'pure-core-does-io',
      comment: 'auth/ and events/ are rules only: no adapters, no use cases, no I/O.',
      severity: 'error',
      from: { path: PURE[1] },
      to: {
        path: [
          `^shared/${CAPABILITY}/(?!index\\.ts$)`,
          '^shared/(azure|local)/',
          '^shared/composition/',
          '^(functions|dev|cli)/',
          SDK,
          ...IO,
        ],
        pathNot: '^shared/$1/',
      },
    },
    {
      name: 'capability-through-its-face',
      comment:
        'One capability imports another only through its index.ts: what a capability keeps inside can change without the others noticing.',
      severity: 'error',
      from: { path: `^shared/${CAPABILITY}/` },
      to: { path: `^shared/${CAPABILITY}/`, pathNot: ['^shared/$1/', '^shared/[^/]+/index\\.ts$'] },
    },
    {
      name: 'sdk-outside-adapters',
      comment:
        'The Azure SDKs (and OpenTelemetry, the TPM stack) are imported only by their adapters in shared/azure/, so swapping one is a one-file change; functions/ uses @azure/functions alone; cli/tpm/ reads a TPM on a factory station through the device-side TPM stack (tss.js, azure-iot-security-tpm).',
      severity: 'error',
      from: { path: '^(shared|functions|cli)/', pathNot: ['^shared/azure/', '^cli/tpm/'] },
      to: { dependencyTypesNot: ['type-only'], path: SDK },
    },
    {
      name: 'cli-reaches-rules-and-faces',
      comment:
        "The command line talks HTTP to the backend; of shared/ it may use the pure rules, a capability's face, the platform files and (for work done with the operator's own identity, like the webhook key rotation) the composition root; never a trigger, a use case's inside or an adapter.",
      severity: 'error',
      from: { path: '^cli/' },
      to: {
        path: '^(functions|shared)/',
        pathNot: ['^shared/[^/]+/rules/', '^shared/[^/]+/index\\.ts$', '^shared/[^/]+\\.ts$'],
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'simulator-borrows-production',
      comment:
        "The simulator never runs production code for what it stands in for (a shared builder cannot catch a wrong shape): of shared/ it takes DPS's and IoT Hub's types only.",
      severity: 'error',
      from: { path: '^dev/sim/' },
      to: { path: '^shared/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'simulator-cycle',
      comment:
        "The simulator's modules import one another one way: shared types live in their own file (attestation-types.ts).",
      severity: 'error',
      from: { path: '^dev/sim/' },
      to: { path: '^dev/sim/', circular: true },
    },
    {
      name: 'production-imports-dev',
      comment: 'The local stack (dev/) is never part of what runs in Azure.',
      severity: 'error',
      from: { path: '^(functions|shared|cli)/' },
      to: { path: '^dev/' },
    },
    {
      name: 'shared-imports-edge',
      comment: 'shared/ knows nothing of triggers or the command line.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(functions|cli)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|coverage|\\.data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['require', 'node', 'default'] },
  },
};
