//! Shared by the real-QEMU tests (pcimig-qemu's `reader_qemu` and `qemu_restore`, pcimig's
//! `qemu_check_stream`): which QEMU to run, whether the suite can run, the base command line,
//! and a QMP client over a unix socket.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The QEMU binary: `$PCIMIG_QEMU_BIN`, else `qemu-system-x86_64`.
pub fn qemu_bin() -> String {
    std::env::var("PCIMIG_QEMU_BIN").unwrap_or_else(|_| "qemu-system-x86_64".to_string())
}

/// `Some(reason)` when the real-QEMU tests must be skipped: `PCIMIG_SKIP_QEMU` is set, or the
/// binary is missing or not QEMU 10.0.x.
pub fn skip_reason() -> Option<String> {
    if std::env::var_os("PCIMIG_SKIP_QEMU").is_some() {
        return Some("PCIMIG_SKIP_QEMU is set".to_string());
    }
    let out = match Command::new(qemu_bin()).arg("--version").output() {
        Ok(o) => o,
        Err(e) => return Some(format!("{} not runnable: {e}", qemu_bin())),
    };
    let v = String::from_utf8_lossy(&out.stdout);
    if !v.contains("version 10.0.") {
        return Some(format!(
            "{} is not QEMU 10.0.x: {}",
            qemu_bin(),
            v.lines().next().unwrap_or("")
        ));
    }
    None
}

/// `-machine MACHINE` and the options every test VM shares: TCG, no default devices, no
/// display, stopped (`-S`), 32 MiB of RAM.
pub fn base_args(machine: &str) -> Vec<String> {
    [
        "-machine",
        machine,
        "-accel",
        "tcg",
        "-nodefaults",
        "-display",
        "none",
        "-S",
        "-m",
        "32M",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A QMP connection.
pub struct Qmp {
    r: BufReader<UnixStream>,
    w: UnixStream,
}

impl Qmp {
    /// Connect to `sock` (retrying until QEMU listens), read the greeting and negotiate
    /// capabilities. `None` if QEMU exited or `deadline` passed first.
    pub fn connect(sock: &Path, child: &mut Child, deadline: Instant, read_timeout: Option<Duration>) -> Option<Qmp> {
        loop {
            if let Ok(s) = UnixStream::connect(sock) {
                s.set_read_timeout(read_timeout).ok();
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
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Run a command: `None` when the connection closed (QEMU exited), `Err` with QMP's error
    /// object, `Ok` with its return value. Events before the answer are skipped.
    pub fn execute(&mut self, name: &str, args: Value) -> Option<Result<Value, Value>> {
        let mut m = json!({"execute": name});
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
