//! Raw UTF-8 in the request target.
//!
//! curl and some HTTP libraries send `GET /api/v1/organizations?q=金塔 HTTP/1.1` with the
//! Chinese as raw bytes. actix-http parses targets with the `http` crate's `Uri`, which
//! refuses every byte ≥ 0x80, and answers an empty 400 before the app runs.
//! [`LenientTarget`] wraps each accepted connection and percent-encodes those bytes of the
//! request line's target, and nothing else, so `q=金塔` reaches actix as
//! `q=%E9%87%91%E5%A1%94`.
//!
//! To know where the next request line starts on a kept-alive connection it follows the
//! framing actix follows: a body of `Content-Length` bytes. Whatever it does not follow (a
//! chunked body, an upgrade, `CONNECT`, a repeated or malformed `Content-Length`, a folded
//! or colon-less header line, a line over 64 KiB) makes it pass the rest of the connection
//! through untouched, as actix saw it before, so it never rewrites what actix reads as a
//! body. Only the target changes; the head's framing headers reach actix as they came.
//!
//! A target that still would not parse (a control byte, a space, `<`) is replaced by
//! [`INVALID_TARGET`], which the app answers with a problem+json 400
//! `invalid_request_target` rather than actix's empty one.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use actix_web::http::Uri;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where a request whose target cannot be parsed, even leniently, is sent instead.
pub const INVALID_TARGET: &str = "/_linli/invalid-request-target";

/// The longest request line, or header line, that is followed; past it the connection
/// passes through untouched (actix refuses heads over 128 KiB in any case).
const MAX_LINE: usize = 64 * 1024;

/// A connection whose request targets are percent-encoded before actix reads them.
/// Writes pass through.
pub struct LenientTarget<S> {
    io: S,
    framing: Framing,
    /// What actix has still to read, from `ready_at` on.
    ready: Vec<u8>,
    ready_at: usize,
}

impl<S> LenientTarget<S> {
    pub fn new(io: S) -> Self {
        Self { io, framing: Framing::default(), ready: Vec::new(), ready_at: 0 }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LenientTarget<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_at < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.ready_at);
                buf.put_slice(&this.ready[this.ready_at..this.ready_at + n]);
                this.ready_at += n;
                if this.ready_at == this.ready.len() {
                    this.ready.clear();
                    this.ready_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.framing.passes_through() {
                return Pin::new(&mut this.io).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 8 * 1024];
            let mut chunk = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut chunk))?;
            if chunk.filled().is_empty() {
                this.framing.finish(&mut this.ready);
                if this.ready.is_empty() {
                    return Poll::Ready(Ok(()));
                }
            } else {
                this.framing.feed(chunk.filled(), &mut this.ready);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LenientTarget<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Where in the request stream the bytes being read are.
#[derive(Debug, Default, PartialEq)]
enum State {
    /// Before a request line; `line` holds what has come of it and is not passed on yet.
    #[default]
    RequestLine,
    /// Among the header lines, which are passed on as they come; `line` keeps a copy of
    /// the current one.
    Headers { content_length: Option<u64> },
    /// Inside a body, with this many bytes to go.
    Body(u64),
    /// Everything passes unchanged until the connection ends.
    PassThrough,
}

/// The request framing, as far as it is followed, without any I/O.
#[derive(Debug, Default)]
struct Framing {
    state: State,
    line: Vec<u8>,
}

impl Framing {
    fn passes_through(&self) -> bool {
        self.state == State::PassThrough
    }

    /// Takes bytes read from the client and appends what actix is to read to `out`.
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while let Some(&first) = input.first() {
            match &mut self.state {
                State::PassThrough => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Body(left) => {
                    let n = input.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = State::RequestLine;
                    }
                }
                // httparse skips empty lines before a request line.
                State::RequestLine if self.line.is_empty() && matches!(first, b'\r' | b'\n') => {
                    out.push(first);
                    input = &input[1..];
                }
                State::RequestLine => {
                    let (taken, complete) = take_line(input);
                    self.line.extend_from_slice(taken);
                    input = &input[taken.len()..];
                    if self.line.len() > MAX_LINE {
                        out.append(&mut self.line);
                        self.state = State::PassThrough;
                    } else if complete {
                        self.state = request_line(&self.line, out);
                        self.line.clear();
                    }
                }
                State::Headers { content_length } => {
                    let content_length = *content_length;
                    let (taken, complete) = take_line(input);
                    out.extend_from_slice(taken);
                    input = &input[taken.len()..];
                    if self.line.len() + taken.len() > MAX_LINE {
                        self.line.clear();
                        self.state = State::PassThrough;
                        continue;
                    }
                    self.line.extend_from_slice(taken);
                    if complete {
                        self.state = header_line(&self.line, content_length);
                        self.line.clear();
                    }
                }
            }
        }
    }

    /// The client closed its side: a request line held back is passed on as it came.
    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state == State::RequestLine {
            out.append(&mut self.line);
        }
        self.line.clear();
        self.state = State::PassThrough;
    }
}

