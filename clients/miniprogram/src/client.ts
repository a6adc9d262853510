/**
 * A thin typed layer over the generated `paths` (src/schema.d.ts): one method per HTTP
 * verb, typed by path; answers as values (`{ ok: true, data }` or `{ ok: false, problem }`,
 * the problem typed as the API's `Problem`); the bearer token attached, and refreshed once
 * on `token_expired` — concurrent requests that meet an expired token share one refresh.
 *
 * It needs nothing but a fetch-like function (src/transport.ts): `wxFetch()` in the
 * mini-program, `fetch` in Node or a browser.
 */
import type { components, paths } from "./schema";
import type { FetchLike, FetchLikeResponse } from "./transport";

export type Schemas = components["schemas"];
/** An RFC 9457 problem, as every error of the API is sent. */
export type Problem = Schemas["Problem"];
export type Method = "get" | "post" | "patch" | "delete";

/** The paths that have an operation for method `M`. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: paths[P] extends Record<M, { responses: unknown }> ? P : never;
}[keyof paths];

export type Operation<P extends keyof paths, M extends Method> = paths[P] extends Record<M, infer O> ? O : never;

type PathParams<O> = O extends { parameters: { path: infer X } } ? X : never;
type QueryParams<O> = O extends { parameters: { query?: infer X } } ? Exclude<X, undefined> : never;
type JsonBody<O> = O extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
type BodyRequired<O> = O extends { requestBody: { content: unknown } } ? true : false;

/** What a call takes: path parameters, query, body, each only where the operation has it. */
export type Init<O> = ([PathParams<O>] extends [never] ? { path?: undefined } : { path: PathParams<O> }) &
  ([QueryParams<O>] extends [never] ? { query?: undefined } : { query?: QueryParams<O> }) &
  ([JsonBody<O>] extends [never]
    ? { body?: undefined }
    : BodyRequired<O> extends true
      ? { body: JsonBody<O> }
      : { body?: JsonBody<O> }) & { headers?: Record<string, string> };

type InitArgs<O> = {} extends Init<O> ? [init?: Init<O>] : [init: Init<O>];

type Responses<O> = O extends { responses: infer R } ? R : never;
type Content<R> = R extends { content: infer C } ? C[keyof C] : undefined;
type SuccessStatus = 200 | 201 | 202 | 204;
/** The body of an operation's success responses. */
export type Data<O> = {
  [S in keyof Responses<O>]: S extends SuccessStatus ? Content<Responses<O>[S]> : never;
}[keyof Responses<O>];

export type Result<T> =
  | { ok: true; status: number; data: T; response: FetchLikeResponse }
  | { ok: false; status: number; problem: Problem; response?: FetchLikeResponse };

/** The problem of a failed call, thrown by `must`. */
export class ApiError extends Error {
  constructor(
    readonly problem: Problem,
    readonly status: number,
  ) {
    super(`${problem.code} (${status}): ${problem.detail}`);
    this.name = "ApiError";
  }
}

/** The data of a successful result; throws `ApiError` with the problem otherwise. */
export function must<T>(result: Result<T>): T {
  if (result.ok) return result.data;
  throw new ApiError(result.problem, result.status);
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** Where the session's tokens live: memory (`memoryTokens`) or `wx` storage (`wxStorageTokens`). */
export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

export function memoryTokens(initial: Tokens | null = null): TokenStore {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
  };
}

export interface ClientOptions {
  /** The API's origin, e.g. `https://linli.example.cn` (paths start with `/api/v1`). */
  baseUrl: string;
  fetch: FetchLike;
  tokens?: TokenStore;
  /** `en` for English `detail`s; Chinese otherwise. */
  language?: "zh-CN" | "en";
  /** Called when a refresh fails: the user must sign in again (`wx.login`). */
  onSessionEnded?: (problem: Problem) => void;
}

type Query = Record<string, string | number | boolean | null | undefined>;

interface RawInit {
  path?: Record<string, string | number>;
  query?: object;
  body?: unknown;
  headers?: Record<string, string>;
}

type As = "json" | "arrayBuffer";

export class LinliClient {
  readonly tokens: TokenStore;
  private refreshing: Promise<boolean> | null = null;

  constructor(private readonly options: ClientOptions) {
    this.tokens = options.tokens ?? memoryTokens();
  }

  get<P extends PathsWith<"get">>(path: P, ...init: InitArgs<Operation<P, "get">>) {
    return this.request<Data<Operation<P, "get">>>("GET", path, init[0], "json");
  }

  post<P extends PathsWith<"post">>(path: P, ...init: InitArgs<Operation<P, "post">>) {
    return this.request<Data<Operation<P, "post">>>("POST", path, init[0], "json");
  }

  patch<P extends PathsWith<"patch">>(path: P, ...init: InitArgs<Operation<P, "patch">>) {
    return this.request<Data<Operation<P, "patch">>>("PATCH", path, init[0], "json");
  }

