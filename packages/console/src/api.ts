/**
 * The console's only way to talk to the agent: the control API with the bearer token in the
 * Authorization header (never in a URL), and Server-Sent Events read with fetch (EventSource cannot
 * send headers). The token lives in sessionStorage: gone when the tab closes, never logged.
 */
const TOKEN_KEY = 'boxwatch.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string): void => sessionStorage.setItem(TOKEN_KEY, t),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called when the agent refuses the token (401): the app goes back to the login form. */
let onUnauthorized: (message: string) => void = () => {};
export function setUnauthorizedHandler(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

function headers(t: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${t}`, ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let body: { error?: string; message?: string; field?: string } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    /* not JSON: the status says enough */
  }
  return new ApiError(res.status, body.message ?? body.error ?? `HTTP ${res.status}`, body.field);
}

/** A JSON request; throws ApiError (with the server's `field` for a 400). */
export async function request<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const t = init.token ?? token.get() ?? '';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: headers(t, init.body === undefined ? {} : { 'content-type': 'application/json' }),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) {
    const err = await failure(res);
    if (res.status === 401 && init.token === undefined) onUnauthorized(err.message);
    throw err;
  }
  return (await res.json()) as T;
}

export interface StreamHandle {
  close(): void;
}

/**
 * Follow an SSE route, reconnecting by itself (1 s, then up to 10 s apart) after the agent
 * restarts or the connection drops. `onOpen` runs at every (re)connect so the caller can reload
 * the snapshot the stream does not replay.
 */
export function follow(path: string, handlers: { onEvent: (event: string, data: unknown) => void; onOpen?: () => void; onState?: (connected: boolean) => void }): StreamHandle {
  const abort = new AbortController();
  let delay = 1000;
  const run = async () => {
    while (!abort.signal.aborted) {
      try {
        const res = await fetch(path, { headers: headers(token.get() ?? ''), signal: abort.signal });
        if (res.status === 401) {
          onUnauthorized((await failure(res)).message);
          return;
        }
        if (!res.ok || !res.body) throw await failure(res);
        delay = 1000;
        handlers.onState?.(true);
        handlers.onOpen?.();
        await readEvents(res.body, handlers.onEvent);
      } catch {
        /* dropped or refused: retry below */
      }
      handlers.onState?.(false);
      if (abort.signal.aborted) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return { close: () => abort.abort() };
}

/** Parse an event stream (text/event-stream framing: blank line ends an event). */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: unknown) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) !== -1) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(event, JSON.parse(data.join('\n')));
    }
  }
}
