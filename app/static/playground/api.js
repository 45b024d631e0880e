// Every call to the service goes through here: the optional API key, and any answer that is not a
// success turned into an ApiError carrying what the service said (errors.js decides how it is shown).
// URLs are relative, so the page also works when the service is mounted under a path prefix.
import { showError } from "./errors.js";

export class ApiError extends Error {
  /** status 0: no answer came back; null: an error event inside a stream (no status of its own). */
  constructor(status, detail, body = {}, retryAfter = null) {
    super(status ? `${status} — ${detail}` : detail);
    this.status = status;
    this.detail = detail;
    this.code = typeof body.code === "string" ? body.code : null;
    this.errors = Array.isArray(body.errors) ? body.errors : [];
    this.unknownCharacters = Array.isArray(body.unknown_characters) ? body.unknown_characters : [];
    this.retryAfter = retryAfter;
  }
}

function headers(extra = {}) {
  const key = document.getElementById("api-key").value.trim();
  return key ? { ...extra, "X-API-Key": key } : extra;
}

async function errorFrom(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's page): the status text is all there is
  }
  // The detail already names the fields of a validation error; `errors` lists them for errors.js.
  const detail = typeof body.detail === "string" ? body.detail : response.statusText || "error";
  return new ApiError(response.status, detail, body, response.headers.get("Retry-After"));
}

/** fetch() with the API key; resolves to the Response when it is a 2xx, else throws ApiError. */
export async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: headers(options.headers) });
  } catch {
    throw new ApiError(0, "the service could not be reached");
  }
  if (!response.ok) {
    throw await errorFrom(response);
  }
  return response;
}

export async function postJson(path, body) {
  const response = await call(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

export async function postFile(path, blob, filename) {
  const form = new FormData();
  form.append("file", blob, filename);
  const response = await call(path, { method: "POST", body: form });
  return response.json();
}

/**
 * The hooks the browser tests wait on: data-busy is "true" while a request of the panel is on its way,
 * data-answered counts the answers (or errors) it has shown.
 */
export function setBusy(panel) {
  panel.dataset.busy = "true";
}

export function answered(panel) {
  panel.dataset.answered = String(Number(panel.dataset.answered || 0) + 1);
  panel.dataset.busy = "false";
}

/**
 * A panel's requests, of which only the latest counts: it marks the panel busy, shows the error line
 * (or clears it), and drops an answer overtaken by a newer request or by cancel().
 */
export class LatestRequest {
  constructor(panel, errorLine) {
    this.panel = panel;
    this.errorLine = errorLine;
    this.latest = 0;
  }

  /** Resolves to {answer} (answer null after an error, which is shown), or null when overtaken. */
  async run(request) {
    const number = ++this.latest;
    setBusy(this.panel);
    let answer = null;
    let failure = null;
    try {
      answer = await request();
    } catch (error) {
      failure = error;
    }
    if (number !== this.latest) return null;
    showError(this.errorLine, failure);
    answered(this.panel);
    return { answer };
  }

  cancel() {
    this.latest++;
    showError(this.errorLine, null);
    answered(this.panel);
  }
}

/**
 * Reads a text/event-stream body as it arrives and calls onEvent(name, data) per event.
 * EventSource cannot POST a JSON body, so the stream is parsed here.
 */
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
