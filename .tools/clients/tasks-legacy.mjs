// A generation as an MCP task on 2025-11-25, driven by the TypeScript SDK 1.x's own task client
// (client.experimental.tasks), over stdio or Streamable HTTP. Used by tests/process/test_tasks.py; prints one JSON
// object per line.
//
//   node tasks-legacy.mjs SCENARIO [TASK_ID]      with HAPPYHORSE_SERVER='{"command": ..., "args": [...], "env": {...}}'
//                                                  or HAPPYHORSE_SERVER='{"url": ..., "headers": {...}}'
//
// Scenarios: run (create, stream to the result, list, unknown id), cancel, create (print the id and leave),
// get TASK_ID (poll to the end, then tasks/result), plain (an ordinary tools/call), patient (a job left queued, then
// get_job with wait_seconds 120 called with the SDK's default options: no progress, a 60 s request time-out).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";

const [scenario, taskId] = process.argv.slice(2);
const server = JSON.parse(process.env.HAPPYHORSE_SERVER);
const ask = JSON.parse(process.env.HAPPYHORSE_ARGUMENTS ?? '{"prompt": "a horse", "duration": 3, "resolution": "720p"}');
const tool = process.env.HAPPYHORSE_TOOL ?? "generate_video";  // a film (make_film) runs as a task too
const out = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
const failure = (error) => ({ code: error.code ?? null, message: String(error.message ?? error) });

// {command, args, env} starts the server over stdio; {url, headers} reaches one over Streamable HTTP.
const transport = server.url
  ? new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers ?? {} } })
  : new StdioClientTransport({ command: server.command, args: server.args, env: server.env, stderr: "inherit" });
const client = new Client({ name: "happyhorse-tasks-legacy", version: "1.0.0" }, { capabilities: {} });
await client.connect(transport);
out("connected", { tasks: client.getServerCapabilities()?.tasks ?? null });
const tools = await client.listTools();  // caches each tool's execution.taskSupport, which callToolStream reads
out("tools", { execution: Object.fromEntries(tools.tools.map((t) => [t.name, t.execution ?? null])) });

async function stream(stopAfterCreate = false) {
  const call = client.experimental.tasks.callToolStream(
    { name: tool, arguments: ask }, CallToolResultSchema, { task: { ttl: 600000 } });
  for await (const message of call) {
    if (message.type === "taskCreated") { out("created", { task: message.task }); if (stopAfterCreate) return message.task; }
    else if (message.type === "taskStatus") out("status", { task: message.task });
    else if (message.type === "result") out("result", { result: message.result });
    else if (message.type === "error") out("error", failure(message.error));
  }
}

try {
  if (scenario === "run") {
    await stream();
    out("list", { tasks: (await client.experimental.tasks.listTasks()).tasks });
    try { await client.experimental.tasks.getTask("hh_0000000000000000"); out("unexpected"); }
    catch (error) { out("unknown", failure(error)); }
  } else if (scenario === "cancel") {
    const task = await stream(true);
    out("cancelled", { task: await client.experimental.tasks.cancelTask(task.taskId) });
    out("after", { task: await client.experimental.tasks.getTask(task.taskId) });
    try { await client.experimental.tasks.cancelTask(task.taskId); out("unexpected"); }
    catch (error) { out("again", failure(error)); }
  } else if (scenario === "create") {
    await stream(true);
  } else if (scenario === "get") {
    let task = await client.experimental.tasks.getTask(taskId);
    while (!["completed", "failed", "cancelled"].includes(task.status)) {
      await new Promise((resolve) => setTimeout(resolve, task.pollInterval ?? 1000));
      task = await client.experimental.tasks.getTask(taskId);
    }
    out("task", { task });
    out("result", { result: await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema) });
  } else if (scenario === "patient") {
    const made = await client.callTool({ name: "generate_video", arguments: { ...ask, wait_seconds: 0 } });
    const started = Date.now();
    try {
      const waited = await client.callTool({ name: "get_job", arguments: { job_id: made.structuredContent.job_id, wait_seconds: 120 } });
      out("waited", { result: waited, seconds: (Date.now() - started) / 1000 });
    } catch (error) {
      out("timed-out", { ...failure(error), seconds: (Date.now() - started) / 1000 });
    }
  } else if (scenario === "plain") {
    out("result", { result: await client.callTool({ name: "generate_video", arguments: { ...ask, wait_seconds: 30 } }) });
  }
} finally {
  await client.close();
}
