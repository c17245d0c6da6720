//! The migration harness: a source QEMU presenting the saved-side image migrates to a `file:`,
//! a destination QEMU presenting the destination image loads it, and QEMU's verdict comes back:
//! accepted, rejected with its exact `get_pci_config_device: Bad config data: …` line, or a
//! failure at a named stage with QEMU's stderr.

use crate::qmp::Qmp;
use serde_json::{json, Value};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The marker QEMU's `get_pci_config_device` puts before a config mismatch.
pub const BAD_CONFIG: &str = "get_pci_config_device: Bad config data:";
/// What the stand-in prints before it aborts on a call it does not handle.
pub const STANDIN_FATAL: &str = "pcimig-vfio-standin: FATAL:";
/// The IOMMU group the fake sysfs links the device to (`/dev/vfio/42`).
pub const GROUP: u32 = 42;
/// The host address of the presented device (the name of its fake sysfs directory).
pub const HOST_NAME: &str = "0000:00:00.0";

/// Where the vfio-pci device sits in the guest, as pcimig's `--slot` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Behind a `pcie-root-port` on q35 (where libvirt puts passthrough devices).
    PciePort,
    /// Directly on q35's root bus `pcie.0` (an integrated endpoint).
    Q35Root,
}

impl Slot {
    /// pcimig's name for the slot (`--slot`).
    pub fn name(self) -> &'static str {
        match self {
            Slot::PciePort => "pcie-port",
            Slot::Q35Root => "q35-root",
        }
    }

    /// The `-device` options that place the device in this slot.
    fn device_args(self, vfio: &str) -> Vec<String> {
        match self {
            Slot::PciePort => vec![
                "-device".into(),
                "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2".into(),
                "-device".into(),
                format!("{vfio},bus=rp0,addr=0x0"),
            ],
            Slot::Q35Root => vec!["-device".into(), format!("{vfio},bus=pcie.0,addr=0x3")],
        }
    }
}

/// One migration to try: the saved side's image realized on the source, the destination's
/// image realized on the destination, the same BAR/ROM sizes, machine type, properties and slot.
#[derive(Clone, Debug)]
pub struct Case {
    /// Config image the source presents (its config after realize and reset is what is saved).
    pub saved: Vec<u8>,
    /// Config image the destination presents.
    pub dest: Vec<u8>,
    /// BAR0..BAR5 region sizes in bytes (0: not implemented; the upper half of a 64-bit BAR is 0).
    pub bars: [u64; 6],
    /// ROM region size in bytes (0: no ROM, as the kernel reports without one).
    pub rom: u64,
    /// Machine type, e.g. `pc-q35-10.0`.
    pub machine: String,
    /// Extra vfio-pci properties, e.g. `("skip-vsc-check", "off")`.
    pub props: Vec<(String, String)>,
    /// Where the device sits.
    pub slot: Slot,
}

/// The QEMU run a failure happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The source QEMU starting and realizing the device.
    SourceRealize,
    /// The source QEMU saving the VM to the file.
    SourceMigrate,
    /// The destination QEMU starting and realizing the device.
    DestRealize,
    /// The destination QEMU loading the file.
    DestLoad,
}

/// QEMU's verdict on one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The destination loaded the state.
    Accepted,
    /// The destination refused the config space: QEMU's line, from `get_pci_config_device`.
    Rejected {
        /// The line as QEMU printed it, without the `qemu-system-x86_64: ` prefix.
        line: String,
    },
    /// QEMU failed at `stage` for another reason (realize error, abort, other load error).
    Failed {
        /// Where it failed.
        stage: Stage,
        /// QEMU's stderr (and QMP's error, if any).
        stderr: String,
    },
    /// QEMU did not finish `stage` before the harness's timeout (e.g. a capability walk that loops).
    Hung {
        /// Where it hung.
        stage: Stage,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accepted => write!(f, "accepted"),
            Verdict::Rejected { line } => write!(f, "rejected: {line}"),
            Verdict::Failed { stage, stderr } => {
                write!(f, "failed at {stage:?}: {}", stderr.trim().lines().last().unwrap_or(""))
            }
            Verdict::Hung { stage } => write!(f, "hung at {stage:?}"),
        }
    }
}

