// Usage: rustls-client CA_PEM HOST PORT PATH
// Connects to HOST:PORT over TLS, verifying the server against CA_PEM only
// (as uv does with SSL_CERT_FILE), sends one GET and prints the status line.
// Exit code 0 on a TLS handshake that verified, 2 on a certificate error.
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: rustls-client CA_PEM HOST PORT PATH");
        std::process::exit(64);
    }
    let (ca, host, port, path) = (&args[1], &args[2], &args[3], &args[4]);
    let mut roots = rustls::RootCertStore::empty();
    let mut pem = BufReader::new(std::fs::File::open(ca).expect("open CA file"));
    for der in rustls_pemfile::certs(&mut pem).expect("parse CA file") {
        roots.add(&rustls::Certificate(der)).expect("add trust anchor");
    }
    let config = rustls::ClientConfig::builder()
        .with_safe_defaults()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::ServerName::try_from(host.as_str()).expect("server name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut sock = TcpStream::connect(format!("{}:{}", host, port)).expect("connect");
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let req = format!("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", path, host);
    if let Err(e) = tls.write_all(req.as_bytes()) {
        eprintln!("tls error: {}", e);
        std::process::exit(2);
    }
    let mut resp = Vec::new();
    match tls.read_to_end(&mut resp) {
        Ok(_) => {}
        // Servers that close without close_notify still gave a full answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !resp.is_empty() => {}
        Err(e) => {
            eprintln!("tls error: {}", e);
            std::process::exit(2);
        }
    }
    let text = String::from_utf8_lossy(&resp);
    println!("{}", text.lines().next().unwrap_or(""));
}
