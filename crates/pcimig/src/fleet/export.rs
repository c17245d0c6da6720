//! The export for a query engine: one row per (device, mask class of its kind), as JSON lines or
//! Parquet, so a plain `GROUP BY` reproduces the groups and the matrix (README, "Fleets").
//!
//! Columns: `device snapshot host bdf vendor device_id kind driver driver_version qemu size
//! dest_mask refusal group_id mask fingerprint hazards`. `mask` and `dest_mask` are content IDs
//! of masks, `fingerprint` the content ID of the device's config under `mask` (`NULL`: another
//! config size); both are stable across runs, so exports of shards of a fleet can be unioned.
//! A refused device (its QEMU lacks the machine type) has `refusal` set and `NULL` fingerprints.

use super::{DeviceRow, FleetReport};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Serialize;
use std::sync::Arc;

/// One export row.
#[derive(Debug, Clone, Serialize)]
pub struct ExportRow<'a> {
    /// `SNAPSHOT#BDF`.
    pub device: &'a str,
    /// The snapshot file.
    pub snapshot: &'a str,
    /// The host.
    pub host: &'a str,
    /// The BDF.
    pub bdf: &'a str,
    /// Vendor ID (hex).
    pub vendor: &'a str,
    /// Device ID (hex).
    pub device_id: &'a str,
    /// The kind.
    pub kind: &'a str,
    /// The driver.
    pub driver: Option<&'a str>,
    /// The driver version.
    pub driver_version: Option<&'a str>,
    /// The QEMU version.
    pub qemu: &'a str,
    /// Config size.
    pub size: i32,
    /// The device's destination mask class.
    pub dest_mask: Option<&'a str>,
    /// Why its host cannot run the VM.
    pub refusal: Option<&'a str>,
    /// pcimig's group.
    pub group_id: &'a str,
    /// The mask class of this row.
    pub mask: Option<&'a str>,
    /// The config's fingerprint under `mask`.
    pub fingerprint: Option<&'a str>,
    /// The kind's hazard registers, `; `-separated.
    pub hazards: String,
}

/// The rows of a report: one per (device, mask class of its kind), at least one per device.
pub fn export_rows(r: &FleetReport) -> Vec<ExportRow<'_>> {
    let mut out = Vec::new();
    for d in &r.rows {
        if d.fingerprints.is_empty() {
            out.push(row(d, None, None));
        }
        for (mask, fp) in &d.fingerprints {
            out.push(row(d, Some(mask), fp.as_deref()));
        }
    }
    out
}

fn row<'a>(d: &'a DeviceRow, mask: Option<&'a str>, fingerprint: Option<&'a str>) -> ExportRow<'a> {
    ExportRow {
        device: &d.device,
        snapshot: &d.snapshot,
        host: &d.host,
        bdf: &d.bdf,
        vendor: &d.vendor,
        device_id: &d.device_id,
        kind: &d.kind,
        driver: d.driver.as_deref(),
        driver_version: d.driver_version.as_deref(),
        qemu: &d.qemu,
        size: i32::try_from(d.size).unwrap_or(i32::MAX),
        dest_mask: d.dest_mask.as_deref(),
        refusal: d.refusal.as_deref(),
        group_id: &d.group,
        mask,
        fingerprint,
        hazards: d.hazards.join("; "),
    }
}

/// JSON lines: one object per row.
pub fn to_jsonl(r: &FleetReport) -> Vec<u8> {
    let mut out = Vec::new();
    for row in export_rows(r) {
        serde_json::to_writer(&mut out, &row).expect("rows serialize");
        out.push(b'\n');
    }
    out
}

/// The Parquet schema (arrow-free writer API).
const SCHEMA: &str = "message fleet {
  required binary device (UTF8);
  required binary snapshot (UTF8);
  required binary host (UTF8);
  required binary bdf (UTF8);
  required binary vendor (UTF8);
  required binary device_id (UTF8);
  required binary kind (UTF8);
  optional binary driver (UTF8);
  optional binary driver_version (UTF8);
  required binary qemu (UTF8);
  required int32 size;
  optional binary dest_mask (UTF8);
  optional binary refusal (UTF8);
  required binary group_id (UTF8);
  optional binary mask (UTF8);
  optional binary fingerprint (UTF8);
  required binary hazards (UTF8);
}";

/// The string columns in schema order (every column but `size`, which comes after `qemu`).
fn string_column<'a>(rows: &'a [ExportRow<'a>], i: usize) -> Vec<Option<&'a str>> {
    rows.iter()
        .map(|r| match i {
            0 => Some(r.device),
            1 => Some(r.snapshot),
            2 => Some(r.host),
            3 => Some(r.bdf),
            4 => Some(r.vendor),
            5 => Some(r.device_id),
            6 => Some(r.kind),
            7 => r.driver,
            8 => r.driver_version,
            9 => Some(r.qemu),
            11 => r.dest_mask,
            12 => r.refusal,
            13 => Some(r.group_id),
            14 => r.mask,
            15 => r.fingerprint,
            _ => Some(r.hazards.as_str()),
        })
        .collect()
}

/// Parquet: one row group, uncompressed.
pub fn to_parquet(r: &FleetReport) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let rows = export_rows(r);
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let props = Arc::new(WriterProperties::builder().build());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let mut group = writer.next_row_group()?;
    let mut i = 0;
    while let Some(mut col) = group.next_column()? {
        if i == 10 {
            let sizes: Vec<i32> = rows.iter().map(|r| r.size).collect();
            col.typed::<Int32Type>().write_batch(&sizes, None, None)?;
        } else {
            let values = string_column(&rows, i);
            let defs: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
            let present: Vec<ByteArray> = values.iter().flatten().map(|v| ByteArray::from(*v)).collect();
            let required = SCHEMA_REQUIRED[i];
            col.typed::<ByteArrayType>()
                .write_batch(&present, (!required).then_some(&defs[..]), None)?;
        }
        col.close()?;
        i += 1;
    }
    group.close()?;
    writer.into_inner()
}

/// Whether each column of [`SCHEMA`] is required (no definition levels).
const SCHEMA_REQUIRED: [bool; 17] = [
    true, true, true, true, true, true, true, false, false, true, true, false, false, true, false, false, true,
];

/// The export's bytes for `path`: Parquet for `.parquet`, JSON lines for `.jsonl`/`.json`.
pub fn export_bytes(r: &FleetReport, path: &std::path::Path) -> Result<Vec<u8>, String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => to_parquet(r).map_err(|e| format!("{}: {e}", path.display())),
        Some("jsonl" | "json" | "ndjson") => Ok(to_jsonl(r)),
        _ => Err(format!(
            "{}: the export format follows the extension: .parquet or .jsonl",
            path.display()
        )),
    }
}
