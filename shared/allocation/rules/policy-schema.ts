/**
 * The allocation policy document as a JSON Schema. Compiled at build time into shared/generated/ (see
 * dev/generate-validators.ts): the webhook's cold start then runs generated code instead of compiling schemas.
 * Regular expressions are checked where they are compiled (policy.ts), since the generated code has no custom formats.
 */
const scalarMap = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };
const twin = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tags: { type: 'object' },
    properties: { type: 'object', additionalProperties: false, properties: { desired: { type: 'object' } } },
  },
};
const hostName = { type: 'string', pattern: '^[A-Za-z0-9.-]+$', minLength: 1 };

export const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: true,
  required: ['id', 'pools', 'rules'],
  properties: {
    id: { type: 'string', minLength: 1 },
    pools: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['hubs'],
        properties: {
          hubs: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['hostName'],
              properties: {
                hostName,
                weight: { type: 'number', minimum: 1, maximum: 1000 },
                capacity: { type: 'integer', minimum: 0 },
                enabled: { type: 'boolean' },
              },
            },
          },
        },
      },
    },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'match', 'pool'],
        properties: {
          name: { type: 'string', minLength: 1 },
          pool: { type: 'string', minLength: 1 },
          reprovision: { enum: ['sticky', 'migrate'] },
          initialTwin: twin,
          payload: {},
          match: {
            type: 'object',
            additionalProperties: false,
            properties: {
              enrollmentGroupId: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
              registrationIdPattern: { type: 'string', maxLength: 1024 },
              tags: scalarMap,
              payload: scalarMap,
              x509Subject: { type: 'string', maxLength: 1024 },
              x509Issuer: { type: 'string', maxLength: 1024 },
              certificatePolicyName: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
            },
          },
        },
      },
    },
    default: {
      type: 'object',
      additionalProperties: false,
      properties: { pool: { type: 'string' }, initialTwin: twin, payload: {} },
    },
    denyList: {
      type: 'object',
      additionalProperties: false,
      properties: { maxAgeSeconds: { type: 'number', exclusiveMinimum: 0 }, failClosed: { type: 'boolean' } },
    },
  },
} as const;
