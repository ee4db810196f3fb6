// Resolves the @p2/* aliases of tsconfig.json against the compiled output in dist/,
// so `node -r ./scripts/register-paths.cjs dist/...` runs without a bundler.
const path = require('node:path');
const tsconfigPaths = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.json');
tsconfigPaths.register({
  baseUrl: path.join(__dirname, '..', 'dist'),
  paths: compilerOptions.paths,
});
