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
  // Two workers whatever the cores: the integration tests mostly wait on their local stack (I/O, stalls on purpose),
  // so two files at once halve the run on two cores (jest's default there is one). No test depends on speed: the
  // suite passes with two workers beside a CPU hog as alone.
  maxWorkers: 2,
};
