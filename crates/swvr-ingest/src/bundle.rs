//! The files of a bundle and the opening of its CSV respondents file
//! (design.csv and targets.csv are read by [`swvr_core::bundle`]).

use std::fs::File;
use std::path::{Path, PathBuf};

use swvr_core::bundle::{BundleError, Header, utf16};

use crate::error::IngestError;
use crate::reader::RecordReader;

/// Opens `path` for record reading; a file that looks UTF-16 is an error
/// saying so (its header would otherwise read as garbled column names).
pub(crate) fn open(path: &Path) -> Result<RecordReader<File>, IngestError> {
    use std::io::{Read, Seek};
    let read_err = |source| IngestError::read(path, source);
    let mut f = swvr_core::io::open_input(path).map_err(read_err)?;
    let mut head = Vec::with_capacity(512);
    (&mut f).take(512).read_to_end(&mut head).map_err(read_err)?;
    if let Some(encoding) = utf16(&head) {
        return Err(BundleError::Utf16 {
            file: path.to_path_buf(),
            encoding,
        }
        .into());
    }
    f.rewind().map_err(read_err)?;
    Ok(RecordReader::new(f))
}

/// Reads the next record, mapping I/O errors to [`IngestError::Read`].
pub(crate) fn next(rdr: &mut RecordReader<File>, path: &Path) -> Result<bool, IngestError> {
    rdr.next_record().map_err(|source| IngestError::read(path, source))
}

/// Reads and checks the header row of a CSV file ([`Header::new`]).
pub(crate) fn read_header(rdr: &mut RecordReader<File>, path: &Path) -> Result<Header, IngestError> {
    if !next(rdr, path)? {
        return Err(BundleError::Empty {
            file: path.to_path_buf(),
        }
        .into());
    }
    Ok(Header::new((0..rdr.len()).map(|i| rdr.field(i)), rdr.line(), path)?)
}

/// The three bundle file paths.
pub(crate) struct Bundle {
    pub respondents: PathBuf,
    pub design: PathBuf,
    pub targets: PathBuf,
}

/// The names a respondents file may have; a bundle holds exactly one.
pub const RESPONDENTS_FILES: [&str; 4] = [
    "respondents.csv",
    "respondents.sav",
    "respondents.zsav",
    "respondents.dta",
];

/// The respondents file of the bundle in `data`: the one of
/// [`RESPONDENTS_FILES`] that exists (`respondents.csv` when none does, so
/// that reading it says it is missing); two or more are an error naming them.
pub fn respondents_file(data: &Path) -> Result<PathBuf, IngestError> {
    let found: Vec<&str> = RESPONDENTS_FILES
        .into_iter()
        .filter(|n| data.join(n).exists())
        .collect();
    match found.as_slice() {
        [] => Ok(data.join(RESPONDENTS_FILES[0])),
        [one] => Ok(data.join(one)),
        _ => Err(IngestError::ManyRespondents {
            dir: data.to_path_buf(),
            files: found.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

impl Bundle {
    /// The bundle's files; an error when it holds more than one respondents file.
    pub(crate) fn find(data: &Path) -> Result<Self, IngestError> {
        Ok(Self {
            respondents: respondents_file(data)?,
            design: data.join("design.csv"),
            targets: data.join("targets.csv"),
        })
    }
}
