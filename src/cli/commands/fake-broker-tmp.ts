import { createServer } from 'node:net';
export async function startBroker() {
  await new Promise((r) => setTimeout(r, Number(process.env.FAKE_START_MS ?? 0)));
  const s = createServer(); await new Promise<void>((r) => s.listen(0, r));
  return { port: 1, close: async () => { console.error('CLOSE CALLED'); await new Promise((r) => setTimeout(r, Number(process.env.FAKE_CLOSE_MS ?? 100))); s.close(); } };
}
