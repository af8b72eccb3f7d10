/** Tests run TypeScript through swc (fast, no type check); `npm run typecheck` checks the types. */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript', decorators: true }, target: 'es2022' } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  setupFiles: ['reflect-metadata'],
  // A bound on a test that hangs, not a speed check: the longest test takes ~30 s alone, and several times that on a
  // loaded machine.
  testTimeout: 180_000,
};
