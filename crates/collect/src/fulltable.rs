//! The full table, streamed as rows arrive: `report/results.csv` and
//! `report/results.parquet`, every combination in combination order (plans in input
//! order), ok and failed alike. Columns: `sweep` and `plan` (only when several plans),
//! `combo`, `task`, `name` (only when QSTrader files are among the inputs), every parameter
//! as its own typed column (int64, float64, utf8 or bool: the type of its values; ints and
//! floats mixed make float64, other mixtures utf8), `status` (`ok` or `error`), `error`,
//! every metric of [`backtest::METRICS`], and `is_<metric>` / `oos_<metric>` when the plan
//! has a split. An unknown value (a NaN metric, a parameter a row does not have) is an
//! empty CSV field and a Parquet null.
//!
//! CSV rows are formatted into one reused buffer; Parquet row groups of
//! [`ROW_GROUP_ROWS`] rows are written as they fill (snappy-compressed, pure Rust), so
//! memory holds at most one row group.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnPath, Type};

use backtest::{ParamValue, METRICS, METRIC_COUNT};

use crate::table::{PlanId, Row};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// The type of a parameter column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Bool,
    Int,
    Float,
    Str,
}

impl ParamKind {
    pub fn of(v: &ParamValue) -> ParamKind {
        match v {
            ParamValue::Bool(_) => ParamKind::Bool,
            ParamValue::Int(_) => ParamKind::Int,
            ParamValue::Float(_) => ParamKind::Float,
            ParamValue::Str(_) => ParamKind::Str,
        }
    }

    /// The kind of a column holding values of both kinds.
    pub fn join(self, other: ParamKind) -> ParamKind {
        use ParamKind::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Int, Float) | (Float, Int) => Float,
            _ => Str,
        }
    }
}

/// What the full table's columns are.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    pub plans: Vec<PlanId>,
    pub param_names: Vec<String>,
    /// One per parameter; `None`: no value seen (a utf8 column of nulls).
    pub param_kinds: Vec<Option<ParamKind>>,
    pub split: bool,
    /// Whether rows have display names (QSTrader files).
    pub labels: bool,
}

impl TableSchema {
    fn several_plans(&self) -> bool {
        self.plans.len() > 1
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        let mut cols = Vec::new();
        if self.several_plans() {
            cols.push("sweep".to_string());
            cols.push("plan".to_string());
        }
        cols.push("combo".into());
        cols.push("task".into());
        if self.labels {
            cols.push("name".into());
        }
        cols.extend(self.param_names.iter().cloned());
        cols.push("status".into());
        cols.push("error".into());
        cols.extend(METRICS.iter().map(|d| d.name.to_string()));
        if self.split {
            cols.extend(METRICS.iter().map(|d| format!("is_{}", d.name)));
            cols.extend(METRICS.iter().map(|d| format!("oos_{}", d.name)));
        }
        cols
    }
}

/// Why the full table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// Appends `s` to `out` as one CSV field (quoted when needed).
fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// The shortest text that reads back to the same value: integral values (trades, n_obs,
/// most parameters) as integers, others through zmij (the shortest round-trip digits,
/// `1e-7` style for very small or large magnitudes); nothing for NaN.
fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        return;
    }
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
    } else {
        out.extend_from_slice(zmij::Buffer::new().format(v).as_bytes());
    }
}

/// The CSV half: one reused line buffer.
pub struct CsvSink<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> CsvSink<W> {
    pub fn new(mut out: W, schema: &TableSchema) -> Result<Self, TableError> {
        let mut line = Vec::with_capacity(1024);
        for (n, c) in schema.column_names().iter().enumerate() {
            if n > 0 {
                line.push(b',');
            }
            csv_field(&mut line, c);
        }
        line.push(b'\n');
        out.write_all(&line)?;
        Ok(CsvSink { out, line })
    }

