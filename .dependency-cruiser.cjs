/**
 * Layer rules of the repository (docs/architecture.md#layers), checked by `npm test` before jest
 * (`npm run depcruise` on its own). A violation fails the run; fix the import, never the rule.
 */
const FRAMEWORKS = '^node_modules/(@nestjs/[^/]+|typeorm|kafkajs|pg|pg-[a-z-]+|rxjs|fastify|@fastify/[^/]+|ws)(/|$)';
const VALIDATION = '^node_modules/(class-validator|class-transformer)(/|$)';
const PURE_LIBS = '^libs/(domain|polyproto|contracts)/';

module.exports = {
  forbidden: [
    {
      name: 'libs-never-import-apps',
      comment: 'A library is used by the apps, never the other way round: no lib file (source or test) imports an app.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-are-separate-processes',
      comment: 'The gateway and the certstore share code through libs only.',
      severity: 'error',
      from: { path: '^apps/gateway/' },
      to: { path: '^apps/certstore/' },
    },
    {
      name: 'certstore-is-not-the-gateway',
      comment: 'The gateway and the certstore share code through libs only.',
      severity: 'error',
      from: { path: '^apps/certstore/' },
      to: { path: '^apps/gateway/' },
    },
    {
      name: 'pure-libs-import-no-framework',
      comment:
        'libs/domain, libs/polyproto and libs/contracts are plain TypeScript: no Nest, TypeORM, Kafka, PostgreSQL or HTTP ' +
        'framework (libs/contracts may use class-validator and class-transformer for the command contract).',
      severity: 'error',
      from: { path: `${PURE_LIBS}src/` },
      to: { path: FRAMEWORKS },
    },
    {
      name: 'domain-and-protocol-import-no-validation-framework',
      comment: 'Only libs/contracts states its classes with class-validator / class-transformer.',
      severity: 'error',
      from: { path: '^libs/(domain|polyproto)/src/' },
      to: { path: VALIDATION },
    },
    {
      name: 'pure-libs-import-only-pure-libs',
      comment: 'What the pure libs import must be pure too (the framework rule would otherwise be one import away).',
      severity: 'error',
      from: { path: `${PURE_LIBS}src/` },
      to: { path: '^libs/', pathNot: PURE_LIBS },
    },
    {
      name: 'certstore-application-uses-read-models-api',
      comment: "The certstore's application layer reads and writes read models through @p2/read-models only, never a projection's or query file's internals.",
      severity: 'error',
      from: { path: '^apps/certstore/src/application/' },
      to: { path: '^libs/read-models/src/', pathNot: '^libs/read-models/src/index\\.ts$' },
    },
    {
      name: 'libs-used-through-their-public-api',
      comment: "Code outside a lib imports it through its index (the @p2/… alias), never a file inside it; tests of the repository's whole system may reach into the apps, not into libs.",
      severity: 'error',
      from: { path: '^(apps|bench|test|libs)/', pathNot: '^libs/([^/]+)/' },
      to: { path: '^libs/[^/]+/src/', pathNot: '^libs/[^/]+/src/index\\.ts$' },
    },
    {
      name: 'libs-use-other-libs-through-their-public-api',
      comment: 'A lib imports another lib through its index, never a file inside it.',
      severity: 'error',
      from: { path: '^libs/([^/]+)/' },
      to: { path: '^libs/[^/]+/src/', pathNot: ['^libs/$1/', '^libs/[^/]+/src/index\\.ts$'] },
    },
    {
      name: 'no-circular',
      comment: 'No module depends on itself through others.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
