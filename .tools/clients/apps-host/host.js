// An MCP Apps host built on the official ext-apps AppBridge (2.0.4), for the player tests: in the page, an MCP client
// (the TypeScript SDK v2) calls a tool on the server over HTTP, reads the tool's UI resource, renders it in a
// sandboxed iframe under a CSP, and bridges the view to the server (tools/call and resources/read are forwarded).
// `csp`: "declared" applies what the resource declares (ext-apps' reference host: media-src 'self' data: blob:
// plus resourceDomains); "default" ignores it and applies the MCP Apps spec's default CSP, as a host that ignores
// resourceDomains does. Bundled for the browser by tests/browser/test_apps_host.py with esbuild.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const SPEC_DEFAULT =
  "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; media-src 'self' data:; connect-src 'none'";
const HOST = { name: "happyhorse-apps-test-host", version: "1.0.0" };

function declaredPolicy(csp) {
  const media = ["'self'", "data:", "blob:", ...(csp?.resourceDomains ?? [])].join(" ");
  const connect = ["'self'", ...(csp?.connectDomains ?? [])].join(" ");
  return (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
    `img-src ${media}; media-src ${media}; connect-src ${connect}`
  );
}

window.runHost = async ({ serverUrl, token, csp, tool, args }) => {
  const client = new Client(HOST, {
    capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: ["text/html;profile=mcp-app"] } } },
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(serverUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  const listed = await client.listTools();
  const described = listed.tools.find((each) => each.name === tool);
  const uri = described._meta.ui.resourceUri;
  const result = await client.callTool({ name: tool, arguments: args });
  const read = await client.readResource({ uri });
  const view = read.contents[0];
  const policy = csp === "declared" ? declaredPolicy(view._meta?.ui?.csp) : SPEC_DEFAULT;
  document.getElementById("policy").textContent = policy;

  const frame = document.getElementById("view");
  const bridge = new AppBridge(client, HOST, { serverTools: {}, serverResources: {}, openLinks: {} });
  bridge.oninitialized = () => {
    bridge.sendToolInput({ arguments: args });
    bridge.sendToolResult(result);
  };
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  frame.srcdoc = view.text.replace(/<head>/i, `<head><meta http-equiv="Content-Security-Policy" content="${policy}">`);
  return { jobId: result.structuredContent?.job_id ?? null };
};