    pub fn write(
        &mut self,
        schema: &TableSchema,
        row: &Row,
        error: Option<&str>,
    ) -> Result<(), TableError> {
        let l = &mut self.line;
        l.clear();
        if schema.several_plans() {
            if let Some(p) = schema.plans.get(row.plan as usize) {
                csv_field(l, &p.sweep);
                l.push(b',');
                csv_field(l, &p.hash);
            } else {
                l.push(b',');
            }
            l.push(b',');
        }
        l.extend_from_slice(itoa::Buffer::new().format(row.combo).as_bytes());
        l.push(b',');
        if let Some(t) = row.task {
            l.extend_from_slice(itoa::Buffer::new().format(t).as_bytes());
        }
        l.push(b',');
        if schema.labels {
            if let Some(label) = &row.label {
                csv_field(l, label);
            }
            l.push(b',');
        }
        for k in 0..schema.param_names.len() {
            match row.param(k) {
                Some(ParamValue::Str(s)) => csv_field(l, s),
                Some(ParamValue::Float(f)) => push_f64(l, *f),
                Some(ParamValue::Int(i)) => {
                    l.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes())
                }
                Some(v) => {
                    let _ = write!(l, "{v}");
                }
                None => {}
            }
            l.push(b',');
        }
        match error {
            None => l.extend_from_slice(b"ok,"),
            Some(e) => {
                l.extend_from_slice(b"error,");
                csv_field(l, e);
            }
        }
        let parts: &[Option<&[f64; METRIC_COUNT]>] = &[
            Some(&row.metrics),
            row.in_sample.as_deref(),
            row.out_of_sample.as_deref(),
        ];
        let used = if schema.split { 3 } else { 1 };
        for m in &parts[..used] {
            for k in 0..METRIC_COUNT {
                l.push(b',');
                if let (Some(m), None) = (m, error) {
                    push_f64(l, m[k]);
                }
            }
        }
        l.push(b'\n');
        self.out.write_all(l)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, TableError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One Parquet column's values of the row group being filled, with definition levels
/// (1 = a value, 0 = null).
enum ColBuf {
    I64(Vec<i64>, Vec<i16>),
    F64(Vec<f64>, Vec<i16>),
    Str(Vec<ByteArray>, Vec<i16>),
    Bool(Vec<bool>, Vec<i16>),
}

impl ColBuf {
    fn clear(&mut self) {
        match self {
            ColBuf::I64(v, d) => (v.clear(), d.clear()),
            ColBuf::F64(v, d) => (v.clear(), d.clear()),
            ColBuf::Str(v, d) => (v.clear(), d.clear()),
            ColBuf::Bool(v, d) => (v.clear(), d.clear()),
        };
    }
    fn null(&mut self) {
        match self {
            ColBuf::I64(_, d) | ColBuf::F64(_, d) | ColBuf::Str(_, d) | ColBuf::Bool(_, d) => {
                d.push(0)
            }
        }
    }
    fn i64(&mut self, x: i64) {
        if let ColBuf::I64(v, d) = self {
            v.push(x);
            d.push(1);
        } else {
            self.null();
        }
    }
    fn f64(&mut self, x: f64) {
        match self {
            ColBuf::F64(v, d) if !x.is_nan() => {
                v.push(x);
                d.push(1);
            }
            _ => self.null(),
        }
    }
    fn bytes(&mut self, b: Bytes) {
        if let ColBuf::Str(v, d) = self {
            v.push(ByteArray::from(b));
            d.push(1);
        } else {
            self.null();
        }
    }
    fn bool(&mut self, x: bool) {
        if let ColBuf::Bool(v, d) = self {
            v.push(x);
            d.push(1);
        } else {
            self.null();
        }
    }
}

/// The Parquet half: row groups written as they fill.
pub struct ParquetSink<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    cols: Vec<ColBuf>,
    rows: usize,
    plan_names: Vec<(Bytes, Bytes)>,
    kinds: Vec<Option<ParamKind>>,
}

const OK: Bytes = Bytes::from_static(b"ok");
const ERROR: Bytes = Bytes::from_static(b"error");

