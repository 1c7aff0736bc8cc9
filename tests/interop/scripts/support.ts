// Helpers for forgea-cli's interop driver scripts (our code; the web app's code is imported, never copied).
import crypto from "node:crypto";

/** The one JSON document a driver prints: the last line of stdout (bigint as string, Date as ISO). */
export function emit(result: unknown): void {
  const text = JSON.stringify(result, (_key, value) =>
    typeof value === "bigint" ? value.toString() : value,
  );
  process.stdout.write(`\n${text}\n`);
}

/** What a refused operation told its caller: Prisma's error code (if any) and message. */
export function failure(error: unknown): { code: string | null; message: string } {
  const err = error as { code?: unknown; message?: unknown; meta?: unknown };
  return {
    code: typeof err?.code === "string" ? err.code : null,
    message: String(err?.message ?? error),
  };
}

export async function attempt<T>(action: () => Promise<T>): Promise<{ ok: T | null; error: ReturnType<typeof failure> | null }> {
  try {
    return { ok: await action(), error: null };
  } catch (error) {
    return { ok: null, error: failure(error) };
  }
}

export function pushPayload(htmlUrl: string, after: string): Record<string, unknown> {
  const [owner, name] = new URL(htmlUrl).pathname.split("/").filter(Boolean);
  return {
    ref: "refs/heads/main",
    after,
    repository: { html_url: htmlUrl, name, full_name: `${owner}/${name}` },
  };
}

/** A GitHub push delivery as GitHub sends it: raw JSON body, X-Hub-Signature-256 = HMAC-SHA256. */
export function deliveryRequest(
  payload: unknown,
  { secret, event = "push" }: { secret: string; event?: string },
): Request {
  const body = JSON.stringify(payload);
  const signature = crypto.createHmac("sha256", secret).update(body).digest("hex");
  return new Request("http://forgea-labs.test/api/webhooks/github", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": `sha256=${signature}`,
    },
    body,
  });
}

export async function respond(
  handler: (req: Request) => Promise<Response>,
  req: Request,
): Promise<{ status: number; body: string }> {
  const response = await handler(req);
  return { status: response.status, body: await response.text() };
}
