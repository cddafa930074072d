// A TCP proxy in front of a PostgreSQL server, to fail the network between pgscope and the server:
// cut() drops pgscope's side of every connection at once while the server's side stays open and
// silent, as when a route fails and the server has not noticed (its backends go on running).
import net from 'node:net';

export interface Proxy {
  port: number;
  /** Closes the client side of every connection open now; new connections still pass. */
  cut(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const open = new Set<{ client: net.Socket; server: net.Socket }>();
  const stranded = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const server = net.connect(targetPort, '127.0.0.1');
    const pair = { client, server };
    open.add(pair);
    client.pipe(server);
    server.pipe(client);
    const end = () => {
      if (!open.delete(pair)) return;
      client.destroy();
      server.destroy();
    };
    for (const socket of [client, server]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    cut() {
      for (const pair of open) {
        open.delete(pair);
        pair.client.unpipe(pair.server);
        pair.server.unpipe(pair.client);
        pair.server.pause();
        stranded.add(pair.server);
        pair.client.destroy();
      }
    },
    async close() {
      for (const socket of stranded) socket.destroy();
      for (const pair of open) pair.client.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
