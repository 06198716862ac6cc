//! File output that is atomic (temp file in the same folder, then rename) and
//! Arrow IPC file reading and writing.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;
use arrow_schema::{ArrowError, Schema, SchemaRef};

use crate::{SCHEMA_VERSION, SCHEMA_VERSION_KEY};

/// An I/O failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// Operating-system error.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Arrow encoding or decoding error.
    #[error("{path}: Arrow: {source}")]
    Arrow {
        /// File.
        path: PathBuf,
        /// Cause.
        source: ArrowError,
    },
    /// A column is missing or has the wrong type.
    #[error("{path}: column `{column}`: expected {expected}")]
    Column {
        /// File.
        path: PathBuf,
        /// Column name.
        column: String,
        /// What was expected.
        expected: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// A file being written under a temporary name; [`AtomicFile::commit`]
/// flushes, syncs and renames it into place. Dropped without commit, the
/// temporary file is removed and the target is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `path` (its parent folder is created if missing).
    pub fn create(path: &Path) -> Result<Self, IoError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let temp = temp_path(path);
        let file = File::create(&temp).map_err(io_err(&temp))?;
        Ok(Self {
            target: path.to_path_buf(),
            temp,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The buffered writer.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        #[allow(clippy::expect_used)]
        self.writer.as_mut().expect("writer present until commit")
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), IoError> {
        if let Some(w) = self.writer.take() {
            let file = w.into_inner().map_err(|e| IoError::Io {
                path: self.temp.clone(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(io_err(&self.temp))?;
        }
        std::fs::rename(&self.temp, &self.target).map_err(io_err(&self.target))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.commit()
}

/// Adds the swvr schema version to a schema's metadata.
pub fn with_version(schema: Schema) -> Schema {
    let mut md = schema.metadata().clone();
    md.insert(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string());
    schema.with_metadata(md)
}

/// An Arrow IPC file written batch by batch, renamed into place on finish.
pub struct ArrowFileWriter {
    path: PathBuf,
    inner: FileWriter<AtomicFile>,
}

impl std::fmt::Debug for ArrowFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrowFileWriter").field("path", &self.path).finish()
    }
}

impl ArrowFileWriter {
    /// Starts an Arrow IPC file with `schema` at `path`.
    pub fn create(path: &Path, schema: &Schema) -> Result<Self, IoError> {
        let file = AtomicFile::create(path)?;
        let inner = FileWriter::try_new(file, schema).map_err(|source| IoError::Arrow {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            inner,
        })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IoError> {
        self.inner.write(batch).map_err(|source| IoError::Arrow {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes the footer and renames the file into place.
    pub fn finish(mut self) -> Result<(), IoError> {
        self.inner.finish().map_err(|source| IoError::Arrow {
            path: self.path.clone(),
            source,
        })?;
        let file = self.inner.into_inner().map_err(|source| IoError::Arrow {
            path: self.path.clone(),
            source,
        })?;
        file.commit()
    }
}

/// Writes one Arrow IPC file atomically from `batches` (all of `schema`).
pub fn write_arrow(path: &Path, schema: &Schema, batches: &[RecordBatch]) -> Result<(), IoError> {
    let mut w = ArrowFileWriter::create(path, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()
}

/// Reads an Arrow IPC file into one batch (batches concatenated).
pub fn read_arrow(path: &Path) -> Result<RecordBatch, IoError> {
    let arrow = |source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err(path))?;
    let reader = FileReader::try_new(std::io::BufReader::new(file), None).map_err(arrow)?;
    let schema: SchemaRef = reader.schema();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(arrow)?;
    match batches.len() {
        1 => Ok(batches
            .into_iter()
            .next()
            .unwrap_or_else(|| RecordBatch::new_empty(schema))),
        _ => arrow_select::concat::concat_batches(&schema, &batches).map_err(arrow),
    }
}

/// Reads only `columns` of an Arrow IPC file (in that order) into one batch:
/// the other columns are never decoded, which saves time and memory when a
/// stage needs a few columns of a wide file. Columns absent from the file
/// are skipped; look them up with [`column()`] for a message naming the file.
pub fn read_arrow_columns(path: &Path, columns: &[&str]) -> Result<RecordBatch, IoError> {
    let arrow = |source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let open = || File::open(path).map(std::io::BufReader::new).map_err(io_err(path));
    // The footer alone gives the schema; then read with the projection.
    let file_schema = FileReader::try_new(open()?, None).map_err(arrow)?.schema();
    let projection: Vec<usize> = columns.iter().filter_map(|c| file_schema.index_of(c).ok()).collect();
    let reader = FileReader::try_new(open()?, Some(projection)).map_err(arrow)?;
    let schema: SchemaRef = reader.schema();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(arrow)?;
    match batches.len() {
        1 => Ok(batches
            .into_iter()
            .next()
            .unwrap_or_else(|| RecordBatch::new_empty(schema))),
        _ => arrow_select::concat::concat_batches(&schema, &batches).map_err(arrow),
    }
}

/// The column `name` of `batch` downcast to `A`, or an error naming the file.
pub fn column<'a, A: Array + 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a A, IoError> {
    let col = batch.column_by_name(name).ok_or_else(|| IoError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: "a column of this name".into(),
    })?;
    col.as_any().downcast_ref::<A>().ok_or_else(|| IoError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: format!(
            "type {}, found {}",
            std::any::type_name::<A>().rsplit("::").next().unwrap_or("?"),
            col.data_type()
        ),
    })
}

/// A schema shared by reference.
pub fn shared(schema: Schema) -> SchemaRef {
    Arc::new(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int32Array;
    use arrow_schema::{DataType, Field};

    #[test]
    fn arrow_round_trip_and_no_temp_left() {
        let dir = std::env::temp_dir().join(format!("swvr-io-{}", std::process::id()));
        let path = dir.join("sub/x.arrow");
        let schema = with_version(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![Arc::new(Int32Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        write_arrow(&path, &schema, &[batch.clone(), batch]).unwrap();
        let back = read_arrow(&path).unwrap();
        assert_eq!(back.num_rows(), 6);
        assert_eq!(
            back.schema().metadata().get(SCHEMA_VERSION_KEY).map(String::as_str),
            Some(SCHEMA_VERSION)
        );
        let a = column::<Int32Array>(&back, "a", &path).unwrap();
        assert_eq!(a.value(5), 3);
        let err = column::<Int32Array>(&back, "b", &path).unwrap_err().to_string();
        let proj = read_arrow_columns(&path, &["a", "zz"]).unwrap();
        assert_eq!((proj.num_columns(), proj.num_rows()), (1, 6));
        assert_eq!(
            proj.schema().metadata().get(SCHEMA_VERSION_KEY).map(String::as_str),
            Some(SCHEMA_VERSION)
        );
        assert!(err.contains("x.arrow") && err.contains("`b`"), "{err}");
        let names: Vec<_> = std::fs::read_dir(dir.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dropped_atomic_file_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("swvr-io-drop-{}", std::process::id()));
        let path = dir.join("y.csv");
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