impl<W: Write + Send> ParquetSink<W> {
    pub fn new(out: W, schema: &TableSchema) -> Result<Self, TableError> {
        let mut fields = Vec::new();
        let mut cols = Vec::new();
        let mut field =
            |name: &str, ty: PhysicalType, repetition: Repetition| -> Result<(), TableError> {
                let mut b = Type::primitive_type_builder(name, ty).with_repetition(repetition);
                if ty == PhysicalType::BYTE_ARRAY {
                    b = b.with_logical_type(Some(LogicalType::String));
                }
                fields.push(Arc::new(b.build()?));
                cols.push(match ty {
                    PhysicalType::INT64 => ColBuf::I64(Vec::new(), Vec::new()),
                    PhysicalType::DOUBLE => ColBuf::F64(Vec::new(), Vec::new()),
                    PhysicalType::BOOLEAN => ColBuf::Bool(Vec::new(), Vec::new()),
                    _ => ColBuf::Str(Vec::new(), Vec::new()),
                });
                Ok(())
            };
        use PhysicalType::*;
        const OPTIONAL: Repetition = Repetition::OPTIONAL;
        if schema.several_plans() {
            field("sweep", BYTE_ARRAY, OPTIONAL)?;
            field("plan", BYTE_ARRAY, OPTIONAL)?;
        }
        field("combo", INT64, OPTIONAL)?;
        field("task", INT64, OPTIONAL)?;
        if schema.labels {
            field("name", BYTE_ARRAY, OPTIONAL)?;
        }
        for (name, kind) in schema.param_names.iter().zip(&schema.param_kinds) {
            let ty = match kind {
                Some(ParamKind::Int) => INT64,
                Some(ParamKind::Float) => DOUBLE,
                Some(ParamKind::Bool) => BOOLEAN,
                Some(ParamKind::Str) | None => BYTE_ARRAY,
            };
            field(name, ty, OPTIONAL)?;
        }
        field("status", BYTE_ARRAY, OPTIONAL)?;
        field("error", BYTE_ARRAY, OPTIONAL)?;
        for prefix in ["", "is_", "oos_"]
            .iter()
            .take(if schema.split { 3 } else { 1 })
        {
            for d in METRICS {
                field(&format!("{prefix}{}", d.name), DOUBLE, OPTIONAL)?;
            }
        }
        let root = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?;
        // Metrics are mostly distinct doubles: a dictionary would be built and then
        // abandoned for each of them, so only parameters and text columns get one.
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
        for prefix in ["", "is_", "oos_"]
            .iter()
            .take(if schema.split { 3 } else { 1 })
        {
            for d in METRICS {
                props = props.set_column_dictionary_enabled(
                    ColumnPath::from(format!("{prefix}{}", d.name)),
                    false,
                );
            }
        }
        let props = props.build();
        let writer = SerializedFileWriter::new(out, Arc::new(root), Arc::new(props))?;
        Ok(ParquetSink {
            writer,
            cols,
            rows: 0,
            plan_names: schema
                .plans
                .iter()
                .map(|p| {
                    (
                        Bytes::copy_from_slice(p.sweep.as_bytes()),
                        Bytes::copy_from_slice(p.hash.as_bytes()),
                    )
                })
                .collect(),
            kinds: schema.param_kinds.clone(),
        })
    }

