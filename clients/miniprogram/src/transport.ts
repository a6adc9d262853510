/**
 * What the client needs from `fetch`: a subset that Node's and browsers' `fetch` already
 * have, and that `wxFetch` (src/wx.ts) implements over `wx.request`.
 */
export interface FetchLikeInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FetchLikeResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type FetchLike = (url: string, init: FetchLikeInit) => Promise<FetchLikeResponse>;
