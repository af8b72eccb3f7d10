/**
 * The layers of docs/architecture.md, checked on every `npm run lint` (`depcruise`). Each rule names what it protects.
 */
const PURE_CORE = '^shared/(allocation|enrollment|certificates|breach|auth|events)/';

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
      comment: 'Use cases get their ports handed in; only the composition root chooses and builds adapters.',
      severity: 'error',
      from: { path: '^shared/use-cases/' },
      to: { path: '^shared/(composition\\.ts|azure/|local/)' },
    },
    {
      name: 'use-case-reads-the-disk',
      comment: 'A use case reads configuration through a ConfigDocument, never a file: in Azure there is no file.',
      severity: 'error',
      from: { path: '^shared/use-cases/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?fs' },
    },
    {
      name: 'pure-core-does-io',
      comment:
        'The rules (allocation, enrollment, certificates, breach, auth) are pure: no adapters, no use cases, no I/O.',
      severity: 'error',
      from: { path: PURE_CORE },
      to: {
        path: [
          '^shared/(azure|local|use-cases)/',
          '^shared/composition\\.ts$',
          '^(functions|dev|cli)/',
          '^(node:)?(fs|http|https|net|child_process)(/|$)',
        ],
      },
    },
    {
      name: 'sdk-outside-adapters',
      comment:
        'The Azure SDKs are imported only by their adapters in shared/azure/, so swapping one is a one-file change.',
      severity: 'error',
      from: { path: '^(shared|functions)/', pathNot: '^shared/azure/' },
      to: {
        dependencyTypesNot: ['type-only'],
        path: '(^|/)node_modules/(@azure/(cosmos|event-hubs|storage-blob|storage-queue|identity)|azure-iot[^/]*|azure-iothub)/',
      },
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
