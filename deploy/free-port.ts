// A loopback port nobody listens on now, for servers that cannot be given port 0 (mosquitto,
// PostgreSQL, slapd): the tests, the benchmarks and the deploy scripts start them on it.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
