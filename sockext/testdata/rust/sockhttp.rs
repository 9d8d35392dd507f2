// A test guest that speaks HTTP/1.1 to daprd over the WasmEdge socket API, with its own extern
// bindings (no crates): `sockhttp save HOST PORT STORE KEY JSON`, `sockhttp get HOST PORT STORE KEY`,
// `sockhttp listen PORT`. Exit status: 0 ok, 2 usage, 3 a socket call failed (errno on stderr),
// 4 unexpected HTTP status.
use std::process::exit;

#[repr(C)]
struct WasiAddress {
    buf: *const u8,
    len: usize,
}

#[repr(C)]
struct IoVec {
    buf: *const u8,
    len: usize,
}

#[repr(C)]
struct IoVecMut {
    buf: *mut u8,
    len: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockAddr {
    family: u8,
    pad: [u8; 3],
    data_len: u32,
    data: *mut u8,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct AddrInfo {
    flags: u16,
    family: u8,
    socktype: u8,
    protocol: u8,
    pad: [u8; 3],
    addrlen: u32,
    addr: *mut SockAddr,
    canonname: *mut u8,
    canonname_len: u32,
    next: *mut AddrInfo,
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn sock_open(af: i32, ty: i32, fd: *mut u32) -> i32;
    fn sock_connect(fd: u32, addr: *const WasiAddress, port: u32) -> i32;
    fn sock_bind(fd: u32, addr: *const WasiAddress, port: u32) -> i32;
    fn sock_send(fd: u32, iovs: *const IoVec, n: u32, flags: u32, sent: *mut u32) -> i32;
    fn sock_recv(fd: u32, iovs: *const IoVecMut, n: u32, flags: u32, got: *mut u32, oflags: *mut u16) -> i32;
    fn sock_shutdown(fd: u32, how: u32) -> i32;
    fn sock_getaddrinfo(node: *const u8, node_len: u32, service: *const u8, service_len: u32,
        hints: *const AddrInfo, res: *mut *mut AddrInfo, max: u32, res_len: *mut u32) -> i32;
    fn fd_close(fd: u32) -> i32;
}

fn check(what: &str, e: i32) {
    if e != 0 {
        eprintln!("{} failed: errno {}", what, e);
        exit(3);
    }
}

// resolve returns the first IPv4 address of host through sock_getaddrinfo.
fn resolve(host: &str, port: &str) -> [u8; 4] {
    let mut data = [[0u8; 26]; 2];
    let mut sa = [SockAddr { family: 0, pad: [0; 3], data_len: 26, data: std::ptr::null_mut() }; 2];
    for i in 0..2 {
        sa[i].data = data[i].as_mut_ptr();
    }
    let empty = AddrInfo { flags: 0, family: 0, socktype: 0, protocol: 0, pad: [0; 3], addrlen: 0,
        addr: std::ptr::null_mut(), canonname: std::ptr::null_mut(), canonname_len: 0, next: std::ptr::null_mut() };
    let mut ai = [empty; 2];
    ai[0].addr = &mut sa[0];
    ai[1].addr = &mut sa[1];
    let second: *mut AddrInfo = &mut ai[1];
    ai[0].next = second;
    let mut hints = empty;
    hints.family = 1; // inet4
    hints.socktype = 2; // stream
    let mut res: *mut AddrInfo = &mut ai[0];
    let mut n = 0u32;
    let e = unsafe {
        sock_getaddrinfo(host.as_ptr(), host.len() as u32, port.as_ptr(), port.len() as u32, &hints, &mut res, 2, &mut n)
    };
    check("sock_getaddrinfo", e);
    let d = unsafe { &*(*ai[0].addr).data.cast::<[u8; 26]>() };
    [d[2], d[3], d[4], d[5]]
}

fn connect(host: &str, port: u16) -> u32 {
    let ip = resolve(host, &port.to_string());
    let mut fd = 0u32;
    check("sock_open", unsafe { sock_open(1, 2, &mut fd) });
    let addr = WasiAddress { buf: ip.as_ptr(), len: 4 };
    check("sock_connect", unsafe { sock_connect(fd, &addr, port as u32) });
    fd
}

fn send_all(fd: u32, mut b: &[u8]) {
    while !b.is_empty() {
        let iov = IoVec { buf: b.as_ptr(), len: b.len() };
        let mut sent = 0u32;
        check("sock_send", unsafe { sock_send(fd, &iov, 1, 0, &mut sent) });
        b = &b[sent as usize..];
    }
}

// read_response reads one HTTP/1.1 response (Content-Length framed, or until EOF).
fn read_response(fd: u32) -> (u32, String) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status: u32 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len = head.lines().find_map(|l| {
                let l = l.to_ascii_lowercase();
                l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))
            });
            if status == 204 || status == 304 {
                return (status, String::new());
            }
            if let Some(len) = len {
                while buf.len() < end + 4 + len {
                    let n = recv(fd, &mut chunk);
                    if n == 0 { break; }
                    buf.extend_from_slice(&chunk[..n]);
                }
                return (status, String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string());
            }
            loop {
                let n = recv(fd, &mut chunk);
                if n == 0 { break; }
                buf.extend_from_slice(&chunk[..n]);
            }
            return (status, String::from_utf8_lossy(&buf[end + 4..]).to_string());
        }
        let n = recv(fd, &mut chunk);
        if n == 0 {
            eprintln!("connection closed before the response head");
            exit(3);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn recv(fd: u32, b: &mut [u8]) -> usize {
    let iov = IoVecMut { buf: b.as_mut_ptr(), len: b.len() };
    let (mut got, mut oflags) = (0u32, 0u16);
    check("sock_recv", unsafe { sock_recv(fd, &iov, 1, 0, &mut got, &mut oflags) });
    got as usize
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(|s| s.as_str()) {
        Some("save") if a.len() == 7 => {
            let port: u16 = a[3].parse().unwrap_or(0);
            let fd = connect(&a[2], port);
            let body = format!("[{{\"key\":\"{}\",\"value\":{}}}]", a[5], a[6]);
            let req = format!("POST /v1.0/state/{} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
                a[4], a[2], port, body.len(), body);
            send_all(fd, req.as_bytes());
            let (status, _) = read_response(fd);
            // the same connection again: read it back
            let req = format!("GET /v1.0/state/{}/{} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n", a[4], a[5], a[2], port);
            send_all(fd, req.as_bytes());
            let (status2, body2) = read_response(fd);
            check("sock_shutdown", unsafe { sock_shutdown(fd, 3) });
            check("fd_close", unsafe { fd_close(fd) });
            println!("save {} get {} {}", status, status2, body2);
            if status != 204 || status2 != 200 { exit(4); }
        }
        Some("listen") if a.len() == 3 => {
            let port: u32 = a[2].parse().unwrap_or(0);
            let mut fd = 0u32;
            check("sock_open", unsafe { sock_open(1, 2, &mut fd) });
            let ip = [127u8, 0, 0, 1];
            let addr = WasiAddress { buf: ip.as_ptr(), len: 4 };
            check("sock_bind", unsafe { sock_bind(fd, &addr, port) });
            println!("bound");
        }
        _ => {
            eprintln!("usage: sockhttp save HOST PORT STORE KEY JSON | listen PORT");
            exit(2);
        }
    }
}
