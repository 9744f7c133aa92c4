// A real OpenID provider for the sign-in tests: oidc-provider (a certified implementation) on a free loopback port,
// issuing RS256 JWT access tokens for one resource (argv[2], this server's MCP URL). Prints {"issuer": ...} once it
// listens; runs until killed. argv[3], when given, is a path the issuer sits under (`/tenant`), else the issuer is
// the bare origin (no slash at its end, as oidc-provider states it). Machine clients (client credentials): alice and bob may read and generate, reader
// may read, dave gets opaque tokens (not JWTs) that the server introspects as the client happyhorse-mcp. People sign in with the authorization code flow and PKCE: an MCP client registers itself (dynamic
// registration), and the provider's development login and consent pages accept any name.
import http from 'node:http';
import Provider from 'oidc-provider';

const RESOURCE = process.argv[2];
const PREFIX = process.argv[3] ?? '';
const BOTH = 'happyhorse:read happyhorse:generate';
// A person who logs in with a name starting "reader" is granted read only, whatever their client asks for.
const accountOf = (ctx) => ctx.oidc.account?.accountId ?? ctx.oidc.session?.accountId
  ?? ctx.oidc.entities?.AuthorizationCode?.accountId ?? ctx.oidc.entities?.RefreshToken?.accountId;
const scopeFor = (ctx) => (String(accountOf(ctx) ?? '').startsWith('reader') ? 'happyhorse:read' : BOTH);
const client = (id, scope) => ({
  client_id: id, client_secret: `${id}-secret`, grant_types: ['client_credentials'], redirect_uris: [],
  response_types: [], scope,
});

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}${PREFIX}`;
  const provider = new Provider(issuer, {
    clients: [
      client('alice', BOTH), client('bob', BOTH), client('reader', 'happyhorse:read'), client('dave', BOTH),
      client('happyhorse-mcp', 'happyhorse:read'),
    ],
    scopes: ['openid', 'offline_access', 'happyhorse:read', 'happyhorse:generate'], // offline_access: refresh tokens, which mcp-remote registers for
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        // Any resource a client names gets a token for it: the tests ask for another one to see it refused here.
        getResourceServerInfo: (ctx, resource, client) => (client.clientId === 'dave'
          ? { scope: BOTH, audience: resource, accessTokenFormat: 'opaque' }
          : { scope: scopeFor(ctx), audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (PREFIX) {
      if (!req.url.startsWith(`${PREFIX}/`)) { res.statusCode = 404; res.end(); return; }
      req.originalUrl = req.url; // how oidc-provider learns its mount path, as under express's app.use(PREFIX, ...)
      req.url = req.url.slice(PREFIX.length);
    }
    callback(req, res);
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
