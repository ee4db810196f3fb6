# Image for both apps (the command chooses gateway or certstore); used by docker-compose.yml and the
# container tests. NODE_IMAGE is the official Node 20 image by default; scripts/images.mjs passes a
# locally built one where no registry answers.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# lets scripts/images.mjs remove the build stages of earlier builds (the latest one is the cache)
LABEL org.polyproto.build-stage=app
WORKDIR /app
# npm-ca.pem exists only where scripts/images.mjs found that the build machine's npm trusts extra
# CAs (a TLS-inspecting proxy in front of the registry); it stays in this build stage.
COPY package.json package-lock.json npm-ca.pem* ./
RUN if [ -s npm-ca.pem ]; then npm config set cafile /app/npm-ca.pem; fi \
 && npm ci --no-audit --no-fund \
 && npm ls --depth=0 >/dev/null
COPY tsconfig.json tsconfig.build.json ./
COPY apps apps
COPY libs libs
COPY scripts scripts
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
# scrypt's 128 MiB per password check on transparent huge pages (docs/architecture.md#password-hashing)
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1
# a young generation of 32 MiB semi-spaces: fewer scavenges at high request rates (docs/benchmarks.md#young-generation)
ENV NODE_OPTIONS=--max-semi-space-size=32
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json tsconfig.json ./
COPY scripts scripts
USER node
EXPOSE 3000 3001
CMD ["node", "-r", "./scripts/register-paths.cjs", "dist/apps/gateway/src/main.js"]
