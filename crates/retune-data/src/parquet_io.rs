//! Parquet for datasets and embeddings, readable by pyarrow and Hugging Face `datasets`.
//!
//! Datasets: any serde record type, one column per JSONL field with the same name (the Arrow
//! schema is inferred from the records, so nested lists stay lists). Embeddings: a `text`
//! column (`Utf8`) and an `embedding` column (`FixedSizeList<Float32>` of the model's
//! dimension), written in row groups of 8,192 rows so readers stream them.

use crate::error::DataError;
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;

const ROWS_PER_GROUP: usize = 8192;

fn arrow_err(path: &Path) -> impl Fn(arrow_schema::ArrowError) -> DataError + '_ {
    move |source| DataError::Arrow {
        path: path.to_owned(),
        source,
    }
}

fn parquet_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> DataError + '_ {
    move |source| DataError::Parquet {
        path: path.to_owned(),
        source,
    }
}

fn write_batches(
    path: &Path,
    schema: Arc<Schema>,
    batches: &[RecordBatch],
) -> Result<(), DataError> {
    let props = WriterProperties::builder()
        .set_max_row_group_size(ROWS_PER_GROUP)
        .build();
    crate::atomic::write_atomic(path, |out| {
        let mut writer =
            ArrowWriter::try_new(out, schema, Some(props)).map_err(std::io::Error::other)?;
        for b in batches {
            writer.write(b).map_err(std::io::Error::other)?;
        }
        writer.close().map_err(std::io::Error::other)?;
        Ok(())
    })
}

fn read_batches(path: &Path) -> Result<Vec<RecordBatch>, DataError> {
    let file = std::fs::File::open(path).map_err(DataError::io(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(parquet_err(path))?
        .build()
        .map_err(parquet_err(path))?;
    reader.map(|b| b.map_err(arrow_err(path))).collect()
}

/// Writes records as a Parquet table whose columns are the records' JSON fields.
pub fn write_records_parquet<T: Serialize>(
    path: impl AsRef<Path>,
    records: &[T],
) -> Result<(), DataError> {
    let path = path.as_ref();
    let values: Vec<serde_json::Value> = records
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|source| DataError::Json {
            path: path.to_owned(),
            line: 0,
            field: ".".into(),
            source,
        })?;
    if values.is_empty() {
        return Err(DataError::Invalid {
            path: path.to_owned(),
            line: 0,
            field: ".".into(),
            problem: "no records to write: a Parquet schema needs at least one".into(),
        });
    }
    let schema = arrow_json::reader::infer_json_schema_from_iterator(values.iter().map(Ok))
        .map_err(arrow_err(path))?;
    let schema = Arc::new(schema);
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone())
        .with_batch_size(ROWS_PER_GROUP)
        .build_decoder()
        .map_err(arrow_err(path))?;
    let mut batches = Vec::new();
    for chunk in values.chunks(ROWS_PER_GROUP) {
        decoder.serialize(chunk).map_err(arrow_err(path))?;
        if let Some(b) = decoder.flush().map_err(arrow_err(path))? {
            batches.push(b);
        }
    }
    write_batches(path, schema, &batches)
}

/// Reads records back from a Parquet table (one written here, or by pyarrow with the same fields).
pub fn read_records_parquet<T: DeserializeOwned>(
    path: impl AsRef<Path>,
) -> Result<Vec<T>, DataError> {
    let path = path.as_ref();
    let mut out = Vec::new();
    let mut row = 0usize;
    for batch in read_batches(path)? {
        let mut json = Vec::new();
        {
            let mut w = arrow_json::LineDelimitedWriter::new(&mut json);
            w.write(&batch).map_err(arrow_err(path))?;
            w.finish().map_err(arrow_err(path))?;
        }
        for line in json.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            row += 1;
            let de = &mut serde_json::Deserializer::from_slice(line);
            let rec = serde_path_to_error::deserialize(de).map_err(|e| DataError::Json {
                path: path.to_owned(),
                line: row,
                field: e.path().to_string(),
                source: e.into_inner(),
            })?;
            out.push(rec);
        }
    }
    Ok(out)
}

