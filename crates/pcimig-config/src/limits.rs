//! The resource limits of the model, in one place (README.md's "Limits" section lists them).

use crate::regs::{PCIE_CONFIG_SPACE_SIZE, PCI_CONFIG_HEADER_SIZE, PCI_CONFIG_SPACE_SIZE};

/// Most capabilities a standard chain walk visits: one per byte of 0x40..0x100 (every step
/// visits a new offset, so a chain that is not looped ends within this many steps). A walk that
/// reaches it stops with [`crate::ChainIssue::TooManySteps`].
pub const MAX_STD_CAP_STEPS: usize = PCI_CONFIG_SPACE_SIZE - PCI_CONFIG_HEADER_SIZE;

/// Most capabilities an extended chain walk visits: one per dword of 0x100..0x1000. A walk that
/// reaches it stops with [`crate::ChainIssue::TooManySteps`].
pub const MAX_EXT_CAP_STEPS: usize = (PCIE_CONFIG_SPACE_SIZE - PCI_CONFIG_SPACE_SIZE) / 4;
