// A real OpenID provider for the sign-in tests: oidc-provider (a certified implementation) on a free loopback port,
// issuing RS256 JWT access tokens for one resource (argv[2], this server's MCP URL). Prints {"issuer": ...} once it
// listens; runs until killed. Machine clients (client credentials): alice and bob may read and generate, reader
// may read, dave gets opaque tokens (not JWTs) that the server introspects as the client happyhorse-mcp. People sign in with the authorization code flow and PKCE: an MCP client registers itself (dynamic
// registration), and the provider's development login and consent pages accept any name.
import http from 'node:http';
import Provider from 'oidc-provider';

const RESOURCE = process.argv[2];
const BOTH = 'happyhorse:read happyhorse:generate';
const client = (id, scope) => ({
  client_id: id, client_secret: `${id}-secret`, grant_types: ['client_credentials'], redirect_uris: [],
  response_types: [], scope,
});

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      client('alice', BOTH), client('bob', BOTH), client('reader', 'happyhorse:read'), client('dave', BOTH),
      client('happyhorse-mcp', 'happyhorse:read'),
    ],
    scopes: ['openid', 'happyhorse:read', 'happyhorse:generate'],
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
          : { scope: BOTH, audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
