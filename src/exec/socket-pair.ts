import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IronError } from '../core/index.js';

/**
 * Node has no pipe()/socketpair() call, yet the executor needs OS-level channels it
 * can hand to several children at once (`2>&1`, one stderr for every stage, one
 * stdin for a whole list). A unix socket connected to a private listener gives such
 * a pair; libuv's own `stdio: 'pipe'` is a socketpair too, so children see nothing new.
 */
export interface SocketPair {
  /** The end this process reads or writes. */
  readonly ours: net.Socket;
  /** The end handed to children; never read here, so no byte meant for a child is taken. */
  readonly theirs: net.Socket;
}

export interface SocketPairSource {
  create(): Promise<SocketPair>;
  close(): Promise<void>;
}

const TOKEN_BYTES = 16;

export async function openSocketPairSource(): Promise<SocketPairSource> {
  const dir = await mkdtemp(join(tmpdir(), 'ironcode-io-'));
  const path = join(dir, 'pair.sock');
  // Accepted sockets must not start reading: they are the children's ends.
  const server = net.createServer({ pauseOnConnect: true });
  // Anyone able to reach the path could connect in between; the token the listener
  // sends proves which accepted socket is the peer of which client.
  const accepted = new Map<string, net.Socket>();
  server.on('connection', (socket) => {
    socket.on('error', ignore);
    const token = randomBytes(TOKEN_BYTES);
    accepted.set(token.toString('hex'), socket);
    socket.write(token);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });

  const create = async (): Promise<SocketPair> => {
    const ours = net.connect(path);
    ours.on('error', ignore);
    const token = await readToken(ours);
    const theirs = accepted.get(token);
    if (theirs === undefined) throw new IronError('internal', 'socket pair handshake failed');
    accepted.delete(token);
    return { ours, theirs };
  };
  const close = async (): Promise<void> => {
    for (const socket of accepted.values()) socket.destroy();
    accepted.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  return { create, close };
}

function readToken(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const fail = () => reject(new IronError('internal', 'socket pair closed during handshake'));
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < TOKEN_BYTES) return;
      socket.off('data', onData);
      socket.off('close', fail);
      socket.pause();
      // Nothing but the token is sent before the pair is handed out.
      if (received.length > TOKEN_BYTES) socket.unshift(received.subarray(TOKEN_BYTES));
      resolve(received.subarray(0, TOKEN_BYTES).toString('hex'));
    };
    socket.on('data', onData);
    socket.once('close', fail);
  });
}

function ignore(): void {}