/// The bytes up to and including the first `\n`, and whether there was one.
fn take_line(input: &[u8]) -> (&[u8], bool) {
    match input.iter().position(|&b| b == b'\n') {
        Some(end) => (&input[..=end], true),
        None => (input, false),
    }
}

/// A line without its `\n` or `\r\n`.
fn without_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Passes on a request line with its target percent-encoded, and tells what follows.
fn request_line(line: &[u8], out: &mut Vec<u8>) -> State {
    let content = without_line_end(line);
    let first = content.iter().position(|&b| b == b' ');
    let last = content.iter().rposition(|&b| b == b' ');
    let (Some(first), Some(last)) = (first, last) else {
        out.extend_from_slice(line);
        return State::PassThrough;
    };
    let (method, version) = (&content[..first], &content[last + 1..]);
    if first == last || !matches!(version, b"HTTP/1.1" | b"HTTP/1.0") || method == b"CONNECT" {
        out.extend_from_slice(line);
        return State::PassThrough;
    }
    out.extend_from_slice(&content[..=first]);
    let target = out.len();
    percent_encode_high(&content[first + 1..last], out);
    if Uri::try_from(&out[target..]).is_err() {
        out.truncate(target);
        out.extend_from_slice(INVALID_TARGET.as_bytes());
    }
    out.extend_from_slice(&line[last..]);
    State::Headers { content_length: None }
}

/// Appends `target` with every byte ≥ 0x80 written as `%XX`.
fn percent_encode_high(target: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in target {
        if b < 0x80 {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]);
        }
    }
}

/// What follows a header line: more headers, a body, the next request, or, for anything
/// that frames a body otherwise (or that actix refuses), pass-through.
fn header_line(line: &[u8], content_length: Option<u64>) -> State {
    let line = without_line_end(line);
    if line.is_empty() {
        return match content_length {
            Some(n) if n > 0 => State::Body(n),
            _ => State::RequestLine,
        };
    }
    // A folded continuation line, refused by httparse.
    if matches!(line[0], b' ' | b'\t') {
        return State::PassThrough;
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return State::PassThrough;
    };
    let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
    if name.eq_ignore_ascii_case(b"content-length") {
        match (content_length, parse_length(value)) {
            (None, Some(n)) => State::Headers { content_length: Some(n) },
            _ => State::PassThrough,
        }
    } else if name.eq_ignore_ascii_case(b"transfer-encoding") || name.eq_ignore_ascii_case(b"upgrade") {
        State::PassThrough
    } else {
        State::Headers { content_length }
    }
}

