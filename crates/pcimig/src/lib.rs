//! pcimig: readers for real config-space sources and the reports of the `pcimig` CLI.
#![deny(missing_docs)]

pub mod check;
pub mod demo;
pub mod explain;
pub mod fleet;
pub mod report;
pub mod report_html;
pub mod show;
pub mod snapshot;
pub mod source;
