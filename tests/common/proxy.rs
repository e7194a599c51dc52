//! A fault-injecting HTTP proxy on loopback, in front of a real server (moto, OpenBao): each
//! request is shown to a rule that may answer it itself (throttling), act first (a concurrent
//! writer) or let it through. One request per connection: the proxy asks the server to close.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A request as the rule sees it.
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What to do with a request: answer it here (status, body), or forward it.
pub(crate) type Rule = dyn Fn(&Request, usize) -> Option<(u16, String)> + Send + Sync;

pub(crate) struct Proxy {
    pub url: String,
    pub count: Arc<AtomicUsize>,
    /// Every request seen, for tests that check what was sent.
    pub seen: Arc<Mutex<Vec<Request>>>,
}

pub(crate) fn start(upstream: u16, rule: Arc<Rule>) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (c, s) = (count.clone(), seen.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (rule, c, s) = (rule.clone(), c.clone(), s.clone());
            std::thread::spawn(move || {
                let _ = serve(conn, upstream, &*rule, &c, &s);
            });
        }
    });
    Proxy { url: format!("http://127.0.0.1:{port}"), count, seen }
}

fn serve(
    conn: TcpStream,
    upstream: u16,
    rule: &Rule,
    count: &AtomicUsize,
    seen: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let request = Request { method, path, headers, body };
    let n = count.fetch_add(1, Ordering::SeqCst);
    let answer = rule(&request, n);
    let mut conn = conn;
    if let Some((status, text)) = answer {
        let kind = if text.starts_with('{') { "application/x-amz-json-1.1" } else { "text/plain" };
        write!(
            conn,
            "HTTP/1.1 {status} Injected\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        )?;
    } else {
        let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
        for (k, v) in &request.headers {
            if !k.eq_ignore_ascii_case("connection") {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("Connection: close\r\n\r\n");
        up.write_all(head.as_bytes())?;
        up.write_all(&request.body)?;
        let mut answer = Vec::new();
        up.read_to_end(&mut answer)?;
        conn.write_all(&answer)?;
    }
    conn.flush()?;
    seen.lock().unwrap().push(request);
    Ok(())
}
