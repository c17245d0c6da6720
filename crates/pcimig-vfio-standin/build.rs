//! Builds the VFIO stand-in (`csrc/vfio_standin.c`) with the system C compiler into OUT_DIR as
//! a shared object for `LD_PRELOAD`. Without a working C compiler (or `linux/vfio.h`) the
//! build still succeeds and the crate reports the stand-in as unavailable, with the reason.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "csrc/vfio_standin.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("libpcimig_vfio_standin.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let result = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(src)
        .args(["-ldl", "-lpthread"])
        .output();
    let unavailable = match result {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`{cc}` failed to build {src}: {}",
            String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("").trim()
        )),
        Err(e) => Some(format!("no C compiler (`{cc}`: {e})")),
    };
    match unavailable {
        None => {
            println!("cargo:rustc-env=PCIMIG_VFIO_STANDIN_SO={}", out.display());
            println!("cargo:rustc-env=PCIMIG_VFIO_STANDIN_UNAVAILABLE=");
        }
        Some(why) => {
            println!("cargo:warning=pcimig-vfio-standin unavailable: {why}");
            println!("cargo:rustc-env=PCIMIG_VFIO_STANDIN_SO=");
            println!("cargo:rustc-env=PCIMIG_VFIO_STANDIN_UNAVAILABLE={why}");
        }
    }
}
