/**
 * WebSocket ends written by hand over plain TCP, for tests that must send what
 * no WebSocket library would (a frame header claiming a gigabyte) or read
 * exactly what the other side wrote (a close frame's code).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A frame header with a 64-bit payload length (opcode 1, text, final). Masked when a client sends it. */
export function frameHeader(length: number, masked: boolean): Buffer {
  const header = Buffer.alloc(masked ? 14 : 10);
  header[0] = 0x81;
  header[1] = (masked ? 0x80 : 0) | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  if (masked) randomBytes(4).copy(header, 10);
  return header;
}

/** A whole text frame carrying `text`, masked when a client sends it. */
export function textFrame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = masked ? randomBytes(4) : undefined;
  if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  const length = payload.length;
  const size = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + size);
  header[0] = 0x81;
  header[1] = (mask ? 0x80 : 0) | (size === 0 ? length : size === 2 ? 126 : 127);
  if (size === 2) header.writeUInt16BE(length, 2);
  if (size === 8) header.writeBigUInt64BE(BigInt(length), 2);
  return Buffer.concat(mask ? [header, mask, payload] : [header, payload]);
}

/**
 * The start of a text message in `count` frames of one byte each (a space), none final: what a peer sends to make
 * the other side hold an object per fragment. Masked when a client sends it (with a zero mask: the byte as it is).
 */
export function tinyFragments(count: number, masked: boolean): Buffer {
  const size = masked ? 7 : 3;
  const frames = Buffer.alloc(size * count);
  for (let i = 0; i < count; i++) {
    frames[size * i] = i === 0 ? 0x01 : 0x00; // FIN clear; text, then continuation
    frames[size * i + 1] = (masked ? 0x80 : 0) | 1;
    frames[size * i + size - 1] = 0x20;
  }
  return frames;
}

/** Reads close frames the other side sends: resolves with the first one's status code. */
export function closeCodeFrom(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      // Frames from a server are unmasked; from a client, masked (the code is then XORed with the key).
      while (data.length >= 2) {
        const opcode = data[0]! & 0x0f;
        const masked = (data[1]! & 0x80) !== 0;
        const length = data[1]! & 0x7f; // control frames are at most 125 bytes
        const total = 2 + (masked ? 4 : 0) + length;
        if (data.length < total) return;
        if (opcode === 0x8) {
          const payload = Buffer.from(data.subarray(total - length, total));
          if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= data[2 + (i % 4)]!;
          resolve(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
          return;
        }
        data = data.subarray(total);
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed without a close frame')));
  });
}

/**
 * A client that completes the opening handshake by hand and hands back the TCP socket, past the 101. With
 * `allowHalfOpen`, its socket does not end when the server's does: it stays open until destroyed.
 */
export async function rawUpgrade(url: string, { allowHalfOpen = false } = {}): Promise<Socket> {
  const { hostname, port, pathname } = new URL(url);
  const socket = tcpConnect({ port: Number(port), host: hostname, allowHalfOpen });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${pathname || '/'} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      else resolve();
    };
    // A server that goes away before answering (killed, say) must not leave the caller waiting.
    const onClose = () => reject(new Error('closed before the upgrade was answered'));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
  return socket;
}

/** A server that accepts one WebSocket upgrade by hand and hands over its TCP socket. */
export async function rawServer(): Promise<{ url: string; accepted: Promise<Socket>; close(): Promise<void> }> {
  const http = createServer();
  const sockets = new Set<Socket>();
  const accepted = new Promise<Socket>((resolve) => {
    http.on('upgrade', (request: IncomingMessage, socket: Socket) => {
      sockets.add(socket);
      const accept = createHash('sha1').update(`${request.headers['sec-websocket-key']}${GUID}`).digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      resolve(socket);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    accepted,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => http.close(() => resolve()));
    },
  };
}
