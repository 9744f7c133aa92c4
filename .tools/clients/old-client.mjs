// The TypeScript SDK 1.12 client, which speaks protocol 2025-03-26 and validates every result against that version's
// schema (a `resource_link` content block fails it), over stdio with HAPPYHORSE_SERVER='{"command", "args", "env"}'.
// It makes a video, waits for it, reads the job's resources, and prints one JSON object per line.
import { Client } from "mcp-sdk-1.12/client/index.js";
import { StdioClientTransport } from "mcp-sdk-1.12/client/stdio.js";

const server = JSON.parse(process.env.HAPPYHORSE_SERVER);
const out = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
const client = new Client({ name: "happyhorse-old-client", version: "1.0.0" });
await client.connect(new StdioClientTransport({ command: server.command, args: server.args, env: server.env, stderr: "inherit" }));
try {
  out("connected", { version: client.getServerVersion()?.version ?? null });
  const made = await client.callTool({
    name: "generate_video", arguments: { prompt: "a horse", duration: 3, resolution: "720p", wait_seconds: 30 },
  });
  out("made", { result: made });
  const jobId = made.content[0].text.match(/hh_[0-9a-f]{16}/)[0];  // no structured output at this version
  out("job", { result: await client.callTool({ name: "get_job", arguments: { job_id: jobId } }) });
  out("resource", { result: await client.readResource({ uri: `happyhorse://jobs/${jobId}` }) });
  const video = await client.readResource({ uri: `happyhorse://jobs/${jobId}/video` });
  out("video", { mimeType: video.contents[0].mimeType, bytes: video.contents[0].blob?.length ?? 0 });
} catch (error) {
  out("failed", { message: String(error?.message ?? error) });
} finally {
  await client.close();
}