/// A harness problem (never QEMU's verdict).
#[derive(Debug)]
pub enum HarnessError {
    /// Writing the work files or starting QEMU failed.
    Io(String),
    /// The stand-in met a call it does not handle and aborted QEMU.
    StandIn {
        /// The QEMU run.
        stage: Stage,
        /// The stand-in's message.
        message: String,
    },
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Io(m) => write!(f, "{m}"),
            HarnessError::StandIn { stage, message } => write!(f, "at {stage:?}: {message}"),
        }
    }
}

impl std::error::Error for HarnessError {}

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = format!("{what} {}", path.display());
    move |e| HarnessError::Io(format!("{what}: {e}"))
}

/// A scratch directory removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Result<WorkDir, HarnessError> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("pcimig-vfio-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        Ok(WorkDir(p))
    }
}

impl Drop for WorkDir {
    /// Removes the directory, unless `PCIMIG_VFIO_KEEP` is set (to look at QEMU's stderr).
    fn drop(&mut self) {
        if std::env::var_os("PCIMIG_VFIO_KEEP").is_some() {
            eprintln!("pcimig-vfio-standin: kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fake sysfs QEMU's `sysfsdev=` reads: `DIR/devices/HOST_NAME` with an `iommu_group` link
/// to `DIR/iommu_groups/GROUP` (QEMU's `vfio_device_groupid` takes the link's basename).
fn make_sysfs(dir: &Path) -> Result<PathBuf, HarnessError> {
    let dev = dir.join("devices").join(HOST_NAME);
    let group = dir.join("iommu_groups").join(GROUP.to_string());
    std::fs::create_dir_all(&dev).map_err(io_err("create", &dev))?;
    std::fs::create_dir_all(&group).map_err(io_err("create", &group))?;
    let link = dev.join("iommu_group");
    std::os::unix::fs::symlink(format!("../../iommu_groups/{GROUP}"), &link).map_err(io_err("link", &link))?;
    Ok(dev)
}

/// A running QEMU, killed on drop; its stderr goes to a file read after it ends.
struct Qemu {
    child: Child,
    stderr: PathBuf,
}

impl Qemu {
    /// Kill (if still running), reap, and return stderr.
    fn finish(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Whether the process has exited.
    fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The harness: which QEMU, which stand-in, how long to wait.
#[derive(Clone, Debug)]
pub struct Harness {
    qemu: String,
    standin: PathBuf,
    timeout: Duration,
}

impl Harness {
    /// The harness for `qemu` (a `qemu-system-x86_64`) with the stand-in built into this crate.
    /// `Err` with the reason to skip when the stand-in is unavailable.
    pub fn new(qemu: &str) -> Result<Harness, String> {
        let standin = crate::standin_path()?;
        Ok(Harness {
            qemu: qemu.to_string(),
            standin: standin.to_path_buf(),
            timeout: Duration::from_secs(10),
        })
    }

    /// Wait at most `timeout` for each QEMU step (start and realize, save, load).
    pub fn with_timeout(mut self, timeout: Duration) -> Harness {
        self.timeout = timeout;
        self
    }

    /// Run one case: realize and save on the source, realize and load on the destination.
    pub fn run(&self, case: &Case) -> Result<Verdict, HarnessError> {
        let dir = WorkDir::new()?;
        let sysfs = make_sysfs(&dir.0)?;
        let mig = dir.0.join("state.mig");
        let uri = format!("file:{}", mig.display());
        if let Some(end) = self.source_save(&dir.0, &sysfs, case, &uri) {
            return end;
        }
        let mut dst = self.spawn(&dir.0, "dst", &case.dest, case, &sysfs, &["-incoming", "defer"])?;
        let deadline = Instant::now() + self.timeout;
        let Some(mut qmp) = connect(&dir.0, "dst", &mut dst, deadline) else {
            return realize_end(Stage::DestRealize, &mut dst, deadline);
        };
        let args = json!({ "uri": uri, "exit-on-error": false });
        if let Err(e) = qmp.execute("migrate-incoming", args).unwrap_or(Err(Value::Null)) {
            return stage_end(Stage::DestLoad, &mut dst, Some(e));
        }
        match self.wait_migration(&mut qmp) {
            Some(true) => {
                let stderr = dst.finish();
                check_standin(Stage::DestLoad, &stderr)?;
                Ok(Verdict::Accepted)
            }
            Some(false) => stage_end(Stage::DestLoad, &mut dst, None),
            None => hung_or_exited(Stage::DestLoad, &mut dst),
        }
    }

    /// Realize the case's saved image on a source QEMU and save the VM to `out`: the stream a
    /// real vfio-pci migration writes (for the readers' tests). `Err` names the failing stage.
    pub fn save_stream(&self, case: &Case, out: &Path) -> Result<(), String> {
        let dir = WorkDir::new().map_err(|e| e.to_string())?;
        let sysfs = make_sysfs(&dir.0).map_err(|e| e.to_string())?;
        let mig = dir.0.join("state.mig");
        if let Some(end) = self.source_save(&dir.0, &sysfs, case, &format!("file:{}", mig.display())) {
            return Err(match end {
                Ok(v) => format!("{v:?}"),
                Err(e) => e.to_string(),
            });
        }
        std::fs::copy(&mig, out)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", out.display()))
    }

    /// The source half of a case: realize and save to `uri`. `None` when saved; otherwise how
    /// the case ended.
    fn source_save(&self, dir: &Path, sysfs: &Path, case: &Case, uri: &str) -> Option<Result<Verdict, HarnessError>> {
        let mut src = match self.spawn(dir, "src", &case.saved, case, sysfs, &[]) {
            Ok(q) => q,
            Err(e) => return Some(Err(e)),
        };
        let deadline = Instant::now() + self.timeout;
        let Some(mut qmp) = connect(dir, "src", &mut src, deadline) else {
            return Some(realize_end(Stage::SourceRealize, &mut src, deadline));
        };
        if let Err(e) = qmp
            .execute("migrate", json!({ "uri": uri }))
            .unwrap_or(Err(Value::Null))
        {
            return Some(stage_end(Stage::SourceMigrate, &mut src, Some(e)));
        }
        match self.wait_migration(&mut qmp) {
            Some(true) => {}
            Some(false) => return Some(stage_end(Stage::SourceMigrate, &mut src, None)),
            None => return Some(hung_or_exited(Stage::SourceMigrate, &mut src)),
        }
        drop(qmp);
        src.finish();
        None
    }

    /// Start QEMU presenting `image`, stopped (`-S`), with QMP on `DIR/TAG.sock`.
    fn spawn(
        &self,
        dir: &Path,
        tag: &str,
        image: &[u8],
        case: &Case,
        sysfs: &Path,
        extra: &[&str],
    ) -> Result<Qemu, HarnessError> {
        let img = dir.join(format!("{tag}.bin"));
        std::fs::write(&img, image).map_err(io_err("write", &img))?;
        let stderr = dir.join(format!("{tag}.err"));
        let err_file = std::fs::File::create(&stderr).map_err(io_err("create", &stderr))?;
        let mut cmd = Command::new(&self.qemu);
        cmd.args([
            "-machine",
            &case.machine,
            "-accel",
            "tcg",
            "-nodefaults",
            "-display",
            "none",
        ])
        .args(["-S", "-m", "32M", "-qmp"])
        .arg(format!(
            "unix:{},server=on,wait=off",
            dir.join(format!("{tag}.sock")).display()
        ))
        .args(case.slot.device_args(&vfio_device_arg(case, sysfs)))
        .args(extra)
        .env("LD_PRELOAD", &self.standin)
        .env("PCIMIG_VFIO_CONFIG", &img)
        .env("PCIMIG_VFIO_ROM", case.rom.to_string())
        .env("PCIMIG_VFIO_GROUP", GROUP.to_string())
        .env("PCIMIG_VFIO_NAME", HOST_NAME)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
        for (i, size) in case.bars.iter().enumerate() {
            cmd.env(format!("PCIMIG_VFIO_BAR{i}"), size.to_string());
        }
        let child = cmd
            .spawn()
            .map_err(|e| HarnessError::Io(format!("start {}: {e}", self.qemu)))?;
        Ok(Qemu { child, stderr })
    }

    /// Poll `query-migrate` until the migration completes (`Some(true)`), fails
    /// (`Some(false)`), or the timeout passes or QMP closes (`None`).
    fn wait_migration(&self, qmp: &mut Qmp) -> Option<bool> {
        let deadline = Instant::now() + self.timeout;
        while Instant::now() < deadline {
            let r = qmp.execute("query-migrate", json!({}))?.ok()?;
            match r.get("status").and_then(Value::as_str) {
                Some("completed") => return Some(true),
                Some("failed") | Some("cancelled") => return Some(false),
                _ => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        None
    }
}

/// QMP on `DIR/TAG.sock`, once QEMU has started and realized its devices.
fn connect(dir: &Path, tag: &str, q: &mut Qemu, deadline: Instant) -> Option<Qmp> {
    Qmp::connect(&dir.join(format!("{tag}.sock")), &mut q.child, deadline, None)
}

/// QMP never answered: QEMU failed to start (it exits, perhaps still on its way out) or hangs
/// (still running at `deadline`).
fn realize_end(stage: Stage, q: &mut Qemu, deadline: Instant) -> Result<Verdict, HarnessError> {
    while !q.exited() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    hung_or_exited(stage, q)
}

/// `vfio-pci,sysfsdev=…,id=hostdev0,enable-migration=on` plus the case's properties.
fn vfio_device_arg(case: &Case, sysfs: &Path) -> String {
    let mut s = format!("vfio-pci,sysfsdev={},id=hostdev0,enable-migration=on", sysfs.display());
    for (k, v) in &case.props {
        s.push_str(&format!(",{k}={v}"));
    }
    s
}

/// `Err` when the stand-in aborted QEMU on a call it does not handle.
fn check_standin(stage: Stage, stderr: &str) -> Result<(), HarnessError> {
    match stderr.lines().find(|l| l.contains(STANDIN_FATAL)) {
        Some(l) => Err(HarnessError::StandIn {
            stage,
            message: l.to_string(),
        }),
        None => Ok(()),
    }
}

/// QEMU's config mismatch line, without the program-name prefix.
pub fn bad_config_line(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.find(BAD_CONFIG).map(|i| l[i..].trim_end().to_string()))
}

/// The verdict when `stage` ended without success: QEMU's Bad config line if it printed one,
/// else a failure with its stderr (and QMP's error).
fn stage_end(stage: Stage, q: &mut Qemu, qmp_error: Option<Value>) -> Result<Verdict, HarnessError> {
    let mut stderr = q.finish();
    check_standin(stage, &stderr)?;
    if let Some(line) = bad_config_line(&stderr) {
        return Ok(Verdict::Rejected { line });
    }
    if let Some(e) = qmp_error.filter(|e| !e.is_null()) {
        stderr.push_str(&format!("QMP error: {e}\n"));
    }
    Ok(Verdict::Failed { stage, stderr })
}

/// The timeout passed (or QMP closed): a failure if QEMU exited, else it hangs.
fn hung_or_exited(stage: Stage, q: &mut Qemu) -> Result<Verdict, HarnessError> {
    if q.exited() {
        return stage_end(stage, q, None);
    }
    q.finish();
    Ok(Verdict::Hung { stage })
}
