//! `pcimig check --emulated`: a destination that is an emulated QEMU device (streams issue).

use super::check::CheckArgs;

pub fn run(_args: &CheckArgs) -> anyhow::Result<u8> {
    anyhow::bail!("--emulated: emulated destinations are not supported yet")
}
