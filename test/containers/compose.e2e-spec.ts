import { spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { eventually } from '@p2/testing';
import { glibcTunablesOf } from '../../bench/src/ceilings/ceilings';
import { docker, freePort, ROOT, testImages } from '../support/containers';
import { GatewayClient } from '../support/gateway-client';
import { http } from '../support/http';
import { opensslCsr, opensslVerify } from '../support/openssl';

const SERVICES = ['kafka', 'postgres', 'certstore-1', 'certstore-2', 'gateway-1', 'gateway-2', 'gateway-lb'];

/** `docker compose` where the plugin answers, else Debian's docker-compose 1.x. */
function composeCommand(): string[] {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  return ['docker-compose'];
}

interface ServiceState {
  readonly service: string;
  readonly status: string;
  readonly exitCode: number;
  readonly health?: string;
  /** `<host ip>:<host port>-><container port>` for every port published on the host */
  readonly published: string[];
}

interface Inspected {
  readonly Config: { Labels: Record<string, string> };
  readonly State: { Status: string; ExitCode: number; Health?: { Status: string } };
  readonly NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null };
}

/** docker-compose.yml as a user runs it: `up` of the whole cluster, driven from the host through
 * the load balancer's published port only, then `down -v`. */
describe('docker compose: the whole cluster behind its load balancer', () => {
  const images = testImages();
  const project = `p2test${process.env.P2_TEST_RUN ?? randomBytes(4).toString('hex')}`;
  const [command, ...prefix] = composeCommand();
  let port: number;
  let api: string;
  let env: NodeJS.ProcessEnv;
  let down = false;
  const password = 'correct horse battery staple';

  function compose(...args: string[]): string {
    const result = spawnSync(command!, [...prefix, '-p', project, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 300_000 });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  function states(): ServiceState[] {
    const ids = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`).split('\n').filter(Boolean);
    if (ids.length === 0) return [];
    return (JSON.parse(docker('inspect', ...ids)) as Inspected[]).map((c) => ({
      service: c.Config.Labels['com.docker.compose.service']!,
      status: c.State.Status,
      exitCode: c.State.ExitCode,
      health: c.State.Health?.Status,
      published: Object.entries(c.NetworkSettings.Ports ?? {}).flatMap(([containerPort, bindings]) => (bindings ?? []).map((b) => `${b.HostIp}:${b.HostPort}->${containerPort}`)),
    }));
  }

  beforeAll(async () => {
    port = await freePort();
    api = `http://127.0.0.1:${port}/.p2/core/v1`;
    env = {
      ...process.env,
      P2_KAFKA_IMAGE: images.kafka,
      P2_POSTGRES_IMAGE: images.postgres,
      P2_APP_IMAGE: images.app,
      P2_LB_IMAGE: images.lb,
      P2_KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      P2_TOKEN_KEY: randomBytes(32).toString('hex'),
      P2_CHALLENGE_KEY: randomBytes(32).toString('hex'),
      P2_GATEWAY_DB_PASSWORD: randomBytes(24).toString('hex'),
      P2_DOMAIN: 'example.com',
      P2_PUBLIC_URL: `http://localhost:${port}`,
      // published on the loopback interface only
      PORT: `127.0.0.1:${port}`,
    };
    compose('up', '-d', '--no-build');
  }, 300_000);

  afterAll(() => {
    if (!down) compose('down', '-v', '--remove-orphans');
  }, 120_000);

  it('brings up Kafka, PostgreSQL, two certstores, two gateways and the load balancer, all healthy', async () => {
    const settled = await eventually(
      () => {
        const now = states();
        const failed = now.filter((s) => s.status === 'exited' && s.exitCode !== 0);
        if (failed.length > 0) throw new Error(`exited: ${failed.map((s) => s.service).join(', ')}\n${compose('logs', '--tail', '40')}`);
        return now;
      },
      { until: (now) => SERVICES.every((service) => now.some((s) => s.service === service && s.health === 'healthy')), timeoutMs: 240_000, intervalMs: 1000, what: 'service states' },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${compose('logs', '--tail', '40')}`);
    });
    expect(settled.map((s) => ({ service: s.service, health: s.health ?? `${s.status} ${s.exitCode}` })).sort((a, b) => a.service.localeCompare(b.service))).toEqual(
      [...SERVICES.map((service) => ({ service, health: 'healthy' })), { service: 'kafka-init', health: 'exited 0' }].sort((a, b) => a.service.localeCompare(b.service)),
    );
    // the only way in is the load balancer's port
    expect(settled.flatMap((s) => s.published.map((binding) => `${s.service} ${binding}`))).toEqual([`gateway-lb 127.0.0.1:${port}->8080/tcp`]);
  }, 300_000);

  it("runs PostgreSQL with the malloc setting that keeps each backend's freed heap (README#postgresql-malloc)", () => {
    // PID 1 of the container is the postmaster (the entrypoint execs it); only its own user may read
    // its environment (root in a container lacks CAP_SYS_PTRACE)
    const environ = compose('exec', '-T', '-u', 'postgres', 'postgres', 'cat', '/proc/1/environ');
    expect(glibcTunablesOf(environ)).toBe('glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=4194304');
  });

  it('registers, opens a session, rotates its ID-Cert and reads both certs back through the load balancer', async () => {
    expect((await http('GET', `http://127.0.0.1:${port}/.well-known/polyproto-core`)).body).toEqual({ api: `http://localhost:${port}/.p2/core/` });
    const registered = await http('POST', `${api}/register`, { json: { actor_name: 'alice', auth_payload: { password } } });
    expect({ status: registered.status, body: registered.body }).toEqual({ status: 201, body: { fid: 'alice@example.com' } });

    const first = opensslCsr({ localName: 'alice', domain: 'example.com', sessionId: 'laptop' });
    const trusted = await http('POST', `${api}/session/trust`, { json: { actor_name: 'alice', csr: first.csrPem, auth_payload: { password } } });
    expect(trusted.status).toBe(201);
    const second = opensslCsr({ localName: 'alice', domain: 'example.com', sessionId: 'laptop' });
    const rotated = await http('POST', `${api}/session/idcert`, {
      headers: { authorization: `Bearer ${trusted.body.token}`, 'X-P2-Sensitive-Solution': password },
      body: second.csrPem,
    });
    expect(rotated.status).toBe(201);
    expect(rotated.body.token).not.toBe(trusted.body.token);

    const serial = (pem: string) => new X509Certificate(pem).serialNumber;
    const certs = await http('GET', `${api}/idcert/actor/alice@example.com`);
    expect(certs.status).toBe(200);
    const readBack = (certs.body as Array<{ idCertPem: string; invalidated: boolean }>).map((c) => ({ serial: serial(c.idCertPem), invalidated: c.invalidated }));
    expect(readBack.sort((a, b) => Number(a.invalidated) - Number(b.invalidated))).toEqual([
      { serial: serial(rotated.body.id_cert), invalidated: false },
      { serial: serial(trusted.body.id_cert), invalidated: true },
    ]);

    const root = await http('GET', `${api}/idcert/server`);
    expect(root.status).toBe(200);
    for (const cert of certs.body as Array<{ idCertPem: string }>) {
      const verified = opensslVerify(root.body.idCertPem, cert.idCertPem);
      expect({ status: verified.status, output: verified.output.trim() }).toEqual({ status: 0, output: expect.stringMatching(/: OK$/) });
    }
  }, 120_000);

  it('keeps /metrics off the public port, in every spelling a gateway routes to it (README#metrics-and-the-dashboard)', async () => {
    // the gateways ignore a trailing slash and read no query here, and compose leaves P2_METRICS_TOKEN
    // empty: any of these that got through would be answered with the metrics
    for (const path of ['/metrics', '/metrics/', '/metrics?format=text', '/metrics/?x=1', '//metrics', '/%6detrics']) {
      const answer = await http('GET', `http://127.0.0.1:${port}${path}`);
      expect([path, answer.status, answer.body?.error]).toEqual([path, 404, 'P2CORE_NOT_FOUND']);
    }
  }, 30_000);

  it("lets a scraper on the compose network read each certstore's /metrics (CERTSTORE_HOST), which the alerts need", () => {
    // from a gateway's container, as a Prometheus on the same network would; the port is not published
    for (const certstore of ['certstore-1', 'certstore-2']) {
      const fetched = compose(
        'exec', '-T', 'gateway-1', 'node', '-e',
        `fetch('http://${certstore}:3001/metrics').then(async (r) => { process.stdout.write(r.status + '\\n' + (await r.text())); }, (e) => { process.stdout.write('failed ' + e.cause?.code); })`,
      );
      expect([certstore, fetched.split('\n')[0]]).toEqual([certstore, '200']);
      expect(fetched).toMatch(new RegExp(`^p2_info\\{instance_id="${certstore}",[^}]*role="certstore"\\} 1$`, 'm'));
    }
  }, 60_000);

  it('passes the WebSocket gateway through the load balancer (README#operating: upgrades on /.p2/core/v1/gateway)', async () => {
    const client = await GatewayClient.connect(`http://127.0.0.1:${port}`, { heartbeats: false });
    try {
      expect(client.messages[0]).toMatchObject({ n: 'core', op: 1 });
    } finally {
      client.close();
    }
  }, 30_000);

  it('counts requests by the address the load balancer saw, not by an X-Forwarded-For the client sent (README#operating)', async () => {
    // P2_RATE_LIMIT_REGISTER allows 10 registrations a minute per address in each gateway's own buckets,
    // and the load balancer takes turns between two gateways: with the header overwritten, forty of them,
    // each claiming another address, are ~20 from one address at each gateway, well past 10. Sent at
    // once, not one after another: on a busy machine forty password hashes in a row took long enough
    // for the buckets to refill between them (no 429 at all in a CI run beside other work).
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        http('POST', `${api}/register`, {
          headers: { 'X-Forwarded-For': `203.0.113.${i + 1}` },
          json: { actor_name: `spoofer${i}`, auth_payload: { password } },
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses).toContain(429);
  }, 120_000);

  it('stops, and `down -v` leaves no container, network or volume behind', () => {
    compose('down', '-v', '--remove-orphans');
    down = true;
    const filter = `label=com.docker.compose.project=${project}`;
    expect({
      containers: docker('ps', '-aq', '--filter', filter),
      networks: docker('network', 'ls', '-q', '--filter', filter),
      volumes: docker('volume', 'ls', '-q', '--filter', filter),
    }).toEqual({ containers: '', networks: '', volumes: '' });
  }, 120_000);
});
