//! A QMP client over a unix socket: enough to negotiate capabilities, run a command and read
//! its answer (events before it are skipped).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// A QMP connection to one QEMU.
pub struct Qmp {
    r: BufReader<UnixStream>,
    w: UnixStream,
}

impl Qmp {
    /// Connect to `sock` (retrying until QEMU listens), read the greeting and negotiate
    /// capabilities. `None` if QEMU exited or `deadline` passed first. Reads time out after
    /// `read_timeout`, or at `deadline` when it is `None`.
    pub fn connect(sock: &Path, child: &mut Child, deadline: Instant, read_timeout: Option<Duration>) -> Option<Qmp> {
        loop {
            if let Ok(s) = UnixStream::connect(sock) {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1));
                s.set_read_timeout(Some(read_timeout.unwrap_or(left))).ok()?;
                let w = s.try_clone().ok()?;
                let mut q = Qmp {
                    r: BufReader::new(s),
                    w,
                };
                let mut greeting = String::new();
                q.r.read_line(&mut greeting).ok()?;
                if greeting.is_empty() {
                    return None;
                }
                q.execute("qmp_capabilities", json!({}))?.ok()?;
                return Some(q);
            }
            if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Run a command: `None` when the connection closed or timed out, `Err` with QMP's error
    /// object, `Ok` with its return value.
    pub fn execute(&mut self, name: &str, args: Value) -> Option<Result<Value, Value>> {
        let mut m = json!({ "execute": name });
        if args.as_object().is_some_and(|o| !o.is_empty()) {
            m["arguments"] = args;
        }
        writeln!(self.w, "{m}").ok()?;
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let v: Value = serde_json::from_str(&line).ok()?;
            if let Some(r) = v.get("return") {
                return Some(Ok(r.clone()));
            }
            if let Some(e) = v.get("error") {
                return Some(Err(e.clone()));
            }
        }
    }

    /// [`Qmp::execute`] with a QMP error returned as `{"error": …}`.
    pub fn cmd(&mut self, name: &str, args: Value) -> Option<Value> {
        self.execute(name, args)
            .map(|r| r.unwrap_or_else(|e| json!({ "error": e })))
    }

    /// [`Qmp::execute`] that panics on a QMP error; `None` when the connection closed.
    pub fn try_cmd(&mut self, name: &str, args: Value) -> Option<Value> {
        self.execute(name, args)
            .map(|r| r.unwrap_or_else(|e| panic!("QMP {name}: {e}")))
    }

    /// [`Qmp::try_cmd`] that also panics when the connection closed.
    pub fn expect(&mut self, name: &str, args: Value) -> Value {
        self.try_cmd(name, args)
            .unwrap_or_else(|| panic!("QMP connection closed during {name}"))
    }
}
