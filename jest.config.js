/** Unit tests (libs, pure) and integration/e2e tests (real Kafka + PostgreSQL) share one config;
 * scripts/test.mjs provisions the services and passes their addresses by environment. */
const { compilerOptions } = require('./tsconfig.json');
const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [`^${alias}$`, `<rootDir>/${target}`]),
);
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  setupFiles: ['reflect-metadata'],
  moduleNameMapper,
  testTimeout: 60000,
};