/// A `Content-Length` as actix reads it: decimal digits only.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What actix reads when the client's bytes arrive in one piece.
    fn rewrite(input: &[u8]) -> Vec<u8> {
        let mut framing = Framing::default();
        let mut out = Vec::new();
        framing.feed(input, &mut out);
        framing.finish(&mut out);
        out
    }

    /// What actix reads when the bytes arrive split at `at`.
    fn rewrite_split(input: &[u8], at: usize) -> Vec<u8> {
        let mut framing = Framing::default();
        let mut out = Vec::new();
        framing.feed(&input[..at], &mut out);
        framing.feed(&input[at..], &mut out);
        framing.finish(&mut out);
        out
    }

    fn assert_rewrites(input: &[u8], expected: &[u8]) {
        assert_eq!(String::from_utf8_lossy(&rewrite(input)), String::from_utf8_lossy(expected));
        for at in 0..=input.len() {
            assert_eq!(
                String::from_utf8_lossy(&rewrite_split(input, at)),
                String::from_utf8_lossy(expected),
                "split at {at}"
            );
        }
    }

    #[test]
    fn raw_utf8_in_the_target_is_percent_encoded() {
        assert_rewrites(
            "GET /api/v1/organizations?q=金塔 HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes(),
            b"GET /api/v1/organizations?q=%E9%87%91%E5%A1%94 HTTP/1.1\r\nHost: x\r\n\r\n",
        );
    }

    #[test]
    fn only_bytes_above_ascii_are_encoded() {
        // `%E9` already encoded, `+`, `"` and `{}` stay as they are; bytes that are not
        // UTF-8 are encoded all the same.
        assert_rewrites(
            b"GET /a/%E9{\"x\"}?q=a+b&r=\xff\xfe HTTP/1.0\n\n",
            b"GET /a/%E9{\"x\"}?q=a+b&r=%FF%FE HTTP/1.0\n\n",
        );
    }

    #[test]
    fn headers_are_untouched() {
        assert_rewrites(
            "GET /x HTTP/1.1\r\nHost: x\r\nX-Name: 金塔\r\n\r\n".as_bytes(),
            "GET /x HTTP/1.1\r\nHost: x\r\nX-Name: 金塔\r\n\r\n".as_bytes(),
        );
    }

    #[test]
    fn a_body_that_looks_like_a_request_is_not_rewritten() {
        let body = "\r\n\r\nGET /x 金 HTTP/1.1\r\n\r\n";
        let input = format!(
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}GET /金 HTTP/1.1\r\nHost: x\r\n\r\n",
            body.len()
        );
        let expected = format!(
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}GET /%E9%87%91 HTTP/1.1\r\nHost: x\r\n\r\n",
            body.len()
        );
        assert_rewrites(input.as_bytes(), expected.as_bytes());
    }

    #[test]
    fn several_requests_on_one_connection_are_each_rewritten() {
        assert_rewrites(
            "\r\nGET /金 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /塔 HTTP/1.1\r\nhost: x\r\n\r\n".as_bytes(),
            b"\r\nGET /%E9%87%91 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /%E5%A1%94 HTTP/1.1\r\nhost: x\r\n\r\n",
        );
    }

    #[test]
    fn chunked_bodies_and_upgrades_pass_the_rest_through() {
        let chunked = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n金\r\n0\r\n\r\nGET /金 HTTP/1.1\r\n\r\n";
        assert_rewrites(chunked.as_bytes(), chunked.as_bytes());
        let upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nGET /金 HTTP/1.1\r\n\r\n";
        assert_rewrites(upgrade.as_bytes(), upgrade.as_bytes());
    }

    #[test]
    fn heads_actix_would_refuse_pass_the_rest_through() {
        for head in [
            "POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nxGET /金 HTTP/1.1\r\n\r\n",
            "POST /a HTTP/1.1\r\nContent-Length: +1\r\n\r\nxGET /金 HTTP/1.1\r\n\r\n",
            "POST /a HTTP/1.1\r\nX: y\r\n folded\r\n\r\nGET /金 HTTP/1.1\r\n\r\n",
            "CONNECT 金:443 HTTP/1.1\r\n\r\nGET /金 HTTP/1.1\r\n\r\n",
            "GET /金 HTTP/2.0\r\n\r\nGET /金 HTTP/1.1\r\n\r\n",
            "GET\r\n\r\nGET /金 HTTP/1.1\r\n\r\n",
        ] {
            assert_rewrites(head.as_bytes(), head.as_bytes());
        }
    }

    #[test]
    fn a_target_that_cannot_be_parsed_is_sent_to_the_invalid_target_route() {
        let expected = format!("GET {INVALID_TARGET} HTTP/1.1\r\nHost: x\r\n\r\n");
        for target in ["/a\x01b", "/a b", "/a<b>", "/金\x7f"] {
            let input = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_rewrites(input.as_bytes(), expected.as_bytes());
        }
    }

    #[test]
    fn a_line_past_the_bound_passes_through() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\nGET /金 HTTP/1.1\r\n\r\n", "金".repeat(MAX_LINE / 3 + 1));
        assert_eq!(rewrite(long.as_bytes()), long.as_bytes());
    }

    #[test]
    fn a_connection_closed_mid_line_passes_on_what_came() {
        assert_eq!(rewrite("GET /金".as_bytes()), "GET /金".as_bytes());
    }

    /// Reads one byte at a time, as a slow client sends.
    struct Trickle(Vec<u8>);

    impl AsyncRead for Trickle {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            if !self.0.is_empty() {
                let b = self.0.remove(0);
                buf.put_slice(&[b]);
            }
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn the_adapter_reads_what_the_framing_passes_on() -> io::Result<()> {
        let mut conn = LenientTarget::new(Trickle("GET /金 HTTP/1.1\r\n\r\n".as_bytes().to_vec()));
        let mut read = Vec::new();
        loop {
            let mut space = [0u8; 5];
            let mut buf = ReadBuf::new(&mut space);
            std::future::poll_fn(|cx| Pin::new(&mut conn).poll_read(cx, &mut buf)).await?;
            if buf.filled().is_empty() {
                break;
            }
            read.extend_from_slice(buf.filled());
        }
        assert_eq!(read, b"GET /%E9%87%91 HTTP/1.1\r\n\r\n");
        Ok(())
    }
}
