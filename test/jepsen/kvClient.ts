/**
 * The client side of a fault test: HTTP calls to the KV example's API, each classified as it must be for the
 * checker: acknowledged (with its output), definitely not applied, or unknown (timed out, connection lost, or the
 * server said the outcome is unknown).
 */
import type { StatusView } from '../support/processes.js';

export type Outcome =
  | { readonly kind: 'ok'; readonly output: string | null }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface KvEndpoint {
  readonly http: string;
}

export async function kvRequest(
  endpoint: KvEndpoint,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body: string | undefined,
  timeoutMs: number,
): Promise<Outcome> {
  let response: Response;
  try {
    response = await fetch(`http://${endpoint.http}${path}`, { method, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    return { kind: 'unknown', reason: error instanceof Error ? error.name : String(error) };
  }
  const text = await response.text().catch(() => '');
  if (response.status === 204) return { kind: 'ok', output: null };
  if (response.status === 200) return { kind: 'ok', output: text };
  if (response.status === 404 && method === 'GET') return { kind: 'ok', output: null };
  const code = errorCode(text);
  // Only an answer that says the operation certainly did not happen counts as a failure; anything else may have.
  if (response.status >= 400 && response.status < 500 && response.status !== 408) return { kind: 'failed', reason: `${response.status} ${code}` };
  if (code.includes('not-appended')) return { kind: 'failed', reason: `${response.status} ${code}` };
  return { kind: 'unknown', reason: `${response.status} ${code}` };
}

function errorCode(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; outcome?: string } };
    return [parsed.error?.code, parsed.error?.outcome].filter((part) => part !== undefined).join(' ');
  } catch {
    return text.slice(0, 80);
  }
}


export async function fetchStatus(endpoint: KvEndpoint, timeoutMs = 1000): Promise<StatusView | null> {
  try {
    const response = await fetch(`http://${endpoint.http}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return null;
    return (await response.json()) as StatusView;
  } catch {
    return null;
  }
}
