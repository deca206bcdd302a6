//! A real registry for the tests: Debian's `docker-registry` (the CNCF distribution server),
//! started on 127.0.0.1 with filesystem storage in a temporary directory, and a plain HTTP GET to
//! look at what it stores.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// `docker-registry` from `PATH` (or `/usr/bin`); a panic saying how to install it otherwise.
pub fn registry_binary() -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/bin"])
    {
        let candidate = PathBuf::from(dir).join("docker-registry");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "docker-registry is not installed: this test needs a real registry. Install it with \
         `apt-get install -y docker-registry` (`make test` does)."
    );
}

/// A registry process, killed when dropped (also when the test panics).
pub struct Registry {
    child: Child,
    pub addr: String,
    _dir: TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// A registry anyone may push to and pull from.
    pub fn start() -> Registry {
        Self::start_with("")
    }

    /// A registry whose configuration also has `extra` (YAML lines at the top level, `auth:` say).
    pub fn start_with(extra: &str) -> Registry {
        let binary = registry_binary();
        let dir = TempDir::new("registry");
        // A free port: bind port 0, note it, release it for the registry.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {addr}\n{extra}",
            dir.path("data").display()
        );
        std::fs::write(dir.path("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path("registry.log")).unwrap();
        let child = Command::new(&binary)
            .arg("serve")
            .arg(dir.path("config.yml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // 200, or 401 when it asks for credentials: it answers.
            if let Ok(resp) = http_get(&registry.addr, "/v2/", "*/*")
                && (resp.status == 200 || resp.status == 401)
            {
                return registry;
            }
            if let Ok(Some(status)) = registry.child.try_wait() {
                let log =
                    std::fs::read_to_string(registry._dir.path("registry.log")).unwrap_or_default();
                panic!("docker-registry exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer on {}",
                registry.addr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// What the registry answered.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 GET, independent of oci-client, to look at what the registry stores.
pub fn http_get(addr: &str, path: &str, accept: &str) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        body = out;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// A loopback port nothing listens on.
pub fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", listener.local_addr().unwrap().port())
}

/// The real `kwctl run` of `module` with the registries `insecure` reached over plain HTTP
/// (a `--sources-path` file written in `dir`): its AdmissionResponse.
pub fn kwctl_run_insecure(
    kwctl: &e2e_tests::kwctl::Kwctl,
    dir: &TempDir,
    insecure: &[String],
    (module, request, settings): (&std::path::Path, &serde_json::Value, &serde_json::Value),
) -> e2e_tests::host::AdmissionResponse {
    let sources = dir.path("sources.yaml");
    let list: Vec<String> = insecure.iter().map(|s| format!("  - \"{s}\"\n")).collect();
    std::fs::write(&sources, format!("insecure_sources:\n{}", list.concat())).unwrap();
    let options = e2e_tests::kwctl::RunOptions {
        sources_path: Some(sources),
        ..Default::default()
    };
    match kwctl.run_with(module, request, settings, &options).unwrap() {
        e2e_tests::kwctl::KwctlAnswer::Response(response) => response,
        e2e_tests::kwctl::KwctlAnswer::SettingsRefused { message } => {
            panic!("the settings are valid: {message}")
        }
    }
}