/// One text and its embedding.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct EmbeddingRow {
    /// The text that was embedded.
    pub text: String,
    /// Its embedding.
    pub embedding: Vec<f32>,
}

fn embedding_schema(dim: usize) -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item, dim as i32),
            false,
        ),
    ]))
}

/// Writes embeddings; every row must have the same dimension.
pub fn write_embeddings_parquet(
    path: impl AsRef<Path>,
    rows: &[EmbeddingRow],
) -> Result<(), DataError> {
    let path = path.as_ref();
    let dim = rows.first().map_or(0, |r| r.embedding.len());
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.embedding.len() != dim)
    {
        return Err(DataError::Invalid {
            path: path.to_owned(),
            line: i + 1,
            field: "embedding".into(),
            problem: format!(
                "dimension {} differs from the first row's {dim}",
                r.embedding.len()
            ),
        });
    }
    let schema = embedding_schema(dim);
    let batches = rows
        .chunks(ROWS_PER_GROUP)
        .map(|chunk| embedding_batch(path, &schema, chunk, dim))
        .collect::<Result<Vec<_>, _>>()?;
    write_batches(path, schema, &batches)
}

/// One record batch of (text, embedding) rows of dimension `dim`.
fn embedding_batch(
    path: &Path,
    schema: &Arc<Schema>,
    rows: &[EmbeddingRow],
    dim: usize,
) -> Result<RecordBatch, DataError> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let texts = StringArray::from_iter_values(rows.iter().map(|r| r.text.as_str()));
    let values =
        Float32Array::from_iter_values(rows.iter().flat_map(|r| r.embedding.iter().copied()));
    let list = FixedSizeListArray::try_new(item, dim as i32, Arc::new(values), None)
        .map_err(arrow_err(path))?;
    let cols: Vec<ArrayRef> = vec![Arc::new(texts), Arc::new(list)];
    RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err(path))
}

/// Reads embeddings written by [`write_embeddings_parquet`] (or any table with a `text` string
/// column and an `embedding` fixed-size list of f32).
pub fn read_embeddings_parquet(path: impl AsRef<Path>) -> Result<Vec<EmbeddingRow>, DataError> {
    let path = path.as_ref();
    let bad = |problem: &str| DataError::Invalid {
        path: path.to_owned(),
        line: 0,
        field: "embedding".into(),
        problem: problem.into(),
    };
    let mut rows = Vec::new();
    for batch in read_batches(path)? {
        let texts = batch
            .column_by_name("text")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| bad("no `text` column of strings"))?;
        let list = batch
            .column_by_name("embedding")
            .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
            .ok_or_else(|| bad("no `embedding` column of fixed-size lists"))?;
        let dim = list.value_length() as usize;
        let values = list
            .values()
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| bad("`embedding` items are not f32"))?;
        for i in 0..batch.num_rows() {
            let start = (list.value_offset(i)) as usize;
            rows.push(EmbeddingRow {
                text: texts.value(i).to_owned(),
                embedding: values.values()[start..start + dim].to_vec(),
            });
        }
    }
    Ok(rows)
}

/// Streams embeddings into a Parquet file one chunk at a time (bounded memory); the file
/// appears under its name only when [`finish`](Self::finish) succeeds.
pub struct EmbeddingParquetWriter {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    dim: Option<usize>,
    rows: usize,
    writer: Option<ArrowWriter<std::fs::File>>,
}

