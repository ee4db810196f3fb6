import Fastify from 'fastify';
import { allowedMethods, installHeadRefusals, MAX_PARAM_LENGTH } from '../src/http/framework-errors';
import { GET_ONLY } from '../src/http/get-only.guard';

/** The methods a 405 lists in `Allow` at `path`, from a router shaped like the gateway's:
 * a GET-only GET (as GET /events, GET /keypackage/:fid) refuses HEAD, so its path does not list it. */
async function allowAt(path: string): Promise<string[]> {
  const app = Fastify({
    routerOptions: {
      ignoreTrailingSlash: true,
      maxParamLength: MAX_PARAM_LENGTH,
      // Nest's adapter brings its own version strategy (frozen, like all of Fastify's initial config)
      constraints: { version: { name: 'version', storage: () => new Map(), deriveConstraint: () => '', mustMatchWhenDerived: false, validate: () => undefined } },
    },
  });
  installHeadRefusals(app);
  const getOnly = { config: { [GET_ONLY]: true } };
  const answer = async () => 'ok';
  app.get('/events', getOnly, answer);
  app.get('/keypackage/:fid', getOnly, answer);
  app.post('/keypackage/@me', answer);
  app.get('/key/actor/:fid', answer);
  // a static route beside a GET-only parameter: the router picks it, and it answers HEAD
  app.get('/keypackage/help', answer);
  app.setNotFoundHandler(async (request) => allowedMethods(request));
  try {
    return (await app.inject({ method: 'PATCH', url: path })).json();
  } finally {
    await app.close();
  }
}

describe('allowedMethods: the methods a path answers, for the Allow of a 405', () => {
  it('a GET-only route: GET, not the HEAD it refuses', async () => {
    expect(await allowAt('/events')).toEqual(['GET']);
    expect(await allowAt('/events/?x=1')).toEqual(['GET']);
    expect(await allowAt('/keypackage/alice@example.com')).toEqual(['GET']);
    expect(await allowAt('/keypackage/alice%40example.com/')).toEqual(['GET']);
  });

  it('a path that is also another route\'s: its methods, still without HEAD', async () => {
    expect(await allowAt('/keypackage/@me')).toEqual(['GET', 'POST']);
  });

  it('any other GET route keeps the HEAD it answers', async () => {
    expect(await allowAt('/key/actor/alice@example.com')).toEqual(['GET', 'HEAD']);
    expect(await allowAt('/keypackage/help')).toEqual(['GET', 'HEAD']);
  });

  it('a path with no route: nothing', async () => {
    expect(await allowAt('/nowhere')).toEqual([]);
  });
});
