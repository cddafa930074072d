// Tests wait for the event they need (a row in a statistics view, a pool counter, a session in a
// given state), never for a time that is "long enough": a loaded machine makes any such time short.

/** Between two asks: short next to the events awaited, long enough not to load the server. */
const POLL_INTERVAL_MS = 25;

/**
 * Asks `probe` every 25 ms until it answers something other than undefined or false, and returns
 * that answer. After `timeoutMs` it fails with an error naming `what` was awaited.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined && answer !== false) return answer;
    if (Date.now() > deadline) throw new Error(`Gave up after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
