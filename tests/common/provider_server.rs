//! A real HTTP/1.1 server on 127.0.0.1 standing in for a provider's API: each test gives it a
//! handler that answers by method, path and credentials, with delays, dropped connections and
//! redirects when asked. Connections are kept alive, as real APIs do.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The bearer token, or the value of `Authorization: token X`.
    pub(crate) fn token(&self) -> Option<&str> {
        let auth = self.header("authorization")?;
        auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("token ")).or_else(|| auth.strip_prefix("Bot "))
    }

    /// HTTP Basic credentials.
    pub(crate) fn basic(&self) -> Option<(String, String)> {
        let b64 = self.header("authorization")?.strip_prefix("Basic ")?;
        let text = String::from_utf8(data_encoding::BASE64.decode(b64.as_bytes()).ok()?).ok()?;
        let (u, p) = text.split_once(':')?;
        Some((u.to_owned(), p.to_owned()))
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
    /// Close the connection without answering.
    pub drop: bool,
}

impl Reply {
    pub(crate) fn status(status: u16) -> Reply {
        Reply { status, ..Default::default() }
    }
    pub(crate) fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            ..Default::default()
        }
    }
    pub(crate) fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub(crate) fn body(mut self, body: &str) -> Reply {
        self.body = body.into();
        self
    }
    pub(crate) fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
    pub(crate) fn dropped() -> Reply {
        Reply { drop: true, ..Default::default() }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

pub(crate) struct Server {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
    /// The most requests in flight at once.
    pub max_in_flight: Arc<AtomicUsize>,
}

impl Server {
    pub(crate) fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (requests, in_flight, max_in_flight) = (requests.clone(), in_flight.clone(), max_in_flight.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (handler, requests, in_flight, max) =
                        (handler.clone(), requests.clone(), in_flight.clone(), max_in_flight.clone());
                    std::thread::spawn(move || serve(stream, &*handler, &requests, &in_flight, &max));
                }
            });
        }
        Server { url, requests, max_in_flight }
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>, in_flight: &AtomicUsize, max: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0usize);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request { method, target, headers, body: String::from_utf8_lossy(&body).into_owned() };
        log.lock().unwrap().push(request.clone());
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(now, Ordering::SeqCst);
        let reply = handler(&request);
        std::thread::sleep(reply.delay);
        in_flight.fetch_sub(1, Ordering::SeqCst);
        if reply.drop {
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        }
        let mut out = format!("HTTP/1.1 {} X\r\ncontent-length: {}\r\n", reply.status, reply.body.len());
        for (k, v) in &reply.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&reply.body);
        if writer.write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}
