// A person signing in from an MCP host, as the TypeScript SDK's OAuth client does it: connect to the server at
// argv[2]; on its 401 the SDK reads the Protected Resource Metadata, finds the authorization server, registers
// itself, and asks for the person's browser to open the authorization URL (printed as {"authorize": url}); the test
// drives the login in Chromium, which lands on this script's redirect URL with the code; the SDK exchanges it
// (PKCE) and connects again. Then it lists the tools, makes a video when generate_video is offered, lists its jobs,
// and prints {"tools": [...], "made": <structuredContent or null>, "listed": <structuredContent>, "scope": ...}.
import http from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const serverUrl = new URL(process.argv[2]);
const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

const callback = http.createServer();
await new Promise((resolve) => callback.listen(0, '127.0.0.1', resolve));
const redirectUrl = `http://127.0.0.1:${callback.address().port}/callback`;
const code = new Promise((resolve) => {
  callback.on('request', (req, res) => {
    const params = new URL(req.url, redirectUrl).searchParams;
    res.end(params.get('code') ? 'Signed in; you may close this window.' : `Not signed in: ${params.get('error')}`);
    resolve(params.get('code'));
  });
});

let client_information, tokens, verifier;
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return { client_name: 'happyhorse test host', redirect_uris: [redirectUrl], grant_types: ['authorization_code'],
      response_types: ['code'], token_endpoint_auth_method: 'none' };
  },
  clientInformation: () => client_information,
  saveClientInformation: (info) => { client_information = info; },
  tokens: () => tokens,
  saveTokens: (saved) => { tokens = saved; },
  redirectToAuthorization: (url) => say({ authorize: url.href }),
  saveCodeVerifier: (saved) => { verifier = saved; },
  codeVerifier: () => verifier,
};

const connect = async () => {
  const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  const client = new Client({ name: 'oauth-test-host', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
};

let connected;
try {
  connected = await connect();
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
  const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  await transport.finishAuth(await code);
  connected = await connect();
}
const tools = (await connected.client.listTools()).tools.map((tool) => tool.name);
const made = tools.includes('generate_video')
  ? await connected.client.callTool({ name: 'generate_video', arguments: { prompt: 'a horse', duration: 3 } })
  : null;
const listed = await connected.client.callTool({ name: 'list_jobs', arguments: {} });
say({ tools, made: made?.structuredContent ?? made, listed: listed.structuredContent, scope: tokens?.scope ?? null });
await connected.client.close();
callback.close();