  delete<P extends PathsWith<"delete">>(path: P, ...init: InitArgs<Operation<P, "delete">>) {
    return this.request<Data<Operation<P, "delete">>>("DELETE", path, init[0], "json");
  }

  /** A binary download (the participation export), as bytes. */
  download<P extends PathsWith<"get">>(path: P, ...init: InitArgs<Operation<P, "get">>) {
    return this.request<ArrayBuffer>("GET", path, init[0], "arrayBuffer");
  }

  /** Signs in with a `wx.login` code and keeps the tokens. */
  async login(code: string) {
    const result = await this.post("/api/v1/auth/wechat/login", { body: { code } });
    if (result.ok) this.tokens.set(result.data);
    return result;
  }

  /** Revokes this device's tokens and forgets them. */
  async logout() {
    const refresh = this.tokens.get()?.refresh_token;
    const result = await this.post("/api/v1/auth/logout", { body: { refresh_token: refresh ?? null } });
    this.tokens.set(null);
    return result;
  }

  private async request<T>(method: string, path: string, typedInit: unknown, as: As): Promise<Result<T>> {
    // The public methods checked the shape against the operation; from here on it is plain data.
    const init = typedInit as RawInit | undefined;
    const sentWith = this.tokens.get()?.access_token;
    const first = await this.send<T>(method, path, init, as, sentWith);
    if (first.ok || first.problem.code !== "token_expired" || sentWith === undefined) return first;
    // Someone else may have refreshed already; otherwise join (or start) the one refresh.
    const current = this.tokens.get()?.access_token;
    const renewed = current !== undefined && current !== sentWith ? true : await this.refresh();
    if (!renewed) return first;
    return this.send<T>(method, path, init, as, this.tokens.get()?.access_token);
  }

  /** One refresh at a time: concurrent callers await the same one. */
  private refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.refreshNow().then(
        (ok) => {
          this.refreshing = null;
          return ok;
        },
        () => {
          this.refreshing = null;
          return false;
        },
      );
    }
    return this.refreshing;
  }

  private async refreshNow(): Promise<boolean> {
    const refreshToken = this.tokens.get()?.refresh_token;
    if (!refreshToken) return false;
    const result = await this.send<Tokens>(
      "POST",
      "/api/v1/auth/refresh",
      { body: { refresh_token: refreshToken } },
      "json",
      undefined,
    );
    if (result.ok) {
      this.tokens.set({ access_token: result.data.access_token, refresh_token: result.data.refresh_token });
      return true;
    }
    this.tokens.set(null);
    this.options.onSessionEnded?.(result.problem);
    return false;
  }

  private async send<T>(
    method: string,
    path: string,
    init: RawInit | undefined,
    as: As,
    accessToken: string | undefined,
  ): Promise<Result<T>> {
    const headers: Record<string, string> = {
      accept: as === "json" ? "application/json, application/problem+json" : "*/*",
      ...init?.headers,
    };
    if (this.options.language) headers["accept-language"] = this.options.language;
    if (accessToken) headers["authorization"] = `Bearer ${accessToken}`;
    let body: string | undefined;
    if (init?.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.body);
    }
    const url = this.options.baseUrl.replace(/\/+$/, "") + fillPath(path, init?.path) + queryString(init?.query as Query);
    let response: FetchLikeResponse;
    try {
      response = await this.options.fetch(url, { method, headers, body });
    } catch (e) {
      return { ok: false, status: 0, problem: localProblem(0, "network_error", String(e)) };
    }
    if (response.status >= 200 && response.status < 300) {
      if (as === "arrayBuffer") return { ok: true, status: response.status, data: (await response.arrayBuffer()) as T, response };
      const text = response.status === 204 ? "" : await response.text();
      const type = response.headers.get("content-type") ?? "";
      const data = text === "" ? undefined : type.includes("json") ? JSON.parse(text) : text;
      return { ok: true, status: response.status, data: data as T, response };
    }
    return { ok: false, status: response.status, problem: await readProblem(response), response };
  }
}

function fillPath(template: string, params: Record<string, string | number> | undefined): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`path parameter ${name} is missing for ${template}`);
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Query | undefined): string {
  if (!query) return "";
  const parts: string[] = [];
  for (const key of Object.keys(query)) {
    const value = query[key];
    if (value === undefined || value === null) continue;
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

async function readProblem(response: FetchLikeResponse): Promise<Problem> {
  const text = await response.text().catch(() => "");
  try {
    const parsed: unknown = JSON.parse(text);
    if (isProblem(parsed)) return parsed;
  } catch {
    // not JSON: a proxy's or gateway's page
  }
  return localProblem(response.status, `http_${response.status}`, text.slice(0, 200));
}

export function isProblem(value: unknown): value is Problem {
  const v = value as Partial<Problem> | null;
  return typeof v === "object" && v !== null && typeof v.code === "string" && typeof v.status === "number";
}

/** A problem made on this side, for failures that never reached the API. */
function localProblem(status: number, code: string, detail: string): Problem {
  return { type: `/problems/${code}`, title: code, status, detail, code };
}
