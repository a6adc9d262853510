/**
 * The mini-program's side: a fetch-compatible function over `wx.request` (the
 * mini-program has no `fetch`) and a token store in `wx` storage.
 */
import type { FetchLike, FetchLikeResponse } from "./transport";
import type { Tokens, TokenStore } from "./client";

/** The little of `wx` used here (the official typings declare much more). */
export interface WxRequestSuccess {
  statusCode: number;
  header: Record<string, string>;
  data: ArrayBuffer | string;
}

export interface WxRequestOptions {
  url: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";
  header: Record<string, string>;
  data?: string;
  /** Anything but `json`: the body is left as it came. */
  dataType: string;
  responseType: "arraybuffer" | "text";
  timeout?: number;
  success(res: WxRequestSuccess): void;
  fail(err: { errMsg: string }): void;
}

export interface WxLike {
  request(options: WxRequestOptions): unknown;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: unknown): void;
  removeStorageSync(key: string): void;
}

declare const wx: WxLike;

/** `wx` as the mini-program provides it, looked up when first used. */
function currentWx(): WxLike {
  return wx;
}

/** A `fetch` over `wx.request`, for `new LinliClient({ fetch: wxFetch(), … })`. */
export function wxFetch(options: { timeoutMs?: number; wx?: WxLike } = {}): FetchLike {
  return (url, init) =>
    new Promise<FetchLikeResponse>((resolve, reject) => {
      const api = options.wx ?? currentWx();
      api.request({
        url,
        method: init.method.toUpperCase() as WxRequestOptions["method"],
        header: init.headers,
        data: init.body,
        dataType: "text",
        responseType: "arraybuffer",
        timeout: options.timeoutMs,
        success: (res) => resolve(wxResponse(res)),
        fail: (err) => reject(new Error(err.errMsg)),
      });
    });
}

function wxResponse(res: WxRequestSuccess): FetchLikeResponse {
  const headers: Record<string, string> = {};
  for (const name of Object.keys(res.header)) {
    const value = res.header[name];
    if (value !== undefined) headers[name.toLowerCase()] = String(value);
  }
  const bytes = typeof res.data === "string" ? encodeUtf8(res.data) : res.data;
  return {
    status: res.statusCode,
    headers: { get: (name) => headers[name.toLowerCase()] ?? null },
    text: () => Promise.resolve(typeof res.data === "string" ? res.data : decodeUtf8(res.data)),
    arrayBuffer: () => Promise.resolve(bytes),
  };
}

/** UTF-8 to a string, without `TextDecoder` (older base libraries lack it). */
export function decodeUtf8(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i++] ?? 0;
    let cp: number;
    if (b < 0x80) cp = b;
    else if (b >= 0xc0 && b < 0xe0) cp = ((b & 0x1f) << 6) | ((bytes[i++] ?? 0) & 0x3f);
    else if (b >= 0xe0 && b < 0xf0)
      cp = ((b & 0x0f) << 12) | (((bytes[i++] ?? 0) & 0x3f) << 6) | ((bytes[i++] ?? 0) & 0x3f);
    else if (b >= 0xf0)
      cp =
        ((b & 0x07) << 18) |
        (((bytes[i++] ?? 0) & 0x3f) << 12) |
        (((bytes[i++] ?? 0) & 0x3f) << 6) |
        ((bytes[i++] ?? 0) & 0x3f);
    else cp = 0xfffd;
    out += String.fromCodePoint(cp);
  }
  return out;
}

function encodeUtf8(text: string): ArrayBuffer {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0xfffd;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return new Uint8Array(out).buffer;
}

/** Tokens kept in `wx` storage, so a session survives the mini-program's restarts. */
export function wxStorageTokens(key = "linli.tokens", api?: WxLike): TokenStore {
  const w = () => api ?? currentWx();
  return {
    get() {
      const value = w().getStorageSync(key);
      return isTokens(value) ? value : null;
    },
    set(tokens) {
      if (tokens) w().setStorageSync(key, { access_token: tokens.access_token, refresh_token: tokens.refresh_token });
      else w().removeStorageSync(key);
    },
  };
}

function isTokens(value: unknown): value is Tokens {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Tokens).access_token === "string" &&
    typeof (value as Tokens).refresh_token === "string"
  );
}
