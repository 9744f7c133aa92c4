// A generation as an MCP task on 2026-07-28 (the extension io.modelcontextprotocol/tasks), driven by the TypeScript
// SDK v2 client pinned to that revision and @modelcontextprotocol/ext-tasks, over stdio or Streamable HTTP. Used by
// tests/process/test_tasks.py; prints one JSON object per line.
//
//   node tasks-modern.mjs SCENARIO [TASK_ID]      with HAPPYHORSE_SERVER='{"command": ..., "args": [...], "env": {...}}'
//                                                  or HAPPYHORSE_SERVER='{"url": ..., "headers": {...}}'
//
// Scenarios: run (a task settled to its inline result), cancel, get TASK_ID, undeclared (tasks/get without the
// extension), plain (tools/call without the extension: an ordinary result).
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";

const PROTOCOL = "2026-07-28";
const [scenario, taskId] = process.argv.slice(2);
const server = JSON.parse(process.env.HAPPYHORSE_SERVER);
const ask = JSON.parse(process.env.HAPPYHORSE_ARGUMENTS ?? '{"prompt": "a horse", "duration": 3, "resolution": "720p"}');
const out = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
const failure = (error) => ({ code: error.code ?? null, message: String(error.message ?? error), data: error.data ?? null });
const clientInfo = { name: "happyhorse-tasks-modern", version: "1.0.0" };

const transport = server.url
  ? new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers ?? {} } })
  : new StdioClientTransport({ command: server.command, args: server.args, env: server.env, stderr: "inherit" });
const client = new Client(clientInfo, { capabilities: {}, versionNegotiation: { mode: { pin: PROTOCOL } } });
await client.connect(transport);
out("connected", { era: client.getProtocolEra?.() ?? null, extensions: client.getServerCapabilities()?.extensions ?? null });

// The raw path ext-tasks needs for V2 task shapes the SDK's codecs would reject. Over HTTP: a POST with the routing
// headers (ext-tasks supplies Mcp-Name for tasks/*). Over stdio: JSON-RPC written on the client's own transport, the
// answer routed back by id before the SDK sees it.
const pending = new Map();
let next = 0;
if (!server.url) {
  const route = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if (message && typeof message.id === "string" && pending.has(message.id)) {
      pending.get(message.id)(message);
      pending.delete(message.id);
      return;
    }
    route?.call(transport, message, extra);
  };
}
const rawDispatch = async (request, options) => {
  const id = `raw-${++next}`;
  const message = { ...request, jsonrpc: "2.0", id };
  if (!server.url) {
    return new Promise((resolve) => { pending.set(id, resolve); transport.send(message); });
  }
  const name = message.method === "tools/call" ? { "Mcp-Name": message.params.name } : {};
  const response = await fetch(server.url, {
    method: "POST",
    headers: {
      ...(server.headers ?? {}),
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "MCP-Protocol-Version": PROTOCOL,
      "Mcp-Method": message.method,
      ...name,
      ...(options?.context?.headers ?? {}),
    },
    body: JSON.stringify(message),
  });
  const text = await response.text();
  const data = response.headers.get("content-type")?.startsWith("text/event-stream")
    ? text.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).find(Boolean)
    : text;
  return JSON.parse(data);
};
const raw = async (method, params, withExtension = true) => {
  const meta = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL,
    "io.modelcontextprotocol/clientInfo": clientInfo,
    "io.modelcontextprotocol/clientCapabilities": withExtension ? { extensions: { "io.modelcontextprotocol/tasks": {} } } : {},
  };
  const routing = params.taskId ? { context: { headers: { "Mcp-Name": params.taskId } } } : undefined;
  return rawDispatch({ method, params: { ...params, _meta: meta } }, routing);
};

const session = createTaskSessionFromClient(client, {
  endpointId: "happyhorse-test",
  rawDispatch,
  v2RequestFraming: { protocolVersion: PROTOCOL, clientInfo, clientCapabilities: {} },
});

try {
  if (scenario === "run") {
    const execution = await session.callTool("generate_video", ask);
    out("execution", { kind: execution.kind, taskId: execution.handle?.taskId ?? null });
    const { outcome } = await execution.settle({ onEvent: (e) => { if (e.type === "task") out("status", { status: e.task.status, raw: e.task.raw }); } });
    out("outcome", { status: outcome.status, result: outcome.status === "completed" ? resultFromTaskOutcome(outcome) : null });
    out("settled");
    out("inline", { response: await raw("tasks/get", { taskId: execution.handle.taskId }) });
    out("unknown", { response: await raw("tasks/get", { taskId: "hh_0000000000000000" }) });
    out("result-method", { response: await raw("tasks/result", { taskId: execution.handle.taskId }) });
  } else if (scenario === "cancel") {
    const execution = await session.callTool("generate_video", ask);
    out("execution", { kind: execution.kind, taskId: execution.handle?.taskId ?? null });
    await execution.cancel();
    const { outcome } = await execution.settle();
    out("outcome", { status: outcome.status });
  } else if (scenario === "get") {
    out("response", { response: await raw("tasks/get", { taskId }) });
  } else if (scenario === "undeclared") {
    out("response", { response: await raw("tasks/get", { taskId }, false) });
  } else if (scenario === "plain") {
    out("result", { result: await client.callTool({ name: "generate_video", arguments: { ...ask, wait_seconds: 30 } }) });
  }
} catch (error) {
  out("failure", failure(error));
} finally {
  await session.close().catch(() => {});
  await client.close();
}