    pub fn write(
        &mut self,
        schema: &TableSchema,
        row: &Row,
        error: Option<&str>,
    ) -> Result<(), TableError> {
        let mut c = self.cols.iter_mut();
        let mut next = || c.next().expect("one buffer per column");
        if schema.several_plans() {
            match self.plan_names.get(row.plan as usize) {
                Some((s, h)) => {
                    next().bytes(s.clone());
                    next().bytes(h.clone());
                }
                None => {
                    next().null();
                    next().null();
                }
            }
        }
        next().i64(row.combo as i64);
        match row.task {
            Some(t) => next().i64(t as i64),
            None => next().null(),
        }
        if schema.labels {
            match &row.label {
                Some(l) => next().bytes(Bytes::copy_from_slice(l.as_bytes())),
                None => next().null(),
            }
        }
        for k in 0..schema.param_names.len() {
            let col = next();
            match (row.param(k), self.kinds[k]) {
                (None, _) => col.null(),
                (Some(ParamValue::Int(i)), Some(ParamKind::Int)) => col.i64(*i),
                (Some(ParamValue::Int(i)), Some(ParamKind::Float)) => col.f64(*i as f64),
                (Some(ParamValue::Float(f)), Some(ParamKind::Float)) => col.f64(*f),
                (Some(ParamValue::Bool(b)), Some(ParamKind::Bool)) => col.bool(*b),
                (Some(ParamValue::Str(s)), _) => col.bytes(Bytes::copy_from_slice(s.as_bytes())),
                (Some(v), _) => col.bytes(Bytes::from(v.to_string())),
            }
        }
        match error {
            None => {
                next().bytes(OK);
                next().null();
            }
            Some(e) => {
                next().bytes(ERROR);
                next().bytes(Bytes::copy_from_slice(e.as_bytes()));
            }
        }
        let parts: [Option<&[f64; METRIC_COUNT]>; 3] = [
            Some(&row.metrics),
            row.in_sample.as_deref(),
            row.out_of_sample.as_deref(),
        ];
        for m in parts.iter().take(if schema.split { 3 } else { 1 }) {
            for k in 0..METRIC_COUNT {
                match (m, error) {
                    (Some(m), None) => next().f64(m[k]),
                    _ => next().null(),
                }
            }
        }
        self.rows += 1;
        if self.rows == ROW_GROUP_ROWS {
            self.flush_group()?;
        }
        Ok(())
    }

    fn flush_group(&mut self) -> Result<(), TableError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut rg = self.writer.next_row_group()?;
        let mut bufs = self.cols.iter_mut();
        while let Some(mut col) = rg.next_column()? {
            let Some(buf) = bufs.next() else { break };
            match buf {
                ColBuf::I64(v, d) => {
                    col.typed::<Int64Type>().write_batch(v, Some(d), None)?;
                }
                ColBuf::F64(v, d) => {
                    col.typed::<DoubleType>().write_batch(v, Some(d), None)?;
                }
                ColBuf::Str(v, d) => {
                    col.typed::<ByteArrayType>().write_batch(v, Some(d), None)?;
                }
                ColBuf::Bool(v, d) => {
                    col.typed::<BoolType>().write_batch(v, Some(d), None)?;
                }
            }
            col.close()?;
            buf.clear();
        }
        rg.close()?;
        self.rows = 0;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, TableError> {
        self.flush_group()?;
        let out = self.writer.into_inner()?;
        Ok(out)
    }
}

/// Both halves.
pub struct FullTable<A: Write, B: Write + Send> {
    pub schema: TableSchema,
    csv: CsvSink<A>,
    parquet: ParquetSink<B>,
}

impl<A: Write, B: Write + Send> FullTable<A, B> {
    pub fn new(schema: TableSchema, csv: A, parquet: B) -> Result<Self, TableError> {
        Ok(FullTable {
            csv: CsvSink::new(csv, &schema)?,
            parquet: ParquetSink::new(parquet, &schema)?,
            schema,
        })
    }

    pub fn write(&mut self, row: &Row, error: Option<&str>) -> Result<(), TableError> {
        self.csv.write(&self.schema, row, error)?;
        self.parquet.write(&self.schema, row, error)
    }

    pub fn finish(self) -> Result<(A, B), TableError> {
        Ok((self.csv.finish()?, self.parquet.finish()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_exactly() {
        for v in [
            0.0,
            -0.5,
            31.0,
            8332.0,
            0.3641048933747042,
            1e-7,
            -2.5e-12,
            1.0e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9.5e15,
            123_456_789_012.0,
        ] {
            let mut out = Vec::new();
            push_f64(&mut out, v);
            let text = String::from_utf8(out).expect("utf8");
            let back: f64 = text.parse().expect("number");
            assert_eq!(back, v, "{v} -> {text}");
        }
        let mut out = Vec::new();
        push_f64(&mut out, f64::NAN);
        assert!(out.is_empty());
        let mut out = Vec::new();
        csv_field(&mut out, "a,\"b\"");
        assert_eq!(out, b"\"a,\"\"b\"\"\"");
    }
}