impl EmbeddingParquetWriter {
    /// Starts a file; the dimension is fixed by the first row.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref().to_owned();
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        Ok(Self {
            path,
            tmp,
            dim: None,
            rows: 0,
            writer: None,
        })
    }

    /// Appends rows.
    pub fn write(&mut self, rows: &[EmbeddingRow]) -> Result<(), DataError> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let dim = *self.dim.get_or_insert(first.embedding.len());
        if let Some((i, r)) = rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.embedding.len() != dim)
        {
            return Err(DataError::Invalid {
                path: self.path.clone(),
                line: self.rows + i + 1,
                field: "embedding".into(),
                problem: format!(
                    "dimension {} differs from the first row's {dim}",
                    r.embedding.len()
                ),
            });
        }
        let schema = embedding_schema(dim);
        if self.writer.is_none() {
            let file = std::fs::File::create(&self.tmp).map_err(DataError::io(&self.tmp))?;
            let props = WriterProperties::builder()
                .set_max_row_group_size(ROWS_PER_GROUP)
                .build();
            self.writer = Some(
                ArrowWriter::try_new(file, schema.clone(), Some(props))
                    .map_err(parquet_err(&self.path))?,
            );
        }
        let writer = self.writer.as_mut().expect("created above");
        let batch = embedding_batch(&self.path, &schema, rows, dim)?;
        writer.write(&batch).map_err(parquet_err(&self.path))?;
        self.rows += rows.len();
        Ok(())
    }

    /// Closes the file and moves it into place; returns the number of rows.
    pub fn finish(mut self) -> Result<usize, DataError> {
        match self.writer.take() {
            Some(w) => {
                let file = w.into_inner().map_err(parquet_err(&self.path))?;
                file.sync_all().map_err(DataError::io(&self.tmp))?;
                std::fs::rename(&self.tmp, &self.path).map_err(DataError::io(&self.path))?;
            }
            None => write_embeddings_parquet(&self.path, &[])?,
        }
        Ok(self.rows)
    }
}

impl Drop for EmbeddingParquetWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EvalItem, Transaction};

    #[test]
    fn records_round_trip_with_field_names_as_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        let t = Transaction {
            merchant_name: "Delta".into(),
            merchant_category: vec!["Airlines".into()],
            department: "Sales".into(),
            location: "Atlanta, GA".into(),
            amount: 412.5,
            spend_program_name: "Travel".into(),
            trip_name: Some("Q3 offsite".into()),
            expense_category: "Travel".into(),
        };
        let mut u = t.clone();
        u.trip_name = None;
        write_records_parquet(&p, &[t.clone(), u.clone()]).unwrap();
        let back: Vec<Transaction> = read_records_parquet(&p).unwrap();
        assert_eq!(back, vec![t, u]);
        let batches = read_batches(&p).unwrap();
        let names: Vec<String> = batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert!(names.contains(&"merchant_category".to_string()));
        let items = vec![EvalItem {
            input: "q".into(),
            expected: vec!["a".into(), "b".into()],
        }];
        write_records_parquet(dir.path().join("e.parquet"), &items).unwrap();
        assert_eq!(
            read_records_parquet::<EvalItem>(dir.path().join("e.parquet")).unwrap(),
            items
        );
    }

    #[test]
    fn embeddings_round_trip_as_fixed_size_lists() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let rows: Vec<EmbeddingRow> = (0..10_000)
            .map(|i| EmbeddingRow {
                text: format!("t{i}"),
                embedding: vec![i as f32, -1.0, 0.5],
            })
            .collect();
        write_embeddings_parquet(&p, &rows).unwrap();
        assert_eq!(read_embeddings_parquet(&p).unwrap(), rows);
        let streamed = dir.path().join("s.parquet");
        let mut w = EmbeddingParquetWriter::create(&streamed).unwrap();
        for chunk in rows.chunks(3000) {
            w.write(chunk).unwrap();
        }
        assert!(!streamed.exists(), "the file appears only when finished");
        assert_eq!(w.finish().unwrap(), 10_000);
        assert_eq!(read_embeddings_parquet(&streamed).unwrap(), rows);
        let batches = read_batches(&p).unwrap();
        assert!(matches!(
            batches[0].schema().field(1).data_type(),
            DataType::FixedSizeList(_, 3)
        ));
        let bad = vec![
            rows[0].clone(),
            EmbeddingRow {
                text: "x".into(),
                embedding: vec![1.0],
            },
        ];
        let err = write_embeddings_parquet(&p, &bad).unwrap_err().to_string();
        assert!(err.contains(":2: field `embedding`"), "{err}");
        // The earlier file is intact after the refused write.
        assert_eq!(read_embeddings_parquet(&p).unwrap().len(), 10_000);
    }
}
