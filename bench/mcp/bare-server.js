// The baseline: a server on the same SDK (v2, low-level Server, serveStdio) that only
// reads the file it is asked for. No authentication, no policy, no audit: the
// practical limit of an SDK-based server on this machine.
import { readFile } from 'node:fs/promises';
import { Server } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

const TOOL = {
  name: 'read_file',
  description: 'Read a file',
  inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
};

serveStdio(() => {
  const server = new Server({ name: 'bare', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler('tools/list', async () => ({ tools: [TOOL] }));
  server.setRequestHandler('tools/call', async (request) => {
    const text = await readFile(String(request.params.arguments?.path), 'utf8');
    return { content: [{ type: 'text', text }] };
  });
  return server;
});
