/**
 * The read models: one folder per read model, owning its projection (applied in the append
 * transaction and again by the rebuild), its queries and its predicates. The certstore and the
 * gateway use them only through this module (docs/architecture.md#read-models).
 */
export * from './batched-statement';
export * from './reader';
export * from './projection';
export * from './data-keys/data-keys.vault';
export { PROJECTIONS, applyProjections, rebuildProjections } from './projections';
export * from './actors/actors.queries';
export * from './cache-signatures/cache-signatures.queries';
export * from './id-certs/id-certs.queries';
export * from './key-material/key-material.queries';
export { KEY_PACKAGES_INIT_KEY_CONSTRAINT } from './key-packages/key-packages.projection';
export * from './key-packages/key-packages.queries';
export * from './server-certs/server-certs.queries';
export * from './session-inbox/session-inbox.queries';
export * from './session-inbox/inbox-order';
export * from './session-tokens/session-tokens.queries';
export * from './foreign-certs/foreign-certs.queries';
